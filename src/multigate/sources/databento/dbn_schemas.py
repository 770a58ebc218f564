"""Schema <-> record type <-> record struct lookups (DBN v3 layouts)."""

from __future__ import annotations

from typing import Any

import databento_dbn as dbn
from databento.common.constants import SCHEMA_STRUCT_MAP

# Order matters for the rtype -> schema mapping: the first schema listed for an rtype
# names the output when splitting mixed files (e.g. rtype MBP_1 -> "mbp-1", not "tbbo").
_SCHEMA_ORDER = (
    "mbo", "mbp-1", "mbp-10", "tbbo", "trades", "bbo-1s", "bbo-1m", "cbbo-1s", "cbbo-1m",
    "tcbbo", "cmbp-1", "ohlcv-1s", "ohlcv-1m", "ohlcv-1h", "ohlcv-1d", "ohlcv-eod",
    "definition", "statistics", "status", "imbalance",
)  # fmt: skip

OHLCV_DEPRECATED_RTYPE = 0x11


def struct_for_schema(schema: str) -> Any:
    """The databento_dbn v3 record class for a schema name."""
    return SCHEMA_STRUCT_MAP[dbn.Schema(schema)]


def rtypes_for_schema(schema: str) -> frozenset[int]:
    """Record types accepted in a file whose metadata declares ``schema``."""
    rtype = int(dbn.RType.from_schema(dbn.Schema(schema)).value)
    if schema.startswith("ohlcv"):
        return frozenset({rtype, OHLCV_DEPRECATED_RTYPE})
    return frozenset({rtype})


def _build_rtype_map() -> dict[int, str]:
    out: dict[int, str] = {}
    for name in _SCHEMA_ORDER:
        rtype = int(dbn.RType.from_schema(dbn.Schema(name)).value)
        out.setdefault(rtype, name)
    return out


RTYPE_TO_SCHEMA: dict[int, str] = _build_rtype_map()
