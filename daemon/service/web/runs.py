"""The console's run pages: the passes and commands that ran, and one run with its actions.

``listing`` is ``/runs``: runs newest first, filtered by kind and by "problems only", a page
at a time (by run id, so a page stays put while new runs arrive). ``detail`` is
``/runs/ID``: the run, its ORDRE actions (``PAGE_ACTIONS`` a page) and its events, each
event about an order linking to the order's page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from daemon.service.web.paging import PAGE_SIZE, Paging, choice, text, whole
from daemon.service.web.render import render
from daemon.store.history import History

KINDS = ("reconcile", "apply", "import")
PAGE_ACTIONS = 200
MAX_EVENTS = 500


def _counts(summary: Any) -> str:
    if not isinstance(summary, dict):
        return ""
    return ", ".join(f"{k} {v}" for k, v in summary.items() if isinstance(v, int | float) and v)


def listing(history: History | None, query: Mapping[str, str]) -> str:
    """``/runs``, with the filters ``kind``, ``problems`` and ``before`` (a run id)."""
    kind = choice(query, "kind", KINDS)
    problems = text(query, "problems") in ("1", "on", "yes", "true")
    before = whole(query, "before")
    runs: list[dict[str, Any]] = []
    has_next = False
    if history is not None:
        found = history.runs(
            kind=kind or None, errors_only=problems, limit=PAGE_SIZE + 1, before=before
        )
        has_next = len(found) > PAGE_SIZE
        runs = [{**run, "counts": _counts(run["summary"])} for run in found[:PAGE_SIZE]]
    filters = {"kind": kind, "problems": "1" if problems else ""}
    older = {**filters, "before": runs[-1]["id"]} if has_next else None
    return render(
        "runs.html",
        path="/runs",
        title="Runs",
        subtitle="reconciles, applies and order imports, newest first",
        has_history=history is not None,
        kinds=KINDS,
        filters={"kind": kind, "problems": problems, "before": before},
        runs=runs,
        older=older,
        newest={k: v for k, v in filters.items() if v} if before else None,
    )


def detail(history: History | None, run_id: int, query: Mapping[str, str]) -> str | None:
    """``/runs/ID``, its actions a page at a time (``page``); None when there is no such run."""
    run = history.run(run_id) if history is not None else None
    if history is None or run is None:
        return None
    paging = Paging(f"/runs/{run_id}", query, {}, size=PAGE_ACTIONS)
    actions = paging.cut(history.actions(run_id, limit=paging.limit, offset=paging.offset))
    events = history.run_events(run_id, limit=MAX_EVENTS + 1)
    return render(
        "run.html",
        path=f"/runs/{run_id}",
        title=f"Run {run_id}",
        subtitle=f"{run['kind']} ({run['trigger']}) · {run['result']}",
        run={**run, "counts": _counts(run["summary"])},
        actions=actions,
        paging=paging,
        events=events[:MAX_EVENTS],
        more_events=len(events) > MAX_EVENTS,
    )
