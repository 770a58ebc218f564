"""Daily updates of an `end`-less Alpaca job: only the new days are requested.

The clock is injected through RunContext; the fake server's request log shows what was
asked. The reference is one run over the whole range in a fresh data folder.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from multigate.config.loader import load_config
from multigate.context import RunContext
from multigate.dispatcher import open_sources, preflight, run_selected, select_jobs
from multigate.sources.base import JobStatus
from multigate.storage.provenance import read_sidecar, sha256_of
from tests.conftest import ALPACA_KEY as KEY
from tests.conftest import ALPACA_SECRET as SECRET
from tests.fakes.alpaca_server import STOCK_PATH, FakeAlpacaServer, make_bars

SYMBOLS = ("AAPL", "MSFT")
FIRST_RUN = datetime(2024, 1, 16, tzinfo=UTC)  # then one run a day, 20 days in a row
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
      - name: bars
        mode: api
        symbols: [AAPL, MSFT]
        timeframe: 1Min
        start: 2024-01-01
        feed: iex
        settle_minutes: {settle}
        {chunk}
"""


@pytest.fixture
def server(alpaca_server) -> FakeAlpacaServer:
    fake = alpaca_server()
    start = datetime(2024, 1, 1, tzinfo=UTC)
    for i, symbol in enumerate(SYMBOLS):  # a bar every 20 minutes, Jan 1 .. Feb 29
        fake.add_bars(symbol, make_bars(start, 60 * 24 * 3, timedelta(minutes=20), 50 * i))
    return fake


def run_at(config: Path, now: datetime) -> None:
    loaded = load_config(config)
    selected = select_jobs(loaded)
    ctx = RunContext(
        data_dir=loaded.data_dir,
        base_dir=loaded.base_dir,
        env={"APCA_API_KEY_ID": KEY, "APCA_API_SECRET_KEY": SECRET},
        sleep=lambda seconds: None,
        now=lambda: now,
    )
    sources = open_sources(loaded, selected, ctx)
    preflight(selected, sources)
    [outcome] = run_selected(selected, sources, dry_run=False)
    assert outcome.status in (JobStatus.OK, JobStatus.UP_TO_DATE), outcome.notes


def write(
    tmp_path: Path, name: str, server: FakeAlpacaServer, chunk: str = "", settle: int = 0
) -> Path:
    """A config for runs on the hour (bars there have settled: margin 0 unless given)."""
    path = tmp_path / f"{name}.yaml"
    text = CONFIG.format(data=tmp_path / name, url=server.url, chunk=chunk, settle=settle)
    path.write_text(text)
    return path


def requested(server: FakeAlpacaServer, since: int) -> list[tuple[str, str]]:
    return [(r.query["start"][:10], r.query["end"][:10]) for r in server.requests[since:]]


def table(data: Path, symbol: str, timeframe: str = "1Min"):
    folder = data / f"ingested/alpaca/bars/timeframe={timeframe}/feed=iex/adjustment=raw"
    return pq.read_table(folder / f"{symbol}.parquet")


def raw_folder(data: Path, symbol: str, timeframe: str = "1Min") -> Path:
    root = data / f"raw/alpaca/stocks/bars/timeframe={timeframe}/feed=iex/adjustment=raw"
    return root / f"symbol={symbol}"


