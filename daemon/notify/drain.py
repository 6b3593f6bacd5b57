"""The drainer: sends what the outbox owes, outside the import and reconcile passes.

Each channel (e-mail, webhook) is drained on its own, so a slow or broken one holds up
neither the other nor any pass. One round on a channel:

1. **Group.** The notices owed on the channel that no delivery carries yet become one delivery
   once they have settled: every pass that owed one has finished and none came for
   ``quiet`` seconds, or the oldest has waited ``max_wait`` seconds. One notice goes out as
   itself; several as one digest (``daemon.notify.digest``), headed by what needs a person
   now (``daemon.store.attention``). The payload is made here, once.
2. **Send.** The channel's pending deliveries go out oldest first. The first that fails stops
   the round and waits (``retry_after``: doubling from ``RETRY_BASE`` up to ``RETRY_CAP``),
   and so does every delivery behind it: the back-off is the channel's. A delivery that has
   failed for ``RETRY_FOR`` is given up, with an error in the history.

Delivery is at least once: an attempt whose answer is lost (a webhook that answers after the
deadline) is sent again, with the same id and body, and receivers drop what they have seen.

``Drainer.start`` runs a thread per channel for the daemon (and for ``orders import`` when it
polls); ``drain_now`` is the bounded drain the command line runs after a pass.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from daemon.core.attention import brief_lines
from daemon.errors import ZedonkOrdreError
from daemon.notify.digest import Notice, Section, compose, email_payload, webhook_payload
from daemon.store.attention import inbox
from daemon.store.history import History
from daemon.store.outbox import Outbox, new_id
from daemon.tree.settings import Settings

log = logging.getLogger(__name__)

CHANNELS = ("email", "webhook")
GROUP_QUIET = 2.0  # seconds without a new notice before a group goes out
GROUP_MAX_WAIT = 30.0  # seconds the oldest notice of a group waits at most
RETRY_BASE = 15.0  # seconds before the first retry; doubling after each failure
RETRY_CAP = 30 * 60.0  # the longest wait between two attempts
RETRY_FOR = timedelta(days=3)  # a delivery failing this long is given up
SEND_DEADLINE = 20.0  # seconds one attempt may take, however slowly the server answers
TICK = 1.0  # how often a channel's thread looks at the outbox


def retry_after(attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt: doubling from RETRY_BASE."""
    return float(min(RETRY_CAP, RETRY_BASE * 2 ** max(0, attempts - 1)))


@dataclass
class Round:
    """What one round on a channel did: deliveries sent, the error that stopped it (if any),
    and how many notices are still owed on the channel."""

    sent: int = 0
    error: str | None = None
    waiting: int = 0


