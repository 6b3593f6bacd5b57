"""Planning: the plan of a tree against both remotes, and what a converged pass remembers.

- ``load_tree`` validates connector.yaml and catalogue/ and returns what they hold;
- ``plan_only`` reads Zedonk and ORDRE, resolves the catalogue and plans (no writes), and
  ``plan_tree`` does all of that for a repository (``zedonk-ordre plan``);
- ``plan_structure`` plans an edit that only renames, reorders or moves catalogue entries
  from ORDRE's collections and looks alone, using what the last full pass resolved;
- ``Converged`` is what such a pass hands the daemon's next one;
- ``remember_catalogue`` keeps what a full plan resolved, for the console's catalogue page.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from daemon.clients.ordre import ORDRE_LIMITS, OrdreClient
from daemon.clients.zedonk import ZEDONK_LIMITS, ZedonkClient
from daemon.core.catalogueview import catalogue_view
from daemon.core.choices import check_zedonk_names
from daemon.core.findings import Finding, sort_findings
from daemon.core.guards import guard_findings, refuse_empty_catalogue
from daemon.core.plan import OrdreSnapshot, Plan, make_plan
from daemon.core.resolve import Desired, Structure, ZedonkSnapshot, resolve, resolve_structure
from daemon.core.spec import CatalogueSpec
from daemon.core.words import plural
from daemon.errors import ConfigError
from daemon.gcpause import cyclic_gc_paused
from daemon.reconcile.gather import gather
from daemon.reconcile.warm import fetch_warm, open_cache
from daemon.remotes import open_clients
from daemon.store import catalogue as catalogue_store
from daemon.store.history import History
from daemon.tree.gitinfo import catalogue_commit
from daemon.tree.settings import CONNECTOR_FILE, Settings
from daemon.tree.validation import validate_tree


@dataclass(frozen=True)
class PlanResult:
    plan: Plan
    findings: tuple[Finding, ...]  # validation and resolve findings (no errors)
    git_commit: str | None
    ordre: OrdreSnapshot
    structure: Structure | None = None  # what the catalogue's entries resolved to


@dataclass(frozen=True)
class Converged:
    """What a pass that left ORDRE matching the catalogue knows, for the daemon's next pass.

    Reused only with the same settings; it stands for Zedonk as that pass read it, which the
    daemon's timer pass reads afresh."""

    settings: Settings
    structure: Structure
    clean_files: frozenset[str] = frozenset()  # see CleanFiles


def load_tree(root: Path) -> tuple[Settings, CatalogueSpec, tuple[Finding, ...]]:
    """Settings and catalogue of ``root``; raises ConfigError with every error."""
    report = validate_tree(root)
    report.raise_if_invalid()
    assert report.settings is not None and report.catalogue is not None
    return report.settings, report.catalogue, report.findings


def plan_only(
    settings: Settings,
    catalogue: CatalogueSpec,
    zedonk: ZedonkClient,
    ordre: OrdreClient,
    *,
    strict: bool = False,
    findings: Sequence[Finding] = (),
    gathered: Callable[[], tuple[ZedonkSnapshot, OrdreSnapshot]] | None = None,
) -> PlanResult:
    """Read both remotes (through ``gathered`` when given: the warm reads), resolve and plan.
    Raises ConfigError when the catalogue does not resolve against Zedonk (unknown products,
    a product in two looks, ...), and EmptyCatalogue when it has no collection while ORDRE
    shows some."""
    with cyclic_gc_paused():
        zedonk_state, ordre_state = (
            gathered() if gathered else gather(zedonk, ordre, price_seasons=settings.price_seasons)
        )
        refuse_empty_catalogue(catalogue.is_empty, ordre_state, prune=settings.catalogue.prune)
        resolution = resolve(
            catalogue, zedonk_state, settings.price_seasons, limits=ORDRE_LIMITS, strict=strict
        )
        named = check_zedonk_names(
            settings.zedonk_names(), zedonk_state.seasons, zedonk_state.users, ZEDONK_LIMITS
        )
        every = sort_findings([*findings, *named, *resolution.findings])
        errors = [f for f in every if f.is_error]
        if errors:
            raise _does_not_match(errors)
        plan = make_plan(
            resolution.desired,
            ordre_state,
            prune=settings.catalogue.prune,
            names=ORDRE_LIMITS.names,
            findings=every,
        )
        warned = guard_findings(
            plan,
            settings.catalogue,
            deletes_at=settings.place("catalogue.delete_threshold"),
            updates_at=settings.place("catalogue.update_threshold"),
        )
        if warned:
            every = sort_findings([*every, *warned])
            plan = replace(plan, findings=every)
    commit = catalogue_commit(settings.root)
    return PlanResult(plan, every, commit, ordre_state, resolution.structure)


