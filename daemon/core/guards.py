"""Guards on a plan before it is applied (pure): the delete and update guards, and the
stale-plan check.

- ``check_deletes`` refuses a plan that deletes more than connector.yaml's
  ``catalogue.delete_threshold`` allows, unless the caller allows deletes;
- ``check_updates`` refuses a plan that rewrites more of ORDRE's listings than
  ``catalogue.update_threshold`` allows, unless the caller allows updates: bad data in
  Zedonk (a wrong price season, a botched import) would otherwise rewrite a whole showroom
  in one pass;
- ``guard_findings`` says in the plan itself when apply will need either flag;
- ``refuse_empty_catalogue`` refuses a catalogue with no collection while ORDRE shows some,
  whatever the caller allows: an emptied catalogue/ is far more often a mistake (a bad
  checkout, a deploy that lost the folder) than a wish to take the showroom down, and taking it
  as "in sync" would hide it;
- ``check_stale`` compares a saved plan with ORDRE as it is now, object by object, and
  ``refuse_if_stale`` raises ``StalePlan`` naming every object that changed since the plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from daemon.core.actions import Action
from daemon.core.findings import Finding, finding_at
from daemon.core.limits import NameRule
from daemon.core.model import OrdreLook
from daemon.core.plan import OrdreSnapshot, Plan
from daemon.core.spec import Location
from daemon.core.words import plural
from daemon.errors import ExitCode, StalePlan, ZedonkOrdreError


class DeletesRefused(ZedonkOrdreError):
    """The plan deletes more than the delete guard allows."""

    exit_code = ExitCode.ERROR


class UpdatesRefused(ZedonkOrdreError):
    """The plan updates more listings than the update guard allows."""

    exit_code = ExitCode.ERROR


class Guards(Protocol):
    """The guards' thresholds, as connector.yaml's ``catalogue`` settings hold them."""

    @property
    def delete_threshold_count(self) -> int: ...

    @property
    def delete_threshold_share(self) -> float: ...

    @property
    def update_threshold_count(self) -> int: ...

    @property
    def update_threshold_share(self) -> float: ...


DeleteGuard = Guards  # the name the delete guard's callers know


def over_delete_guard(plan: Plan, guard: Guards) -> str | None:
    """Why the plan's deletes are over the guard, or None when they are not: more deletes
    than ``delete_threshold_count``, or a larger share than ``delete_threshold_share``
    (0..1) of the catalogue objects ORDRE held when planned."""
    count = len(plan.deletes)
    if count == 0:
        return None
    share = count / max(plan.tracked, 1)
    if count <= guard.delete_threshold_count and share <= guard.delete_threshold_share:
        return None
    return (
        f"the plan deletes {plural(count, 'object')} from ORDRE "
        f"({share:.0%} of {plan.tracked}), over the delete guard "
        f"({guard.delete_threshold_count} objects or {guard.delete_threshold_share:.0%})"
    )


def over_update_guard(plan: Plan, guard: Guards) -> str | None:
    """Why the plan's listing updates are over the guard, or None when they are not: more
    updates than ``update_threshold_count`` and, of the listings ORDRE held when planned,
    a larger share than ``update_threshold_share`` (0..1). Both must hold, so a small
    showroom's everyday edits never need the flag."""
    count = sum(1 for a in plan.actions if a.kind == "listing" and a.op == "update")
    share = count / max(plan.listings, 1)
    if count <= guard.update_threshold_count or share <= guard.update_threshold_share:
        return None
    return (
        f"the plan rewrites {count:,} of the {plan.listings:,} listings on ORDRE "
        f"({share:.0%}), over the update guard (more than {guard.update_threshold_count} "
        f"listings and more than {guard.update_threshold_share:.0%} of them)"
    )


_DELETE_HINT = (
    "review the plan; if the deletes are intended, apply with --allow-deletes "
    "(or raise catalogue.delete_threshold in connector.yaml)"
)
_UPDATE_HINT = (
    "review the plan: bad data in Zedonk (a wrong price season, a botched import) can "
    "rewrite a whole showroom; if the updates are intended, apply with --allow-updates "
    "(or raise catalogue.update_threshold in connector.yaml)"
)


def check_deletes(plan: Plan, guard: Guards, *, allow_deletes: bool) -> None:
    """Refuse a plan whose deletes exceed the guard (``over_delete_guard``), unless
    ``allow_deletes``. Raises DeletesRefused."""
    over = None if allow_deletes else over_delete_guard(plan, guard)
    if over is not None:
        raise DeletesRefused(over, hint=_DELETE_HINT)


