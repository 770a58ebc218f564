"""DBN files the backtest tests make with databento_dbn (minute bars and trades at chosen
times), and the offline ingest config that turns them into datasets."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import databento_dbn as dbn
import numpy as np
import pandas as pd

from multigate.sources.databento.dbn_synthetic import encode_metadata, record_dtype, write_dbn

NS_PER_MIN = 60_000_000_000
START = pd.Timestamp("2023-11-13T00:00Z")  # Monday; no US holiday that week


def minute_times(days: int, keep: float, seed: int) -> np.ndarray:
    """Minutes from START over ``days`` days, a random ``keep`` share of them (gaps make
    empty intervals), as int64 ns."""
    rng = np.random.default_rng(seed)
    minutes = np.arange(days * 1440, dtype=np.int64)
    chosen = minutes[rng.random(len(minutes)) < keep]
    return START.value + chosen * NS_PER_MIN


def write_records(
    path: Path,
    schema: str,
    times: dict[int, np.ndarray],
    seed: int,
    dataset: str = "GLBX.MDP3",
    names: dict[int, str] | None = None,
    scale: float = 1.0,
    volumes: tuple[int, int] = (1, 1_000),
) -> None:
    """A DBN v3 file of ``schema`` (ohlcv-1m or trades): for each instrument id, one record
    at each of its times, random prices (near 4500, times ``scale``); symbols ``names[id]``
    or ``SYM<id>``."""
    dtype = record_dtype(schema)
    rng = np.random.default_rng(seed)
    parts = []
    for iid, ts in times.items():
        recs = np.zeros(len(ts), dtype=dtype)
        recs["length"] = dtype.itemsize // 4
        recs["rtype"] = int(dbn.RType.from_schema(dbn.Schema(schema)).value)
        recs["publisher_id"] = 1
        recs["instrument_id"] = iid
        recs["ts_event"] = ts
        mid = 4_500_000_000_000 + rng.integers(-(10**10), 10**10, len(ts))
        mid = (mid * scale).astype(np.int64)
        if schema == "ohlcv-1m":
            recs["open"] = mid
            recs["close"] = mid + rng.integers(-(10**9), 10**9, len(ts))
            recs["high"] = np.maximum(recs["open"], recs["close"]) + rng.integers(0, 10**9, len(ts))
            recs["low"] = np.minimum(recs["open"], recs["close"]) - rng.integers(0, 10**9, len(ts))
            recs["volume"] = rng.integers(*volumes, len(ts))
        else:
            recs["price"] = mid
            recs["size"] = rng.integers(1, 50, len(ts))
            recs["action"] = b"T"
            recs["side"] = b"N"
            recs["ts_recv"] = ts + 500
        parts.append(recs)
    records = np.concatenate(parts)
    records = records[np.argsort(records["ts_event"], kind="stable")]
    first = int(records["ts_event"].min())
    last = int(records["ts_event"].max()) + NS_PER_MIN
    d0 = dt.datetime.fromtimestamp(first / 1e9, tz=dt.UTC).date()
    d1 = dt.datetime.fromtimestamp(last / 1e9, tz=dt.UTC).date() + dt.timedelta(days=1)
    named = names or {}
    mappings = {named.get(iid, f"SYM{iid}"): [(d0, d1, str(iid))] for iid in times}
    header = encode_metadata(schema, first, last, mappings, dataset=dataset)
    write_dbn(path, header, [records])


CONFIG = """\
data_dir: data
sources:
  databento:
    enabled: true
    mode: offline
    jobs:
      - name: bars_1m
        mode: offline
        path: inputs/bars/*.dbn.zst
      - name: trades
        mode: offline
        path: inputs/trades/*.dbn.zst
"""
