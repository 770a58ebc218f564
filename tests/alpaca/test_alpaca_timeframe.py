import pytest
from alpaca.data.timeframe import TimeFrame, TimeFrameUnit

from multigate.sources.alpaca.timeframe import (
    default_chunk_period,
    is_intraday,
    parse_timeframe,
    timeframe_str,
)


@pytest.mark.parametrize(
    ("text", "amount", "unit", "canonical"),
    [
        ("1Min", 1, TimeFrameUnit.Minute, "1Min"),
        ("5Min", 5, TimeFrameUnit.Minute, "5Min"),
        ("15T", 15, TimeFrameUnit.Minute, "15Min"),
        ("59Min", 59, TimeFrameUnit.Minute, "59Min"),
        ("1Hour", 1, TimeFrameUnit.Hour, "1Hour"),
        ("4H", 4, TimeFrameUnit.Hour, "4Hour"),
        ("23hour", 23, TimeFrameUnit.Hour, "23Hour"),
        ("1Day", 1, TimeFrameUnit.Day, "1Day"),
        ("1D", 1, TimeFrameUnit.Day, "1Day"),
        ("1Week", 1, TimeFrameUnit.Week, "1Week"),
        ("1W", 1, TimeFrameUnit.Week, "1Week"),
        ("1Month", 1, TimeFrameUnit.Month, "1Month"),
        ("3M", 3, TimeFrameUnit.Month, "3Month"),
        ("12Month", 12, TimeFrameUnit.Month, "12Month"),
        (" 1Min ", 1, TimeFrameUnit.Minute, "1Min"),
    ],
)
def test_parse_valid(text, amount, unit, canonical):
    tf = parse_timeframe(text)
    assert isinstance(tf, TimeFrame)
    assert (tf.amount, tf.unit) == (amount, unit)
    assert timeframe_str(text) == canonical == tf.value


@pytest.mark.parametrize(
    "text",
    [
        "0Min",
        "60Min",
        "24Hour",
        "2Day",
        "2Week",
        "4Month",
        "5Month",
        "7M",
        "Min",
        "1",
        "1Sec",
        "1m",
        "-1Min",
        "1.5Hour",
        "",
    ],
)
def test_parse_invalid_names_value(text):
    with pytest.raises(ValueError) as info:
        parse_timeframe(text)
    assert repr(text) in str(info.value)


def test_non_string_rejected():
    with pytest.raises(ValueError, match="timeframe"):
        parse_timeframe(5)  # type: ignore[arg-type]


def test_timeframe_object_passes_through_and_intraday():
    tf = TimeFrame(5, TimeFrameUnit.Minute)
    assert parse_timeframe(tf) is tf
    assert is_intraday("1Hour") and is_intraday("30Min")
    assert not is_intraday("1Day") and not is_intraday("1Month")
    assert default_chunk_period("1Min") == "month"
    assert default_chunk_period("1Day") == "year"
    assert default_chunk_period("1Week") == "year"


@pytest.mark.parametrize("unit", list(TimeFrameUnit))
def test_restated_limits_equal_alpaca_py(unit):
    """Config validation is plain Python; it must accept exactly what alpaca-py accepts."""
    for amount in range(0, 70):
        try:
            TimeFrame(amount, unit)
            vendor_ok = True
        except ValueError:
            vendor_ok = False
        try:
            ours = parse_timeframe(f"{amount}{unit.value}")
            ours_ok = True
        except ValueError:
            ours_ok = False
        assert ours_ok == vendor_ok, (amount, unit)
        if ours_ok:
            assert ours.value == TimeFrame(amount, unit).value
