"""One dataset's outputs, arranged for lookups: which files can hold these symbols in this
time range, answered from arrays and a symbol map rather than a loop over every file."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

from multigate.storage.outputs import OutputEntry

_LOWEST = np.iinfo(np.int64).min
_HIGHEST = np.iinfo(np.int64).max


class DatasetFiles:
    """A dataset's outputs in path order (the order rows with equal keys keep)."""

    def __init__(self, entries: Iterable[OutputEntry]) -> None:
        self.entries: list[OutputEntry] = sorted(entries, key=lambda entry: entry.path)
        self._tmin = np.array(
            [_LOWEST if e.tmin is None else e.tmin for e in self.entries], dtype=np.int64
        )
        self._tmax = np.array(
            [_HIGHEST if e.tmax is None else e.tmax for e in self.entries], dtype=np.int64
        )
        self._rows = np.array([e.rows for e in self.entries], dtype=np.int64)
        self._by_symbol: dict[str, list[int]] | None = None
        self._unlabelled: list[int] = []

    def candidates(
        self, symbols: Iterable[str] | None, start: int | None, end: int | None
    ) -> list[OutputEntry]:
        """Outputs that may hold rows of ``symbols`` (None = any) in ``[start, end)``."""
        if symbols is None:
            positions = np.arange(len(self.entries))
        else:
            positions = self._positions(symbols)
        keep = self._rows[positions] > 0
        if start is not None:
            keep &= self._tmax[positions] >= start
        if end is not None:
            keep &= self._tmin[positions] < end
        return [self.entries[i] for i in positions[keep]]

    def _positions(self, symbols: Iterable[str]) -> np.ndarray:
        if self._by_symbol is None:
            by_symbol: dict[str, list[int]] = defaultdict(list)
            for position, entry in enumerate(self.entries):
                if not entry.symbols:
                    self._unlabelled.append(position)
                for symbol in entry.symbols:
                    by_symbol[symbol].append(position)
            self._by_symbol = dict(by_symbol)
        found: list[Sequence[int]] = [self._by_symbol.get(s, ()) for s in symbols]
        found.append(self._unlabelled)
        flat = [position for group in found for position in group]
        return np.unique(np.array(flat, dtype=np.int64))
