"""The read cache: what the last pass read of each list a plan reads, so the next pass asks
the remotes only for what changed since (``daemon.reconcile.warm``).

One SQLite file, ``reads.sqlite`` in the state directory (or the folder ``plan --cache``
names), mode 0600 since it holds customers' details:

- ``meta``: ``format``; ``origins``, the remotes' URLs and a digest of the accounts (JSON);
  ``full_read_at``, Unix seconds of the last full read; ``converged``, what the last pass
  that planned no change saw (dropped by any change of the lists);
- ``lists``: per remote and list, ``token``, the point its changes start at;
- ``items``: per remote, list and key, the item as the remote sent it (JSON text).

The cache is never trusted blindly: a file that is not such a cache, of another format, or
read from other remotes is discarded with a log line and rebuilt by full reads; an item that
does not read back drops its list (``Unreadable``), which is then read whole. A file damaged
inside, which SQLite finds only when it reads the damaged page, is discarded when it is found,
and the cache starts over empty; a step the database refuses for another reason (busy, disk
full) is skipped. Either way the pass reads whole what the cache could not give.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CACHE_FILE = "reads.sqlite"
FORMAT = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS lists (
    remote TEXT NOT NULL, list TEXT NOT NULL, token TEXT NOT NULL,
    PRIMARY KEY (remote, list));
CREATE TABLE IF NOT EXISTS items (
    remote TEXT NOT NULL, list TEXT NOT NULL, key TEXT NOT NULL, raw TEXT NOT NULL,
    PRIMARY KEY (remote, list, key));
"""


# SQLite's primary result codes for a file that is damaged or not a database at all.
_DAMAGED = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})


class Unreadable(Exception):
    """A list's items in the cache do not read back: the list is forgotten and read whole."""


