"""The daemon: watch the catalogue, reconcile ORDRE to it, and import ORDRE's orders.

- ``supervisor.py``: ``Service``, the process itself: lifecycle, supervision, health, the
  status line and the notices;
- ``loops.py``: the reconcile loop and the import loop, and the state each one reports;
- ``children.py``: each pass in a short-lived child process from a fork server;
- ``journal.py``: journald-friendly logging;
- ``housekeeping.py``: the history's retention, applied every few hours;
- ``watch.py``, ``sdnotify.py``: the file watcher, systemd notify;
- ``web/``: the status pages (uvicorn and Starlette), ``metrics.py``: what /metrics says.
"""

from __future__ import annotations

from daemon.service.children import ChildPasses, PassOutcome
from daemon.service.journal import JournalFormatter, setup_logging
from daemon.service.loops import (
    ImportFn,
    ImportLoop,
    LoopState,
    PassResult,
    ReconcileFn,
    ReconcileLoop,
    backoff,
    tree_fingerprint,
)
from daemon.service.supervisor import Service

__all__ = [
    "ChildPasses",
    "ImportFn",
    "ImportLoop",
    "JournalFormatter",
    "LoopState",
    "PassOutcome",
    "PassResult",
    "ReconcileFn",
    "ReconcileLoop",
    "Service",
    "backoff",
    "setup_logging",
    "tree_fingerprint",
]
