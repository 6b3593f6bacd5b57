"""The catalogue side, acting: make ORDRE match the catalogue, and journal every write.

Its rooms: ``gather`` reads both remotes, ``planning`` validates the tree and plans,
``planfile`` saves and loads plans, ``applier`` carries a plan out. This module assembles
them into the apply sequence, once, for every entry point:

    lock -> history -> plan -> guard -> run -> apply -> finish

- ``apply_fresh`` (``zedonk-ordre apply``): plan now, show it, guard, confirm, apply;
- ``apply_saved`` (``zedonk-ordre apply FILE``): a saved plan, checked against ORDRE as it is
  now, guarded and applied exactly;
- ``reconcile``: the daemon's pass, whose caller holds the lock. It opens its run first, so
  that an invalid tree or an unreachable remote is recorded too, and never raises for
  expected failures.

``guard_and_apply`` is the tail all three share: the delete and update guards, the
confirmation, the run and the writes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from daemon.clients.ordre import ORDRE_LIMITS, OrdreClient
from daemon.core.attentionitems import product_troubles
from daemon.core.findings import Finding
from daemon.core.guards import (
    DeletesRefused,
    EmptyCatalogue,
    UpdatesRefused,
    check_deletes,
    check_updates,
    refuse_if_stale,
)
from daemon.core.plan import Plan
from daemon.core.spec import CatalogueSpec
from daemon.core.words import plural
from daemon.errors import ConfigError, RemoteError, ZedonkOrdreError
from daemon.notify import Notifier
from daemon.reconcile.applier import ApplyReport, Outcome, Progress, apply_plan, finish_apply_run
from daemon.reconcile.gather import gather_ordre
from daemon.reconcile.planfile import PlanFileError, SavedPlan, load_plan, plan_document, save_plan
from daemon.reconcile.planning import (
    Converged,
    PlanResult,
    load_tree,
    plan_only,
    plan_structure,
    plan_tree,
    remember_catalogue,
)
from daemon.reconcile.warm import converged_mark, fetch_warm, open_cache, record_defects
from daemon.remotes import open_clients
from daemon.store.attention import record_products
from daemon.store.history import History
from daemon.store.lock import StateLock
from daemon.store.readcache import ReadCache
from daemon.tree.catalogue import CleanFiles
from daemon.tree.gitinfo import catalogue_commit
from daemon.tree.settings import Settings, load_settings
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
    "apply_fresh",
    "apply_plan",
    "apply_saved",
    "close_interrupted_runs",
    "finish_apply_run",
    "guard_and_apply",
    "holding_catalogue",
    "load_plan",
    "load_tree",
    "open_run",
    "plan_document",
    "plan_only",
    "plan_structure",
    "plan_tree",
    "reconcile",
    "save_plan",
]

log = logging.getLogger(__name__)

Confirm = Callable[[Plan], bool]  # asked after the guard, before the run: False applies nothing


def close_interrupted_runs(history: History) -> int:
    """Close the runs a process that died left "running" (``History.close_interrupted_runs``);
    returns how many. Call it holding the state lock."""
    closed = history.close_interrupted_runs()
    for run_id in closed:
        log.warning("run %s was interrupted; its unfinished actions are marked failed", run_id)
    return len(closed)


def open_run(history: History, kind: str, trigger: str, git_commit: str | None) -> int:
    """Start a run of ``kind`` in the history, first closing any a dead process left open.
    Call it holding the state lock; returns the run's id."""
    close_interrupted_runs(history)
    return history.start_run(kind, trigger, git_commit=git_commit)


# --------------------------------------------------------------------------- the apply sequence


def guard_and_apply(
    plan: Plan,
    ordre: OrdreClient,
    history: History,
    settings: Settings,
    *,
    allow_deletes: bool,
    allow_updates: bool = False,
    run: Callable[[], int],
    confirm: Confirm | None = None,
    progress: Progress | None = None,
) -> ApplyReport | None:
    """The sequence's tail: the delete and update guards, the confirmation, the run, the
    writes.

    ``run`` opens the history run (or returns the one the caller opened) once the plan passed
    the guards and ``confirm``; the writes are journalled in it. Returns the report, or None
    when ``confirm`` said no. Raises DeletesRefused and UpdatesRefused; never raises for a
    failed write.
    """
    check_deletes(plan, settings.catalogue, allow_deletes=allow_deletes)
    check_updates(plan, settings.catalogue, allow_updates=allow_updates)
    if confirm is not None and not confirm(plan):
        return None
    return apply_plan(ordre, history, run(), plan.actions, progress=progress)


