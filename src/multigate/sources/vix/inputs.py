"""A VIX job's CSV files: read, grouped by symbol, and each symbol's files merged by date.

Every problem is collected, not just the first, so that a job can refuse as a whole before
it publishes anything.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from multigate.errors import DataError
from multigate.sources.vix.csv_format import ParsedCsv, parse_index_csv, symbol_from_header
from multigate.sources.vix.merge import merge_by_date


@dataclass(frozen=True)
class SymbolData:
    """One symbol's output table and the files it was made of."""

    symbol: str
    files: tuple[Path, ...]
    flavors: tuple[str, ...]
    """``cboe`` and/or ``fred``."""
    series: tuple[str, ...]
    """FRED series ids among the files."""
    table: pa.Table
    shared_dates: int
    """Dates that more than one file gave (and agreed on)."""


@dataclass
class JobInputs:
    symbols: dict[str, SymbolData] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    failing: set[str] = field(default_factory=set)
    """Symbols whose inputs hold bad content (their output cannot be made from the inputs
    as they are). A file that cannot be read is a problem but fails no symbol."""

    def check(self) -> None:
        """Raise one DataError naming every problem, if there are any."""
        if len(self.problems) == 1:
            raise DataError(self.problems[0])
        if self.problems:
            raise DataError(f"{len(self.problems)} problems: " + "; ".join(self.problems))


def read_job_inputs(
    files: Sequence[tuple[Path, str | None]], window: Callable[[pa.Table], pa.Table]
) -> JobInputs:
    """Read ``(path, symbol or None)`` files, keep ``window`` of each, merge per symbol."""
    found = JobInputs()
    by_symbol: dict[str, list[tuple[Path, ParsedCsv]]] = {}
    for path, symbol in files:
        try:
            parsed = parse_index_csv(path.read_bytes(), str(path), symbol)
        except OSError as exc:  # the machine's problem, not the file's: its output stays
            found.problems.append(f"{path}: cannot read: {exc}")
            continue
        except DataError as exc:
            found.problems.append(str(exc))
            guess = symbol or symbol_from_header(path)
            if guess:
                found.failing.add(guess)
            continue
        by_symbol.setdefault(parsed.table["symbol"][0].as_py(), []).append((path, parsed))
    for symbol, parts in sorted(by_symbol.items()):
        try:
            merged = merge_by_date(symbol, [(str(p), window(csv.table)) for p, csv in parts])
        except DataError as exc:
            found.problems.append(str(exc))
            found.failing.add(symbol)
            continue
        if symbol in found.failing:
            continue
        found.symbols[symbol] = SymbolData(
            symbol=symbol,
            files=tuple(path for path, _ in parts),
            flavors=tuple(sorted({csv.flavor for _, csv in parts})),
            series=tuple(sorted({csv.series for _, csv in parts if csv.series})),
            table=merged.table,
            shared_dates=merged.shared_dates,
        )
    return found
