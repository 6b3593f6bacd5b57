"""/metrics on a long history: 1.2 million runs, as a daemon polling every few seconds for
months would have written before idle polls were folded, against its floor.

The floor is reading the tallies table with plain sqlite3, nothing else; the scrape is the
collector and prometheus_client's exposition, as /metrics runs them. Target: the scrape takes
as long with 1.2 million runs as with ten (a few milliseconds), never a count of the history.
Also shown: how many rows an hour of polls every 2 seconds with nothing to import leaves.
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

from daemon.service import metrics
from daemon.store.history import History

RUNS = 1_200_000
ROUNDS = 20


def _health() -> dict[str, object]:
    return {"healthy": True, "problems": [], "loops": {}, "paused": False}


def fill(history: History, runs: int) -> None:
    """``runs`` finished reconcile and import runs, written through the triggers."""
    with history.transaction() as conn:
        conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)"
            " INSERT INTO runs (kind, trigger, started_at) SELECT"
            " CASE i % 10 WHEN 0 THEN 'reconcile' ELSE 'import' END, 'timer',"
            " '2026-01-01T00:00:00.000000+00:00' FROM n",
            (runs,),
        )
        conn.execute(
            "UPDATE runs SET result = 'no-changes',"
            " finished_at = '2026-01-01T00:00:01.000000+00:00' WHERE result = 'running'"
        )


def best(fn: object) -> float:
    assert callable(fn)
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        with History.open(state) as history:
            started = time.perf_counter()
            fill(history, RUNS)
            print(f"history of {RUNS:,} runs written in {time.perf_counter() - started:.1f}s")
        with History.open(state, read_only=True) as history:
            collector = metrics.HistoryCollector(_health, lambda: nullcontext(history))
            scrape = best(lambda: metrics.exposition(collector))
            raw = sqlite3.connect(state / "history.sqlite")
            floor = best(lambda: raw.execute("SELECT * FROM tallies").fetchall())
            count = best(lambda: raw.execute("SELECT kind, result, COUNT(*) FROM runs"
                                             " GROUP BY kind, result").fetchall())  # fmt: skip
            raw.close()
        print(f"scrape: {scrape * 1000:.2f} ms; floor (the tallies read) {floor * 1000:.2f} ms;"
              f" counting the runs instead would take {count * 1000:.0f} ms")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp, History.open(Path(tmp)) as history:
        for _ in range(1800):  # an hour of polls every 2 s that found nothing
            run = history.start_run("import", "timer")
            history.finish_run(run, "no-changes")
        rows = history.query("SELECT COUNT(*) AS n, MAX(repeats) AS r FROM runs")[0]
        print(f"an hour of idle polls every 2 s: {rows['n']} row (repeats {rows['r']})")


if __name__ == "__main__":
    main()
