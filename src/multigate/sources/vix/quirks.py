"""Rows that are real but unusual, counted for the summary and the sidecar (never dropped)."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc


@dataclass(frozen=True)
class QuirkCounts:
    inconsistent: int
    """OHLC that cannot all be true (OPEN outside [LOW, HIGH], ...)."""
    missing_close: int
    """No close (FRED holidays)."""
    close_only: int
    """open = high = low = close (CBOE's 1990-1991 history)."""

    def sidecar(self) -> dict[str, int]:
        return {
            "inconsistent_rows": self.inconsistent,
            "missing_close_rows": self.missing_close,
            "close_only_rows": self.close_only,
        }

    def problems(self) -> list[str]:
        """Counts worth a warning."""
        found = []
        if self.inconsistent:
            found.append(f"{self.inconsistent} rows with inconsistent OHLC")
        if self.missing_close:
            found.append(f"{self.missing_close} rows without a close")
        return found

    def facts(self) -> list[str]:
        """Counts worth a note, but normal for the data."""
        return [f"{self.close_only} close-only rows (O=H=L=C)"] if self.close_only else []


def count_quirks(table: pa.Table) -> QuirkCounts:
    return QuirkCounts(
        inconsistent=count_inconsistent(table),
        missing_close=table["close"].null_count,
        close_only=count_close_only(table),
    )


def count_inconsistent(table: pa.Table) -> int:
    """Rows whose OHLC cannot all be true: high < low, open or close outside [low, high],
    or a non-positive price. Rows with only a close are not judged."""
    o, h, lo, c = (table[name] for name in ("open", "high", "low", "close"))
    bad = pc.or_kleene(
        pc.or_kleene(pc.less(h, lo), pc.or_kleene(pc.less(o, lo), pc.greater(o, h))),
        pc.or_kleene(pc.or_kleene(pc.less(c, lo), pc.greater(c, h)), pc.less_equal(c, 0)),
    )
    return _true_count(bad)


def count_close_only(table: pa.Table) -> int:
    """Rows whose open, high, low and close are all given and all equal."""
    o, h, lo, c = (table[name] for name in ("open", "high", "low", "close"))
    same = pc.and_(pc.and_(pc.equal(o, h), pc.equal(h, lo)), pc.equal(lo, c))
    return _true_count(same)


def _true_count(mask: pa.ChunkedArray) -> int:
    return int(pc.sum(pc.fill_null(mask, False)).as_py() or 0)
