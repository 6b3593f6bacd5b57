"""Guards on a plan before it is applied (pure): the delete guard and the stale-plan check.

- ``check_deletes`` refuses a plan that deletes more than connector.yaml's
  ``catalogue.delete_threshold`` allows, unless the caller allows deletes;
- ``check_stale`` compares a saved plan with ORDRE as it is now, object by object, and
  ``refuse_if_stale`` raises ``StalePlan`` naming every object that changed since the plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from daemon.core.actions import Action
from daemon.core.limits import NameRule
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
