"""Synthetic DBN v3 files made with databento_dbn: trades, mbp-1 and ohlcv-1m over two
days for two continuous symbols, one of which rolls to a new instrument_id midway (so the
``symbol`` column must follow the file's own symbology mappings); and adjustment factors
(the Reference API's JSON lines) for the Alpaca sample's symbols."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np

from multigate.sources.databento.dbn_enums import STYPE_CONTINUOUS
from multigate.sources.databento.dbn_synthetic import (
    encode_metadata,
    synthetic_records,
    write_dbn,
)
from multigate.storage.atomic import atomic_path, write_bytes_atomic

DAY0 = dt.date(2024, 3, 11)
DAY1 = DAY0 + dt.timedelta(days=1)
DAY2 = DAY1 + dt.timedelta(days=1)
NS_PER_MINUTE = 60_000_000_000
# symbol -> instrument_id on DAY0 and on DAY1 (ES rolls from ESH4 to ESM4 overnight)
INSTRUMENTS = {"ES.c.0": (4916, 118), "NQ.c.0": (2130, 2130)}
SESSION_OPEN_UTC = dt.time(13, 30)
MINUTES = 390


def _ns(day: dt.date, time: dt.time = dt.time(0)) -> int:
    return int(dt.datetime.combine(day, time, tzinfo=dt.UTC).timestamp()) * 1_000_000_000


def _header(schema: str) -> bytes:
    mappings = {
        symbol: [(DAY0, DAY1, str(first)), (DAY1, DAY2, str(second))]
        for symbol, (first, second) in INSTRUMENTS.items()
    }
    return encode_metadata(
        schema, _ns(DAY0), _ns(DAY2), mappings, dataset="GLBX.MDP3", stype_in=STYPE_CONTINUOUS
    )


def _records(schema: str, per_minute: int, seed: int) -> np.ndarray:
    """Records for every symbol, every session minute of both days, in time order."""
    symbols = list(INSTRUMENTS)
    minutes = [(day, m) for day in (0, 1) for m in range(MINUTES)]
    count = len(minutes) * len(symbols) * per_minute
    recs = synthetic_records(schema, count, len(symbols), 0, _ns(DAY0), seed)
    ts, ids = np.empty(count, np.uint64), np.empty(count, np.uint32)
    i = 0
    for day, minute in minutes:
        start = _ns((DAY0, DAY1)[day], SESSION_OPEN_UTC) + minute * NS_PER_MINUTE
        for k in range(per_minute):
            for symbol in symbols:
                ts[i] = start + k * (NS_PER_MINUTE // per_minute)
                ids[i] = INSTRUMENTS[symbol][day]
                i += 1
    recs["ts_event"], recs["instrument_id"] = ts, ids
    if "ts_recv" in (recs.dtype.names or ()):
        recs["ts_recv"] = ts + 1_500
    return recs


def write_databento_samples(folder: Path) -> list[Path]:
    files = {
        "glbx-mdp3.trades.dbn.zst": ("trades", 4),
        "glbx-mdp3.mbp-1.dbn.zst": ("mbp-1", 4),
        "glbx-mdp3.ohlcv-1m.dbn": ("ohlcv-1m", 1),
    }
    written = []
    for seed, (name, (schema, per_minute)) in enumerate(files.items(), start=11):
        path = folder / name
        with atomic_path(path) as tmp:
            write_dbn(
                tmp,
                _header(schema),
                [_records(schema, per_minute, seed)],
                compress=name.endswith(".zst"),
            )
        written.append(path)
    factors = folder / "xnas.adjustment-factors.jsonl"
    write_bytes_atomic(factors, adjustment_factors_jsonl())
    written.append(factors)
    return written


def adjustment_factors_jsonl() -> bytes:
    """Adjustment factors as the Reference API writes them, for the Alpaca sample's symbols:
    an MSFT quarterly dividend going ex on 2024-01-03 (its row repeated, as the vendor does)
    and a cancelled event that must not apply."""
    common = {
        "security_type": "EQS",
        "operating_mic": "XNAS",
        "currency": "USD",
        "reason": 17,
        "option": 1,
        "ts_created": "2024-01-02T07:00:00.000000Z",
    }
    msft = {
        **common,
        "security_id": "S-39827",
        "issuer_name": "Microsoft Corporation",
        "symbol": "MSFT",
        "nasdaq_symbol": "MSFT",
        "local_code": "MSFT",
    }
    dividend = {
        **msft,
        "event_id": "E-DEMO-1",
        "event": "DIV",
        "status": "A",
        "ex_date": "2024-01-03",
        "factor": 0.998003992015968,  # 1 - 0.75 / 375.75
        "close": 375.75,
        "sentiment": 1.002,
        "detail": "QTR Dividend (cash) of USD0.750000000/EQS",
    }
    cancelled = {**dividend, "event_id": "E-DEMO-2", "status": "D", "factor": 0.5}
    lines = [dividend, dividend, cancelled]
    return "".join(json.dumps(line, sort_keys=True) + "\n" for line in lines).encode()
