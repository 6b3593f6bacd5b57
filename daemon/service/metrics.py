"""/metrics: the daemon's health and the history's tallies, through ``prometheus_client``.

``HistoryCollector`` is a custom collector: each scrape reads the live health the running
service supplies (``Service.health``) and the history's ``tallies`` table, a few dozen rows
that the history's triggers keep as it changes (``daemon.store.migrations``). So a scrape
costs the same with a million runs in the history as with ten, and a counter comes from a
source that only goes up: what retention deletes, or an order retried into success, never
takes a count back. The library writes the exposition (text 0.0.4 by default, OpenMetrics
when the scraper asks for it) with every float at full precision.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector, CollectorRegistry

from daemon.store.history import History

PREFIX = "zedonk_ordre_"
RECONCILE_KINDS = ("reconcile", "apply")
TROUBLED_STATES = ("failed", "needs_attention")

HealthSource = Callable[[], dict[str, Any]]
HistorySource = Callable[[], Any]  # a context manager that yields a History or None


def read_tallies(history: History) -> dict[str, list[tuple[dict[str, str], float]]]:
    """The history's tallies by name: each a list of (labels, value)."""
    found: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
    for row in history.query("SELECT name, labels, value FROM tallies ORDER BY name, labels"):
        labels = {key: str(value) for key, value in json.loads(row["labels"]).items()}
        found[row["name"]].append((labels, float(row["value"])))
    return found


def _counter(name: str, documentation: str, labels: tuple[str, ...]) -> CounterMetricFamily:
    return CounterMetricFamily(PREFIX + name, documentation, labels=list(labels))


def _gauge(name: str, documentation: str, labels: tuple[str, ...]) -> GaugeMetricFamily:
    return GaugeMetricFamily(PREFIX + name, documentation, labels=list(labels))


def _health_metrics(health: dict[str, Any]) -> Iterator[Metric]:
    yield GaugeMetricFamily(PREFIX + "up", "1 while the daemon serves this page.", value=1)
    yield GaugeMetricFamily(
        PREFIX + "healthy",
        "1 when no loop is stuck or failing for long.",
        value=1 if health.get("healthy", True) else 0,
    )
    yield GaugeMetricFamily(
        PREFIX + "paused",
        "1 while automatic reconciling is paused.",
        value=1 if health.get("paused") else 0,
    )
    loops = sorted(health.get("loops", {}).items())
    stuck = _gauge("loop_stuck", "1 when a loop is busy for too long.", ("loop",))
    busy = _gauge("loop_busy", "1 while a loop's pass runs.", ("loop",))
    failures = _gauge(
        "loop_consecutive_failures",
        "Failed passes in a row, per loop.",
        ("loop",),
    )
    for name, loop in loops:
        stuck.add_metric([name], 1 if loop.get("stuck") else 0)
        busy.add_metric([name], 0 if loop.get("busy_for") is None else 1)
        failures.add_metric([name], loop.get("failures", 0))
    yield from (stuck, busy, failures)


def _history_metrics(history: History) -> Iterator[Metric]:
    tallies = read_tallies(history)
    runs = _counter("runs", "Runs, by kind and result.", ("kind", "result"))
    reconciles: dict[str, float] = defaultdict(float)
    for labels, value in tallies["runs_total"]:
        runs.add_metric([labels["kind"], labels["result"]], value)
        if labels["kind"] in RECONCILE_KINDS:
            reconciles[labels["result"]] += value
    yield runs
    family = _counter(
        "reconciles",
        "Reconcile passes and command-line applies, by result.",
        ("result",),
    )
    for result, value in sorted(reconciles.items()):
        family.add_metric([result], value)
    yield family
    family = _counter(
        "actions",
        "ORDRE write actions, by op, object type and status.",
        ("op", "object_type", "status"),
    )
    for labels, value in tallies["actions_total"]:
        family.add_metric([labels["op"], labels["object_type"], labels["status"]], value)
    yield family
    orders = _gauge("orders", "ORDRE order submissions in the ledger, by state.", ("state",))
    for labels, value in tallies["orders"]:
        orders.add_metric([labels["state"]], value)
    yield orders
    imported = sum(value for _, value in tallies["orders_imported_total"])
    yield CounterMetricFamily(
        PREFIX + "orders_imported",
        "Order submissions created in Zedonk (fully or with lines left out).",
        value=imported,
    )
    family = _counter(
        "orders_failed",
        "Times an order submission failed or came to need a person, by the state it came to.",
        ("state",),
    )
    troubled = {labels["state"]: value for labels, value in tallies["orders_failed_total"]}
    for state in sorted({*TROUBLED_STATES, *troubled}):
        family.add_metric([state], troubled.get(state, 0.0))
    yield family
    family = _counter(
        "order_lines_unmatched",
        "Order lines left out of Zedonk orders, by reason (missing, malformed, check-digit, "
        "unknown, ambiguous, quantity, price).",
        ("reason",),
    )
    for labels, value in tallies["order_lines_unmatched_total"]:
        family.add_metric([labels["reason"]], value)
    yield family
    last = _gauge(
        "last_success_timestamp_seconds",
        "When a run of each kind last finished without error (Unix time, microseconds).",
        ("kind",),
    )
    for labels, value in tallies["last_success_timestamp_seconds"]:
        last.add_metric([labels["kind"]], value)
    yield last


class HistoryCollector(Collector):
    """Collects the metrics at each scrape: the live ``health`` and, when ``open_history``
    yields one, the history's tallies."""

    def __init__(self, health: HealthSource, open_history: HistorySource) -> None:
        self.health = health
        self.open_history = open_history

    def collect(self) -> Iterator[Metric]:
        yield from _health_metrics(self.health())
        with self.open_history() as history:
            if history is not None:
                yield from _history_metrics(history)


def exposition(collector: HistoryCollector, accept: str = "") -> tuple[bytes, str]:
    """The scrape's body and content type, in the format the ``accept`` header asks for."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type
