"""Vectorised instrument_id -> symbol mapping, identical to ``DBNStore.to_df``.

``to_df`` maps each record through the file's mappings using the UTC date of
the record's index timestamp (ts_recv, or ts_event where there is no ts_recv). We use
the vendor's own ``InstrumentMap`` for the interval semantics but resolve only the
unique ``(instrument_id, date)`` pairs of each chunk, then gather with Arrow.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import databento_dbn as dbn
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from databento.common.symbology import InstrumentMap

NS_PER_DAY = 86_400_000_000_000


class SymbolResolver:
    """Resolve symbols for chunks of records from a file's mappings: in-stream
    ``SymbolMappingMsg`` records (live captures), then the metadata's, inserted in the
    order ``DBNStore.to_df`` inserts them."""

    def __init__(self, metadata: dbn.Metadata, in_stream: Sequence[Any] = ()) -> None:
        self._map = InstrumentMap()
        for msg in in_stream:
            self._map.insert_symbol_mapping_msg(msg)
        self._map.insert_metadata(metadata)
        self._cache: dict[tuple[int, int], str | None] = {}

    def resolve_grouped(
        self, instrument_ids: np.ndarray, index_ts: np.ndarray
    ) -> tuple[np.ndarray | None, pa.Array, set[str]]:
        """The stable permutation that sorts the rows by symbol (unmapped last; None when
        they already are), each row's symbol in that order (a string array, null where
        unmapped) and the set of mapped symbols."""
        codes, resolved = self._codes(instrument_ids, index_ts)
        names_in_order = sorted(set(resolved), key=lambda name: (name is None, name or ""))
        place = {name: i for i, name in enumerate(names_in_order)}
        rows = np.array([place[name] for name in resolved], np.int64)[codes]
        order = None
        if len(rows) > 1 and not bool((rows[1:] >= rows[:-1]).all()):
            small = np.uint16 if len(place) <= 1 << 16 else np.int64  # radix sort
            order = np.argsort(rows.astype(small), kind="stable")
            codes = codes[order]
        symbols, names = self._gather(codes, resolved)
        return order, symbols, names

    def _codes(
        self, instrument_ids: np.ndarray, index_ts: np.ndarray
    ) -> tuple[np.ndarray, list[str | None]]:
        """Each row's index into the chunk's distinct symbols, and those symbols."""
        if len(instrument_ids) == 0:
            return np.zeros(0, np.int64), []
        ts = np.ascontiguousarray(index_ts).view(np.int64)
        days = np.where(ts >= 0, ts // NS_PER_DAY, -1)  # -1: NaT date -> unmapped
        key = (np.asarray(instrument_ids, dtype=np.int64) << 32) | (days & 0xFFFFFFFF)
        codes, uniques = pd.factorize(key)
        resolved: list[str | None] = []
        for k in np.asarray(uniques).tolist():
            day = k & 0xFFFFFFFF
            pair = (k >> 32, day)
            if pair not in self._cache:
                self._cache[pair] = self._lookup(pair[0], day)
            resolved.append(self._cache[pair])
        return np.asarray(codes), resolved

    @staticmethod
    def _gather(codes: np.ndarray, resolved: list[str | None]) -> tuple[pa.Array, set[str]]:
        if len(codes) == 0:
            return pa.array([], type=pa.string()), set()
        table = pa.array(resolved, type=pa.string())
        names = {s for s in resolved if s is not None}
        return pc.take(table, pa.array(codes.astype(np.int32))), names

    def _lookup(self, instrument_id: int, day: int) -> str | None:
        if day == 0xFFFFFFFF:
            return None
        date: Any = np.datetime64(day, "D").astype(object)
        return self._map.resolve(instrument_id, date)