def _does_not_match(errors: Sequence[Finding]) -> ConfigError:
    """The error for a tree that does not match Zedonk, naming the files at fault."""
    files = {f.file for f in errors}
    settings = CONNECTOR_FILE in files
    what = (
        "connector.yaml and the catalogue do not"
        if settings and len(files) > 1
        else "connector.yaml does not"
        if settings
        else "the catalogue does not"
    )
    return ConfigError(
        f"{what} match Zedonk ({plural(len(errors), 'error')})",
        list(errors),
        hint="fix the entries above"
        + (" in connector.yaml" if settings else "")
        + (" in catalogue/" if len(files) > settings else "")
        + " (or the data in Zedonk)",
    )


def plan_tree(root: Path, *, strict: bool = False, cache: Path | None = None) -> PlanResult:
    """Validate the tree at ``root``, read both remotes and plan (no writes). With ``cache``
    (a folder), the remotes are read through the read cache kept there: only what changed
    since the last plan that used it, and everything as well once
    ``daemon.full_read_interval`` has passed since the last full read (``warm.fetch_warm``).
    Raises ConfigError for an invalid tree, a catalogue that does not resolve or a token that
    is not set."""
    settings, catalogue, findings = load_tree(root)
    kept = open_cache(cache, settings) if cache is not None else None
    try:
        with open_clients(settings) as (zedonk, ordre):
            gathered = None
            if kept is not None:
                reads = fetch_warm(kept, settings, zedonk, ordre)
                gathered = reads.snapshots
            return plan_only(
                settings,
                catalogue,
                zedonk,
                ordre,
                strict=strict,
                findings=findings,
                gathered=gathered,
            )
    finally:
        if kept is not None:
            kept.close()


def plan_structure(
    settings: Settings,
    catalogue: CatalogueSpec,
    structure: Structure,
    ordre: OrdreClient,
    *,
    findings: Sequence[Finding] = (),
) -> PlanResult | None:
    """A plan of collections and looks alone, for an edit that only renames, reorders or moves
    catalogue entries: it reads ORDRE's collections and looks, not Zedonk or the listings.

    None when the edit is more than that (see ``resolve_structure``), when the plan would
    delete something, or when the catalogue is empty: then only a full plan can tell, and
    guard, what goes.
    """
    if catalogue.is_empty:
        return None
    collections = resolve_structure(catalogue, structure)
    if collections is None:
        return None
    ordre_state = OrdreSnapshot(collections=tuple(ordre.collections()), looks=tuple(ordre.looks()))
    # No listings on either side: the same products are exported as in the last full pass.
    desired = Desired(collections=collections, listings=(), customers=())
    plan = make_plan(
        desired,
        ordre_state,
        prune=settings.catalogue.prune,
        names=ORDRE_LIMITS.names,
        findings=findings,
    )
    if any(action.op == "delete" for action in plan.actions):
        return None
    commit = catalogue_commit(settings.root)
    return PlanResult(plan, tuple(findings), commit, ordre_state, structure)


def remember_catalogue(
    history: History, result: PlanResult, *, run_id: int | None, source: str
) -> None:
    """Keep the catalogue as ``result`` (a full plan) resolved it, in the history
    (``daemon.store.catalogue``); a quick plan, which resolved no product, keeps nothing."""
    if result.plan.products or result.plan.tree:
        catalogue_store.record(history, catalogue_view(result.plan), run_id=run_id, source=source)
