"""Records of a mixed (live-capture) DBN stream that are not market data.

A file recorded from Databento's live gateway has no schema and no symbology in its
metadata. Its instrument-to-symbol mappings arrive in the stream as ``SymbolMappingMsg``
records, interleaved with the data, and it may hold ``SystemMsg`` (heartbeats, notices)
and ``ErrorMsg`` records. ``DBNStore.to_df(schema=...)`` resolves symbols with every
mapping the file holds (each over its own date interval, the vendor's ``InstrumentMap``
rules), so :func:`scan_control_records` reads them all in one pass before converting.
Every record that belongs to no output is counted by kind, so nothing is dropped unseen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import databento_dbn as dbn

from .dbn_records import iter_record_spans
from .dbn_schemas import RTYPE_TO_SCHEMA
from .dbn_stream import open_v3

MAX_ERROR_TEXTS = 20
_KINDS = {
    int(dbn.RType.SYMBOL_MAPPING): "symbol_mapping",
    int(dbn.RType.SYSTEM): "system",
    int(dbn.RType.ERROR): "error",
}
_DECODED = {int(dbn.RType.SYMBOL_MAPPING), int(dbn.RType.ERROR)}


def record_kind(rtype: int) -> str:
    """Name of a non-market-data record type, as counted in the sidecar."""
    return _KINDS.get(rtype, f"rtype_{rtype:#04x}")


@dataclass
class ControlRecords:
    """What a mixed stream holds besides market data."""

    mappings: list[Any] = field(default_factory=list)  # dbn.SymbolMappingMsg, stream order
    counts: dict[str, int] = field(default_factory=dict)  # kind -> records (no output)
    errors: list[str] = field(default_factory=list)  # texts of the first ErrorMsg records


def scan_control_records(src: Path) -> ControlRecords:
    """Read every non-market-data record of ``src`` (any DBN version, upgraded to v3)."""
    found = ControlRecords()
    reader, meta, _version = open_v3(src)
    try:
        decoder = dbn.DBNDecoder(has_metadata=False, ts_out=meta.ts_out, input_version=3)
        for buf, starts in iter_record_spans(reader):
            wanted: list[bytes] = []
            for start in starts:
                rtype = buf[start + 1]
                if rtype in RTYPE_TO_SCHEMA:
                    continue
                kind = record_kind(rtype)
                found.counts[kind] = found.counts.get(kind, 0) + 1
                if rtype in _DECODED:
                    wanted.append(buf[start : start + buf[start] * 4])
            if wanted:
                decoder.write(b"".join(wanted))
                for record in decoder.decode():
                    if isinstance(record, dbn.SymbolMappingMsg):
                        found.mappings.append(record)
                    elif isinstance(record, dbn.ErrorMsg) and len(found.errors) < MAX_ERROR_TEXTS:
                        found.errors.append(record.err)
    finally:
        reader.close()
    return found