Waiting = Callable[[str], None]  # told once, in words, that a command waits for a pass


@contextmanager
def holding_catalogue(
    settings: Settings, purpose: str, waiting: Waiting | None = None
) -> Iterator[History]:
    """The catalogue's lock, and the history, for a command: it waits for a pass of the
    daemon that holds the lock (telling ``waiting``), and raises LockHeld at once when
    another command holds it."""
    lock = StateLock(settings.state_dir, purpose)
    lock.acquire(behind_daemon=waiting or (lambda _: None))
    try:
        with History.open(settings.state_dir) as history:
            yield history
    finally:
        lock.release()


def apply_fresh(
    root: Path,
    *,
    strict: bool = False,
    allow_deletes: bool = False,
    allow_updates: bool = False,
    show: Callable[[PlanResult], None],
    confirm: Confirm,
    progress: Progress | None = None,
    waiting: Waiting | None = None,
) -> ApplyReport | None:
    """Plan the tree at ``root`` against both remotes, ``show`` the plan, guard it, ask
    ``confirm`` and apply it, holding the catalogue's lock (``holding_catalogue``: after the
    daemon's pass in flight, if any, which ``waiting`` is told about).

    A plan without changes is recorded as a "no-changes" run (the report has no outcomes).
    Returns None when ``confirm`` said no. Raises ConfigError (an invalid tree, a catalogue
    that does not resolve, a token that is not set), LockHeld, DeletesRefused and the
    remotes' errors while planning; a failed write is in the report instead.
    """
    settings, catalogue, findings = load_tree(root)
    with (
        holding_catalogue(settings, "apply", waiting) as history,
        open_clients(settings) as (zedonk, ordre),
    ):
        result = plan_only(settings, catalogue, zedonk, ordre, strict=strict, findings=findings)
        record_products(history, product_troubles(result.plan.products), run_id=None)
        remember_catalogue(history, result, run_id=None, source="apply")
        show(result)
        if not result.plan.has_changes:
            run_id = history.start_run("apply", "cli", git_commit=result.git_commit)
            history.finish_run(run_id, "no-changes", summary=result.plan.counts())
            return ApplyReport(run_id, ())
        report = guard_and_apply(
            result.plan,
            ordre,
            history,
            settings,
            allow_deletes=allow_deletes,
            allow_updates=allow_updates,
            run=lambda: open_run(history, "apply", "cli", catalogue_commit(settings.root)),
            confirm=confirm,
            progress=progress,
        )
        if report is not None:
            finish_apply_run(history, report)
        return report


def apply_saved(
    root: Path,
    plan_file: Path,
    *,
    allow_deletes: bool = False,
    allow_updates: bool = False,
    progress: Progress | None = None,
    waiting: Waiting | None = None,
) -> ApplyReport | None:
    """Apply the plan saved in ``plan_file`` exactly, holding the catalogue's lock (after
    the daemon's pass in flight, which ``waiting`` is told about), once ORDRE is read again
    and every object the plan touches is as it was when planned: a change the daemon applied
    meanwhile makes the plan stale (StalePlan), never applied twice.

    Returns None when the saved plan is empty. Raises PlanFileError, StalePlan, LockHeld,
    DeletesRefused, UpdatesRefused, ConfigError and the remotes' errors; a failed write is
    in the report.
    """
    settings = load_settings(root)
    with holding_catalogue(settings, "apply (a saved plan)", waiting) as history:
        saved = load_plan(plan_file)
        with open_clients(settings) as (_, ordre):
            snapshot = gather_ordre(ordre)
            refuse_if_stale(saved.actions, snapshot, ORDRE_LIMITS.names)
            plan = Plan(saved.actions, tracked=snapshot.tracked, listings=len(snapshot.listings))
            if not plan.has_changes:
                return None
            report = guard_and_apply(
                plan,
                ordre,
                history,
                settings,
                allow_deletes=allow_deletes,
                allow_updates=allow_updates,
                run=lambda: open_run(history, "apply", "cli", saved.git_commit),
                progress=progress,
            )
            assert report is not None  # no confirmation asked
            finish_apply_run(history, report)
    return report


# --------------------------------------------------------------------------- the daemon's pass


@dataclass(frozen=True)
class ReconcileResult:
    run_id: int
    result: str  # "no-changes" | "ok" | "partial" | "failed" | "invalid"
    counts: dict[str, int]  # e.g. {"create": 3, "update": 1, "delete": 0, "failed": 0}
    message: str  # one line for logs and notifications
    converged: Converged | None = None  # set when ORDRE now matches the catalogue
    unchanged: bool = False  # nothing changed since the last pass: ``converged`` still holds


