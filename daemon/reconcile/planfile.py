"""Saved plans (``plan --out FILE``): the JSON plan plus what it was computed from.

A plan file carries a checksum over its content and, per action, the ORDRE version the action
was computed from, so ``apply FILE`` applies exactly what was reviewed, and refuses a plan
whose objects changed on ORDRE since (``daemon.core.guards.check_stale``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from daemon.core.actions import PLAN_FORMAT_VERSION, Action, checksum
from daemon.core.planfmt import plan_json
from daemon.errors import ZedonkOrdreError
from daemon.reconcile.planning import PlanResult


class PlanFileError(ZedonkOrdreError):
    """A saved plan cannot be read, or its checksum does not match its content."""


@dataclass(frozen=True)
class SavedPlan:
    actions: tuple[Action, ...]
    created_at: str
    git_commit: str | None
    checksum: str


def plan_document(result: PlanResult) -> dict[str, Any]:
    """The saved plan: the JSON plan plus what it was computed from, and its checksum."""
    document: dict[str, Any] = {
        **plan_json(result.plan),
        "kind": "zedonk-ordre-plan",
        "plan_file_version": PLAN_FORMAT_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": result.git_commit,
        "versions": {
            f"{a.kind} {a.remote_id}": a.remote_version for a in result.plan.actions if a.remote_id
        },
    }
    document["checksum"] = checksum(document)
    return document


def save_plan(path: Path, result: PlanResult) -> str:
    """Write the plan file; returns its checksum."""
    document = plan_document(result)
    path.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    return str(document["checksum"])


def load_plan(path: Path) -> SavedPlan:
    """The plan saved in ``path``, its actions read back into typed payloads. Raises
    PlanFileError for a file that cannot be read, is not a plan file, was made by another
    version of zedonk-ordre, or was changed after it was saved."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PlanFileError(f"cannot read the plan file {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise PlanFileError(
            f"{path} is not a plan file: {exc}", hint="make one with `zedonk-ordre plan --out`"
        ) from None
    if not isinstance(document, dict) or document.get("kind") != "zedonk-ordre-plan":
        raise PlanFileError(
            f"{path} is not a zedonk-ordre plan file",
            hint="make one with `zedonk-ordre plan --out FILE`",
        )
    version = document.get("plan_file_version")
    if type(version) is int and version < PLAN_FORMAT_VERSION:
        raise PlanFileError(
            f"{path} was made by an older zedonk-ordre (plan file version {version}; this one "
            f"reads version {PLAN_FORMAT_VERSION})",
            hint="make the plan again with `zedonk-ordre plan --out FILE`",
        )
    if version != PLAN_FORMAT_VERSION:
        raise PlanFileError(
            f"{path} has plan file version {version!r}; this "
            f"zedonk-ordre reads version {PLAN_FORMAT_VERSION}",
            hint="make the plan again with this version of zedonk-ordre",
        )
    if document.get("checksum") != checksum(document):
        raise PlanFileError(
            f"{path} was changed after it was saved (its checksum does not match)",
            hint="make the plan again with `zedonk-ordre plan --out FILE`",
        )
    try:
        actions = tuple(Action.from_json(a) for a in document["actions"])
    except (KeyError, TypeError, ValueError) as exc:
        raise PlanFileError(f"{path}: an action cannot be read ({exc})") from None
    return SavedPlan(
        actions, str(document.get("created_at")), document.get("git_commit"), document["checksum"]
    )
