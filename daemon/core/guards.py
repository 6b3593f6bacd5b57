"""Guards on a plan before it is applied (pure): the delete guard and the stale-plan check.

- ``check_deletes`` refuses a plan that deletes more than connector.yaml's
  ``catalogue.delete_threshold`` allows, unless the caller allows deletes;
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
from daemon.core.model import OrdreLook
from daemon.core.plan import OrdreSnapshot, Plan
from daemon.core.words import plural
from daemon.errors import ExitCode, StalePlan, ZedonkOrdreError


class DeletesRefused(ZedonkOrdreError):
    """The plan deletes more than the delete guard allows."""

    exit_code = ExitCode.ERROR


class DeleteGuard(Protocol):
    """The delete guard's thresholds, as connector.yaml's ``catalogue`` settings hold them."""

    @property
    def delete_threshold_count(self) -> int: ...

    @property
    def delete_threshold_share(self) -> float: ...


def check_deletes(plan: Plan, guard: DeleteGuard, *, allow_deletes: bool) -> None:
    """Refuse a plan whose deletes exceed the guard, unless ``allow_deletes``.

    Over the guard means more deletes than ``delete_threshold_count``, or a larger share than
    ``delete_threshold_share`` (0..1) of the catalogue objects ORDRE held when planned.
    Raises DeletesRefused.
    """
    count = len(plan.deletes)
    if count == 0 or allow_deletes:
        return
    share = count / max(plan.tracked, 1)
    if count > guard.delete_threshold_count or share > guard.delete_threshold_share:
        raise DeletesRefused(
            f"the plan deletes {plural(count, 'object')} from ORDRE "
            f"({share:.0%} of {plan.tracked}), over the delete guard "
            f"({guard.delete_threshold_count} objects or "
            f"{guard.delete_threshold_share:.0%})",
            hint="review the plan; if the deletes are intended, apply with --allow-deletes "
            "(or raise catalogue.delete_threshold in connector.yaml)",
        )


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


def check_stale(actions: Sequence[Action], ordre: OrdreSnapshot) -> list[str]:
    """What changed on ORDRE since the plan, object by object; empty when nothing did."""
    collections = {c.id: c for c in ordre.collections}
    by_name = {c.name.casefold(): c for c in ordre.collections}
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
                else by_name.get(action.key.casefold())
            )
        else:
            current = looks.get(action.remote_id) if action.remote_id else None
            if not action.remote_id and isinstance(action.payload, OrdreLook):
                home = by_name.get(action.collection.casefold())
                name = action.payload.name
                current = next(
                    (
                        x
                        for x in ordre.looks
                        if home and x.collection_id == home.id and x.name == name
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


def refuse_if_stale(actions: Sequence[Action], ordre: OrdreSnapshot) -> None:
    """Raise StalePlan, naming each object, when ORDRE changed since the plan was made."""
    changed = check_stale(actions, ordre)
    if changed:
        raise StalePlan(
            f"the saved plan no longer matches ORDRE; {plural(len(changed), 'object')} "
            "changed since it was made:\n  " + "\n  ".join(changed),
            hint="make a new plan with `zedonk-ordre plan --out FILE`, review it, apply that",
        )
