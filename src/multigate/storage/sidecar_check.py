"""Whether a sidecar read from disk has the shape Multigate writes (it may be hand-edited)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

_TEXT_KEYS = ("kind", "source", "job", "mode", "fingerprint")
_MAPPING_KEYS = ("query", "vendor", "tools", "extra")
_TIME_KEYS = ("created_at",)
_EXTRA_TIME_KEYS = ("fetched_at",)


def sidecar_problem(record: object) -> str | None:
    """What is wrong with ``record`` (parsed sidecar JSON), or None when it is well formed:
    the keys every reader relies on have the types they are written with, and recorded
    times carry a time zone."""
    if not isinstance(record, dict):
        return f"not a JSON object but {type(record).__name__}"
    for key in _TEXT_KEYS:
        if not isinstance(record.get(key), str):
            return f"'{key}' is not text"
    for key in _MAPPING_KEYS:
        if key in record and not isinstance(record[key], dict):
            return f"'{key}' is not an object"
    problem = _file_problem(record.get("file"), "file")
    if problem:
        return problem
    inputs = record.get("inputs", [])
    if not isinstance(inputs, list):
        return "'inputs' is not a list"
    for index, item in enumerate(inputs):
        problem = _file_problem(item, f"inputs[{index}]")
        if problem:
            return problem
    rows = record.get("rows")
    if rows is not None and not _is_count(rows):
        return "'rows' is not a whole number >= 0"
    symbols = record.get("symbols", [])
    if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
        return "'symbols' is not a list of text"
    for key in ("first_ts", "last_ts"):
        if record.get(key) is not None and not isinstance(record[key], str):
            return f"'{key}' is not text"
    extra = record.get("extra", {})
    for key, value in [(k, record.get(k)) for k in _TIME_KEYS] + [
        (f"extra.{k}", extra.get(k)) for k in _EXTRA_TIME_KEYS
    ]:
        if value is not None and not _is_zoned_time(value):
            return f"'{key}' is not an ISO time with a time zone"
    return None


def _file_problem(value: Any, key: str) -> str | None:
    if not isinstance(value, dict):
        return f"'{key}' is not an object"
    checks: dict[str, Callable[[Any], bool]] = {
        "name": lambda v: isinstance(v, str),
        "sha256": _is_sha256,
        "bytes": _is_count,
    }
    for name, check in checks.items():
        if not check(value.get(name)):
            return f"'{key}.{name}' is missing or malformed"
    return None


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_sha256(value: Any) -> bool:
    return (
        isinstance(value, str)
        and len(value) == 64
        and all(ch in "0123456789abcdef" for ch in value)
    )


def _is_zoned_time(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False
