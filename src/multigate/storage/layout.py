"""Pure path functions: where raw and ingested files of a source and job live.

::

    <data_dir>/raw/<source>/...                   vendor-native bytes, as received or read
    <data_dir>/ingested/<source>/<job>/...        Parquet, one dataset per job

Vendors add their own sub-paths under these roots; every path is a pure function of the
job's parameters, so re-runs find what earlier runs wrote.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

SIDECAR_SUFFIX = ".source.json"


def raw_root(data_dir: Path, source: str) -> Path:
    return data_dir / "raw" / source


def ingested_root(data_dir: Path, source: str, job: str) -> Path:
    return data_dir / "ingested" / source / job


def data_dir_of(path: Path) -> Path | None:
    """The data folder of an ingested output ``<data_dir>/ingested/<source>/<job>/...``,
    or None when ``path`` is not one."""
    if path.suffix != ".parquet":
        return None
    for parent in list(path.parents)[2:]:
        if parent.name == "ingested":
            return parent.parent
    return None


def path_component(value: str) -> str:
    """Encode a vendor value (a symbol such as ``BTC/USD``) as one safe path component.

    Reversible with ``urllib.parse.unquote``; never yields ``.``/``..`` or a separator.
    """
    encoded = quote(value, safe="-_.=@+ ")
    if encoded in ("", ".", ".."):
        encoded = encoded.replace(".", "%2E") or "%00"
    return encoded


def sidecar_path(path: Path) -> Path:
    """``VIX.parquet`` -> ``VIX.parquet.source.json``."""
    return path.with_name(path.name + SIDECAR_SUFFIX)
