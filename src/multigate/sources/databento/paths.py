"""Where Databento files live: pure functions of a job's parameters.

::

    raw/databento/dataset=<DATASET>/schema=<SCHEMA>/stype_in=<STYPE>/symbol=<SYMBOL>/
        <START>_<END>.dbn.zst                 one chunk of one symbol, bytes as received
    raw/databento/ledger.jsonl                every cost estimate and paid download
    ingested/databento/<job>/schema=<SCHEMA>/<STEM>.parquet
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from multigate.storage.layout import ingested_root, path_component, raw_root
from multigate.time_chunks import Chunk

DBN_SUFFIXES = (".dbn.zst", ".dbn")


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")


def chunk_stem(symbol: str, chunk: Chunk) -> str:
    return f"{path_component(symbol)}_{_stamp(chunk.start)}_{_stamp(chunk.end)}"


def raw_chunk_path(
    data_dir: Path, dataset: str, schema: str, stype_in: str, symbol: str, chunk: Chunk
) -> Path:
    folder = raw_root(data_dir, "databento") / f"dataset={dataset}" / f"schema={schema}"
    folder = folder / f"stype_in={stype_in}" / f"symbol={path_component(symbol)}"
    return folder / f"{_stamp(chunk.start)}_{_stamp(chunk.end)}.dbn.zst"


def ledger_path(data_dir: Path) -> Path:
    return raw_root(data_dir, "databento") / "ledger.jsonl"


def dbn_stem(path: Path) -> str:
    """``test_data.trades.dbn.zst`` -> ``test_data.trades``."""
    name = path.name
    for suffix in DBN_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def output_path(data_dir: Path, job: str, schema: str, stem: str) -> Path:
    return ingested_root(data_dir, "databento", job) / f"schema={schema}" / f"{stem}.parquet"


def relative_stem(path: Path, base: Path) -> str:
    """A unique, flat output name for an input below ``base``: its folders and file stem
    joined by ``_``, with hive ``key=`` prefixes dropped (``symbol=AAPL`` -> ``AAPL``)."""
    try:
        parts = list(path.relative_to(base).parts)
    except ValueError:
        parts = [path.name]
    parts[-1] = dbn_stem(Path(parts[-1]))
    return "_".join(part.split("=", 1)[-1] for part in parts)


def glob_base(pattern: str) -> Path:
    """The folder a glob pattern starts from: its parts before the first wildcard."""
    base = []
    for part in Path(pattern).parts:
        if any(ch in part for ch in "*?["):
            break
        base.append(part)
    path = Path(*base) if base else Path(".")
    return path if not path.suffix or path.is_dir() else path.parent
