"""The history's schema: the sqlite-utils migrations that create and change its tables.

``History`` applies the pending ones, in the order they are defined here, when it opens a file
for writing. Add a new migration function at the end, never edit one that has shipped: a file
records the names of the migrations it has had (table ``_sqlite_migrations``).
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.migrations import Migrations

migrations = Migrations("zedonk-ordre")


def _run_script(db: sqlite_utils.Database, script: str) -> None:
    # Not executescript(): it commits first, which would break the migration's transaction.
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    _run_script(
        db,
        """
        -- One row per plan, apply, reconcile or import pass.
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,             -- plan | apply | reconcile | import | validate
            trigger TEXT NOT NULL,          -- cli | watch | timer | retry | startup | demo
            started_at TEXT NOT NULL,
            finished_at TEXT,
            result TEXT NOT NULL DEFAULT 'running',
                -- running | ok | no-changes | partial | failed | invalid | interrupted
            summary TEXT,                   -- JSON counts
            git_commit TEXT,                -- the catalogue's commit, when it lives in git
            error TEXT,
            pid INTEGER
        );
        CREATE INDEX runs_started ON runs(started_at);
        CREATE INDEX runs_kind ON runs(kind, started_at);

        -- One row per plan action that apply carried out (or tried to).
        CREATE TABLE actions (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs(id),
            seq INTEGER NOT NULL,
            op TEXT NOT NULL,               -- create | update | delete | move
            object_type TEXT NOT NULL,      -- collection | look | membership | listing | customer
            object_key TEXT NOT NULL,
            intent TEXT NOT NULL,           -- one line, for people
            before TEXT,                    -- JSON
            after TEXT,                     -- JSON
            remote_version TEXT,            -- the ORDRE version the action was computed from
            remote_id TEXT,
            status TEXT NOT NULL DEFAULT 'pending',  -- pending | ok | failed | skipped
            error TEXT,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            UNIQUE (run_id, seq)
        );
        CREATE INDEX actions_object ON actions(object_type, object_key);

        -- Errors, warnings and notable events, from any room.
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            run_id INTEGER REFERENCES runs(id),
            at TEXT NOT NULL,
            level TEXT NOT NULL,            -- info | warning | error
            code TEXT NOT NULL,             -- stable, e.g. line-unmatched, catalogue-invalid
            subject TEXT,                   -- what it is about, e.g. an import key
            message TEXT NOT NULL,
            details TEXT                    -- JSON
        );
        CREATE INDEX events_at ON events(at);
        CREATE INDEX events_subject ON events(subject);

        -- The exactly-once ledger: one row per ORDRE order submission.
        CREATE TABLE imports (
            import_key TEXT PRIMARY KEY,    -- ORDRE order id + '#' + submission number
            ordre_id TEXT NOT NULL,
            ordre_number TEXT NOT NULL,
            submission INTEGER NOT NULL,
            connector_ref TEXT NOT NULL UNIQUE,  -- carried into the Zedonk order
            state TEXT NOT NULL CHECK (state IN (
                'pending', 'sending', 'created', 'partial', 'failed', 'needs_attention',
                'skipped')),
            po_number TEXT,
            retailer_name TEXT,
            customer_id TEXT,
            zedonk_order_id TEXT UNIQUE,
            zedonk_order_number TEXT,
            previous_import_key TEXT REFERENCES imports(import_key),
            previous_inactivated INTEGER NOT NULL DEFAULT 0,
            payload TEXT,                   -- the ORDRE order as received (JSON)
            payload_sha256 TEXT,
            lines_total INTEGER,
            lines_imported INTEGER,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            first_seen_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            run_id INTEGER REFERENCES runs(id),
            UNIQUE (ordre_id, submission)
        );
        CREATE INDEX imports_state ON imports(state);
        CREATE INDEX imports_ordre ON imports(ordre_id);

        -- Order lines that were left out of a Zedonk order, with the reason.
        CREATE TABLE import_lines (
            id INTEGER PRIMARY KEY,
            import_key TEXT NOT NULL REFERENCES imports(import_key),
            line_no INTEGER NOT NULL,
            barcode TEXT,
            style TEXT,
            colour TEXT,
            size TEXT,
            quantity INTEGER,
            unit_price TEXT,
            reason TEXT NOT NULL,
            UNIQUE (import_key, line_no)
        );

        -- Small durable settings: poll cursor, pause, last good catalogue, and the like.
        CREATE TABLE state (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,            -- JSON
            updated_at TEXT NOT NULL
        );
        """,
    )


@migrations()
def m002_orders_notifications(db: sqlite_utils.Database) -> None:
    _run_script(
        db,
        """
        -- New Zedonk customers the order import is creating: the intent is committed before
        -- the create call, so a crash in between is resolved by a lookup, never a second create.
        CREATE TABLE customer_creations (
            name_key TEXT PRIMARY KEY,      -- the retailer name, trimmed and case-folded
            name TEXT NOT NULL,
            account_code TEXT,
            state TEXT NOT NULL CHECK (state IN ('pending', 'created')),
            customer_id TEXT,
            import_key TEXT,                -- the import that needed it first
            attempts INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );

        -- Edits and cancellations of imported orders, each reported once.
        CREATE TABLE import_reports (
            import_key TEXT NOT NULL REFERENCES imports(import_key),
            kind TEXT NOT NULL,             -- edited | cancelled
            fingerprint TEXT NOT NULL,      -- the edited content's hash ('' for a cancellation)
            at TEXT NOT NULL,
            message TEXT NOT NULL,
            PRIMARY KEY (import_key, kind, fingerprint)
        );

        -- One row per problem key: notified once while open, a recovery notice when it clears.
        CREATE TABLE notifications (
            key TEXT PRIMARY KEY,
            title TEXT NOT NULL,
            details TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('open', 'resolved')),
            opened_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL,
            seen_count INTEGER NOT NULL DEFAULT 1,
            email_sent_at TEXT,             -- the problem notice, per channel
            webhook_sent_at TEXT,
            resolved_at TEXT,
            recovery_sent_at TEXT
        );
        CREATE INDEX notifications_state ON notifications(state);
        """,
    )


@migrations()
def m003_notice_outbox(db: sqlite_utils.Database) -> None:
    _run_script(
        db,
        """
        -- The notice of a problem's current opening, once it is in the outbox. NULL: no channel
        -- was set when it opened, so no recovery notice is owed either.
        ALTER TABLE notifications ADD COLUMN notice_id TEXT;

        -- Notices waiting for delivery, committed with what they report. A drainer outside
        -- the passes groups and sends them.
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,         -- commit order
            notice_id TEXT NOT NULL UNIQUE, -- stable: the same in every delivery that carries it
            key TEXT NOT NULL,              -- the problem key
            event TEXT NOT NULL CHECK (event IN ('problem', 'resolved')),
            title TEXT NOT NULL,
            details TEXT NOT NULL,
            run_id INTEGER,                 -- the pass that owed it: its notices go out together
            created_at TEXT NOT NULL
        );

        -- One row per notice and channel it is owed on, with its delivery once it is grouped.
        CREATE TABLE outbox_items (
            notice_id TEXT NOT NULL REFERENCES outbox(notice_id),
            channel TEXT NOT NULL,          -- email | webhook
            delivery_id TEXT,
            PRIMARY KEY (notice_id, channel)
        );
        CREATE INDEX outbox_items_delivery ON outbox_items(channel, delivery_id);

        -- What goes out on one channel: one notice, or a digest of several. The payload is
        -- made once, so every attempt sends the same id and body.
        CREATE TABLE deliveries (
            id TEXT NOT NULL,               -- stable on every attempt (X-Zedonk-Ordre-Id)
            channel TEXT NOT NULL,
            notices INTEGER NOT NULL,       -- how many notices it carries
            payload TEXT NOT NULL,          -- JSON
            state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'expired')),
            created_at TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,  -- not before (the channel's back-off)
            sent_at TEXT,
            last_error TEXT,
            PRIMARY KEY (channel, id)
        );
        CREATE INDEX deliveries_pending ON deliveries(channel, state, created_at);

        -- Problems announced before the outbox existed still get their recovery notice.
        UPDATE notifications SET notice_id = 'announced-' || key
            WHERE state = 'open' AND (email_sent_at IS NOT NULL OR webhook_sent_at IS NOT NULL);
        """,
    )


@migrations()
def m004_import_review(db: sqlite_utils.Database) -> None:
    _run_script(
        db,
        """
        -- Why a skipped submission is skipped: go-live | status | cancelled | superseded.
        ALTER TABLE imports ADD COLUMN skipped_for TEXT;
        -- 1 once a person accepted what the order was held for (`orders retry --accept`).
        ALTER TABLE imports ADD COLUMN review_accepted INTEGER NOT NULL DEFAULT 0
        """,
    )


# The seconds since the epoch of one of the history's timestamps (``utcnow()``: RFC 3339 with
# microseconds), to the microsecond: SQLite's own date functions keep only milliseconds.
_EPOCH_SECONDS = (
    "(CAST(strftime('%s', {at}) AS REAL) + CASE WHEN substr({at}, 20, 1) = '.'"
    " THEN CAST('0.' || substr({at}, 21, 6) AS REAL) ELSE 0 END)"
)


def _bump(name: str, labels: str, by: str = "1") -> str:
    """A statement that adds ``by`` to the tally ``name`` with ``labels`` (a json_object)."""
    return (
        f"INSERT INTO tallies (name, labels, value) VALUES ('{name}', {labels}, {by})"
        f" ON CONFLICT (name, labels) DO UPDATE SET value = value + excluded.value"
    )


def _put(name: str, labels: str, value: str) -> str:
    """A statement that sets the tally ``name`` with ``labels`` to ``value``."""
    return (
        f"INSERT INTO tallies (name, labels, value) VALUES ('{name}', {labels}, {value})"
        f" ON CONFLICT (name, labels) DO UPDATE SET value = excluded.value"
    )


def _trigger(name: str, event: str, when: str, *statements: str) -> str:
    body = "".join(f"    {statement};\n" for statement in statements)
    return f"CREATE TRIGGER {name} {event} FOR EACH ROW WHEN {when}\nBEGIN\n{body}END"


_SUCCESS = "('ok', 'no-changes', 'no-orders')"
_IMPORTED = "('created', 'partial')"
_TROUBLED = "('failed', 'needs_attention')"


@migrations()
def m005_tallies_requests_idle_runs(db: sqlite_utils.Database) -> None:
    _run_script(
        db,
        """
        -- A streak of idle runs of one kind (an order poll that found nothing, a reconcile
        -- without changes) is one row: the last one, counting the others.
        ALTER TABLE runs ADD COLUMN repeats INTEGER NOT NULL DEFAULT 1;
        ALTER TABLE runs ADD COLUMN first_started_at TEXT;  -- the streak's first start

        -- Deleting a run (idle streaks, retention) checks these references.
        CREATE INDEX events_run ON events(run_id);
        CREATE INDEX imports_run ON imports(run_id);

        -- Requests to the running daemon, e.g. `zedonk-ordre reconcile`: it answers each with
        -- the pass it ran for it.
        CREATE TABLE requests (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,             -- reconcile
            requested_at TEXT NOT NULL,
            requested_by TEXT NOT NULL,
            pid INTEGER,                    -- the command that asks
            run_id INTEGER,                 -- the run that answered it (it may be gone later)
            answered_at TEXT,
            result TEXT,                    -- the run's result
            message TEXT
        );
        CREATE INDEX requests_open ON requests(kind, answered_at);

        -- Counters that only go up and gauges of current states, kept by triggers as the
        -- history changes, so /metrics reads a few rows and never counts the history.
        CREATE TABLE tallies (
            name TEXT NOT NULL,
            labels TEXT NOT NULL,           -- JSON object, keys in alphabetical order
            value REAL NOT NULL,
            PRIMARY KEY (name, labels)
        ) WITHOUT ROWID
        """,
    )
    run_labels = "json_object('kind', new.kind, 'result', new.result)"
    finished = _EPOCH_SECONDS.format(at="new.finished_at")
    action_labels = (
        "json_object('object_type', new.object_type, 'op', new.op, 'status', new.status)"
    )
    triggers = [
        _trigger(
            "tally_runs",
            "AFTER UPDATE OF result ON runs",
            "old.result = 'running' AND new.result <> 'running'",
            _bump("runs_total", run_labels),
        ),
        _trigger(
            "tally_last_success",
            "AFTER UPDATE OF result ON runs",
            f"old.result = 'running' AND new.result IN {_SUCCESS} AND new.finished_at IS NOT NULL",
            _put("last_success_timestamp_seconds", "json_object('kind', new.kind)", finished),
        ),
        _trigger(
            "tally_actions",
            "AFTER UPDATE OF status ON actions",
            "old.status = 'pending' AND new.status <> 'pending'",
            _bump("actions_total", action_labels),
        ),
        _trigger(
            "tally_import_new",
            "AFTER INSERT ON imports",
            "1",
            _bump("orders", "json_object('state', new.state)"),
        ),
        _trigger(
            "tally_import_gone",
            "AFTER DELETE ON imports",
            "1",
            _bump("orders", "json_object('state', old.state)", "-1"),
        ),
        _trigger(
            "tally_import_moved",
            "AFTER UPDATE OF state ON imports",
            "old.state <> new.state",
            _bump("orders", "json_object('state', old.state)", "-1"),
            _bump("orders", "json_object('state', new.state)"),
        ),
        _trigger(
            "tally_imported_new",
            "AFTER INSERT ON imports",
            f"new.state IN {_IMPORTED}",
            _bump("orders_imported_total", "json_object()"),
        ),
        _trigger(
            "tally_imported",
            "AFTER UPDATE OF state ON imports",
            f"new.state IN {_IMPORTED} AND old.state NOT IN {_IMPORTED}",
            _bump("orders_imported_total", "json_object()"),
        ),
        _trigger(
            "tally_troubled_new",
            "AFTER INSERT ON imports",
            f"new.state IN {_TROUBLED}",
            _bump("orders_failed_total", "json_object('state', new.state)"),
        ),
        _trigger(
            "tally_troubled",
            "AFTER UPDATE OF state ON imports",
            f"new.state IN {_TROUBLED} AND old.state <> new.state",
            _bump("orders_failed_total", "json_object('state', new.state)"),
        ),
        _trigger(
            "tally_lines_left_out",
            "AFTER INSERT ON import_lines",
            "1",
            _bump("order_lines_unmatched_total", "json_object('reason', new.reason)"),
        ),
    ]
    for trigger in triggers:
        db.execute(trigger)
    # What the history holds already, counted once.
    backfill = [
        "SELECT 'runs_total', json_object('kind', kind, 'result', result), COUNT(*)"
        " FROM runs WHERE result <> 'running' GROUP BY kind, result",
        "SELECT 'last_success_timestamp_seconds', json_object('kind', kind),"
        f" {_EPOCH_SECONDS.format(at='MAX(finished_at)')}"
        f" FROM runs WHERE result IN {_SUCCESS} AND finished_at IS NOT NULL GROUP BY kind",
        f"SELECT 'actions_total', {action_labels.replace('new.', '')}, COUNT(*)"
        " FROM actions WHERE status <> 'pending' GROUP BY object_type, op, status",
        "SELECT 'orders', json_object('state', state), COUNT(*) FROM imports GROUP BY state",
        "SELECT 'orders_imported_total', json_object(), COUNT(*) FROM imports"
        f" WHERE state IN {_IMPORTED} HAVING COUNT(*) > 0",
        "SELECT 'orders_failed_total', json_object('state', state), COUNT(*) FROM imports"
        f" WHERE state IN {_TROUBLED} GROUP BY state",
        "SELECT 'order_lines_unmatched_total', json_object('reason', reason), COUNT(*)"
        " FROM import_lines GROUP BY reason",
    ]
    for select in backfill:
        db.execute(f"INSERT INTO tallies (name, labels, value) {select}")


@migrations()
def m006_unresolved_imports(db: sqlite_utils.Database) -> None:
    """Imports gain the state ``unresolved`` (a create whose outcome is unknown, waiting out
    the settle window) and ``sent_at``, the time the create that may have reached Zedonk was
    sent (the window runs from it).

    SQLite cannot change a CHECK constraint with ALTER TABLE. Widening one (every row that
    passed the old check passes the new one) is the case SQLite documents the schema edit for,
    in one transaction with the schema version bumped ("Making Other Kinds Of Table Schema
    Changes", https://www.sqlite.org/lang_altertable.html#otheralter); it keeps the table, its
    rows and the foreign keys that point at it as they are."""
    old = "'needs_attention',\n                'skipped')"
    new = "'needs_attention',\n                'skipped', 'unresolved')"
    [(sql,)] = db.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'imports'"
    ).fetchall()
    if old not in sql:
        raise RuntimeError("the imports table is not the one m001 made; cannot widen its states")
    [(version,)] = db.execute("PRAGMA schema_version").fetchall()
    db.execute("PRAGMA writable_schema = ON")
    db.execute(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'imports'",
        [sql.replace(old, new)],
    )
    db.execute(f"PRAGMA schema_version = {int(version) + 1}")
    db.execute("PRAGMA writable_schema = OFF")
    db.execute("ALTER TABLE imports ADD COLUMN sent_at TEXT")


@migrations()
def m007_attention_acks(db: sqlite_utils.Database) -> None:
    _run_script(
        db,
        """
        -- A person's acknowledgement of an item of the "needs a person" inbox (the latest per
        -- item, and every one is an event too). It covers the item while the problem it was made
        -- for lasts: one that begins after it is not acknowledged.
        CREATE TABLE attention_acks (
            item_id TEXT PRIMARY KEY,       -- e.g. order:ORD-1:partial
            note TEXT NOT NULL,
            acked_by TEXT NOT NULL,
            acked_at TEXT NOT NULL,
            since TEXT                      -- when the item's problem began, as it was then
        );
        -- The inbox looks for some events by their code (a re-submission after go-live).
        CREATE INDEX events_code ON events(code)
        """,
    )


@migrations()
def m008_earlier_checked(db: sqlite_utils.Database) -> None:
    # A re-submission's one search of Zedonk for earlier orders of the same ORDRE order that
    # this history does not record (it was replaced or put back from a backup since they were
    # made): 0 until it is made, a settle window after its own create, 1 once made, -n after
    # n searches Zedonk failed. An older history's re-submissions linked to the import before
    # them are done; the others (not imported yet, or imported with nothing earlier recorded,
    # which an older version left at that) get their search.
    db.execute("ALTER TABLE imports ADD COLUMN earlier_checked INTEGER NOT NULL DEFAULT 0")
    db.execute(
        "UPDATE imports SET earlier_checked = 1"
        " WHERE state IN ('created', 'partial') AND previous_import_key IS NOT NULL"
    )
