"""The sandbox state: named tables of JSON objects, in memory, optionally kept in SQLite.

With a state file each table is one JSON blob in one row, rewritten when the table changed.
That is plenty for a stand-in server and keeps the format obvious.

Every write is numbered (``seq``), so a list endpoint can say what changed since a point
(``changes``), deletions included: the last number of each live key, and a tombstone with the
number of each deleted one. The numbering starts again in each ``epoch`` (a new seed, a reset,
a restart from the state file), which ends every earlier point.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
from collections.abc import Callable
from operator import itemgetter
from typing import Any

Table = dict[str, Any]
SortKey = tuple[Any, ...]
Rows = list[tuple[SortKey, Any]]


class Store:
    """Tables of JSON objects keyed by id, counters for new ids, and a little metadata."""

    def __init__(self, namespace: str, path: str | None = None) -> None:
        self.namespace = namespace
        self.tables: dict[str, Table] = {}
        self.counters: dict[str, int] = {}
        self.meta: dict[str, Any] = {}
        self._dirty: set[str] = set()
        # per table: the key function and the rows it sorted, dropped when the table changes
        self._sorted: dict[str, tuple[Callable[[Any], SortKey], Rows]] = {}
        self._restart_changes()
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        if path:
            self._db = sqlite3.connect(path, timeout=30, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS sandbox_state"
                " (name TEXT PRIMARY KEY, data TEXT NOT NULL)"
            )
            self._db.commit()

    # reading -----------------------------------------------------------------
    def table(self, name: str) -> Table:
        return self.tables.setdefault(name, {})

    def get(self, table: str, key: str) -> Any:
        return self.table(table).get(key)

    def ordered(self, table: str, key: Callable[[Any], SortKey]) -> Rows:
        """The table's rows as (sort key, object), in key order; kept until the table changes.

        Lists page through 20,000 products, so sorting once per change, not once per page,
        matters. Pass the same function each time (``common.by`` gives one): the cache holds
        one order per table. Objects are replaced with ``put``, never changed in place, so a
        cached key never goes stale.
        """
        cached = self._sorted.get(table)
        if cached is not None and cached[0] is key:
            return cached[1]
        rows = sorted(((key(obj), obj) for obj in self.table(table).values()), key=itemgetter(0))
        self._sorted[table] = (key, rows)
        return rows

    # changes -----------------------------------------------------------------
    def _restart_changes(self) -> None:
        """A new epoch: every object as it is now is change number 0 of it."""
        self.epoch = secrets.token_hex(4)
        self.seq = 0
        self._last: dict[str, dict[str, int]] = {}  # table -> live key -> its last change
        self._gone: dict[str, dict[str, int]] = {}  # table -> deleted key -> when
        self._newest: dict[str, int] = {}  # table -> its last change

    def changes(self, table: str, after: int) -> list[tuple[int, str, Any]]:
        """``(seq, key, object)`` of each key of ``table`` whose last change is numbered after
        ``after``, in the order of those numbers; ``object`` is None for a deleted key."""
        if self._newest.get(table, 0) <= after:
            return []
        rows = self.table(table)
        found = [(n, key, rows[key]) for key, n in self._last.get(table, {}).items() if n > after]
        found += [(n, key, None) for key, n in self._gone.get(table, {}).items() if n > after]
        found.sort(key=itemgetter(0))
        return found

    def _mark(self, table: str, key: str, *, deleted: bool) -> None:
        self.seq += 1
        live, gone = self._last.setdefault(table, {}), self._gone.setdefault(table, {})
        if deleted:
            live.pop(key, None)
            gone[key] = self.seq
        else:
            gone.pop(key, None)
            live[key] = self.seq
        self._newest[table] = self.seq

    # writing -----------------------------------------------------------------
    def put(self, table: str, key: str, value: Any) -> None:
        self.table(table)[key] = value
        self._changed(table)
        self._mark(table, key, deleted=False)

    def delete(self, table: str, key: str) -> None:
        if key in self.table(table):
            self.table(table).pop(key)
            self._mark(table, key, deleted=True)
        self._changed(table)

    def _changed(self, table: str) -> None:
        self._dirty.add(table)
        self._sorted.pop(table, None)

    def next_number(self, counter: str, start: int = 1) -> int:
        value = self.counters.get(counter, start - 1) + 1
        self.counters[counter] = value
        self._dirty.add("_counters")
        return value

    def replace(
        self, tables: dict[str, Table], counters: dict[str, int], meta: dict[str, Any]
    ) -> None:
        self.tables = tables
        self.counters = counters
        self.meta = meta
        self._dirty = {*tables, "_counters", "_meta"}
        self._sorted.clear()
        self._restart_changes()

    # persistence -------------------------------------------------------------
    def load(self) -> bool:
        """Read the saved state; False when the file holds none for this server."""
        if self._db is None:
            return False
        prefix = f"{self.namespace}/"
        with self._lock:
            rows = self._db.execute(
                "SELECT name, data FROM sandbox_state WHERE name LIKE ?", (prefix + "%",)
            ).fetchall()
        saved = {name[len(prefix) :]: json.loads(data) for name, data in rows}
        if "_meta" not in saved:
            return False
        self.meta = saved.pop("_meta")
        self.counters = saved.pop("_counters", {})
        self.tables = saved
        self._dirty.clear()
        self._sorted.clear()
        self._restart_changes()
        return True

    def flush(self) -> None:
        if self._db is None or not self._dirty:
            self._dirty.clear()
            return
        rows = []
        for name in sorted(self._dirty):
            data = {"_counters": self.counters, "_meta": self.meta}.get(name, self.tables.get(name))
            rows.append((f"{self.namespace}/{name}", json.dumps(data, separators=(",", ":"))))
        with self._lock:
            self._db.executemany(
                "INSERT INTO sandbox_state (name, data) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET data = excluded.data",
                rows,
            )
            self._db.commit()
        self._dirty.clear()

    def close(self) -> None:
        if self._db is not None:
            self.flush()
            self._db.close()
            self._db = None