class Drainer:
    """Groups and sends the outbox of ``history`` with the channels ``settings()`` sets now.

    ``clock`` gives the time as an aware datetime (tests move it forward); ``deadline`` bounds
    one attempt, in seconds."""

    def __init__(
        self,
        settings: Callable[[], Settings],
        history: History,
        *,
        quiet: float = GROUP_QUIET,
        max_wait: float = GROUP_MAX_WAIT,
        deadline: float = SEND_DEADLINE,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.history = history
        self.outbox = Outbox(history)
        self.quiet = quiet
        self.max_wait = max_wait
        self.deadline = deadline
        self.clock = clock
        self.host = socket.gethostname()
        self._stop = threading.Event()
        self._wake = {channel: threading.Event() for channel in CHANNELS}
        self._threads: dict[str, threading.Thread] = {}

    def configured(self) -> tuple[str, ...]:
        settings = self.settings()
        return tuple(
            channel
            for channel, on in zip(CHANNELS, (settings.email, settings.webhook), strict=True)
            if on is not None
        )

    # ------------------------------------------------------------------ one round

    def round(self, channel: str, *, group_now: bool = False, until: float | None = None) -> Round:
        """Group what has settled on ``channel`` (everything, with ``group_now``), then send
        its pending deliveries until one fails or ``until`` (``time.monotonic()``) passes.

        While the channel fails, what is owed meanwhile stays ungrouped: once the channel
        takes the delivery it failed on, the rest goes out as one digest, not one per pass."""
        done = Round()
        if not any(d["attempts"] for d in self.outbox.pending(channel)):
            self._group(channel, group_now=group_now)
        if self._send_pending(channel, done, until) and self._group(channel, group_now=group_now):
            self._send_pending(channel, done, until)  # what waited behind a failing delivery
        done.waiting = self.outbox.unsent(channel)
        return done

    def _send_pending(self, channel: str, done: Round, until: float | None) -> bool:
        """Send the channel's pending deliveries, oldest first; True when none is left."""
        for delivery in self.outbox.pending(channel):
            now = self.clock()
            late = until is not None and time.monotonic() >= until
            if late or self._stop.is_set() or _at(delivery["next_attempt_at"]) > now:
                return False
            if now - _at(delivery["created_at"]) > RETRY_FOR:
                self._give_up(channel, delivery)
                continue
            error = self._send(channel, delivery)
            if error is not None:
                done.error = error
                return False
            done.sent += 1
        return True

    def _group(self, channel: str, *, group_now: bool) -> bool:
        """One delivery of the notices owed on ``channel`` once they settled (at once with
        ``group_now``); True when it made one."""
        with self.history.transaction() as conn:
            rows = self.outbox.ungrouped(conn, channel)
            if not rows or not (group_now or self._settled(rows)):
                return False
            notices = [Notice.from_row(row) for row in rows]
            delivery_id = notices[0].id if len(notices) == 1 else new_id()
            now = self.clock().isoformat()
            header = self._needs_a_person() if len(notices) > 1 else ()
            message = compose(delivery_id, notices, host=self.host, at=now, header=header)
            payload = email_payload(message) if channel == "email" else webhook_payload(message)
            ids = [n.id for n in notices]
            self.outbox.add_delivery(conn, channel, delivery_id, ids, payload, now)
        return True

    def _needs_a_person(self) -> tuple[Section, ...]:
        """The head of a digest: what needs a person now (the inbox's open items)."""
        found = inbox(self.history, now=self.clock())
        if not found.open:
            return ()
        heading = f"Needs a person ({len(found.open)}; `zedonk-ordre attention`)"
        return (Section(heading, tuple(brief_lines(found))),)

    def _settled(self, rows: list[dict[str, Any]]) -> bool:
        now = self.clock()
        if (now - _at(rows[0]["created_at"])).total_seconds() >= self.max_wait:
            return True
        if any(row["run_result"] == "running" for row in rows):
            return False  # the pass may owe more: they go out together
        return (now - _at(rows[-1]["created_at"])).total_seconds() >= self.quiet

    def _send(self, channel: str, delivery: dict[str, Any]) -> str | None:
        """One attempt; the error, or None once the channel took it."""
        from daemon.notify.channels import send_email, send_webhook  # httpx, smtplib: on use

        settings = self.settings()
        try:
            if channel == "email":
                assert settings.email is not None
                send_email(settings.email, delivery["payload"], deadline=self.deadline)
            else:
                assert settings.webhook is not None
                send_webhook(
                    settings.webhook, delivery["id"], delivery["payload"], deadline=self.deadline
                )
        except ZedonkOrdreError as exc:  # NotifyError, or a secret that cannot be read
            error = exc.message
        except Exception as exc:  # whatever else breaks, the channel backs off, not spins
            log.debug("sending on %s failed", channel, exc_info=True)
            error = f"{channel}: {type(exc).__name__}"
        else:
            self.outbox.note_sent(channel, delivery["id"])
            return None
        self._note_failure(channel, delivery, error)
        return error

    def _note_failure(self, channel: str, delivery: dict[str, Any], error: str) -> None:
        attempts = delivery["attempts"] + 1
        wait = retry_after(attempts)
        next_at = (self.clock() + timedelta(seconds=wait)).isoformat()
        self.outbox.note_failure(channel, delivery["id"], error, next_at)
        what, subject = _what(delivery)
        log.warning("%s not sent by %s (attempt %d): %s", what, channel, attempts, error)
        self.history.record_event(
            "warning",
            "notification-failed",
            f"{what} was not sent by {channel} (attempt {attempts}): {error}; "
            f"next try in {wait:.0f}s",
            subject=subject,
            details={
                "channel": channel,
                "delivery": delivery["id"],
                "attempts": attempts,
                "next_attempt_at": next_at,
            },
        )

    def _give_up(self, channel: str, delivery: dict[str, Any]) -> None:
        error = delivery["last_error"] or "never sent"
        self.outbox.expire(channel, delivery["id"], error)
        what, subject = _what(delivery)
        self.history.record_event(
            "error",
            "notification-expired",
            f"{what} was given up on {channel} after {delivery['attempts']} attempts over "
            f"{RETRY_FOR.days} days: {error}",
            subject=subject,
            details={"channel": channel, "delivery": delivery["id"]},
        )

    # ------------------------------------------------------------------ the command line

    def drain_now(self, *, within: float) -> dict[str, Round]:
        """Group everything owed and send it, channels side by side, starting no attempt
        after ``within`` seconds (an attempt takes at most ``deadline`` more). For the command
        line after a pass: what is not sent stays owed for the next run or the daemon."""
        until = time.monotonic() + within
        rounds: dict[str, Round] = {}

        def drain(channel: str) -> None:
            try:
                rounds[channel] = self.round(channel, group_now=True, until=until)
            except Exception as exc:  # the history is busy, say: the notices stay owed
                log.exception("the %s notices could not be drained", channel)
                rounds[channel] = Round(error=f"{type(exc).__name__}: {exc}")

        threads = [threading.Thread(target=drain, args=(c,)) for c in self.configured()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(within + self.deadline + 1)
        return rounds

    # ------------------------------------------------------------------ threads

    def start(self) -> None:
        """One thread per channel, looking at the outbox every TICK seconds or when poked."""
        for channel in CHANNELS:
            self._start(channel)

    def check(self) -> list[str]:
        """Start again the channel threads that died; returns their channels."""
        dead = [c for c, t in self._threads.items() if not t.is_alive() and not self._stop.is_set()]
        for channel in dead:
            log.error("the %s notice thread died; starting it again", channel)
            self._start(channel)
        return dead

    def poke(self) -> None:
        """Look at the outbox now (a pass has just finished)."""
        for wake in self._wake.values():
            wake.set()

    def stop(self, grace: float = 2.0) -> None:
        """Stop the threads, waiting up to ``grace`` seconds for an attempt in flight; one
        that is still sending is abandoned (its delivery stays pending and is sent again)."""
        self._stop.set()
        self.poke()
        ends = time.monotonic() + grace
        for thread in self._threads.values():
            thread.join(max(0.0, ends - time.monotonic()))

    def _start(self, channel: str) -> None:
        thread = threading.Thread(
            target=self._run, args=(channel,), name=f"notices-{channel}", daemon=True
        )
        self._threads[channel] = thread
        thread.start()

    def _run(self, channel: str) -> None:
        wake = self._wake[channel]
        while not self._stop.is_set():
            try:
                if channel in self.configured():
                    self.round(channel)
            except Exception:  # never let the thread die on a busy or closing history
                if not self._stop.is_set():
                    log.exception("draining the %s notices failed", channel)
            wake.wait(TICK)
            wake.clear()


def _at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


def _what(delivery: dict[str, Any]) -> tuple[str, str]:
    """How a delivery is named in the history, and the subject it is recorded under: the
    problem key of a single notice, the id of a digest."""
    key = json.loads(delivery["payload"]).get("key")
    if key:
        return f"the notice for {key}", key
    return f"a digest of {delivery['notices']} notices ({delivery['id']})", delivery["id"]
