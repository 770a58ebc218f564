"""One dataset's outputs as columns, arranged for lookups: which files can hold these
symbols in this time range, answered from arrays and a symbol map (entries are built only
for the files a read opens)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from multigate.storage.entries import entries_table, table_entries
from multigate.storage.outputs import OutputEntry

_LOWEST = np.iinfo(np.int64).min
_HIGHEST = np.iinfo(np.int64).max


@dataclass(frozen=True)
class DatasetSummary:
    time_column: str
    rows: int
    bytes: int
    files: int
    symbols: tuple[str, ...]
    tmin: int | None
    tmax: int | None
    flagged: dict[str, int]
    """Rows each failing row check flagged, summed over the outputs."""


class DatasetFiles:
    """A dataset's outputs in path order (the order rows with equal keys keep)."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table.take(pc.sort_indices(table, sort_keys=[("path", "ascending")]))
        self.paths: list[str] = self.table["path"].to_pylist()
        self._tmin = self.table["tmin"].fill_null(_LOWEST).to_numpy()
        self._tmax = self.table["tmax"].fill_null(_HIGHEST).to_numpy()
        self._rows = self.table["rows"].to_numpy()
        self._by_symbol: dict[str, np.ndarray] | None = None
        self._unlabelled = np.empty(0, dtype=np.int64)
        self._sha: dict[str, str] | None = None

    @classmethod
    def from_entries(cls, entries: Iterable[OutputEntry]) -> DatasetFiles:
        return cls(entries_table(entries))

    def __len__(self) -> int:
        return self.table.num_rows

    def first(self) -> list[OutputEntry]:
        """The first output (for the dataset's columns), or none."""
        return table_entries(self.table.slice(0, 1))

    def sha256_of(self, path: str) -> str | None:
        if self._sha is None:
            self._sha = dict(zip(self.paths, self.table["sha256"].to_pylist(), strict=True))
        return self._sha.get(path)

    def summary(self) -> DatasetSummary:
        """Rows, bytes, files, symbols and time range, from the columns alone."""
        table = self.table
        return DatasetSummary(
            time_column=table["time_column"][0].as_py() if table.num_rows else "",
            rows=int(pc.sum(table["rows"]).as_py() or 0),
            bytes=int(pc.sum(table["bytes"]).as_py() or 0),
            files=table.num_rows,
            symbols=tuple(sorted(pc.unique(pc.list_flatten(table["symbols"])).to_pylist())),
            tmin=pc.min(table["tmin"]).as_py(),
            tmax=pc.max(table["tmax"]).as_py(),
            flagged=_sum_flagged(table["flagged"].to_pylist()),
        )

    def symbols(self) -> set[str]:
        """Every symbol the dataset's outputs hold."""
        return set(pc.unique(pc.list_flatten(self.table["symbols"])).to_pylist())

    def candidates(
        self, symbols: Iterable[str] | None, start: int | None, end: int | None
    ) -> list[OutputEntry]:
        """Outputs that may hold rows of ``symbols`` (None = any) in ``[start, end)``."""
        if symbols is None:
            positions = np.arange(len(self.paths))
        else:
            positions = self._positions(symbols)
        keep = self._rows[positions] > 0
        if start is not None:
            keep &= self._tmax[positions] >= start
        if end is not None:
            keep &= self._tmin[positions] < end
        chosen = positions[keep]
        return table_entries(self.table.take(chosen)) if len(chosen) else []

    def _positions(self, symbols: Iterable[str]) -> np.ndarray:
        if self._by_symbol is None:
            self._index_symbols()
        assert self._by_symbol is not None
        found = [self._by_symbol[s] for s in symbols if s in self._by_symbol]
        return np.unique(np.concatenate([self._unlabelled, *found]).astype(np.int64))

    def _index_symbols(self) -> None:
        """symbol -> positions of the outputs that hold it, built once with array ops."""
        lists = self.table["symbols"].combine_chunks()
        owners = pc.list_parent_indices(lists).to_numpy()
        encoded = pc.list_flatten(lists).dictionary_encode()
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        names = encoded.dictionary.to_pylist()
        order = np.argsort(codes, kind="stable")
        cuts = np.searchsorted(codes[order], np.arange(1, len(names)))
        groups = np.split(owners[order], cuts) if len(names) else []
        self._by_symbol = dict(zip(names, groups, strict=True))
        lengths = pc.list_value_length(lists).fill_null(0).to_numpy(zero_copy_only=False)
        self._unlabelled = np.nonzero(lengths == 0)[0].astype(np.int64)


def _sum_flagged(per_output: list[list[dict[str, Any]] | None]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for pairs in per_output:
        for pair in pairs or ():
            totals[pair["check"]] = totals.get(pair["check"], 0) + int(pair["count"])
    return dict(sorted(totals.items()))
