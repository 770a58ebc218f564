"""Synthetic DBN v3 files made with databento_dbn, shaped like the vendor's GLBX.MDP3 data:
trades, mbp-1 and ohlcv-1m of two continuous futures (ES.c.0, NQ.c.0) over two whole CME
Globex sessions (17:00 to 16:00 Chicago, about 23 hours), busier in the day session than
overnight. ES rolls to a new instrument_id between the sessions' UTC dates, so the ``symbol``
column must follow the file's own symbology mappings (by UTC date, as the vendor's are).
Also adjustment factors (the Reference API's JSON lines) for the Alpaca sample's symbols."""

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

SESSIONS = (dt.date(2024, 3, 11), dt.date(2024, 3, 12))
"""Two CME Globex sessions (Monday and Tuesday), each labelled by the day it closes."""
GLOBEX_OPEN_UTC = dt.time(22, 0)
"""17:00 Chicago (CDT, after 2024-03-10) on the day before the session's label."""
SESSION_MINUTES = 23 * 60
DAY_SESSION_UTC = (13 * 60 + 30, 20 * 60)
"""08:30-15:00 Chicago as minutes after 00:00 UTC: the busy part of the session."""
NS_PER_MINUTE = 60_000_000_000
TICK = 0.25
# symbol -> (instrument_id through 2024-03-11 UTC, from 2024-03-12 UTC): ES rolls ESH4 -> ESM4
INSTRUMENTS = {"ES.c.0": (4916, 118), "NQ.c.0": (2130, 2130)}
START_PRICE = {"ES.c.0": 5_150.0, "NQ.c.0": 18_100.0}
ROLL_DAY = SESSIONS[1]
"""The UTC date the vendor's mapping moves ES.c.0 to its second instrument."""
FIXED = 1_000_000_000  # DBN prices: int64 in 1e-9 units
WALK_SEED = 20240311


def _ns(day: dt.date, time: dt.time = dt.time(0)) -> int:
    return int(dt.datetime.combine(day, time, tzinfo=dt.UTC).timestamp()) * 1_000_000_000


def session_open_ns(session: dt.date) -> int:
    """When Globex opens for ``session``: 17:00 Chicago the evening before."""
    return _ns(session - dt.timedelta(days=1), GLOBEX_OPEN_UTC)


FIRST_NS = session_open_ns(SESSIONS[0])
END_NS = session_open_ns(SESSIONS[-1]) + SESSION_MINUTES * NS_PER_MINUTE


def _header(schema: str) -> bytes:
    first_day = SESSIONS[0] - dt.timedelta(days=1)
    last_day = SESSIONS[-1] + dt.timedelta(days=1)
    mappings = {
        symbol: [(first_day, ROLL_DAY, str(first)), (ROLL_DAY, last_day, str(second))]
        for symbol, (first, second) in INSTRUMENTS.items()
    }
    return encode_metadata(
        schema, FIRST_NS, END_NS, mappings, dataset="GLBX.MDP3", stype_in=STYPE_CONTINUOUS
    )


def _minutes() -> np.ndarray:
    """The start (ns) of every minute of every session, in time order."""
    offsets = np.arange(SESSION_MINUTES, dtype=np.int64) * NS_PER_MINUTE
    return np.concatenate([session_open_ns(day) + offsets for day in SESSIONS])