@pytest.mark.parametrize("chunk", ["", "chunk: year"])
def test_twenty_daily_runs_request_only_the_new_days(tmp_path, server, chunk):
    daily = write(tmp_path, "daily", server, chunk)
    run_at(daily, FIRST_RUN)
    assert requested(server, 0) == [("2024-01-01", "2024-01-16")]
    for day in range(1, 21):
        now = FIRST_RUN + timedelta(days=day)
        before = len(server.requests)
        run_at(daily, now)
        # exactly one request (both symbols, one page): yesterday, nothing else
        expected = (f"{now - timedelta(days=1):%Y-%m-%d}", f"{now:%Y-%m-%d}")
        assert requested(server, before) == [expected]
    assert server.count(STOCK_PATH) == 21

    # values equal one run over the whole range
    whole = write(tmp_path, "whole", server, chunk)
    run_at(whole, FIRST_RUN + timedelta(days=20))
    for symbol in SYMBOLS:
        got, want = table(tmp_path / "daily", symbol), table(tmp_path / "whole", symbol)
        assert got.num_rows == want.num_rows > 2000
        assert got.equals(want)

    # January is finished: one verified file per symbol, its provenance lists the pieces
    for symbol in SYMBOLS:
        names = sorted(p.name for p in raw_folder(tmp_path / "daily", symbol).glob("*.json.gz"))
        if chunk:  # the year is not finished: its pieces stay (one per run)
            assert len(names) == 21
            continue
        january = "20240101T000000Z_20240201T000000Z.json.gz"
        assert names[0] == january
        february = [f"202402{d:02d}T000000Z_202402{d + 1:02d}T000000Z.json.gz" for d in range(1, 5)]
        assert names[1:] == february  # the running month: one piece per day so far
        path = raw_folder(tmp_path / "daily", symbol) / january
        sidecar = read_sidecar(path)
        assert sidecar is not None and sidecar["file"]["sha256"] == sha256_of(path)
        merged = sidecar["extra"]["merged"]
        assert [m["start"][:10] for m in merged] == ["2024-01-01"] + [
            f"2024-01-{d:02d}" for d in range(16, 32)
        ]
        fresh = raw_folder(tmp_path / "whole", symbol) / january  # one request, no pieces
        assert path.read_bytes() == fresh.read_bytes()


def test_a_later_job_uses_the_stored_month_for_its_window_only(tmp_path, server):
    first = write(tmp_path, "shared", server)
    run_at(first, datetime(2024, 2, 3, tzinfo=UTC))  # January compacted, Feb 1-2 stored
    before = len(server.requests)
    later = tmp_path / "later.yaml"
    later.write_text(
        first.read_text().replace("name: bars", "name: later").replace("2024-01-01", "2024-01-10")
    )
    run_at(later, datetime(2024, 2, 3, tzinfo=UTC))
    assert server.requests[before:] == []  # everything it needs is stored already
    folder = tmp_path / "shared/ingested/alpaca/later/timeframe=1Min/feed=iex/adjustment=raw"
    for symbol in SYMBOLS:
        got = pq.read_table(folder / f"{symbol}.parquet").to_pandas()
        whole = table(tmp_path / "shared", symbol).to_pandas()
        want = whole[whole["timestamp"] >= "2024-01-10"].reset_index(drop=True)
        assert len(got) == len(want) > 0 and got.equals(want)
        names = sorted(p.name for p in raw_folder(tmp_path / "shared", symbol).glob("*.json.gz"))
        assert names[0] == "20240101T000000Z_20240201T000000Z.json.gz"  # kept, not copied
        assert names[1:] == ["20240201T000000Z_20240203T000000Z.json.gz"]


@pytest.mark.parametrize(
    ("timeframe", "now", "end"),
    [
        ("1Min", "2024-03-05T10:03:59", "2024-03-05T10:03:00"),
        ("1Min", "2024-03-05T00:00:00", "2024-03-05T00:00:00"),
        ("5Min", "2024-03-05T10:03:59", "2024-03-05T09:59:00"),  # the 09:55 bar ended
        ("1Hour", "2024-03-05T10:03:59", "2024-03-05T09:04:00"),  # 09:00 yes, 10:00 no
        # daily bars start at midnight New York time: the bar stamped 2024-03-04T05:00Z
        # covers until 2024-03-05T05:00Z, so at 02:00Z it is still open and not fetched
        # the day the clocks fall back lasts 25 hours: the bar stamped 2024-11-03T04:00Z
        # (midnight EDT) covers until 2024-11-04T05:00Z (midnight EST)
        ("1Day", "2024-03-05T02:00:00", "2024-03-04T01:01:00"),
        ("1Day", "2024-03-05T06:00:00", "2024-03-04T05:01:00"),
        ("1Day", "2024-11-04T04:30:00", "2024-11-03T03:31:00"),
        ("1Day", "2024-11-04T05:00:00", "2024-11-03T04:01:00"),
        ("1Week", "2024-03-11T06:00:00", "2024-03-04T05:01:00"),
        ("1Week", "2024-11-04T04:30:00", "2024-10-28T03:31:00"),  # Oct 28 04:00Z still open
        ("1Month", "2024-04-01T06:00:00", "2024-03-01T05:01:00"),
    ],
)
def test_an_endless_job_stops_before_any_bar_still_open(timeframe, now, end):
    from multigate.sources.alpaca.timeframe import completed_bars_end

    moment = datetime.fromisoformat(now).replace(tzinfo=UTC)
    assert completed_bars_end(moment, timeframe) == datetime.fromisoformat(end).replace(tzinfo=UTC)


