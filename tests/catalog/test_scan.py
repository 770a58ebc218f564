"""``scan`` streams exactly the rows ``read`` returns, in the same order, one time window
(about ``batch_rows`` rows) at a time."""

from __future__ import annotations

import itertools
import math

import pyarrow as pa
import pytest

from multigate import Catalog
from tests.catalog.helpers import DATASETS, assert_same_rows, reference, stored_files


@pytest.mark.parametrize("batch_rows", [97, 1_000, 10_000_000])
def test_scan_streams_the_rows_of_read_in_order(ingested, batch_rows):
    data_dir = ingested.parent / "data"
    catalog = Catalog.open(data_dir)
    for name, (folder, time_column) in DATASETS.items():
        batches = list(catalog.scan(name, batch_rows=batch_rows))
        total = sum(batch.num_rows for batch in batches)
        assert all(batch.num_rows <= batch_rows for batch in batches)
        # about ``batch_rows`` rows a batch, not fragments: at most twice the fewest possible
        # (one batch when they all fit, as at 10,000,000)
        fewest = math.ceil(total / batch_rows)
        assert fewest <= len(batches) <= 2 * fewest, (name, total, len(batches))
        assert_same_rows(
            pa.Table.from_batches(batches), reference(stored_files(data_dir, folder), time_column)
        )


def test_scan_applies_the_filters(ingested):
    catalog = Catalog.open(ingested.parent / "data")
    filters = {"symbols": ["VIX3M"], "start": "1990-02-01", "end": "1990-09-01"}
    got = catalog.scan(
        "vix/vix_daily", batch_rows=20, columns=["date", "close"], **filters
    ).read_all()
    want = catalog.read("vix/vix_daily", columns=["date", "close"], **filters)
    assert got.num_rows > 100
    assert_same_rows(got, want.to_pandas())


def test_windows_split_the_rows_evenly(ingested):
    from multigate.catalog.reader import window_bounds

    catalog = Catalog.open(ingested.parent / "data")
    for name in ("databento/es_trades", "alpaca/eq_1m", "vix/vix_daily"):
        request = catalog._request(name, None, None, None, None, None)
        full = catalog.read(name)
        time_column = DATASETS[name][1]
        bounds = window_bounds(request, 300)
        assert len(bounds) >= full.num_rows // 300
        assert bounds[0][0] is None and bounds[-1][1] is None
        assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
        sizes = [catalog.read(name, start=_t(low), end=_t(high)).num_rows for low, high in bounds]
        assert sum(sizes) == full.num_rows
        assert max(sizes) <= 2 * 300, (name, time_column, sizes)


def _t(ns):
    import pandas as pd

    return None if ns is None else pd.Timestamp(ns, tz="UTC")
