"""The activity page: recent runs (with their ORDRE actions), orders and events, filtered.

``page(history, health, filters)`` reads the history and fills ``templates/activity.html``.
The filters come from the query string: a section (``show``), problems only, a search text,
and the idle order polls (hidden unless asked for).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from daemon.service.web.render import render
from daemon.store.history import History
from daemon.store.ledger import Ledger
from daemon.store.status import PAUSED_KEY

PAGE_LIMIT = 50
PROBLEM_IMPORT_STATES = ("failed", "needs_attention", "partial")
SECTIONS = ("all", "runs", "imports", "events")
_YES = ("1", "on", "yes", "true")


class Filters:
    """The page's filters, read from the query string."""

    def __init__(self, query: Mapping[str, str]) -> None:
        def one(key: str, default: str) -> str:
            return (query.get(key) or default).strip()

        self.show = one("show", "all") if one("show", "all") in SECTIONS else "all"
        self.problems = one("problems", "") in _YES
        self.q = one("q", "")[:200]
        # An order poll that found nothing runs every poll_interval; hidden unless asked for.
        self.idle = one("idle", "") in _YES

    def wants(self, section: str) -> bool:
        return self.show in ("all", section)


def _matches(needle: str, *values: Any) -> bool:
    if not needle:
        return True
    haystack = " ".join(json.dumps(v, default=str) if not isinstance(v, str) else v for v in values)
    return needle.lower() in haystack.lower()


def _counts(summary: Any) -> str:
    if not isinstance(summary, dict):
        return ""
    return ", ".join(f"{k} {v}" for k, v in summary.items() if isinstance(v, int | float) and v)


def _runs(history: History, f: Filters) -> list[dict[str, Any]]:
    found = []
    for run in history.runs(errors_only=f.problems, limit=PAGE_LIMIT * 4):
        if run["kind"] == "import" and run["result"] in ("no-changes", "no-orders") and not f.idle:
            continue
        if not _matches(
            f.q, run["kind"], run["trigger"], run["result"], run["summary"], run["error"]
        ):
            continue
        actions = history.actions(run["id"]) if run["kind"] in ("reconcile", "apply") else []
        found.append({**run, "counts": _counts(run["summary"]), "actions": actions[:200]})
        if len(found) >= PAGE_LIMIT:
            break
    return found


def _imports(history: History, f: Filters) -> list[dict[str, Any]]:
    ledger = Ledger(history)
    found = []
    for imp in ledger.recent(PROBLEM_IMPORT_STATES if f.problems else (), limit=PAGE_LIMIT * 4):
        if not _matches(
            f.q,
            imp["import_key"],
            imp["ordre_number"],
            imp["po_number"],
            imp["retailer_name"],
            imp["state"],
            imp["zedonk_order_number"],
            imp["last_error"],
        ):
            continue
        found.append({**imp, "left_out": ledger.left_out_lines(imp["import_key"])})
        if len(found) >= PAGE_LIMIT:
            break
    return found


def _events(history: History, f: Filters) -> list[dict[str, Any]]:
    found = []
    for ev in history.events(limit=PAGE_LIMIT * 4):
        if f.problems and ev["level"] == "info":
            continue
        if not _matches(f.q, ev["code"], ev["subject"], ev["message"], ev["details"]):
            continue
        found.append(ev)
        if len(found) >= PAGE_LIMIT:
            break
    return found


def _last_run(history: History, kinds: tuple[str, ...]) -> dict[str, Any] | None:
    marks = ", ".join("?" for _ in kinds)
    rows = history.query(
        f"SELECT result, started_at FROM runs WHERE kind IN ({marks}) ORDER BY id DESC LIMIT 1",
        kinds,
    )
    return rows[0] if rows else None


def page(history: History | None, health: dict[str, Any], f: Filters) -> str:
    """The activity page, as one self-contained HTML document."""
    context: dict[str, Any] = {
        "health": {"healthy": health.get("healthy", True), "problems": health.get("problems", [])},
        "filters": f,
        "sections": SECTIONS,
        "has_history": history is not None,
        "paused": None,
        "last_runs": [],
        "runs": None,
        "imports": None,
        "events": None,
    }
    if history is not None:
        context["paused"] = history.get_state(PAUSED_KEY)
        context["last_runs"] = [
            {"title": "Last reconcile", "run": _last_run(history, ("reconcile", "apply"))},
            {"title": "Last poll", "run": _last_run(history, ("import",))},
        ]
        if f.wants("runs"):
            context["runs"] = _runs(history, f)
        if f.wants("imports"):
            context["imports"] = _imports(history, f)
        if f.wants("events"):
            context["events"] = _events(history, f)
    return render(
        "activity.html",
        path="/",
        title="zedonk-ordre activity",
        subtitle="newest first",
        **context,
    )
