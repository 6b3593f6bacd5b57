"""/metrics: the daemon's health and the history's counts in Prometheus's text format.

``render_metrics`` reads the history read-only and the live health the running service
supplies (``Service.health``); the web server (``web.py``) serves what it returns.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from daemon.store.history import History
from daemon.store.ledger import Ledger
from daemon.store.status import SUCCESS_RESULTS


def _labels(**labels: Any) -> str:
    if not labels:
        return ""
    inner = ",".join(
        f'{key}="{str(value).replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for key, value in sorted(labels.items())
    )
    return "{" + inner + "}"


def _timestamp(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


class _Metrics:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str) -> None:
        self.lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]

    def sample(self, name: str, value: float, **labels: Any) -> None:
        self.lines.append(f"{name}{_labels(**labels)} {value:g}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def render_metrics(history: History | None, health: dict[str, Any]) -> str:
    """Prometheus text exposition format (version 0.0.4)."""
    m = _Metrics()
    m.family("zedonk_ordre_up", "gauge", "1 while the daemon serves this page.")
    m.sample("zedonk_ordre_up", 1)
    m.family("zedonk_ordre_healthy", "gauge", "1 when no loop is stuck or failing for long.")
    m.sample("zedonk_ordre_healthy", 1 if health.get("healthy", True) else 0)
    m.family("zedonk_ordre_paused", "gauge", "1 while automatic reconciling is paused.")
    m.sample("zedonk_ordre_paused", 1 if health.get("paused") else 0)
    loops = health.get("loops", {})
    m.family("zedonk_ordre_loop_stuck", "gauge", "1 when a loop is busy for too long.")
    for name, loop in sorted(loops.items()):
        m.sample("zedonk_ordre_loop_stuck", 1 if loop.get("stuck") else 0, loop=name)
    m.family("zedonk_ordre_loop_consecutive_failures", "gauge", "Failed passes in a row, per loop.")
    for name, loop in sorted(loops.items()):
        m.sample("zedonk_ordre_loop_consecutive_failures", loop.get("failures", 0), loop=name)
    if history is None:
        return m.text()

    m.family("zedonk_ordre_runs_total", "counter", "Runs, by kind and result.")
    for row in history.query(
        "SELECT kind, result, COUNT(*) AS n FROM runs GROUP BY kind, result ORDER BY kind, result"
    ):
        m.sample("zedonk_ordre_runs_total", row["n"], kind=row["kind"], result=row["result"])
    m.family("zedonk_ordre_reconciles_total", "counter", "Reconcile passes, by result.")
    for row in history.query(
        "SELECT result, COUNT(*) AS n FROM runs WHERE kind IN ('reconcile', 'apply')"
        " GROUP BY result ORDER BY result"
    ):
        m.sample("zedonk_ordre_reconciles_total", row["n"], result=row["result"])
    m.family("zedonk_ordre_actions_total", "counter", "ORDRE write actions, by op and status.")
    for row in history.query(
        "SELECT op, object_type, status, COUNT(*) AS n FROM actions"
        " GROUP BY op, object_type, status ORDER BY op, object_type, status"
    ):
        m.sample(
            "zedonk_ordre_actions_total",
            row["n"],
            op=row["op"],
            object_type=row["object_type"],
            status=row["status"],
        )
    ledger = Ledger(history)
    states = ledger.count_by_state()
    m.family("zedonk_ordre_orders", "gauge", "ORDRE order submissions in the ledger, by state.")
    for state, count in sorted(states.items()):
        m.sample("zedonk_ordre_orders", count, state=state)
    m.family("zedonk_ordre_orders_imported_total", "counter", "Orders created in Zedonk.")
    m.sample(
        "zedonk_ordre_orders_imported_total", states.get("created", 0) + states.get("partial", 0)
    )
    m.family("zedonk_ordre_orders_failed_total", "counter", "Orders that failed or need a person.")
    m.sample(
        "zedonk_ordre_orders_failed_total",
        states.get("failed", 0) + states.get("needs_attention", 0),
    )
    unmatched = ledger.count_left_out()
    m.family(
        "zedonk_ordre_order_lines_unmatched_total", "counter", "Order lines left out, by reason."
    )
    m.sample("zedonk_ordre_order_lines_unmatched_total", unmatched)
    m.family(
        "zedonk_ordre_last_success_timestamp_seconds",
        "gauge",
        "When a run of each kind last finished without error (Unix time).",
    )
    for row in history.query(
        "SELECT kind, MAX(finished_at) AS at FROM runs"
        f" WHERE result IN ({', '.join(repr(r) for r in SUCCESS_RESULTS)})"
        " GROUP BY kind ORDER BY kind"
    ):
        at = _timestamp(row["at"])
        if at is not None:
            m.sample("zedonk_ordre_last_success_timestamp_seconds", round(at, 3), kind=row["kind"])
    return m.text()
