"""Where Databento files live: pure functions of a job's parameters.

::

    raw/databento/dataset=<DATASET>/schema=<SCHEMA>/stype_in=<STYPE>/symbol=<SYMBOL>/
        <START>_<END>.dbn.zst                 one chunk of one symbol, bytes as received
    raw/databento/ledger.jsonl                every cost estimate and paid download
    ingested/databento/<job>/schema=<SCHEMA>/<STEM>.parquet
        API mode: <SYMBOL>_<START>_<END>; offline: see ``relative_stem``
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from multigate.storage.layout import ingested_root, path_component, raw_root
from multigate.time_chunks import Chunk

DBN_SUFFIXES = (".dbn.zst", ".dbn")
COMPRESSED_SUFFIX = ".dbn.zst"
LEGACY_SUFFIXES = (".dbz",)  # legacy DBZ: found under raw_dir so that it fails by name
FOLDER_MARK = "~"  # stands for "/" in a flat output name


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


def output_path(data_dir: Path, job: str, schema: str, stem: str) -> Path:
    return ingested_root(data_dir, "databento", job) / f"schema={schema}" / f"{stem}.parquet"


def _escape(part: str) -> str:
    return part.replace("%", "%25").replace(FOLDER_MARK, "%7E")


def _file_stem(name: str) -> str:
    """One file name's part of an output name (already escaped), one-to-one: ``x.dbn.zst``
    -> ``x``; ``x.dbn`` -> ``x.dbn``; any other name -> the whole name and a trailing ``~``
    (``x`` -> ``x~``, and ``x.dbn.dbn.zst`` -> ``x.dbn.dbn.zst~``, which would otherwise
    meet ``x.dbn``). The three kinds end differently, so no two names meet."""
    stripped = name.removesuffix(COMPRESSED_SUFFIX)
    if stripped != name and stripped and not stripped.endswith(".dbn"):
        return _escape(stripped)
    if name.endswith(".dbn"):
        return _escape(name)
    return _escape(name) + FOLDER_MARK  # never at the end of an escaped name


def relative_stem(path: Path, base: Path) -> str:
    """The output name of an input below ``base``: its relative path with each ``/``
    written as ``~`` (a literal ``%`` or ``~`` is percent-encoded) and the file name as
    ``_file_stem`` gives it: ``x.dbn.zst`` -> ``x``, ``x.dbn`` -> ``x.dbn``, ``x`` -> ``x~``,
    ``2024/01/x.dbn.zst`` -> ``2024~01~x``. A pure function of the input's own path, so it
    is stable whatever else the folder holds, and distinct inputs get distinct names."""
    try:
        parts = list(path.relative_to(base).parts)
    except ValueError:
        parts = []
    if not parts:  # not below base (or base is the file itself): its name alone
        parts = [path.name]
    folders = [_escape(part) for part in parts[:-1]]
    return FOLDER_MARK.join([*folders, _file_stem(parts[-1])])
