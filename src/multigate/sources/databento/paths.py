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


def dbn_stem(path: Path) -> str:
    """``test_data.trades.dbn.zst`` -> ``test_data.trades``; any other name is kept whole
    (``x.dbn`` stays ``x.dbn``, so it never meets ``x.dbn.zst``)."""
    name = path.name
    return name[: -len(COMPRESSED_SUFFIX)] if name.endswith(COMPRESSED_SUFFIX) else name


def output_path(data_dir: Path, job: str, schema: str, stem: str) -> Path:
    return ingested_root(data_dir, "databento", job) / f"schema={schema}" / f"{stem}.parquet"


def _escape(part: str) -> str:
    return part.replace("%", "%25").replace(FOLDER_MARK, "%7E")


def relative_stem(path: Path, base: Path) -> str:
    """The output name of an input below ``base``: its relative path with each ``/``
    written as ``~`` (a literal ``%`` or ``~`` is percent-encoded) and ``.dbn.zst``
    dropped: ``x.dbn.zst`` -> ``x``, ``x.dbn`` -> ``x.dbn``, ``2024/01/x.dbn.zst`` ->
    ``2024~01~x``. A pure function of the input's own path, so it is stable whatever
    else the folder holds, and distinct inputs get distinct names."""
    try:
        parts = list(path.relative_to(base).parts)
    except ValueError:
        parts = [path.name]
    parts[-1] = dbn_stem(Path(parts[-1]))
    return FOLDER_MARK.join(_escape(part) for part in parts)


def glob_base(pattern: str) -> Path:
    """The folder a glob pattern starts from: its parts before the first wildcard."""
    base = []
    for part in Path(pattern).parts:
        if any(ch in part for ch in "*?["):
            break
        base.append(part)
    path = Path(*base) if base else Path(".")
    return path if not path.suffix or path.is_dir() else path.parent