def reconcile(
    settings: Settings,
    history: History,
    *,
    trigger: str,
    allow_deletes: bool = False,
    allow_updates: bool = False,
    converged: Converged | None = None,
    notifier: Notifier | None = None,
) -> ReconcileResult:
    """Validate the tree, gather both remotes, plan and apply; record the run.

    With ``converged`` from the previous pass (and the same settings), an edit that only
    renames, reorders or moves catalogue entries is planned from ORDRE's collections and
    looks alone (``plan_structure``); anything else gets the full plan, read warm through
    the read cache in the state directory (``daemon.reconcile.warm``): when nothing changed
    in either remote or in the files since a pass that planned no change, the pass ends
    there. Every ``full_read_interval`` the pass reads everything whole as well, and a
    difference from the warm state is recorded as a ``cache-defect`` event.

    The caller holds the state lock. Expected failures (an invalid tree, an unreachable
    remote, refused writes, the delete and update guards) come back as the result, never
    as an exception. A plan a guard refuses (an emptied catalogue, too many deletes, too many
    listings rewritten) waits for a person, so ``notifier`` owes a notice of it
    (``GUARD_NOTICE``), resolved once a plan passes.
    """
    run_id = open_run(history, "reconcile", trigger, catalogue_commit(settings.root))
    clean = CleanFiles(converged.clean_files if converged else frozenset())
    reconciling = _Pass(
        settings, history, run_id, allow_deletes, converged, clean, notifier, allow_updates
    )
    try:
        return reconciling.run()
    except Exception as exc:  # a bug must not stop the daemon; it is recorded and logged
        return reconciling.failed(exc)
    finally:
        if reconciling.cache is not None:
            reconciling.cache.close()


GUARD_NOTICE = "deletes-refused"  # the problem key of a plan a guard refused
_NO_COUNTS = {"create": 0, "update": 0, "delete": 0, "failed": 0, "skipped": 0}


def _failure_code(exc: ZedonkOrdreError) -> str:
    """The event code a pass that failed with ``exc`` records."""
    if isinstance(exc, EmptyCatalogue):
        return "catalogue-empty"
    if isinstance(exc, DeletesRefused):
        return "deletes-refused"
    if isinstance(exc, UpdatesRefused):
        return "updates-refused"
    if isinstance(exc, ConfigError):  # e.g. a token that is not set
        return "config"
    if isinstance(exc, RemoteError):
        return "remote"
    return "reconcile"


def _first_line(findings: Sequence[Finding]) -> str:
    first = findings[0] if findings else None
    if first is None:
        return ""
    where = f"{first.where}: " if first.file else ""
    return f"{where}{first.message}" + (f" ({first.hint})" if first.hint else "")