def test_daily_bars_in_a_running_year_stay_in_a_bounded_number_of_files(tmp_path):
    with FakeAlpacaServer(KEY, SECRET) as server:
        for i, symbol in enumerate(SYMBOLS):  # daily bars stamped at New York midnight
            server.add_bars(
                symbol,
                make_bars(datetime(2024, 1, 1, 5, tzinfo=UTC), 90, timedelta(days=1), 50 * i),
            )
        config = write(tmp_path, "daily", server)
        config.write_text(config.read_text().replace("timeframe: 1Min", "timeframe: 1Day"))
        counts = []  # runs at 06:00Z: the bar of the day before (ended 05:00Z) is new
        for day in range(40):
            run_at(config, datetime(2024, 1, 3, 6, tzinfo=UTC) + timedelta(days=day))
            counts.append(
                len(list(raw_folder(tmp_path / "daily", "AAPL", "1Day").glob("*.json.gz")))
            )
        assert max(counts) == 31 and counts[31] == 1  # the 32nd piece compacted them all
        assert server.count(STOCK_PATH) == 40  # still one request a day
        whole = write(tmp_path, "whole", server)
        whole.write_text(whole.read_text().replace("timeframe: 1Min", "timeframe: 1Day"))
        run_at(whole, datetime(2024, 1, 3, 6, tzinfo=UTC) + timedelta(days=39))
        for symbol in SYMBOLS:
            got = table(tmp_path / "daily", symbol, "1Day")
            assert got.num_rows == 41 and got.equals(table(tmp_path / "whole", symbol, "1Day"))


def test_late_bars_of_the_settle_margin_are_fetched_by_the_next_run(tmp_path):
    """Bars the vendor publishes a few minutes late are not lost: the newest piece stops
    `settle_minutes` (default 5) before now, so the next run asks for them."""
    with FakeAlpacaServer(KEY, SECRET) as server:
        start = datetime(2024, 3, 5, 9, tzinfo=UTC)
        server.add_bars("AAPL", make_bars(start, 60, timedelta(minutes=1)))  # 09:00 .. 09:59
        config = tmp_path / "late.yaml"
        text = write(tmp_path, "late", server).read_text().replace("settle_minutes: 0", "")
        config.write_text(
            text.replace("[AAPL, MSFT]", "[AAPL]").replace("2024-01-01", "2024-03-05")
        )
        run_at(config, datetime(2024, 3, 5, 10, 3, tzinfo=UTC))
        assert server.requests[-1].query["end"].startswith("2024-03-05T09:58")
        late = make_bars(start + timedelta(minutes=60), 3, timedelta(minutes=1), 300)
        server.add_bars("AAPL", late)  # 10:00 .. 10:02, published after the first run
        run_at(config, datetime(2024, 3, 5, 10, 30, tzinfo=UTC))
        got = table(tmp_path / "late", "AAPL")["timestamp"].to_pylist()
        assert len(got) == 63 and got[-1] == datetime(2024, 3, 5, 10, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("feed", "settle", "end"),
    [
        ("sip", "", "2024-03-05T10:15"),  # the last 15 minutes need a paid plan
        ("delayed_sip", "", "2024-03-05T10:15"),
        ("iex", "", "2024-03-05T10:25"),
        ("sip", "settle_minutes: 2", "2024-03-05T10:28"),
    ],
)
def test_settle_margin_per_feed(tmp_path, server, feed, settle, end):
    config = write(tmp_path, "margin", server)
    text = config.read_text().replace("feed: iex", f"feed: {feed}")
    config.write_text(text.replace("settle_minutes: 0", settle))
    run_at(config, datetime(2024, 3, 5, 10, 30, tzinfo=UTC))
    assert server.requests[-1].query["end"].startswith(end)
