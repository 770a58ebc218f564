"""A stream of tables, merged by symbol in bounded memory, handed on in row groups.

Tables arrive in the vendor's order, each sorted (stably) by symbol on its own or sorted
here. Up to ``RUN_BYTES`` of them are held in memory; past that, the held tables are
spilled as one run to an anonymous temporary file, one Arrow IPC stream per symbol (that
symbol's slices of every held table, in arrival order: no row is moved twice). At the end
each symbol's rows are read back run by run, in arrival order, and handed on in row
groups of ``rows_per_group`` rows, except that a group holding at least a quarter of that
ends where a symbol ends (so a big symbol's groups hold no other symbol, and their time
statistics prune a day; small symbols still share groups). A file that fits in one run
never touches the disk. The row groups, and so the bytes written, are the same either way.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import numpy as np
import pyarrow as pa

from multigate.storage.parquet import SORT_COLUMN, symbol_ranks

RUN_BYTES = 64 * 1024 * 1024

Symbol = str | None
Pieces = dict[Symbol, list[pa.Table]]


def _by_symbol(table: pa.Table, pieces: Pieces) -> None:
    """Add each symbol's rows of ``table`` (sorted stably first if need be) to ``pieces``."""
    if table.num_rows == 0:
        return
    ranks = symbol_ranks(table.column(SORT_COLUMN))
    if not bool((ranks[1:] >= ranks[:-1]).all()):
        order = np.argsort(ranks, kind="stable")
        table, ranks = table.take(order), ranks[order]
    starts = np.flatnonzero(np.r_[True, ranks[1:] != ranks[:-1]])
    ends = np.r_[starts[1:], table.num_rows]
    names = table.column(SORT_COLUMN).take(pa.array(starts)).to_pylist()
    for name, start, end in zip(names, starts.tolist(), ends.tolist(), strict=True):
        pieces.setdefault(name, []).append(table.slice(start, end - start))


def _symbol_key(name: Symbol) -> tuple[bool, str]:
    return (name is None, name or "")


class SymbolSorter:
    """Collects tables with a ``symbol`` column; ``finish`` writes them sorted by symbol.

    ``write(table)`` receives one whole row group at a time (one contiguous chunk)."""

    def __init__(
        self,
        schema: pa.Schema,
        write: Callable[[pa.Table], None],
        rows_per_group: int,
        spill_dir: Path,
        run_bytes: int | None = None,
    ) -> None:
        self._schema = schema
        self._write = write
        self._group = rows_per_group
        self._spill_dir = spill_dir
        self._run_bytes = RUN_BYTES if run_bytes is None else run_bytes
        self._held: Pieces = {}
        self._held_bytes = 0
        self._spill: IO[bytes] | None = None
        self._spilled: dict[Symbol, list[tuple[int, int]]] = {}
        self._out: list[pa.Table] = []
        self._out_rows = 0

    def add(self, table: pa.Table) -> None:
        _by_symbol(table, self._held)
        self._held_bytes += table.nbytes
        if self._held_bytes >= self._run_bytes:
            self._spill_run()

    def finish(self) -> None:
        """Write every row, sorted by symbol, in row groups; then free the spill file."""
        held, self._held = self._held, {}
        for name in sorted(set(held) | set(self._spilled), key=_symbol_key):
            if self._out_rows * 4 >= self._group:
                self._emit_rest()  # a symbol ends: so does a group that is big enough
            for part in self._read_spilled(name):
                self._emit(part)
            for part in held.get(name, []):
                self._emit(part)
        self._emit_rest()
        self.close()

    def close(self) -> None:
        if self._spill is not None:
            self._spill.close()
            self._spill = None
        self._held, self._out = {}, []

    def _spill_run(self) -> None:
        if self._spill is None:
            self._spill = tempfile.TemporaryFile(dir=self._spill_dir, prefix=".multigate-sort-")
        for name, parts in self._held.items():
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, self._schema) as writer:
                for part in parts:
                    writer.write_table(part)
            data = sink.getvalue()
            offset = self._spill.seek(0, 2)
            self._spill.write(data)
            self._spilled.setdefault(name, []).append((offset, data.size))
        self._held, self._held_bytes = {}, 0

    def _read_spilled(self, name: Symbol) -> Iterator[pa.Table]:
        for offset, size in self._spilled.get(name, []):
            assert self._spill is not None
            self._spill.seek(offset)
            yield pa.ipc.open_stream(pa.py_buffer(self._spill.read(size))).read_all()

    def _emit(self, table: pa.Table) -> None:
        """Hand on every complete row group of what is waiting plus ``table``."""
        self._out.append(table)
        self._out_rows += table.num_rows
        if self._out_rows < self._group:
            return
        waiting = pa.concat_tables(self._out)
        done = 0
        while waiting.num_rows - done >= self._group:
            self._write(waiting.slice(done, self._group).combine_chunks())
            done += self._group
        rest = waiting.slice(done)
        self._out = [rest] if rest.num_rows else []
        self._out_rows = rest.num_rows

    def _emit_rest(self) -> None:
        if self._out_rows:
            self._write(pa.concat_tables(self._out).combine_chunks())
        self._out, self._out_rows = [], 0
