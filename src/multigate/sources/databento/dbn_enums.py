"""databento_dbn enum members, typed as their enums.

The package's stubs annotate enum members with their value types (``AS_IS: int``,
``RAW_SYMBOL: str``), so a type checker sees ``int``/``str`` where the SDK hands out enum
members. The names here are the same members with their real types.
"""

from __future__ import annotations

from typing import Any, cast

import databento_dbn as dbn

AS_IS = cast(dbn.VersionUpgradePolicy, dbn.VersionUpgradePolicy.AS_IS)
UPGRADE_TO_V3 = cast(dbn.VersionUpgradePolicy, dbn.VersionUpgradePolicy.UPGRADE_TO_V3)
ENCODING_DBN = cast(dbn.Encoding, dbn.Encoding.DBN)
COMPRESSION_NONE = cast(dbn.Compression, dbn.Compression.NONE)
STYPE_RAW_SYMBOL = cast(dbn.SType, dbn.SType.RAW_SYMBOL)
STYPE_INSTRUMENT_ID = cast(dbn.SType, dbn.SType.INSTRUMENT_ID)
STYPE_CONTINUOUS = cast(dbn.SType, dbn.SType.CONTINUOUS)


def schema_name(meta: dbn.Metadata) -> str | None:
    """The metadata's schema as its text name (``"trades"``), or None for a mixed file."""
    schema: Any = meta.schema
    return None if schema is None else str(schema.value)
