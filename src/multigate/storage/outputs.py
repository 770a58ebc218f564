"""What the catalog needs to know about one ingested output, read from its sidecar and its
Parquet footer (never its rows): dataset, symbols, rows, sha256 and time range.

A job's outputs form one dataset, ``<source>/<job>``; a job whose outputs sit under
``schema=<name>`` folders (several record types) holds one dataset per schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path, PurePosixPath
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from multigate.datasets import profile_of
from multigate.quality.checks import failing
from multigate.storage.provenance import read_sidecar

_NS_PER_UNIT = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
NS_PER_DAY = 86_400 * 1_000_000_000
_PART_KEY = "schema="


@dataclass(frozen=True)
class OutputEntry:
    """One ingested Parquet file as the catalog indexes it. ``path`` is relative to the data
    folder (POSIX separators); ``tmin``/``tmax`` are the time column's range in UTC
    nanoseconds (a date counts as its midnight), None when the file has no rows."""

    path: str
    source: str
    job: str
    part: str
    sha256: str
    bytes: int
    rows: int
    symbols: tuple[str, ...]
    time_column: str
    tmin: int | None
    tmax: int | None
    flagged: tuple[tuple[str, int], ...] = ()
    """Row checks that fail ``--strict`` with what they counted in this output, from its
    sidecar's ``quality`` (sorted by check name; empty when none found anything)."""

    @property
    def dataset_key(self) -> tuple[str, str, str]:
        return (self.source, self.job, self.part)

    def to_dict(self) -> dict[str, Any]:
        record = {name: getattr(self, name) for name in _FIELDS}
        record["symbols"] = list(self.symbols)
        record["flagged"] = [{"check": name, "count": count} for name, count in self.flagged]
        return record

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> OutputEntry:
        return cls(
            path=str(record["path"]),
            source=str(record["source"]),
            job=str(record["job"]),
            part=str(record["part"]),
            sha256=str(record["sha256"]),
            bytes=int(record["bytes"]),
            rows=int(record["rows"]),
            symbols=tuple(record["symbols"] or ()),
            time_column=str(record["time_column"]),
            tmin=None if record["tmin"] is None else int(record["tmin"]),
            tmax=None if record["tmax"] is None else int(record["tmax"]),
            flagged=tuple(
                (str(item["check"]), int(item["count"])) for item in record.get("flagged") or ()
            ),
        )


_FIELDS = tuple(item.name for item in fields(OutputEntry))


def part_of(relative: PurePosixPath, source: str, job: str) -> str:
    """The record type of an output at ``relative`` (``ingested/<source>/<job>/...``): the
    value of its ``schema=`` folder, or "" when it has none."""
    inside = relative.parts[3:-1]
    for part in inside:
        if part.startswith(_PART_KEY):
            return part[len(_PART_KEY) :]
    return ""


def describe_output(path: Path, data_dir: Path) -> OutputEntry | None:
    """The entry for ``path``, or None when it is not a complete ingested output (no
    sidecar, another kind, or a size that differs from what the sidecar recorded)."""
    record = read_sidecar(path)
    if record is None or record.get("kind") != "ingested":
        return None
    recorded = record.get("file") or {}
    try:
        size = path.stat().st_size
    except OSError:
        return None
    if recorded.get("bytes") != size or not recorded.get("sha256"):
        return None
    relative = PurePosixPath(path.resolve().relative_to(data_dir.resolve()).as_posix())
    return describe_parquet(pq.read_metadata(path), sidecar_facts(record, relative))


def sidecar_facts(record: Mapping[str, Any], relative: PurePosixPath) -> FileFacts:
    """What an output's sidecar says for its entry; ``relative`` is where the file is,
    relative to the data folder."""
    source, job = str(record.get("source")), str(record.get("job"))
    return FileFacts(
        path=str(relative),
        source=source,
        job=job,
        part=part_of(relative, source, job),
        sha256=str(record["file"]["sha256"]),
        bytes=int(record["file"]["bytes"]),
        symbols=tuple(str(symbol) for symbol in record.get("symbols") or ()),
        flagged=flagged_checks(record.get("quality")),
    )


@dataclass(frozen=True)
class FileFacts:
    """What an entry takes from outside the file's footer."""

    path: str
    source: str
    job: str
    part: str
    sha256: str
    bytes: int
    symbols: tuple[str, ...]
    flagged: tuple[tuple[str, int], ...] = ()


def describe_parquet(metadata: pq.FileMetaData, facts: FileFacts) -> OutputEntry:
    """The entry of a file from its footer (rows, time range) and ``facts``."""
    schema = metadata.schema.to_arrow_schema()
    time_column = profile_of(schema).time_column
    tmin, tmax = _time_range(metadata, schema, time_column)
    return OutputEntry(
        path=facts.path,
        source=facts.source,
        job=facts.job,
        part=facts.part,
        sha256=facts.sha256,
        bytes=facts.bytes,
        rows=metadata.num_rows,
        symbols=facts.symbols,
        time_column=time_column,
        tmin=tmin,
        tmax=tmax,
        flagged=facts.flagged,
    )


def flagged_checks(quality: object) -> tuple[tuple[str, int], ...]:
    """The row checks in a sidecar's ``quality`` that fail ``--strict`` and found
    something, as sorted ``(check, count)`` pairs (nothing for a malformed record)."""
    checks = quality.get("checks") if isinstance(quality, dict) else None
    if not isinstance(checks, dict):
        return ()
    try:
        return tuple(sorted(failing(checks).items()))
    except (TypeError, ValueError, AttributeError):
        return ()


def time_unit_ns(arrow_type: pa.DataType) -> int:
    """Nanoseconds per stored unit of a timestamp or date32 column."""
    if pa.types.is_timestamp(arrow_type):
        return _NS_PER_UNIT[arrow_type.unit]
    if pa.types.is_date32(arrow_type):
        return NS_PER_DAY
    if pa.types.is_date64(arrow_type):
        return _NS_PER_UNIT["ms"]
    raise ValueError(f"unsupported time column type {arrow_type}")


def _time_range(
    metadata: pq.FileMetaData, schema: pa.Schema, time_column: str
) -> tuple[int | None, int | None]:
    if metadata.num_rows == 0:
        return None, None
    scale = time_unit_ns(schema.field(time_column).type)
    index = _leaf_index(metadata, time_column)
    low: int | None = None
    high: int | None = None
    for group in range(metadata.num_row_groups):
        stats = metadata.row_group(group).column(index).statistics
        if stats is None or not stats.has_min_max:
            return None, None  # unknown: the catalog never prunes this file by time
        low = stats.min_raw if low is None else min(low, stats.min_raw)
        high = stats.max_raw if high is None else max(high, stats.max_raw)
    if low is None or high is None:
        return None, None
    return int(low) * scale, int(high) * scale


def _leaf_index(metadata: pq.FileMetaData, name: str) -> int:
    for index in range(metadata.num_columns):
        if metadata.schema.column(index).path == name:
            return index
    raise ValueError(f"column {name} not in the file")
