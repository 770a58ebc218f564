"""Where a data folder's dataset tables are.

A dataset's table is ``ingested/<source>/<job>/``, or ``.../<job>/schema=<name>/`` when the
job writes several record types; only these folders are listed, never the files in them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from multigate.storage.layout import SIDECAR_SUFFIX
from multigate.storage.table_record import LOG_DIR

DatasetKey = tuple[str, str, str]  # source, job, part
PART_KEY = "schema="


def table_root(output: Path, job_root: Path) -> Path:
    """The table an output belongs to: its job folder, or the ``schema=<name>`` folder under
    it when the job writes several record types."""
    inside = output.relative_to(job_root).parts[:-1]
    for depth, part in enumerate(inside):
        if part.startswith(PART_KEY):
            return job_root.joinpath(*inside[: depth + 1])
    return job_root


def is_data_folder(data_dir: Path) -> bool:
    """A folder some run wrote in (a reader never writes into any other: a mistyped
    ``--data-dir /etc`` must leave /etc as it was)."""
    return any((data_dir / name).is_dir() for name in ("ingested", "raw"))


def job_tables(job_root: Path) -> list[Path]:
    """The tables of one job's folder: the folder itself, or its ``schema=`` folders."""
    found = [job_root] if (job_root / LOG_DIR).is_dir() else []
    for part in _subfolders(job_root):
        if part.startswith(PART_KEY) and (job_root / part / LOG_DIR).is_dir():
            found.append(job_root / part)
    return found


def find_tables(data_dir: Path) -> Iterator[tuple[DatasetKey, Path]]:
    """Every dataset table under ``data_dir``, by (source, job, part)."""
    ingested = data_dir / "ingested"
    for source in _subfolders(ingested):
        for job in _subfolders(ingested / source):
            root = ingested / source / job
            if (root / LOG_DIR).is_dir():
                yield (source, job, ""), root
            for part in _subfolders(root):
                if part.startswith(PART_KEY) and (root / part / LOG_DIR).is_dir():
                    yield (source, job, part[len(PART_KEY) :]), root / part


def untabled_jobs(data_dir: Path) -> list[str]:
    """``<source>/<job>`` folders that hold outputs but no table (written before tables)."""
    found = []
    ingested = data_dir / "ingested"
    for source in _subfolders(ingested):
        for job in _subfolders(ingested / source):
            root = ingested / source / job
            if (root / LOG_DIR).is_dir() or any(
                (root / part / LOG_DIR).is_dir() for part in _subfolders(root)
            ):
                continue
            if any(
                name.endswith(".parquet.source.json")
                for _, _, files in os.walk(root)
                for name in files
            ):
                found.append(f"{source}/{job}")
    return found


def _subfolders(folder: Path) -> list[str]:
    try:
        return sorted(
            e.name for e in os.scandir(folder) if e.is_dir() and not e.name.startswith((".", "_"))
        )
    except (FileNotFoundError, NotADirectoryError):
        return []


def _holds_outputs(folder: Path) -> bool:
    suffix = ".parquet" + SIDECAR_SUFFIX
    return any(name.endswith(suffix) for _, _, files in os.walk(folder) for name in files)