def _busy(minutes: np.ndarray) -> np.ndarray:
    """Whether each minute is in the day session (08:30-15:00 Chicago)."""
    of_day = (minutes // NS_PER_MINUTE) % (24 * 60)
    return (of_day >= DAY_SESSION_UTC[0]) & (of_day < DAY_SESSION_UTC[1])


def _walk(symbol: str, minutes: np.ndarray, busy: np.ndarray) -> np.ndarray:
    """A tick-rounded random walk, one price per minute, calmer overnight (the same
    market in every schema's file)."""
    rng = np.random.default_rng([WALK_SEED, sum(map(ord, symbol))])
    scale = START_PRICE[symbol] * np.where(busy, 0.0004, 0.00015)
    steps = rng.normal(0.0, 1.0, len(minutes)) * scale
    return np.round((START_PRICE[symbol] + np.cumsum(steps)) / TICK) * TICK


def _records(schema: str, seed: int) -> np.ndarray:
    """Every symbol's records of both sessions, in time order: one bar per minute
    (ohlcv-1m), or 4 events a minute in the day session and 1 overnight."""
    minutes = _minutes()
    busy = _busy(minutes)
    per_minute = np.ones(len(minutes), np.int64) if schema == "ohlcv-1m" else np.where(busy, 4, 1)
    symbols = list(INSTRUMENTS)
    rng = np.random.default_rng(seed)
    starts = np.repeat(minutes, per_minute)
    within = np.concatenate([np.arange(n) for n in per_minute]) * (
        NS_PER_MINUTE // np.repeat(per_minute, per_minute)
    )
    ts_one = starts + within
    minute_of = np.repeat(np.arange(len(minutes)), per_minute)
    count = len(ts_one) * len(symbols)
    recs = synthetic_records(schema, count, len(symbols), 0, FIRST_NS, seed)
    ts = np.repeat(ts_one, len(symbols))  # at each instant, every symbol in turn
    which = np.tile(np.arange(len(symbols)), len(ts_one))
    day_of = ts // (86_400 * 10**9)
    rolled = day_of >= (ROLL_DAY - dt.date(1970, 1, 1)).days
    ids = np.empty(count, np.int64)
    price = np.empty(count, np.float64)
    before = np.empty(count, np.float64)  # the previous minute's price: a bar's open
    for k, symbol in enumerate(symbols):
        mine = which == k
        first, second = INSTRUMENTS[symbol]
        ids[mine] = np.where(rolled[mine], second, first)
        walk = _walk(symbol, minutes, busy)
        price[mine] = walk[minute_of]
        before[mine] = np.r_[walk[:1], walk[:-1]][minute_of]
    busy_rows = np.repeat(busy[minute_of], len(symbols))
    names = set(recs.dtype.names or ())
    recs["ts_event"], recs["instrument_id"] = ts.astype(np.uint64), ids
    if "ts_recv" in names:
        recs["ts_recv"] = (ts + 1_500).astype(np.uint64)
    fixed = np.round(price * FIXED).astype(np.int64)
    tick = int(TICK * FIXED)
    if schema == "ohlcv-1m":
        wiggle = rng.integers(0, 3, (2, count)) * tick
        recs["open"] = np.round(before * FIXED).astype(np.int64)
        recs["close"] = fixed
        recs["high"] = np.maximum(recs["open"], fixed) + wiggle[0]
        recs["low"] = np.minimum(recs["open"], fixed) - wiggle[1]
        recs["volume"] = np.where(busy_rows, rng.integers(400, 4_000, count),
                                  rng.integers(20, 400, count))  # fmt: skip
    if schema == "trades":
        recs["action"] = b"T"  # the trades schema holds trades only
    if "price" in names:
        recs["price"] = fixed
    if "size" in names:
        recs["size"] = np.where(busy_rows, rng.integers(1, 40, count), rng.integers(1, 6, count))
    if "bid_px_00" in names:
        recs["bid_px_00"] = fixed
        recs["ask_px_00"] = fixed + tick
        recs["bid_sz_00"] = rng.integers(5, 200, count)
        recs["ask_sz_00"] = rng.integers(5, 200, count)
    return recs


def write_databento_samples(folder: Path) -> list[Path]:
    files = {
        "glbx-mdp3.trades.dbn.zst": "trades",
        "glbx-mdp3.mbp-1.dbn.zst": "mbp-1",
        "glbx-mdp3.ohlcv-1m.dbn": "ohlcv-1m",
    }
    written = []
    for seed, (name, schema) in enumerate(files.items(), start=11):
        path = folder / name
        with atomic_path(path) as tmp:
            write_dbn(
                tmp,
                _header(schema),
                [_records(schema, seed)],
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
