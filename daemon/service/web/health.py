"""The console's health panel: the daemon, its loops, the last passes, the remotes, the pause.

``page(state_dir, live)`` puts together what ``status`` shows (``daemon.store.status.gather``:
the daemon's lock, who works now, the last pass of each loop and the last good one, the
pause, the errors of the passes that failed) and the daemon's live health (``live``: each
loop's state, the file watcher, the problems ``/healthz`` answers 503 for). The remotes are
told from the last passes: a pass that failed with a call to Zedonk or ORDRE says which.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from daemon.service.web.render import render
from daemon.store.lock import describe
from daemon.store.status import PROBLEM_RESULTS, gather

REMOTES = (("zedonk", "Zedonk"), ("ordre", "ORDRE"))
# What a loop's snapshot holds (``daemon.service.loops``); a key it lacks shows as unknown.
LOOP_KEYS = (
    "alive",
    "stuck",
    "busy_for",
    "waiting_for",
    "failing_for",
    "passes",
    "failures",
    "last_result",
    "last_message",
    "last_finished_at",
    "last_ok_at",
)


def _failures(doc: dict[str, Any]) -> list[str]:
    """The messages of the last passes that did not succeed: their errors and error events."""
    found: list[str] = []
    for key in ("last_reconcile", "last_poll"):
        run = doc.get(key)
        if run and run.get("result") in PROBLEM_RESULTS and run.get("error"):
            found.append(str(run["error"]))
    found += [str(event.get("message") or "") for event in doc.get("problems", [])]
    return found


def _remotes(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Per remote: whether the last passes reached it, the failure if not, and when a pass
    that read it last succeeded."""
    good = [doc.get("last_good_reconcile"), doc.get("last_good_poll")]
    reached = max(
        (run["finished_at"] for run in good if run and run.get("finished_at")), default=None
    )
    failures = _failures(doc)
    rows = []
    for remote, name in REMOTES:
        failing = next((text for text in failures if text.lower().startswith(remote + ":")), None)
        rows.append({"name": name, "failing": failing, "last_good": reached})
    return rows


def page(state_dir: Path, live: dict[str, Any]) -> str:
    """``/health``."""
    doc = gather(state_dir)
    loops = live.get("loops") or {}
    return render(
        "health.html",
        path="/health",
        title="Health",
        subtitle="the daemon, its loops, the last passes and the remotes, now",
        doc=doc,
        live={
            "healthy": live.get("healthy", True),
            "problems": live.get("problems", []),
            "loops": [
                (name, {key: loop.get(key) for key in LOOP_KEYS})
                for name, loop in sorted(loops.items())
            ],
            "watcher": live.get("watcher"),
        },
        working=[
            (what, describe(holder))
            for what, holder in doc["working"].items()
            if holder is not None
        ],
        remotes=_remotes(doc) if doc["history"] else [],
    )
