"""DBN files of every schema in DBN v1, v2 and v3, built from the vendor's own record layouts.

Records are laid out with ``databento_dbn``'s record dtypes of the version being written
(``SCHEMA_STRUCT_MAP_V1/_V2/...``: ``InstrumentDefMsgV1``, ``StatMsgV1``...) and the header
is ``databento_dbn.Metadata(version=N).encode()``, so every file is what the vendor's own
encoder would write for that version. Values are chosen so that every column carries
something: the fields that DBN v3 dropped from definitions hold real values (a settlement
reference price and date, a trading status, a settlement price type), a statistics
quantity is the v1 "undefined" sentinel, some prices are the undefined price.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import databento_dbn as dbn
import numpy as np
from databento.common.constants import (
    SCHEMA_STRUCT_MAP,
    SCHEMA_STRUCT_MAP_V1,
    SCHEMA_STRUCT_MAP_V2,
)

from multigate.sources.databento.dbn_synthetic import synthetic_records, write_dbn

T0 = 1_700_006_400_000_000_000  # 2023-11-15T00:00:00Z
D0 = dt.date(2023, 11, 15)
N_RECORDS = 12
N_INSTRUMENTS = 3
STRUCT_MAPS: dict[int, dict[Any, Any]] = {
    1: SCHEMA_STRUCT_MAP_V1,
    2: SCHEMA_STRUCT_MAP_V2,
    3: SCHEMA_STRUCT_MAP,
}
UNDEF_PRICE = np.iinfo(np.int64).max


def schemas_in(version: int) -> list[str]:
    """Every schema the vendor can decode in DBN ``version`` (ohlcv-eod is v3 only)."""
    return sorted(str(s.value) for s in STRUCT_MAPS[version])


def all_version_schemas() -> list[tuple[int, str]]:
    return [(v, s) for v in (1, 2, 3) for s in schemas_in(v)]


class _Mapping:
    def __init__(self, raw_symbol: str, iid: int) -> None:
        self.raw_symbol = raw_symbol
        self.intervals = [_Interval(D0, D0 + dt.timedelta(days=1), str(iid))]


class _Interval:
    def __init__(self, start_date: dt.date, end_date: dt.date, symbol: str) -> None:
        self.start_date = start_date
        self.end_date = end_date
        self.symbol = symbol


def metadata_block(version: int, schema: str | None, mapped: bool = True) -> bytes:
    """A DBN ``version`` metadata header; instruments 1..N map to SYM1..SYMN if ``mapped``."""
    symbols = [f"SYM{i}" for i in range(1, N_INSTRUMENTS + 1)] if mapped else []
    maps = [_Mapping(f"SYM{i}", i) for i in range(1, N_INSTRUMENTS + 1)] if mapped else []
    meta = dbn.Metadata(
        dataset="GLBX.MDP3",
        start=T0,
        stype_in=dbn.SType.RAW_SYMBOL if mapped else None,
        stype_out=dbn.SType.INSTRUMENT_ID,
        schema=None if schema is None else dbn.Schema(schema),
        symbols=symbols,
        mappings=maps,  # type: ignore[arg-type]
        end=T0 + 86_400_000_000_000,
        version=version,
    )
    return bytes(meta.encode())


def _base(struct: Any, rtype: int) -> np.ndarray:
    dtype = np.dtype(struct._dtypes)
    recs = np.zeros(N_RECORDS, dtype=dtype)
    idx = np.arange(N_RECORDS)
    recs["length"] = dtype.itemsize // 4
    recs["rtype"] = rtype
    recs["publisher_id"] = 1
    recs["instrument_id"] = 1 + idx % N_INSTRUMENTS
    recs["ts_event"] = T0 + idx * 1_000_000
    if "ts_recv" in (dtype.names or ()):
        recs["ts_recv"] = T0 + idx * 1_000_000 + 500
    return recs


def definition_records(version: int) -> np.ndarray:
    """Definitions in the ``version`` layout, every v1/v2-only field holding a real value."""
    struct = STRUCT_MAPS[version][dbn.Schema.DEFINITION]
    recs = _base(struct, int(dbn.RType.INSTRUMENT_DEF.value))
    idx = np.arange(N_RECORDS)
    names = set(recs.dtype.names or ())
    for name in struct._price_fields:
        recs[name] = 4_500_000_000_000 + idx * 250_000_000
    recs["strike_price"][::2] = UNDEF_PRICE
    for name in ("expiration", "activation"):
        recs[name] = T0 + 90 * 86_400_000_000_000
    for name in ("raw_instrument_id", "underlying_id", "market_depth", "min_lot_size"):
        recs[name] = 10 + idx
    recs["raw_symbol"] = [f"ESH4-{i}".encode() for i in idx]
    recs["asset"] = b"ES"
    recs["currency"] = b"USD"
    recs["security_type"] = b"FUT"
    recs["instrument_class"] = b"F"
    recs["match_algorithm"] = b"F"
    recs["security_update_action"] = b"A"
    recs["user_defined_instrument"] = b"N"
    if "trading_reference_price" in names:  # v1/v2 only: dropped by v3
        recs["trading_reference_price"] = 4_512_250_000_000 + idx * 1_000_000_000
        recs["trading_reference_price"][-1] = UNDEF_PRICE
        recs["trading_reference_date"] = 19_675 + idx % 2
        recs["md_security_trading_status"] = 17 + idx % 3
        recs["settl_price_type"] = 3 + idx % 2
    return recs


def statistics_records(version: int) -> np.ndarray:
    struct = STRUCT_MAPS[version][dbn.Schema.STATISTICS]
    recs = _base(struct, int(dbn.RType.STATISTICS.value))
    idx = np.arange(N_RECORDS)
    recs["ts_ref"] = T0
    recs["price"] = 4_500_000_000_000 + idx
    recs["price"][1] = UNDEF_PRICE
    recs["quantity"] = 100 + idx
    recs["quantity"][2] = np.iinfo(recs["quantity"].dtype).max  # "undefined" sentinel
    recs["stat_type"] = 1 + idx % 5
    recs["update_action"] = 1
    return recs


def status_records(version: int) -> np.ndarray:
    struct = STRUCT_MAPS[version][dbn.Schema.STATUS]
    recs = _base(struct, int(dbn.RType.STATUS.value))
    idx = np.arange(N_RECORDS)
    recs["action"] = 1 + idx % 10
    recs["reason"] = idx % 4
    recs["trading_event"] = idx % 3
    recs["is_trading"] = np.where(idx % 2 == 0, b"Y", b"N")
    recs["is_quoting"] = b"Y"
    recs["is_short_sell_restricted"] = b"~"
    return recs


def records_for(version: int, schema: str) -> np.ndarray:
    if schema == "status":
        return status_records(version)
    if schema == "definition":
        return definition_records(version)
    if schema == "statistics":
        return statistics_records(version)
    struct = STRUCT_MAPS[version][dbn.Schema(schema)]
    recs = synthetic_records(schema, N_RECORDS, N_INSTRUMENTS, 0, T0, seed=3)
    assert recs.dtype == np.dtype(struct._dtypes), (version, schema)
    return recs


def write_version_file(folder: Path, version: int, schema: str, suffix: str = ".dbn.zst") -> Path:
    """``<schema>.v<version><suffix>``: a small DBN ``version`` file of ``schema``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{schema}.v{version}{suffix}"
    write_dbn(path, metadata_block(version, schema), [records_for(version, schema)])
    return path
