"""``index.sqlite``: a cache of every experiment record, for queries in milliseconds.

The JSON files stay the source of truth: the index can be deleted at any time and is rebuilt
from them (``lineage reindex``, or automatically when it is missing, from another format, or
unreadable). Writers update it as they write records; readers catch what they missed by
comparing folder modification times (and re-reading records that were still running).

SQLite in WAL mode with a long busy timeout and ``BEGIN IMMEDIATE`` writes, so many processes
can write at once without "database is locked" errors.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from . import layout, query
from .errors import CorruptRecordError, LineageWarning

FORMAT = 2
BUSY_TIMEOUT_MS = 120_000
RACY_SECONDS = 2.0  # a folder changed this recently may change again within its mtime tick
KINDS = {"params": 1, "metrics": 2, "tags": 3}
_SOURCES = (("hyperparameters", 1), ("metrics", 2), ("tags", 3))

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value);
CREATE TABLE IF NOT EXISTS sets(
    number INTEGER PRIMARY KEY, id TEXT, name TEXT, description TEXT, created TEXT,
    dir_mtime INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS experiments(
    rowid INTEGER PRIMARY KEY,
    set_number INTEGER NOT NULL, number INTEGER NOT NULL, set_name TEXT,
    id TEXT, name TEXT, description TEXT, status TEXT, model_version, data_version,
    created TEXT, ended TEXT, duration, data_fingerprint TEXT,
    file_mtime INTEGER, file_size INTEGER, record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS experiments_set ON experiments(set_number, number);
CREATE INDEX IF NOT EXISTS experiments_data ON experiments(data_fingerprint);
CREATE TABLE IF NOT EXISTS fields(
    exp INTEGER NOT NULL, kind INTEGER NOT NULL, key TEXT NOT NULL, value,
    PRIMARY KEY(exp, kind, key)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS fields_lookup ON fields(kind, key, value);
-- readers re-read running records on every query: find them without a table scan
CREATE INDEX IF NOT EXISTS experiments_running ON experiments(status) WHERE status = 'running';
"""

TOP_COLUMNS = {
    "name": "e.name", "description": "e.description", "status": "e.status",
    "model_version": "e.model_version", "data_version": "e.data_version",
    "number": "e.number", "set": "e.set_number", "set_name": "e.set_name", "id": "e.id",
    "created": "e.created", "ended": "e.ended", "duration": "e.duration",
    "data_fingerprint": "e.data_fingerprint",
}


def row_id(set_number: int, number: int) -> int:
    return (set_number << 32) | number


def slim(record: dict[str, Any]) -> dict[str, Any]:
    """The record as listings need it: without the (large) list of installed packages."""
    prov = record.get("provenance")
    if isinstance(prov, dict) and "packages" in prov:
        record = {**record, "provenance": {k: v for k, v in prov.items() if k != "packages"}}
    return record