class ReadCache:
    """The read cache in ``directory`` for remotes at ``origins`` (remote name -> base URL,
    and ``accounts``, a digest of the tokens it reads with);
    use as a context manager, or call ``close()``. Raises OSError or sqlite3.Error when the
    folder or the file cannot be written."""

    def __init__(self, directory: Path, origins: Mapping[str, str]) -> None:
        self.path = directory / CACHE_FILE
        self.origins = json.dumps(dict(sorted(origins.items())))
        directory.mkdir(parents=True, exist_ok=True)
        if self.path.exists() and not self.path.is_file():
            # A folder or a pipe: SQLite would fail on the one and wait on the other for ever.
            raise OSError(f"{self.path} is there and is not a file")
        reason = self._why_not_ours()
        if reason is not None:
            log.warning(
                "discarding the read cache %s: %s; every list is read whole", self.path, reason
            )
            self._remove()
        self._conn = self._connect(str(self.path))

    # ------------------------------------------------------------------ opening

    def _connect(self, where: str) -> sqlite3.Connection:
        """A connection to the cache at ``where`` (a path, or ":memory:"), its tables made and
        its ``format`` and ``origins`` written. Raises OSError or sqlite3.Error."""
        if where != ":memory:" and not Path(where).exists():
            os.close(os.open(where, os.O_CREAT | os.O_WRONLY, 0o600))
        conn = sqlite3.connect(where, isolation_level=None)
        try:
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.executescript(_SCHEMA)
            conn.isolation_level = "DEFERRED"
            # Always a write, so that a file or folder that cannot be written (a cache
            # restored read-only) is refused here rather than halfway through a pass.
            with conn:
                _set_meta(conn, "format", FORMAT)
                _set_meta(conn, "origins", self.origins)
        except sqlite3.Error:
            conn.close()
            raise
        return conn

    def _failed(self, exc: sqlite3.DatabaseError) -> None:
        """A statement failed. A damaged file is discarded and the cache starts over, empty (in
        memory for this pass if no file can be made); any other failure costs only the step
        that failed. The caller reads whole what it could not get."""
        code = getattr(exc, "sqlite_errorcode", None)  # set on what SQLite itself raised
        if code is None or code & 0xFF not in _DAMAGED:
            log.warning(
                "the read cache %s failed (%s); what it did not give is read whole", self.path, exc
            )
            return
        log.warning(
            "discarding the read cache %s: it is damaged (%s); every list is read whole",
            self.path,
            exc,
        )
        with contextlib.suppress(sqlite3.Error):
            self._conn.close()
        try:
            self._remove()
            self._conn = self._connect(str(self.path))
        except (OSError, sqlite3.Error) as again:
            log.warning("cannot make a new read cache in %s (%s)", self.path.parent, again)
            self._conn = self._connect(":memory:")

    def _one(self, sql: str, params: tuple[str, ...]) -> Any:
        """The first row of a read, or None: also when the cache failed (``_failed``)."""
        try:
            return self._conn.execute(sql, params).fetchone()
        except sqlite3.DatabaseError as exc:
            self._failed(exc)
            return None

    @contextlib.contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """One write transaction. When the database refuses it, it is rolled back and the
        failure is only logged (``_failed``): the cache keeps what it held before, or starts
        over empty, and a list it did not keep is read whole next time."""
        try:
            with self._conn:
                yield self._conn
        except sqlite3.DatabaseError as exc:
            self._failed(exc)

    def _why_not_ours(self) -> str | None:
        """Why the file there cannot be used (None: it can, or there is none)."""
        if not self.path.exists():
            return None
        try:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
            try:
                rows = dict(conn.execute("SELECT name, value FROM meta").fetchall())
                conn.execute("SELECT count(*) FROM lists").fetchone()
                conn.execute("SELECT remote, list, key, raw FROM items LIMIT 1").fetchall()
            finally:
                conn.close()
        except sqlite3.Error as exc:
            return f"it is not a read cache ({exc})"
        if rows.get("format") != FORMAT:
            return f"it is of format {rows.get('format')!r}, this version reads {FORMAT!r}"
        if rows.get("origins") != self.origins:
            return f"it was read from other remotes or accounts ({rows.get('origins')})"
        return None

    def _remove(self) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                Path(f"{self.path}{suffix}").unlink()

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ReadCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ reading

    def token(self, remote: str, name: str) -> str | None:
        """The point to ask for the list's changes from; None: read it whole."""
        row = self._one("SELECT token FROM lists WHERE remote = ? AND list = ?", (remote, name))
        return None if row is None else str(row[0])

    def items(self, remote: str, name: str, token: str) -> dict[str, Any] | None:
        """The list's raw items by key, as the remote sent them (numbers with a fraction as
        ``Decimal``, as the clients read them), when the cache holds the list as of ``token``
        (the point its changes were asked from); None when it does not, any more: another
        pass moved it on, or the cache started over. Raises Unreadable when an item does not
        read back."""
        try:
            with self._conn:  # the token and the items in one read transaction
                self._conn.execute("BEGIN")
                held = self._conn.execute(
                    "SELECT token FROM lists WHERE remote = ? AND list = ?", (remote, name)
                ).fetchone()
                rows = self._conn.execute(
                    "SELECT key, raw FROM items WHERE remote = ? AND list = ?", (remote, name)
                ).fetchall()
        except sqlite3.DatabaseError as exc:
            self._failed(exc)
            return None
        if held is None or held[0] != token:
            return None
        try:
            return {key: json.loads(raw, parse_float=Decimal) for key, raw in rows}
        except (ValueError, TypeError) as exc:
            raise Unreadable(f"{remote} {name}: an item does not read back ({exc})") from None

    def full_read_at(self) -> float | None:
        """When every list was last read whole (Unix seconds), or None."""
        value = self._meta("full_read_at")
        try:
            return None if value is None else float(value)
        except ValueError:
            return None  # not a time: read whole now

    def converged(self) -> str | None:
        """What the last pass that planned no change recorded (``mark_converged``)."""
        return self._meta("converged")

    # ------------------------------------------------------------------ writing

    def replace(self, remote: str, name: str, token: str, items: Mapping[str, str]) -> None:
        """The list read whole: its items (key -> JSON text) and its token."""
        with self._writing():
            self._conn.execute("DELETE FROM items WHERE remote = ? AND list = ?", (remote, name))
            self._put(remote, name, items.items())
            self._token(remote, name, token)
            self._changed()

    def update(
        self,
        remote: str,
        name: str,
        token: str,
        put: Mapping[str, str],
        drop: Iterable[str],
    ) -> None:
        """The list's changes: items changed (key -> JSON text), keys deleted, the new token.
        Nothing changed moves only the token."""
        gone = list(drop)
        with self._writing():
            if put or gone:
                self._conn.executemany(
                    "DELETE FROM items WHERE remote = ? AND list = ? AND key = ?",
                    [(remote, name, key) for key in gone],
                )
                self._put(remote, name, put.items())
                self._changed()
            self._token(remote, name, token)

    def forget(self, remote: str, name: str) -> None:
        """Drop a list: it is read whole next time."""
        with self._writing():
            self._conn.execute("DELETE FROM items WHERE remote = ? AND list = ?", (remote, name))
            self._conn.execute("DELETE FROM lists WHERE remote = ? AND list = ?", (remote, name))
            self._changed()

    def mark_full_read(self, at: float) -> None:
        with self._writing():
            _set_meta(self._conn, "full_read_at", repr(at))

    def mark_converged(self, what: str) -> None:
        """Record that a plan from the lists as they are now, of the tree ``what`` names,
        changed nothing; any change of the lists drops it."""
        with self._writing():
            _set_meta(self._conn, "converged", what)

    # ------------------------------------------------------------------ helpers

    def _put(self, remote: str, name: str, items: Iterable[tuple[str, str]]) -> None:
        self._conn.executemany(
            "INSERT OR REPLACE INTO items (remote, list, key, raw) VALUES (?, ?, ?, ?)",
            ((remote, name, key, raw) for key, raw in items),
        )

    def _token(self, remote: str, name: str, token: str) -> None:
        self._conn.execute(
            "INSERT OR REPLACE INTO lists (remote, list, token) VALUES (?, ?, ?)",
            (remote, name, token),
        )

    def _changed(self) -> None:
        """The lists changed: what the last converged pass saw is no longer what they hold."""
        self._conn.execute("DELETE FROM meta WHERE name = 'converged'")

    def _meta(self, name: str) -> str | None:
        row = self._one("SELECT value FROM meta WHERE name = ?", (name,))
        return None if row is None else str(row[0])


def _set_meta(conn: sqlite3.Connection, name: str, value: str) -> None:
    conn.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, value))