def check_updates(plan: Plan, guard: Guards, *, allow_updates: bool) -> None:
    """Refuse a plan whose listing updates exceed the guard (``over_update_guard``), unless
    ``allow_updates``. Raises UpdatesRefused."""
    over = None if allow_updates else over_update_guard(plan, guard)
    if over is not None:
        raise UpdatesRefused(over, hint=_UPDATE_HINT)


def guard_findings(
    plan: Plan, guard: Guards, *, deletes_at: Location, updates_at: Location
) -> list[Finding]:
    """Warnings, for the plan's readers, that apply will refuse this plan without
    --allow-deletes or --allow-updates; each points at the threshold's setting."""
    found: list[Finding] = []
    over = over_delete_guard(plan, guard)
    if over is not None:
        found.append(finding_at(deletes_at, "plan-delete-guard", "warning", over, _DELETE_HINT))
    over = over_update_guard(plan, guard)
    if over is not None:
        found.append(finding_at(updates_at, "plan-update-guard", "warning", over, _UPDATE_HINT))
    return found


class EmptyCatalogue(DeletesRefused):
    """The catalogue has no collection while ORDRE shows some: nothing is planned or applied."""


def refuse_empty_catalogue(catalogue_is_empty: bool, ordre: OrdreSnapshot, *, prune: bool) -> None:
    """Raise EmptyCatalogue when ``catalogue_is_empty`` and ORDRE holds collections; with
    ``prune`` the message says the plan would delete everything, without it that everything
    would be left unmanaged."""
    if not catalogue_is_empty or not ordre.collections:
        return
    held = (
        f"{plural(len(ordre.collections), 'collection')}, {plural(len(ordre.looks), 'look')} "
        f"and {plural(len(ordre.listings), 'listing')}"
    )
    effect = (
        "applied, it would delete all of them"
        if prune
        else "with prune off nothing would be deleted, but nothing would be kept in step either"
    )
    raise EmptyCatalogue(
        f"catalogue/ holds no collection while ORDRE shows {held}: {effect}; "
        "the delete guard refuses an empty catalogue, so nothing was planned or applied",
        hint="restore the catalogue files (`git checkout -- catalogue`, or redeploy the "
        "checkout); to take the showroom down, delete its collections in ORDRE itself",
    )


def check_stale(actions: Sequence[Action], ordre: OrdreSnapshot, names: NameRule) -> list[str]:
    """What changed on ORDRE since the plan, object by object; empty when nothing did.
    ``names`` is how ORDRE compares names: an object made since under a name ORDRE takes
    for the planned one's makes the create stale."""
    collections = {c.id: c for c in ordre.collections}
    by_name = {names.key(c.name): c for c in ordre.collections}
    looks = {x.id: x for x in ordre.looks}
    listings = {x.key: x for x in ordre.listings}
    customers = {c.account_code: c for c in ordre.customers}
    changed: list[str] = []
    for action in actions:
        current: Any
        if action.kind == "listing":
            current = listings.get(action.key)
        elif action.kind == "customer":
            current = customers.get(action.key)
        elif action.kind == "collection":
            current = (
                collections.get(action.remote_id)
                if action.remote_id
                else by_name.get(names.key(action.key))
            )
        else:
            current = looks.get(action.remote_id) if action.remote_id else None
            if not action.remote_id and isinstance(action.payload, OrdreLook):
                home = by_name.get(names.key(action.collection))
                name = names.key(action.payload.name)
                current = next(
                    (
                        x
                        for x in ordre.looks
                        if home and x.collection_id == home.id and names.key(x.name) == name
                    ),
                    None,
                )
        what = f"{action.kind} {action.key}"
        if action.op == "create":
            if current is not None:
                changed.append(f"{what} was created on ORDRE after the plan was made")
        elif current is None:
            changed.append(f"{what} was deleted on ORDRE after the plan was made")
        elif current.version != action.remote_version:
            changed.append(
                f"{what} changed on ORDRE after the plan was made "
                f"(version {action.remote_version} then, {current.version} now)"
            )
    return sorted(set(changed))


def refuse_if_stale(actions: Sequence[Action], ordre: OrdreSnapshot, names: NameRule) -> None:
    """Raise StalePlan, naming each object, when ORDRE changed since the plan was made."""
    changed = check_stale(actions, ordre, names)
    if changed:
        raise StalePlan(
            f"the saved plan no longer matches ORDRE; {plural(len(changed), 'object')} "
            "changed since it was made:\n  " + "\n  ".join(changed),
            hint="make a new plan with `zedonk-ordre plan --out FILE`, review it, apply that",
        )
