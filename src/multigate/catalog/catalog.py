"""``Catalog``: one read-side view over a data folder's datasets (Delta tables) and the
runs that changed them."""

from __future__ import annotations

import hashlib
import logging
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from multigate.catalog.dataset_files import DatasetFiles
from multigate.catalog.errors import CatalogError, UnknownDataset, UnknownSymbols
from multigate.catalog.reader import (
    DEFAULT_BATCH_ROWS,
    ReadRequest,
    StoredFile,
    output_schema,
    read_table,
    scan_batches,
)
from multigate.catalog.tables import Commit, Table, history, open_table, version_entries
from multigate.catalog.timebounds import ns_to_datetime, to_utc_ns
from multigate.progress import Progress
from multigate.sources.registry import paid_raw_prefixes
from multigate.storage.delta_tables import is_run_id, versioned_source
from multigate.storage.outputs import OutputEntry
from multigate.storage.remote.location import RemoteDataDir, is_remote_url, parse_remote
from multigate.storage.table_paths import DatasetKey, find_tables, untabled_jobs

if TYPE_CHECKING:
    import duckdb

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset as the index knows it (no Parquet file is opened to answer)."""

    name: str
    source: str
    job: str
    time_column: str
    symbols: tuple[str, ...]
    start: datetime | None
    """Earliest timestamp (a date counts as its midnight UTC); None when empty."""
    end: datetime | None
    """Latest timestamp (inclusive)."""
    rows: int
    files: int
    bytes: int
    snapshot: str | None
    """The run that made the dataset's current version (its table's newest commit)."""
    version: int = 0
    """The dataset's Delta table version."""
    quality: dict[str, int] = field(default_factory=dict)
    """Quality summary: rows flagged by each row check that fails ``--strict``
    (``duplicate_timestamp``, ``ohlc_inconsistent``, ...), summed over the dataset's outputs
    from their sidecars; empty when none found anything. Sessions against the exchange
    calendar: ``coverage(name)`` and ``quality(name)``."""


@dataclass(frozen=True)
class Snapshot:
    """One run that changed datasets: its id (its start time) and when its last commit
    landed (``read(as_of=<that time>)`` reads what it made)."""

    id: str
    created_at: datetime
    config_hash: str
    datasets: tuple[str, ...]


