"""Applying a plan on ORDRE, action by action, with a journal in the history.

``apply_plan`` carries out actions in order. Each action's intent is journalled in the history
before its call and its result after; a failure does not stop independent actions, and actions
that depend on a failed one are skipped. Listings go in batches. After a few transient
failures in a row ORDRE is taken to be down and the rest is skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from daemon.clients.ordre import BATCH_MAX, OrdreClient
from daemon.core.actions import Action
from daemon.core.model import Listing, OrdreCollection, OrdreCustomer, OrdreLook
from daemon.errors import AuthError, TransientError, ZedonkOrdreError
from daemon.store.history import History

log = logging.getLogger(__name__)

# After this many transient failures in a row ORDRE is taken to be down: the rest is skipped.
MAX_TRANSIENT_IN_A_ROW = 3

Progress = Callable[[int, int, Action, str], None]  # (done, total, action, status)


@dataclass(frozen=True)
class Outcome:
    action: Action
    status: str  # ok | failed | skipped
    error: str | None = None
    remote_id: str | None = None


@dataclass(frozen=True)
class ApplyReport:
    run_id: int
    outcomes: tuple[Outcome, ...]

    def of(self, status: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def result(self) -> str:
        if not self.outcomes:
            return "no-changes"
        failed = self.of("failed") or self.of("skipped")
        if not failed:
            return "ok"
        return "partial" if self.of("ok") else "failed"

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(("create", "update", "delete"), 0)
        for outcome in self.of("ok"):
            counts[outcome.action.op] += 1
        counts["failed"] = len(self.of("failed"))
        counts["skipped"] = len(self.of("skipped"))
        return counts

    def summary(self) -> str:
        ok, failed, skipped = self.of("ok"), self.of("failed"), self.of("skipped")
        if not self.outcomes:
            return "no changes: ORDRE matches the catalogue"
        text = f"{len(ok)} applied, {len(failed)} failed, {len(skipped)} skipped"
        problems = failed or skipped
        first = problems[0] if problems else None
        if first is not None and first.error:
            text += f"; first problem: {first.action.label}: {first.error}"
        return text


def _look_keys(action: Action) -> set[str]:
    """Every product a look action touches: the ones it holds before and after."""
    keys = set(action.payload.product_keys) if isinstance(action.payload, OrdreLook) else set()
    for change in action.changes:
        if change.field == "product_keys" and isinstance(change.before, list):
            keys.update(change.before)
    return keys


@dataclass
class _Applier:
    ordre: OrdreClient
    history: History
    run_id: int
    total: int
    progress: Progress | None
    outcomes: list[Outcome] = field(default_factory=list)
    versions: dict[tuple[str, str], str] = field(default_factory=dict)  # written this run
    collection_ids: dict[str, str] = field(default_factory=dict)  # created this run
    failed_collections: set[str] = field(default_factory=set)
    failed_listings: set[str] = field(default_factory=set)
    blocked_keys: set[str] = field(default_factory=set)  # held by looks that did not change
    blocked_collections: set[str] = field(default_factory=set)
    transient_in_a_row: int = 0
    stop_reason: str | None = None
    seq: int = 0

    # ---------------------------------------------------------------- bookkeeping

    def _journal(self, action: Action) -> int:
        self.seq += 1
        return self.history.record_action(
            self.run_id,
            self.seq,
            op=action.op,
            object_type=action.kind,
            object_key=action.key,
            intent=action.label,
            before={c.field: c.before for c in action.changes} if action.op != "create" else None,
            after=action.body,
            remote_version=action.remote_version or None,
        )

    def _finish(
        self,
        journal_id: int,
        action: Action,
        status: str,
        *,
        error: str | None = None,
        remote_id: str | None = None,
    ) -> None:
        self.history.finish_action(journal_id, status, remote_id=remote_id, error=error)
        self.outcomes.append(Outcome(action, status, error, remote_id))
        if status != "ok":
            self._note_failure(action)
            log.warning("%s: %s%s", action.label, status, f": {error}" if error else "")
        else:
            log.info("%s: ok", action.label)
        if self.progress is not None:
            self.progress(len(self.outcomes), self.total, action, status)

    def _note_failure(self, action: Action) -> None:
        if action.kind == "collection" and action.op != "delete":
            self.failed_collections.add(action.key)
        elif action.kind == "listing" and action.op == "create":
            self.failed_listings.add(action.key)
        elif action.kind == "look":
            self.blocked_keys.update(_look_keys(action))
            self.blocked_collections.add(action.collection)

    def _skip_reason(self, action: Action) -> str | None:
        if self.stop_reason is not None:
            return self.stop_reason
        look = action.payload
        if isinstance(look, OrdreLook):
            if not look.collection_id and action.collection in self.failed_collections:
                return f"its collection {action.collection!r} was not created"
            missing = sorted(self.failed_listings & set(look.product_keys))
            if missing:
                return f"listing {missing[0]} was not created"
            clash = sorted(self.blocked_keys & _look_keys(action))
            if clash:
                return f"the look holding {clash[0]} did not change"
        deleting = action.op == "delete"
        if deleting and action.kind == "collection" and action.key in self.blocked_collections:
            return "one of its looks was not deleted"
        if action.kind == "listing" and action.op == "delete" and action.key in self.blocked_keys:
            return "a look still holds it"
        return None

    def _version(self, action: Action) -> str | None:
        """If-Match for an action: the version seen when planned, or the one we wrote since."""
        if action.op == "create":
            return None
        return self.versions.get((action.kind, action.remote_id), action.remote_version) or None

    def _failed(self, journal_id: int, action: Action, exc: ZedonkOrdreError) -> None:
        if isinstance(exc, AuthError):
            self.stop_reason = f"not attempted: {exc.message}"
        elif isinstance(exc, TransientError):
            self.transient_in_a_row += 1
            if self.transient_in_a_row >= MAX_TRANSIENT_IN_A_ROW:
                self.stop_reason = f"not attempted: ORDRE seems down ({exc.message})"
        self._finish(journal_id, action, "failed", error=exc.message)

    # ---------------------------------------------------------------- running

    def run(self, actions: Sequence[Action]) -> None:
        index = 0
        while index < len(actions):
            action = actions[index]
            if isinstance(action.payload, Listing):
                batch = [action]
                while (
                    index + len(batch) < len(actions)
                    and len(batch) < BATCH_MAX
                    and isinstance(actions[index + len(batch)].payload, Listing)
                ):
                    batch.append(actions[index + len(batch)])
                self._listings(batch)
                index += len(batch)
                continue
            self._one(action)
            index += 1

    def _skip(self, action: Action, reason: str) -> None:
        journal_id = self._journal(action)
        self._finish(journal_id, action, "skipped", error=reason)

    def _listings(self, batch: list[Action]) -> None:
        todo = []
        for action in batch:
            reason = self._skip_reason(action)
            if reason is not None:
                self._skip(action, reason)
            else:
                todo.append(action)
        if len(todo) == 1:
            self._one(todo[0])
            return
        if not todo:
            return
        journal = [self._journal(a) for a in todo]
        if_match = {a.key: v for a in todo if (v := self._version(a))}
        try:
            listings = [a.payload for a in todo if isinstance(a.payload, Listing)]
            written = self.ordre.upsert_listings(listings, if_match=if_match)
        except ZedonkOrdreError as exc:
            if isinstance(exc, AuthError):
                for journal_id, action in zip(journal, todo, strict=True):
                    self._failed(journal_id, action, exc)
                return
            # All or nothing: find the one at fault by writing them one by one.
            log.info("listing batch refused (%s); writing one by one", exc.message)
            for journal_id in journal:
                self.history.finish_action(
                    journal_id, "skipped", error=f"batch refused ({exc.message}); retried alone"
                )
            for action in todo:
                self._one(action)
            return
        self.transient_in_a_row = 0
        for journal_id, action, item in zip(journal, todo, written, strict=True):
            self.versions[("listing", action.key)] = item.listing.version
            self._finish(journal_id, action, "ok", remote_id=action.key)

    def _one(self, action: Action) -> None:
        reason = self._skip_reason(action)
        if reason is not None:
            self._skip(action, reason)
            return
        journal_id = self._journal(action)
        try:
            remote_id, version = self._write(action)
        except ZedonkOrdreError as exc:
            self._failed(journal_id, action, exc)
            return
        except ValueError as exc:  # e.g. a look in a collection the plan does not create
            self._finish(journal_id, action, "failed", error=f"cannot read the action: {exc}")
            return
        self.transient_in_a_row = 0
        if version:
            self.versions[(action.kind, remote_id)] = version
        self._finish(journal_id, action, "ok", remote_id=remote_id)

    def _write(self, action: Action) -> tuple[str, str]:
        """Carry out one action, by what it writes; returns the remote id and the new version.

        Raises the client's errors, and ValueError for an action that cannot be carried out.
        """
        ordre, version, create = self.ordre, self._version(action), action.op == "create"
        match action.payload:
            case None:
                return self._delete(action, version)
            case Listing() as listing:
                written = ordre.upsert_listing(listing, if_match=version, create_only=create)
                return written.key, written.version
            case OrdreCustomer() as customer:
                made_customer = ordre.upsert_customer(
                    customer, if_match=version, create_only=create
                )
                return made_customer.account_code, made_customer.version
            case OrdreCollection() as collection:
                if create:
                    made = ordre.create_collection(collection)
                    self.collection_ids[action.key] = made.id
                else:
                    made = ordre.update_collection(collection, if_match=version)
                return made.id, made.version
            case OrdreLook() as look:
                look = self._in_collection(action, look)
                made_look = (
                    ordre.create_look(look) if create else ordre.update_look(look, if_match=version)
                )
                return made_look.id, made_look.version

    def _delete(self, action: Action, version: str | None) -> tuple[str, str]:
        if action.kind == "listing":
            self.ordre.delete_listing(action.key, if_match=version)
            return action.key, ""
        if action.kind == "collection":
            self.ordre.delete_collection(action.remote_id, if_match=version)
        elif action.kind == "look":
            self.ordre.delete_look(action.remote_id, if_match=version)
        else:
            raise ValueError(f"{action.kind}s are never deleted")
        return action.remote_id, ""

    def _in_collection(self, action: Action, look: OrdreLook) -> OrdreLook:
        """The look with its collection's id: one created earlier in this run has one now."""
        if look.collection_id:
            return look
        collection_id = self.collection_ids.get(action.collection)
        if not collection_id:
            raise ValueError(f"no ORDRE id for collection {action.collection!r}")
        return replace(look, collection_id=collection_id)


def apply_plan(
    ordre: OrdreClient,
    history: History,
    run_id: int,
    actions: Sequence[Action],
    *,
    progress: Progress | None = None,
) -> ApplyReport:
    """Carry out ``actions`` in order, journalling each in run ``run_id``. Never raises for a
    failed write: the report says what was applied, what failed and what was skipped."""
    applier = _Applier(ordre, history, run_id, len(actions), progress)
    applier.run(actions)
    return ApplyReport(run_id, tuple(applier.outcomes))


def finish_apply_run(history: History, report: ApplyReport) -> None:
    failed = report.of("failed") + report.of("skipped")
    history.finish_run(
        report.run_id,
        report.result,
        summary=report.counts(),
        error=report.summary() if failed else None,
    )
