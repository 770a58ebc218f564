"""One stored raw file serving several chunks of a later job: every chunk's bars are kept.

Job A stores Jan 1 - Mar 31 as one quarter file; job B (same series, `chunk: month`)
reads its three months from that one file. The reference is the fake server's own bars.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq

from multigate.config.loader import load_config
from multigate.context import RunContext
from multigate.dispatcher import open_sources, preflight, run_selected, select_jobs
from multigate.sources.base import JobStatus
from tests.fakes.alpaca_server import STOCK_PATH, FakeAlpacaServer, make_bars

KEY, SECRET = "test-key-id", "test-secret-key"
HOURS = (31 + 29 + 31) * 24  # 2024-01-01 .. 2024-03-31, one bar an hour
CONFIG = """\
data_dir: {data}
sources:
  alpaca:
    enabled: true
    mode: api
    base_url: {url}
    http: {{max_attempts: 2, backoff_seconds: 0}}
    requests_per_minute: 0
    jobs:
      - name: {name}
        mode: api
        symbols: [AAPL]
        timeframe: 1Hour
        start: 2024-01-01
        end: 2024-03-31
        feed: iex
        chunk: {chunk}
"""


def run(tmp_path: Path, url: str, name: str, chunk: str) -> JobStatus:
    config = tmp_path / f"{name}.yaml"
    config.write_text(CONFIG.format(data=tmp_path / "data", url=url, name=name, chunk=chunk))
    loaded = load_config(config)
    selected = select_jobs(loaded)
    ctx = RunContext(
        data_dir=loaded.data_dir,
        base_dir=loaded.base_dir,
        env={"APCA_API_KEY_ID": KEY, "APCA_API_SECRET_KEY": SECRET},
        sleep=lambda seconds: None,
        now=lambda: datetime(2024, 6, 1, tzinfo=UTC),
    )
    sources = open_sources(loaded, selected, ctx)
    preflight(selected, sources)
    [outcome] = run_selected(selected, sources, dry_run=False)
    return outcome.status


def output(tmp_path: Path, name: str):
    folder = tmp_path / f"data/ingested/alpaca/{name}/timeframe=1Hour/feed=iex/adjustment=raw"
    return pq.read_table(folder / "AAPL.parquet")


def test_one_quarter_file_serves_three_month_chunks(tmp_path):
    with FakeAlpacaServer(KEY, SECRET) as server:
        server.add_bars(
            "AAPL", make_bars(datetime(2024, 1, 1, tzinfo=UTC), HOURS + 48, timedelta(hours=1))
        )
        assert run(tmp_path, server.url, "quarterly", "quarter") == JobStatus.OK
        asked = server.count(STOCK_PATH)
        assert run(tmp_path, server.url, "monthly", "month") == JobStatus.OK
        assert server.count(STOCK_PATH) == asked  # all three months come from the stored file
        want = output(tmp_path, "quarterly")
        got = output(tmp_path, "monthly")
        assert want.num_rows == HOURS
        assert got.num_rows == HOURS and got.equals(want)
        # a second run sees the complete output as current and keeps it
        assert run(tmp_path, server.url, "monthly", "month") == JobStatus.UP_TO_DATE
        assert output(tmp_path, "monthly").num_rows == HOURS