@dataclass
class _Pass:
    """One reconcile pass in its run, step by step; the step that ends it gives the result."""

    settings: Settings
    history: History
    run_id: int
    allow_deletes: bool
    converged: Converged | None
    clean: CleanFiles = field(default_factory=CleanFiles)
    notifier: Notifier | None = None
    allow_updates: bool = False
    planned: PlanResult | None = None
    quick: bool = False  # planned from collections and looks alone
    cache: ReadCache | None = None  # the read cache, once the pass opened it

    def run(self) -> ReconcileResult:
        self.cache = open_cache(self.settings.state_dir, self.settings)
        mark = converged_mark(self.settings)
        with ExitStack() as stack:
            reads, clients = None, None
            if self.cache is not None and self.cache.converged() == mark:
                # The files are as when a pass last planned no change from the cache: ask
                # the remotes first, and stop there when nothing changed either.
                clients = stack.enter_context(open_clients(self.settings))
                reads = fetch_warm(self.cache, self.settings, *clients)
                if reads.unchanged:
                    message = "ORDRE matches the catalogue; nothing changed since the last pass"
                    return replace(self.finish("no-changes", message), unchanged=True)
            report = validate_tree(self.settings.root, self.clean)
            try:
                report.raise_if_invalid()
            except ConfigError as exc:
                return self.invalid(exc)
            assert report.catalogue is not None
            zedonk, ordre = clients or stack.enter_context(open_clients(self.settings))
            self.plan_quick(report.catalogue, report.findings, ordre)
            if reads is None and self.planned is None and self.cache is not None:
                reads = fetch_warm(self.cache, self.settings, zedonk, ordre)
            try:
                planned = self.planned or plan_only(
                    self.settings,
                    report.catalogue,
                    zedonk,
                    ordre,
                    findings=report.findings,
                    gathered=reads.snapshots if reads is not None else None,
                )
            except ConfigError as exc:
                return self.invalid(exc)
            finally:
                if reads is not None:
                    record_defects(reads, self.history, self.run_id)
            self.planned = planned
            if not planned.plan.has_changes:
                if reads is not None:
                    reads.cache.mark_converged(mark)
                return self.finish("no-changes", "ORDRE matches the catalogue")
            applied = guard_and_apply(
                planned.plan,
                ordre,
                self.history,
                self.settings,
                allow_deletes=self.allow_deletes,
                allow_updates=self.allow_updates,
                run=lambda: self.run_id,
            )
        assert applied is not None  # no confirmation asked
        return self.applied(applied, planned.plan)

    def plan_quick(
        self, catalogue: CatalogueSpec, findings: Sequence[Finding], ordre: OrdreClient
    ) -> None:
        """The quick plan, when the last pass converged with these settings and the edit only
        renames, reorders or moves entries (``planning.plan_structure``)."""
        converged = self.converged
        if converged is not None and converged.settings == self.settings:
            self.planned = plan_structure(
                self.settings, catalogue, converged.structure, ordre, findings=findings
            )
            self.quick = self.planned is not None

    def applied(self, report: ApplyReport, plan: Plan) -> ReconcileResult:
        counts = report.counts()
        counts["move"] = len(plan.moves)
        result = report.result
        ok = report.of("ok")
        message = (
            f"applied {plural(len(ok), 'change')} "
            f"({counts['create']} create, {counts['update']} update, {counts['delete']} delete)"
            if result == "ok"
            else f"{result}: {report.summary()}"
        )
        return self.finish(result, message, counts)

    def invalid(self, exc: ConfigError) -> ReconcileResult:
        """The tree is invalid, or does not resolve against Zedonk: every error is an event."""
        findings = [f for f in exc.findings if isinstance(f, Finding) and f.is_error]
        for finding in findings:
            self.history.record_event(
                "error",
                finding.code,
                str(finding),
                subject=finding.where,
                details=finding.to_json(),
                run_id=self.run_id,
            )
        if not findings:
            self.history.record_event("error", "catalogue-invalid", exc.message, run_id=self.run_id)
        first = _first_line(findings)
        return self.finish("invalid", f"{exc.message}" + (f": {first}" if first else ""))

    def failed(self, exc: Exception) -> ReconcileResult:
        """An expected failure is recorded under its code; anything else is a bug, logged with
        its traceback (call it from the ``except`` block)."""
        if isinstance(exc, ZedonkOrdreError):
            code, message = _failure_code(exc), exc.message
        else:
            log.exception("reconcile failed unexpectedly")
            code, message = "internal", f"internal error: {type(exc).__name__}: {exc}"
        self.history.record_event("error", code, message, run_id=self.run_id)
        if isinstance(exc, DeletesRefused | UpdatesRefused) and self.notifier is not None:
            guard = "update" if isinstance(exc, UpdatesRefused) else "delete"
            title = f"the {guard} guard refused the catalogue; nothing was applied"
            details = message + (f"\nHint: {exc.hint}" if exc.hint else "")
            self.notifier.problem(GUARD_NOTICE, title, details, run_id=self.run_id)
        return self.finish("failed", message)

    def finish(
        self, result: str, message: str, counts: dict[str, int] | None = None
    ) -> ReconcileResult:
        """Close the run; a pass that left ORDRE matching the catalogue hands on Converged."""
        counts = counts or dict(_NO_COUNTS)
        if self.planned is not None and not self.quick:  # the products as read just now
            troubles = product_troubles(self.planned.plan.products)
            record_products(self.history, troubles, run_id=self.run_id)
            remember_catalogue(self.history, self.planned, run_id=self.run_id, source="reconcile")
        if self.quick:
            message += " (collections and looks only: the products are as last read)"
        converged = result in ("ok", "no-changes")
        self.history.finish_run(
            self.run_id, result, summary=counts, error=None if converged else message
        )
        if self.notifier is not None and result in ("ok", "no-changes", "partial"):
            self.notifier.resolved(GUARD_NOTICE, run_id=self.run_id)  # the plan passed it
        now = None
        if converged and self.planned is not None and self.planned.structure:
            now = Converged(self.settings, self.planned.structure, frozenset(self.clean.now))
        return ReconcileResult(self.run_id, result, counts, message, now)
