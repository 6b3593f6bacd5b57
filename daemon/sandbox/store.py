"""The sandbox state: named tables of JSON objects, in memory, optionally kept in SQLite.

With a state file each table is one JSON blob in one row, rewritten when the table changed.
That is plenty for a stand-in server and keeps the format obvious.
"""

from __future__ import annotations

import json
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

    # writing -----------------------------------------------------------------
    def put(self, table: str, key: str, value: Any) -> None:
        self.table(table)[key] = value
        self._changed(table)

    def delete(self, table: str, key: str) -> None:
        self.table(table).pop(key, None)
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
