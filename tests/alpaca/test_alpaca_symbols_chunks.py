import itertools
from datetime import UTC, datetime, timedelta, timezone

import pytest

from multigate.sources.alpaca.symbols import symbol_from_path_component, symbol_path_component
from multigate.time_chunks import Chunk, is_full_chunk, period_floor, plan_chunks


@pytest.mark.parametrize(
    ("symbol", "component"),
    [
        ("AAPL", "AAPL"),
        ("BRK.B", "BRK.B"),
        ("BTC/USD", "BTC-USD"),
        ("ETH/BTC", "ETH-BTC"),
        ("A-B", "A%2DB"),
        ("X%Y", "X%25Y"),
        ("a b", "a%20b"),
        ("Ä/€", "%C3%84-%E2%82%AC"),
        ("...", "..."),
    ],
)
def test_symbol_component_roundtrip(symbol, component):
    assert symbol_path_component(symbol) == component
    assert symbol_from_path_component(component) == symbol
    assert "/" not in component and "\\" not in component


def test_distinct_symbols_stay_distinct():
    symbols = ["BTC/USD", "BTC-USD", "BTC%2FUSD", "BTC_USD", "btc/usd"]
    components = [symbol_path_component(s) for s in symbols]
    assert len(set(components)) == len(symbols)


@pytest.mark.parametrize("bad", ["", ".", "..", "A\x00B", "A\\B", "A\nB"])
def test_symbol_component_rejects(bad):
    with pytest.raises(ValueError):
        symbol_path_component(bad)


@pytest.mark.parametrize("bad", ["A%2", "A%ZZ", "A B", "..", "%2E%2E", "A%5CB"])
def test_decode_rejects(bad):
    with pytest.raises(ValueError):
        symbol_from_path_component(bad)


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def test_plan_month_chunks_aligned():
    chunks = plan_chunks(utc(2024, 1, 15, 13, 30), utc(2024, 4, 2), "month")
    assert chunks == [
        Chunk(utc(2024, 1, 15, 13, 30), utc(2024, 2, 1)),
        Chunk(utc(2024, 2, 1), utc(2024, 3, 1)),
        Chunk(utc(2024, 3, 1), utc(2024, 4, 1)),
        Chunk(utc(2024, 4, 1), utc(2024, 4, 2)),
    ]
    # contiguous, half-open cover of the range
    assert all(a.end == b.start for a, b in itertools.pairwise(chunks))
    assert [is_full_chunk(c, "month") for c in chunks] == [False, True, True, False]


def test_extension_reuses_earlier_chunks():
    start = utc(2023, 11, 20)
    short = plan_chunks(start, utc(2024, 2, 10), "month")
    longer = plan_chunks(start, utc(2024, 6, 3), "month")
    # every chunk of the shorter plan except its partial last one is reused verbatim
    assert short[:-1] == longer[: len(short) - 1]
    assert short[-1].start == longer[len(short) - 1].start
    assert short[-1] != longer[len(short) - 1]
    new = [c for c in longer if c not in short]
    assert new[0] == Chunk(utc(2024, 2, 1), utc(2024, 3, 1))
    assert len(new) == len(longer) - len(short) + 1


@pytest.mark.parametrize(
    ("period", "count", "first_end"),
    [
        ("year", 3, utc(2021, 1, 1)),
        ("quarter", 9, utc(2020, 7, 1)),
        ("week", None, utc(2020, 5, 18)),  # 2020-05-18 is a Monday
        ("day", None, utc(2020, 5, 14)),
    ],
)
def test_other_periods(period, count, first_end):
    chunks = plan_chunks(utc(2020, 5, 13, 12), utc(2022, 6, 30), period)
    assert chunks[0].end == first_end
    if count is not None:
        assert len(chunks) == count
    assert chunks[-1].end == utc(2022, 6, 30)
    for chunk in chunks[1:]:
        assert period_floor(chunk.start, period) == chunk.start


def test_naive_is_utc_and_offsets_converted():
    plain = plan_chunks(datetime(2024, 1, 31, 23), datetime(2024, 2, 1, 1), "month")
    eastern = timezone(timedelta(hours=-5))
    shifted = plan_chunks(
        datetime(2024, 1, 31, 18, tzinfo=eastern),
        datetime(2024, 1, 31, 20, tzinfo=eastern),
        "month",
    )
    assert (
        plain
        == shifted
        == [
            Chunk(utc(2024, 1, 31, 23), utc(2024, 2, 1)),
            Chunk(utc(2024, 2, 1), utc(2024, 2, 1, 1)),
        ]
    )


def test_plan_rejects_bad_input():
    with pytest.raises(ValueError, match="after start"):
        plan_chunks(utc(2024, 1, 2), utc(2024, 1, 2), "month")
    with pytest.raises(ValueError, match="unknown chunk period"):
        plan_chunks(utc(2024, 1, 1), utc(2024, 1, 2), "fortnight")  # type: ignore[arg-type]