class Catalog:
    """Datasets of one data folder: ``Catalog.open("data")``."""

    def __init__(self, data_dir: Path, tables: Mapping[DatasetKey, Table]) -> None:
        self.data_dir = data_dir
        """The local folder read (of an object-store data folder: its working copy)."""
        self.remote: RemoteDataDir | None = None
        """The object-store data folder this catalog reads a copy of, if any."""
        self.env: Mapping[str, str] = os.environ
        """Where the object store's credentials come from."""
        self._tables = dict(tables)
        self._history: dict[DatasetKey, list[Commit]] = {}
        self._names: dict[str, DatasetKey] = {}
        self._aliases: dict[str, DatasetKey] = {}
        self._name_of: dict[DatasetKey, str] = {}
        self._by_key: dict[DatasetKey, DatasetFiles] = {}
        self._duckdb: duckdb.DuckDBPyConnection | None = None
        self._group()

    @classmethod
    def open(
        cls,
        data_dir: str | Path,
        *,
        rebuild: bool = False,
        storage_options: Mapping[str, Any] | None = None,
        cache_dir: str | Path | None = None,
        progress: Progress | None = None,
    ) -> Catalog:
        """The catalog of ``data_dir`` (what ingest.yaml's ``data_dir`` points at): each
        dataset's table, from its record (``rebuild``: from its log and files).

        An object-store URL (``s3://bucket/prefix``) is read through a local working copy
        (``cache_dir``; default under the user's cache folder), brought up to date first;
        credentials and endpoint come from the AWS variables and ``storage_options``
        (``progress``: where the files fetched are counted, a terminal's bar say)."""
        if isinstance(data_dir, str) and is_remote_url(data_dir):
            try:
                remote = parse_remote(
                    data_dir,
                    cache_dir=Path(cache_dir).expanduser() if cache_dir is not None else None,
                    storage_options=storage_options,
                    kept_when_lost=paid_raw_prefixes(),
                )
            except ValueError as exc:
                raise CatalogError(str(exc)) from None
            return cls.open_remote(remote, os.environ, rebuild=rebuild, progress=progress)
        if storage_options or cache_dir is not None:
            raise CatalogError(
                "storage_options and cache_dir are for an object-store data folder (s3://...)"
            )
        root = Path(data_dir).expanduser().resolve()
        if not root.is_dir():
            raise CatalogError(f"{root}: data folder not found")
        if untabled_jobs(root):
            _make_tables(root)
        tables = {}
        for key, table_root in find_tables(root):
            try:
                tables[key] = open_table(root, key, table_root, trust_record=not rebuild)
            except CatalogError as exc:
                log.warning("skipping %s: %s", table_root, exc)
        return cls(root, tables)

    @classmethod
    def open_remote(
        cls,
        remote: RemoteDataDir,
        env: Mapping[str, str],
        *,
        rebuild: bool = False,
        progress: Progress | None = None,
    ) -> Catalog:
        """The catalog of an object-store data folder, read from its working copy once that
        is brought up to date."""
        from multigate.storage.remote.session import refresh_working_copy

        refresh_working_copy(remote, env, progress)
        catalog = cls.open(remote.cache_dir, rebuild=rebuild)
        catalog.remote, catalog.env = remote, env
        return catalog

    @classmethod
    def from_config(
        cls, config: str | Path = "ingest.yaml", *, progress: Progress | None = None
    ) -> Catalog:
        """The catalog of the data folder an ingest config names (its ``.env`` is read for
        an object store's credentials, as a run reads it)."""
        from multigate.config.loader import load_storage
        from multigate.env import load_environment

        loaded = load_storage(Path(config))
        remote = loaded.remote
        if remote is None:
            return cls.open(loaded.data_dir)
        env = load_environment(loaded.base_dir / ".env")
        return cls.open_remote(remote, env, progress=progress)

    def datasets(self) -> list[DatasetInfo]:
        return [self._info(name, key) for name, key in sorted(self._names.items())]

    def dataset(self, name: str) -> DatasetInfo:
        return self._info(name, self._key(name))

    def schema(self, name: str) -> pa.Schema:
        """The columns of ``name`` and their stored types (read from one file's footer)."""
        return output_schema(ReadRequest(files=self._current(self._key(name), None, 0, 0)))

    def read(
        self,
        name: str,
        symbols: str | Iterable[str] | None = None,
        start: Any = None,
        end: Any = None,
        columns: Sequence[str] | None = None,
        as_of: str | datetime | int | None = None,
        *,
        allow_missing: bool = False,
        adjust: str | None = None,
        adjustments: str | None = None,
    ) -> pa.Table:
        """Rows of ``name`` with these symbols in ``[start, end)`` (UTC), sorted by time
        then symbol, with their stored dtypes; ``as_of`` (a run id, a time, or a table
        version as an int) reads the dataset as it was then. A symbol the dataset does not
        hold raises UnknownSymbols naming it, unless ``allow_missing``.
        ``adjust="splits"|"all"`` multiplies prices (and divides volumes by splits) with the
        corporate actions of dataset ``adjustments``; the events applied:
        ``multigate.backtest.applied_adjustments(table)``."""
        if adjust is None and adjustments is None:
            request = self._request(name, symbols, start, end, columns, as_of, allow_missing)
            return read_table(request)
        from multigate.backtest.reads import adjusted_read

        try:
            return adjusted_read(
                self, name, (symbols, start, end, columns, as_of), adjust, adjustments
            )
        except ValueError as exc:
            raise CatalogError(f"{name}: {exc}") from None

    def scan(
        self,
        name: str,
        symbols: str | Iterable[str] | None = None,
        start: Any = None,
        end: Any = None,
        columns: Sequence[str] | None = None,
        as_of: str | datetime | int | None = None,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        *,
        allow_missing: bool = False,
        adjust: str | None = None,
        adjustments: str | None = None,
    ) -> pa.RecordBatchReader:
        """The rows of ``read`` as a stream of batches, in the same order, holding about
        ``batch_rows`` rows in memory at a time (adjusted as ``read`` adjusts)."""
        if adjust is not None or adjustments is not None:
            from multigate.backtest.reads import adjusted_scan

            selection = (symbols, start, end, columns, as_of)
            try:
                return adjusted_scan(self, name, selection, batch_rows, adjust, adjustments)
            except ValueError as exc:
                raise CatalogError(f"{name}: {exc}") from None
        request = self._request(name, symbols, start, end, columns, as_of, allow_missing)
        return scan_batches(request, batch_rows)

    def bars(
        self,
        name: str,
        every: str,
        symbols: str | Iterable[str] | None = None,
        start: Any = None,
        end: Any = None,
        calendar: str | None = None,
        as_of: str | datetime | None = None,
        adjust: str | None = None,
        adjustments: str | None = None,
    ) -> pa.Table:
        """Bars of ``every`` (``"1min"``, ``"5min"``, ``"1h"``, ``"1d"``) from the bars or
        trades of ``name`` in ``[start, end)``: first/max/min/last, volume summed, labelled
        by interval start, empty intervals dropped. ``"1d"`` follows the exchange session of
        ``calendar`` (default: the dataset's; ``"none"``: UTC days); ``adjust`` as in
        ``read``, applied before resampling."""
        from multigate.backtest.reads import bars

        options = {"as_of": as_of, "adjust": adjust, "adjustments": adjustments}
        try:
            return bars(self, name, every, symbols, start, end, calendar, options)
        except ValueError as exc:
            raise CatalogError(f"{name}: {exc}") from None

    def join_asof(
        self,
        left: pa.Table | str,
        right: pa.Table | str,
        by: str | None = "symbol",
        tolerance: Any = None,
        known_at: str | None = None,
        delay: Any = None,
        columns: Sequence[str] | None = None,
        allow_exact: bool = True,
        left_on: str | None = None,
        right_on: str | None = None,
    ) -> pa.Table:
        """``left`` (a table, or a dataset read whole) with, on each row, the latest row of
        ``right`` (same ``by``) already known at its time, never one known later, and when
        it became known (``known_at`` column). A right row is known at its time + ``delay``;
        rows keyed by dates at ``known_at`` (``"16:15 America/New_York"``). ``tolerance``:
        the oldest a match may be (``"1D"``); ``columns``: the right columns to add;
        ``left_on``/``right_on``: time columns (default ``ts_event``, ``timestamp``, ``date``)."""
        from multigate.backtest.asof_join import AsofRule, join_asof

        rule = AsofRule(
            by, tolerance, known_at, delay, allow_exact, left_on=left_on, right_on=right_on
        )
        tables = [self.read(side) if isinstance(side, str) else side for side in (left, right)]
        try:
            return join_asof(tables[0], tables[1], rule, columns)
        except ValueError as exc:
            raise CatalogError(f"join_asof: {exc}") from None

    def continuous(
        self,
        name: str,
        root: str,
        roll: str = "volume",
        adjust: str | None = None,
        rank: int = 0,
        **options: Any,
    ) -> pa.Table:
        """One series of ``root``'s contracts (``ESH4``, ``ESM4``, ... in ``name``): each
        exchange session takes the contract ranked ``rank`` by the previous session's volume
        (``roll="volume"``) or by expiration (``"calendar"``, with ``expirations=``: a
        mapping or a definitions dataset); ``adjust="ratio"|"difference"`` back-adjusts
        every roll's gap. Options: ``symbols``, ``start``, ``end``, ``calendar``. The rolls:
        ``multigate.backtest.rolls(table)``."""
        from multigate.backtest.reads import continuous_read

        settings = {**options, "roll": roll, "adjust": adjust, "rank": rank}
        try:
            return continuous_read(self, name, root, settings)
        except ValueError as exc:
            raise CatalogError(f"{name}: {exc}") from None

    def snapshots(self, name: str | None = None) -> list[Snapshot]:
        """Runs that changed datasets, oldest first (from the tables' commits); with
        ``name``, only those that changed that dataset."""
        keys = [self._key(name)] if name is not None else sorted(self._tables)
        runs: dict[str, list[tuple[str, str]]] = defaultdict(list)
        committed: dict[str, datetime] = {}
        for key in keys:
            pruned = self._tables[key].pruned
            for commit in self._commits(key):
                if commit.version not in pruned and commit.run:
                    runs[commit.run].append((self._key_name(key), commit.config_hash))
                    committed[commit.run] = max(
                        committed.get(commit.run, _EPOCH), commit.created_at
                    )
        found = []
        for run in sorted(runs):
            changed = sorted(runs[run])
            hashes = "\n".join(f"{dataset}={digest}" for dataset, digest in changed)
            config_hash = hashlib.sha256(hashes.encode()).hexdigest()
            datasets = tuple(dataset for dataset, _ in changed)
            found.append(Snapshot(run, committed[run], config_hash, datasets))
        return found

    def files(self, name: str) -> list[Path]:
        """The current Parquet files of ``name`` (for tools that read footers)."""
        return [self.data_dir / path for path in self._by_key[self._key(name)].paths]

    def sidecars(self, name: str) -> list[dict[str, Any]]:
        """The sidecar records of a dataset's current outputs (no Parquet is opened)."""
        from multigate.storage.provenance import read_sidecar

        key = self._key(name)
        records = []
        for entry in self._tables[key].entries:
            record = read_sidecar(self.data_dir / versioned_source(entry.path))
            if record is None or (record.get("file") or {}).get("sha256") != entry.sha256:
                record = self._committed_provenance(key, entry)  # replaced since: the log's
            if record:
                records.append(record)
        return records

    def quality(self, name: str) -> pa.Table:
        """``output, check, count, examples``: every output's row checks, then the session
        checks of the whole dataset (output ``*``), from the sidecars."""
        from multigate.quality.results import quality_table

        return quality_table(self.sidecars(name))

    def coverage(
        self,
        name: str,
        calendar: str | None = None,
        start: str | datetime | None = None,
        end: str | datetime | None = None,
    ) -> pa.Table:
        """``symbol, session, status, rows, density`` against the dataset's exchange calendar
        (or ``calendar``; ``"none"``: UTC days), from the sidecars."""
        from multigate.quality.coverage import coverage_table

        return coverage_table(self.sidecars(name), calendar, start, end)

    def sql(self, query: str) -> duckdb.DuckDBPyRelation:
        """Run ``query`` in DuckDB with every dataset as a view named ``"<source>/<job>"``."""
        try:
            import duckdb
        except ImportError as exc:
            raise CatalogError("Catalog.sql needs DuckDB: pip install duckdb") from exc
        if self._duckdb is None:
            connection = duckdb.connect()
            for name, key in sorted(self._names.items()):
                files = [str(self.data_dir / path) for path in self._by_key[key].paths]
                listed = ", ".join("'" + path.replace("'", "''") + "'" for path in files)
                view = name.replace('"', '""')
                connection.execute(
                    f'CREATE VIEW "{view}" AS SELECT * FROM '
                    f"read_parquet([{listed}], hive_partitioning = false)"
                )
            self._duckdb = connection
        return self._duckdb.sql(query)

    def path_of(self, entry: OutputEntry) -> Path:
        return self.data_dir / entry.path

    # -- internals -------------------------------------------------------------------

    def _group(self) -> None:
        by_key = self._tables
        parts: dict[tuple[str, str], set[str]] = defaultdict(set)
        for source, job, part in by_key:
            parts[(source, job)].add(part)
        self._by_key = {key: DatasetFiles(table.files) for key, table in by_key.items()}
        self._names, self._aliases = {}, {}
        for source, job, part in by_key:
            full = f"{source}/{job}/{part}" if part else f"{source}/{job}"
            single = len(parts[(source, job)]) == 1
            self._names[f"{source}/{job}" if single else full] = (source, job, part)
            self._aliases[full] = (source, job, part)
        self._name_of = {key: name for name, key in self._names.items()}

    def _commits(self, key: DatasetKey) -> list[Commit]:
        if key not in self._history:
            self._history[key] = history(self._tables[key].root)
        return self._history[key]

    def _committed_provenance(self, key: DatasetKey, entry: OutputEntry) -> dict[str, Any]:
        name = Path(entry.path).relative_to(self._tables[key].root.relative_to(self.data_dir))
        for commit in reversed(self._commits(key)):
            found = commit.files.get(name.as_posix())
            if found is not None:
                return {"kind": "ingested", "source": key[0], "job": key[1], **found}
        return {}

    def _key(self, name: str) -> DatasetKey:
        key = self._names.get(name) or self._aliases.get(name)
        if key is None:
            raise UnknownDataset(name, self._names)
        return key

    def _key_name(self, key: DatasetKey) -> str:
        return self._name_of.get(key) or "/".join(part for part in key if part)

    def _display(self, full_name: str) -> str:
        key = self._aliases.get(full_name)
        return self._key_name(key) if key is not None else full_name

    def _info(self, name: str, key: DatasetKey) -> DatasetInfo:
        summary = self._by_key[key].summary()
        table = self._tables[key]
        return DatasetInfo(
            name=name,
            source=key[0],
            job=key[1],
            time_column=summary.time_column,
            symbols=summary.symbols,
            start=None if summary.tmin is None else ns_to_datetime(summary.tmin),
            end=None if summary.tmax is None else ns_to_datetime(summary.tmax),
            rows=summary.rows,
            files=summary.files,
            bytes=summary.bytes,
            snapshot=table.run or None,
            version=table.version,
            quality=summary.flagged,
        )

    def _request(
        self,
        name: str,
        symbols: str | Iterable[str] | None,
        start: Any,
        end: Any,
        columns: Sequence[str] | None,
        as_of: str | datetime | int | None,
        allow_missing: bool = False,
    ) -> ReadRequest:
        key = self._key(name)
        wanted = None
        if symbols is not None:
            wanted = frozenset([symbols] if isinstance(symbols, str) else symbols)
        low = None if start is None else to_utc_ns(start, "start")
        high = None if end is None else to_utc_ns(end, "end")
        if low is not None and high is not None and high < low:
            raise CatalogError(f"end ({end}) is before start ({start})")
        check = wanted is not None and not allow_missing
        if as_of is None:
            files = self._current(key, wanted, low, high)
            held = self._by_key[key].symbols() if check else set()
        else:
            entries = self._entries_as_of(key, as_of)
            held = {symbol for entry in entries for symbol in entry.symbols}
            past = DatasetFiles.from_entries(entries)
            chosen = past.candidates(wanted, low, high) or past.first()
            files = [StoredFile(entry, self.path_of(entry)) for entry in chosen]
        if check and wanted is not None and not wanted <= held:
            raise UnknownSymbols(self._key_name(key), wanted - held, held)
        return ReadRequest(
            files=files,
            columns=list(columns) if columns is not None else None,
            symbols=wanted,
            start=low,
            end=high,
        )

    def _current(
        self, key: DatasetKey, symbols: frozenset[str] | None, start: int | None, end: int | None
    ) -> list[StoredFile]:
        """The current files that may match (at least one, for the columns). Each is a
        content-named file of the table: never replaced, so never read half-written."""
        dataset = self._by_key.get(key)
        if dataset is None:
            raise UnknownDataset("/".join(part for part in key if part), self._names)
        entries = dataset.candidates(symbols, start, end) or dataset.first()
        return [StoredFile(entry, self.path_of(entry)) for entry in entries]

    def _entries_as_of(self, key: DatasetKey, as_of: str | datetime | int) -> list[OutputEntry]:
        """The dataset's files at a table version, a run (its newest version made by that
        run or an earlier one) or a time (its newest version committed by then)."""
        table = self._tables[key]
        commits = [c for c in self._commits(key) if c.version not in table.pruned]
        if isinstance(as_of, int) and not isinstance(as_of, bool):
            chosen = [c for c in commits if c.version == as_of]
            if not chosen:
                raise CatalogError(
                    f"{self._key_name(key)} has no readable version {as_of} (its newest is "
                    f"{table.version}; pruned: {sorted(table.pruned) or 'none'})"
                )
        elif isinstance(as_of, str) and is_run_id(as_of):
            runs = {snap.id for snap in self.snapshots()}
            if as_of not in runs:
                known = ", ".join(sorted(runs)) or "none"
                raise CatalogError(f"unknown run {as_of} (pruned?); runs: {known}")
            chosen = [c for c in commits if c.run and c.run <= as_of]
        else:
            try:
                moment = to_utc_ns(as_of, "as_of")
            except CatalogError:
                raise CatalogError(
                    f"as_of: {as_of!r} is neither a run id (like 20261126T075820810834Z: "
                    "`multigate snapshots` lists them), a table version (an int), nor a date "
                    "(YYYY-MM-DD) or an ISO time (YYYY-MM-DDTHH:MM[:SS][Z])"
                ) from None
            chosen = [c for c in commits if _ns(c.created_at) <= moment]
        if not chosen:
            first = commits[0].run if commits else "none"
            raise CatalogError(
                f"no version of {self._key_name(key)} at or before {as_of} (first run: {first})"
            )
        return version_entries(self.data_dir, table, chosen[-1].version)


def _make_tables(data_dir: Path) -> None:
    """Convert a data folder written before datasets were Delta tables, once, under the
    folder's run lock: each job's current outputs become its table's first version."""
    from multigate.storage.delta_tables import RunInfo, TableCommitError, adopt_untabled, new_run_id
    from multigate.storage.run_lock import RunLocked, run_lock

    older = ", ".join(untabled_jobs(data_dir))
    try:
        with run_lock(data_dir):
            adopt_untabled(data_dir, RunInfo(new_run_id(datetime.now(UTC)), {"adopted": True}))
    except RunLocked as exc:
        raise CatalogError(f"{older}: not yet Delta tables, and {exc}") from None
    except (OSError, TableCommitError) as exc:
        raise CatalogError(
            f"{data_dir}: {older} written before datasets were Delta tables, and their tables "
            f"cannot be made here ({exc}); run multigate-ingest once with write access"
        ) from None


def _ns(moment: datetime) -> int:
    return to_utc_ns(moment, "as_of")