def _flatten(values: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in values.items():
        yield prefix + key, value
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{key}.")


class Index:
    """The index of one registry. Connections are opened lazily, one per process."""

    def __init__(self, registry_path: Path) -> None:
        self.root = registry_path
        self.path = layout.index(registry_path)
        self._conn: sqlite3.Connection | None = None
        self._pid = 0

    # -- connection --------------------------------------------------------------------------

    def connect(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():  # never share one across fork()
            self._conn = self._open()
            self._pid = os.getpid()
        return self._conn

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                               check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            found = self._format(conn)
            if found is None:
                with _transaction(conn):
                    for statement in SCHEMA.split(";"):
                        if statement.strip():
                            conn.execute(statement)
                    conn.execute("INSERT OR IGNORE INTO meta VALUES ('format', ?)", (FORMAT,))
            elif found != FORMAT:
                conn.close()
                return self._replace(f"it has index format {found!r}, this lineage uses {FORMAT}")
        except sqlite3.DatabaseError as exc:
            conn.close()
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                raise
            return self._replace(f"it could not be read ({exc})")
        conn.create_function("REGEXP", 2, query.sqlite_regexp, deterministic=True)
        return conn

    @staticmethod
    def _format(conn: sqlite3.Connection) -> Any:
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return None
            raise
        return row[0] if row else None

    def _replace(self, why: str) -> sqlite3.Connection:
        """Move an unusable index aside and start a new one (it is only a cache)."""
        warnings.warn(
            f"{self.path}: {why}; rebuilding it from the JSON records (nothing is lost: "
            "the index is a cache)", LineageWarning, stacklevel=4,
        )
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.replace(f"{self.path}{suffix}", f"{self.path}.old{suffix}")
        conn = self._open()
        with _transaction(conn):
            conn.execute("UPDATE sets SET dir_mtime = 0")
        return conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- writing -------------------------------------------------------------------------------

    def upsert(self, record: dict[str, Any], stat: os.stat_result | None = None) -> None:
        """Index one record (replacing what the index had for that experiment)."""
        conn = self.connect()
        with _transaction(conn):
            self._upsert(conn, record, stat)

    def upsert_set(self, record: dict[str, Any]) -> None:
        conn = self.connect()
        with _transaction(conn):
            self._upsert_set(conn, record)

    @staticmethod
    def _upsert_set(conn: sqlite3.Connection, record: dict[str, Any], mtime: int = 0) -> None:
        conn.execute(
            "INSERT INTO sets(number, id, name, description, created, dir_mtime) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(number) DO UPDATE SET id=excluded.id, "
            "name=excluded.name, description=excluded.description, created=excluded.created",
            (record["number"], record.get("id"), record.get("name"), record.get("description"),
             record.get("created"), mtime),
        )

    @staticmethod
    def _upsert(
        conn: sqlite3.Connection, record: dict[str, Any], stat: os.stat_result | None
    ) -> None:
        s = record["set"]
        rid = row_id(s["number"], record["number"])
        conn.execute(
            "INSERT OR REPLACE INTO experiments(rowid, set_number, number, set_name, id, name, "
            "description, status, model_version, data_version, created, ended, duration, "
            "data_fingerprint, file_mtime, file_size, record) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (rid, s["number"], record["number"], s.get("name"), record.get("id"),
             record.get("name"), record.get("description"), record.get("status"),
             record.get("model_version"), record.get("data_version"), record.get("created"),
             record.get("ended"), record.get("duration"),
             (record.get("data") or {}).get("fingerprint"),
             stat.st_mtime_ns if stat else 0, stat.st_size if stat else 0,
             json.dumps(slim(record), ensure_ascii=False, allow_nan=False)),
        )
        conn.execute("DELETE FROM fields WHERE exp = ?", (rid,))
        rows = []
        for source, kind in _SOURCES:
            values = record.get(source)
            if isinstance(values, dict):
                for key, value in _flatten(values):
                    scalar = query.scalar(value)
                    if scalar is not None:
                        rows.append((rid, kind, key, scalar))
        conn.executemany("INSERT OR REPLACE INTO fields VALUES (?, ?, ?, ?)", rows)

    def remove(self, conn: sqlite3.Connection, rids: Iterable[int]) -> None:
        for rid in rids:
            conn.execute("DELETE FROM experiments WHERE rowid = ?", (rid,))
            conn.execute("DELETE FROM fields WHERE exp = ?", (rid,))

    # -- keeping up with the files ---------------------------------------------------------------

    def sync(self, registry: Any, progress: Callable[[int], None] | None = None) -> list[Any]:
        """Bring the index up to date with the folders; returns records that could not be read.

        Cheap when nothing changed: one ``stat`` per set plus one per running experiment.
        """
        conn = self.connect()
        problems: list[CorruptRecordError] = []
        known = dict(conn.execute("SELECT number, dir_mtime FROM sets").fetchall())
        on_disk = registry.set_numbers()
        now = time.time()
        for number in on_disk:
            folder = layout.set_dir(registry.path, number)
            try:
                mtime = folder.stat().st_mtime_ns
            except FileNotFoundError:
                continue
            if known.get(number) == mtime and mtime:
                continue
            trusted = mtime if now - mtime / 1e9 > RACY_SECONDS else 0
            self._sync_set(registry, number, trusted, problems, progress)
        gone = set(known) - set(on_disk)
        if gone:
            with _transaction(conn):
                for number in gone:
                    conn.execute("DELETE FROM sets WHERE number = ?", (number,))
                    rids = [r for (r,) in conn.execute(
                        "SELECT rowid FROM experiments WHERE set_number = ?", (number,))]
                    self.remove(conn, rids)
        self._refresh_running(registry, problems)
        return problems

    def _sync_set(
        self, registry: Any, number: int, mtime: int, problems: list[Any],
        progress: Callable[[int], None] | None,
    ) -> None:
        conn = self.connect()
        indexed = {n for (n,) in conn.execute(
            "SELECT number FROM experiments WHERE set_number = ?", (number,))}
        on_disk = registry.experiment_numbers(number)
        missing = [n for n in on_disk if n not in indexed]
        vanished = indexed - set(on_disk)
        set_record = registry.read_set(number)
        batch: list[tuple[dict[str, Any], os.stat_result]] = []

        def flush() -> None:
            with _transaction(conn):
                for record, stat in batch:
                    self._upsert(conn, record, stat)
            if progress is not None:
                progress(len(batch))
            batch.clear()

        for n in missing:
            loaded = _read(registry, number, n, problems)
            if loaded is not None:
                batch.append(loaded)
            if len(batch) >= 2000:
                flush()
        flush()
        with _transaction(conn):
            self._upsert_set(conn, set_record)
            conn.execute("UPDATE sets SET dir_mtime = ? WHERE number = ?", (mtime, number))
            self.remove(conn, (row_id(number, n) for n in vanished))

    def _refresh_running(self, registry: Any, problems: list[Any]) -> None:
        conn = self.connect()
        rows = conn.execute(
            "SELECT set_number, number, file_mtime, file_size FROM experiments "
            "WHERE status = 'running'"
        ).fetchall()
        for set_number, number, mtime, size in rows:
            path = layout.experiment_json(registry.experiment_path(set_number, number))
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            if (stat.st_mtime_ns, stat.st_size) == (mtime, size):
                continue
            loaded = _read(registry, set_number, number, problems)
            if loaded is not None:
                with _transaction(conn):
                    self._upsert(conn, *loaded)

    def rebuild(self, registry: Any, progress: Callable[[int], None] | None = None) -> list[Any]:
        """Drop everything and index every record again."""
        conn = self.connect()
        with _transaction(conn):
            for table in ("fields", "experiments", "sets"):
                conn.execute(f"DELETE FROM {table}")
        return self.sync(registry, progress)

    # -- reading --------------------------------------------------------------------------------

    def search(
        self,
        where: query.Node | None = None,
        order_by: Sequence[tuple[query.Field, bool]] = (),
        limit: int | None = None,
        set_number: int | None = None,
    ) -> list[dict[str, Any]]:
        """Slim records matching ``where``, ordered (missing values last), at most ``limit``."""
        sql, params = compile_search(where, order_by, limit, set_number)
        return [json.loads(text) for (text,) in self.connect().execute(sql, params)]

    def count(self, set_number: int | None = None) -> int:
        sql = "SELECT count(*) FROM experiments"
        args: tuple[Any, ...] = ()
        if set_number is not None:
            sql, args = sql + " WHERE set_number = ?", (set_number,)
        return int(self.connect().execute(sql, args).fetchone()[0])

    def keys(self, kind: str, set_number: int | None = None) -> list[str]:
        """Distinct params/metrics/tags keys (of one set, or all)."""
        sql = "SELECT DISTINCT key FROM fields WHERE kind = ?"
        args: list[Any] = [KINDS[kind]]
        if set_number is not None:
            sql += " AND exp >= ? AND exp < ?"
            args += [row_id(set_number, 0), row_id(set_number + 1, 0)]
        return sorted(k for (k,) in self.connect().execute(sql + " ORDER BY key", args))

    def set_stats(self) -> dict[int, dict[str, Any]]:
        """Per set: experiment count and last activity."""
        rows = self.connect().execute(
            "SELECT set_number, count(*), max(coalesce(ended, created)), "
            "sum(status = 'running'), sum(status = 'failed') FROM experiments "
            "GROUP BY set_number"
        )
        return {
            s: {"experiments": n, "last_activity": last, "running": r or 0, "failed": f or 0}
            for s, n, last, r, f in rows
        }


def compile_search(
    where: query.Node | None,
    order_by: Sequence[tuple[query.Field, bool]],
    limit: int | None,
    set_number: int | None,
    *,
    columns: str = "e.record",
    offset: int | None = None,
) -> tuple[str, list[Any]]:
    """The SELECT for a search: one LEFT JOIN on ``fields`` per params/metrics/tags key used.

    ``columns`` is what each row gives (``"e.rowid"`` to use the search as a subquery);
    ``offset`` skips that many rows (with ``limit``, one page of a listing).
    """
    joins: dict[query.Field, str] = {}
    required = _required(where) if where is not None else set()

    def column(field: query.Field) -> str:
        if field.kind == "top":
            return TOP_COLUMNS[field.key]
        alias = joins.setdefault(field, f"f{len(joins)}")
        return f"{alias}.value"

    conditions: list[str] = []
    params: list[Any] = []
    if set_number is not None:
        conditions.append(f"e.set_number = {int(set_number)}")
    if where is not None:
        text, params = query.to_sql(where, column, numeric=lambda f: f.kind == "metrics")
        conditions.append(text)
    order = []
    for field, descending in order_by:
        col = column(field)
        if descending:  # SQLite sorts NULL lowest, so last when descending: no extra key,
            order.append(f"{col} DESC")  # which lets an index give the order (and LIMIT stop)
        elif field in required:
            order.append(col)
        else:
            order.append(f"({col} IS NULL), {col}")
    order.append("e.set_number, e.number")
    sql = f"SELECT {columns} FROM experiments e"
    for field, alias in joins.items():
        join = "JOIN" if field in required else "LEFT JOIN"  # an inner join lets SQLite
        sql += (  # start from the fields index (it does not infer this from IS NOT NULL)
            f" {join} fields {alias} ON {alias}.exp = e.rowid AND {alias}.kind = "
            f"{KINDS[field.kind]} AND {alias}.key = {query.sql_quote(field.key)}"
        )
    if conditions:
        sql += " WHERE " + " AND ".join(conditions)
    sql += " ORDER BY " + ", ".join(order)
    if limit is not None or offset:
        sql += f" LIMIT {int(limit) if limit is not None else -1}"
    if offset:
        sql += f" OFFSET {int(offset)}"
    return sql, params


def _required(node: query.Node) -> set[query.Field]:
    """Fields that every experiment matching ``node`` has (missing means no, except under
    ``not`` and for ``not exists``)."""
    if isinstance(node, (query.Compare, query.In)):
        return {node.field}
    if isinstance(node, query.Exists):
        return {node.field} if node.present else set()
    if isinstance(node, query.And):
        return set().union(*(_required(item) for item in node.items))
    if isinstance(node, query.Or):
        found = [_required(item) for item in node.items]
        return set.intersection(*found) if found else set()
    return set()


def _read(
    registry: Any, set_number: int, number: int, problems: list[Any]
) -> tuple[dict[str, Any], os.stat_result] | None:
    path = layout.experiment_json(registry.experiment_path(set_number, number))
    try:
        stat = path.stat()
        return registry.read_record(set_number, number), stat
    except CorruptRecordError as exc:
        problems.append(exc)
    except (FileNotFoundError, LookupError):
        pass  # a number claimed a moment ago: its record is not written yet
    return None


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``: takes the write lock up front, so no deadlock."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
