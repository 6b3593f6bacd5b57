"""The acting side: gather both remotes, plan, and carry the plan out on ORDRE with a journal.

- ``plan_only`` reads Zedonk and ORDRE, resolves the catalogue and plans (no writes).
- ``apply_plan`` carries out actions in order. Each action's intent is journalled in the
  history before its call and its result after; a failure does not stop independent actions,
  and actions that depend on a failed one are skipped. Listings go in batches.
- ``reconcile`` is the whole pass the daemon runs; it never raises for expected failures.
- Saved plans (``plan --out FILE``) carry a checksum and, per action, the ORDRE version it was
  computed from; ``check_stale`` refuses a plan whose objects changed since.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from daemon.core.findings import Finding
from daemon.core.guards import DeletesRefused, check_deletes
from daemon.errors import ConfigError, RemoteError, ZedonkOrdreError
from daemon.reconcile.applier import ApplyReport, Outcome, Progress, apply_plan, finish_apply_run
from daemon.reconcile.planfile import PlanFileError, SavedPlan, load_plan, plan_document, save_plan
from daemon.reconcile.planning import Converged, PlanResult, load_tree, plan_only, plan_structure
from daemon.remotes import open_clients
from daemon.store.history import History
from daemon.tree.catalogue import CleanFiles
from daemon.tree.gitinfo import catalogue_commit
from daemon.tree.settings import Settings
from daemon.tree.validation import validate_tree

__all__ = [
    "ApplyReport",
    "Converged",
    "Outcome",
    "PlanFileError",
    "PlanResult",
    "Progress",
    "ReconcileResult",
    "SavedPlan",
    "apply_plan",
    "close_interrupted_runs",
    "finish_apply_run",
    "load_plan",
    "load_tree",
    "plan_document",
    "plan_only",
    "plan_structure",
    "reconcile",
    "save_plan",
]

log = logging.getLogger(__name__)


def close_interrupted_runs(history: History) -> int:
    """Close the runs a process that died left "running" (``History.close_interrupted_runs``);
    returns how many. Call it holding the state lock."""
    closed = history.close_interrupted_runs()
    for run_id in closed:
        log.warning("run %s was interrupted; its unfinished actions are marked failed", run_id)
    return len(closed)


# --------------------------------------------------------------------------- the daemon's pass


@dataclass(frozen=True)
class ReconcileResult:
    run_id: int
    result: str  # "no-changes" | "ok" | "partial" | "failed" | "invalid"
    counts: dict[str, int]  # e.g. {"create": 3, "update": 1, "delete": 0, "failed": 0}
    message: str  # one line for logs and notifications
    converged: Converged | None = None  # set when ORDRE now matches the catalogue


def _first_line(findings: Sequence[Finding]) -> str:
    first = findings[0] if findings else None
    if first is None:
        return ""
    where = f"{first.where}: " if first.file else ""
    return f"{where}{first.message}"


def reconcile(
    settings: Settings,
    history: History,
    *,
    trigger: str,
    allow_deletes: bool = False,
    converged: Converged | None = None,
) -> ReconcileResult:
    """Validate the tree, gather both remotes, plan and apply; record the run.

    With ``converged`` from the previous pass (and the same settings), an edit that only
    renames, reorders or moves catalogue entries is planned from ORDRE's collections and
    looks alone (``plan_structure``); anything else gets the full plan.

    The caller holds the state lock. Expected failures (an invalid tree, an unreachable
    remote, refused writes, the delete guard) come back as the result, never as an exception.
    """
    close_interrupted_runs(history)
    run_id = history.start_run("reconcile", trigger, git_commit=catalogue_commit(settings.root))
    empty = {"create": 0, "update": 0, "delete": 0, "failed": 0, "skipped": 0}
    planned: PlanResult | None = None
    quick = False
    clean = CleanFiles(converged.clean_files if converged else frozenset())

    def done(result: str, message: str, counts: dict[str, int] | None = None) -> ReconcileResult:
        counts = counts or dict(empty)
        if quick:
            message += " (collections and looks only: the products are as last read)"
        history.finish_run(
            run_id,
            result,
            summary=counts,
            error=None if result in ("ok", "no-changes") else message,
        )
        now = None
        if result in ("ok", "no-changes") and planned is not None and planned.structure:
            now = Converged(settings, planned.structure, frozenset(clean.now))
        return ReconcileResult(run_id, result, counts, message, now)

    def invalid(exc: ConfigError) -> ReconcileResult:
        findings = [f for f in exc.findings if isinstance(f, Finding) and f.is_error]
        for finding in findings:
            history.record_event(
                "error",
                finding.code,
                str(finding),
                subject=finding.where,
                details=finding.to_json(),
                run_id=run_id,
            )
        if not findings:
            history.record_event("error", "catalogue-invalid", exc.message, run_id=run_id)
        first = _first_line(findings)
        return done("invalid", f"{exc.message}" + (f": {first}" if first else ""))

    try:
        report = validate_tree(settings.root, clean)
        try:
            report.raise_if_invalid()
        except ConfigError as exc:
            return invalid(exc)
        assert report.catalogue is not None
        with open_clients(settings) as (zedonk, ordre):
            if converged is not None and converged.settings == settings:
                planned = plan_structure(
                    settings, report.catalogue, converged.structure, ordre, findings=report.findings
                )
                quick = planned is not None
            try:
                planned = planned or plan_only(
                    settings, report.catalogue, zedonk, ordre, findings=report.findings
                )
            except ConfigError as exc:
                return invalid(exc)
            plan = planned.plan
            if not plan.has_changes:
                return done("no-changes", "ORDRE matches the catalogue")
            try:
                check_deletes(plan, settings.catalogue, allow_deletes=allow_deletes)
            except DeletesRefused as exc:
                history.record_event("error", "deletes-refused", exc.message, run_id=run_id)
                return done("failed", exc.message)
            applied = apply_plan(ordre, history, run_id, plan.actions)
    except ConfigError as exc:  # e.g. a token that is not set
        history.record_event("error", "config", exc.message, run_id=run_id)
        return done("failed", exc.message)
    except RemoteError as exc:
        history.record_event("error", "remote", exc.message, run_id=run_id)
        return done("failed", exc.message)
    except ZedonkOrdreError as exc:
        history.record_event("error", "reconcile", exc.message, run_id=run_id)
        return done("failed", exc.message)
    except Exception as exc:  # a bug must not stop the daemon; it is recorded and logged
        log.exception("reconcile failed unexpectedly")
        message = f"internal error: {type(exc).__name__}: {exc}"
        history.record_event("error", "internal", message, run_id=run_id)
        return done("failed", message)
    counts = applied.counts()
    counts["move"] = len(plan.moves)
    result = applied.result
    message = (
        f"applied {len(applied.of('ok'))} change{'s' if len(applied.of('ok')) != 1 else ''} "
        f"({counts['create']} create, {counts['update']} update, {counts['delete']} delete)"
        if result == "ok"
        else f"{result}: {applied.summary()}"
    )
    return done(result, message, counts)
