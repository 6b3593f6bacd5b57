"""What one delivery says: a single notice, or a digest of many, as e-mail and as webhook JSON.

Pure: notices in, text and JSON out. A delivery of one notice reads as that notice (subject
``[zedonk-ordre] problem: <title>``, its details as the body). A digest lists its problems
first, then what was resolved, at most ``DIGEST_CAP`` notices in all; the rest are counted
("... and 40 more") and the history lists them. ``header`` sections, when a caller gives
some, come before everything else in every form (a place for what needs a person first).

Titles and details carry retailers' text. The webhook's ``text`` field, which chat services
display, is escaped for them (``chat_text``); the other fields are data, sent as they are.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from daemon.core.words import plural, printable

DIGEST_CAP = 20  # notices listed in one digest; the others are counted
_MENTION = re.compile(r"@(channel|here|all|everyone)\b", re.IGNORECASE)
_EVENT_LABEL = {"problem": "problem", "resolved": "resolved"}


def chat_text(text: str) -> str:
    """``text`` safe for a chat channel's incoming webhook (Slack, and those that read
    Slack's payload: Mattermost, Rocket.Chat): ``&``, ``<`` and ``>`` become entities, as
    Slack's message formatting rules ask, so that a retailer's PO cannot mention a channel
    (``<!channel>``) or disguise a link (``<https://...|label>``); bare ``@channel``,
    ``@here``, ``@all`` and ``@everyone`` get a zero-width space after the ``@`` so that
    chats reading them bare notify no one; control characters are shown escaped."""
    text = printable(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MENTION.sub("@\u200b\\1", text)


def subject_line(text: str) -> str:
    """One line for a Subject header: line breaks in a title (from a PO, say) would end it."""
    return printable(" ".join(text.split()))


@dataclass(frozen=True)
class Notice:
    """One notice from the outbox: ``event`` is ``problem`` or ``resolved``; ``id`` is stable,
    the same in every delivery that carries it; ``at`` is when it was owed (RFC 3339 UTC)."""

    id: str
    key: str
    event: str
    title: str
    details: str
    at: str

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Notice:
        return cls(
            row["notice_id"], row["key"], row["event"], row["title"], row["details"],
            row["created_at"],
        )  # fmt: skip

    def to_json(self) -> dict[str, str]:
        return {
            "id": self.id,
            "event": self.event,
            "key": self.key,
            "title": self.title,
            "details": self.details,
            "at": self.at,
        }


@dataclass(frozen=True)
class Section:
    """A block of lines under a heading, shown before the notices (``compose``'s header)."""

    heading: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Message:
    """One delivery's content: ``notices`` all it carries (problems first), ``listed`` the
    first ``DIGEST_CAP`` of them, ``id`` stable on every attempt."""

    id: str
    host: str
    at: str
    notices: tuple[Notice, ...]
    listed: tuple[Notice, ...]
    header: tuple[Section, ...] = ()

    @property
    def single(self) -> Notice | None:
        """The notice, when the delivery carries just one and no header."""
        return self.notices[0] if len(self.notices) == 1 and not self.header else None

    @property
    def more(self) -> int:
        return len(self.notices) - len(self.listed)

    def count(self, event: str) -> int:
        return sum(1 for n in self.notices if n.event == event)

    @property
    def title(self) -> str:
        single = self.single
        if single is not None:
            return single.title
        parts = [plural(self.count("problem"), "problem"), f"{self.count('resolved')} resolved"]
        return ", ".join(p for p in parts if not p.startswith("0 ")) or "no notices"


def compose(
    delivery_id: str,
    notices: Sequence[Notice],
    *,
    host: str,
    at: str,
    cap: int = DIGEST_CAP,
    header: Sequence[Section] = (),
) -> Message:
    """The delivery ``delivery_id`` of ``notices`` (in the order they were owed): problems
    first, then recoveries, each in that order; at most ``cap`` listed."""
    ordered = tuple(n for n in notices if n.event == "problem") + tuple(
        n for n in notices if n.event != "problem"
    )
    return Message(delivery_id, host, at, ordered, ordered[:cap], tuple(header))


# --------------------------------------------------------------------------- text


def digest_text(message: Message) -> str:
    """The whole delivery as plain text: the body of an e-mail, the webhook's ``details``."""
    single = message.single
    if single is not None:
        return single.details
    lines = [f"zedonk-ordre on {message.host}: {message.title}."]
    for section in message.header:
        lines += ["", f"{section.heading}:", *section.lines]
    for event, heading in (("problem", "Problems"), ("resolved", "Resolved")):
        listed = [n for n in message.listed if n.event == event]
        total = message.count(event)
        if not total:
            continue
        lines += ["", f"{heading} ({total}):"]
        for notice in listed:
            lines += ["", f"- {notice.title}"]
            lines += [f"  {line}" if line else "" for line in notice.details.splitlines()]
            lines.append(f"  (key {notice.key}, notice {notice.id})")
        if total > len(listed):
            lines += ["", f"{_more(total - len(listed), listed=bool(listed))}: {_SEE_ALL}"]
    return "\n".join(lines)


_SEE_ALL = "`zedonk-ordre history --errors` and the console's runs list them all"


def _more(count: int, *, listed: bool, dots: str = "...") -> str:
    return f"{dots} and {count} more" if listed else f"{count} not listed here"


def chat_summary(message: Message) -> str:
    """What a chat shows: the title and one line per listed notice, escaped for chats."""
    single = message.single
    if single is not None:
        label = _EVENT_LABEL[single.event]
        return chat_text(f"zedonk-ordre {label}: {single.title}\n{single.details}")
    lines = [f"zedonk-ordre on {message.host}: {message.title}"]
    for section in message.header:
        lines += [f"{section.heading}:", *section.lines]
    for event, heading in (("problem", "Problems"), ("resolved", "Resolved")):
        listed = [n for n in message.listed if n.event == event]
        total = message.count(event)
        if total:
            lines.append(f"{heading}:")
            lines += [f"\u2022 {n.title}" for n in listed]
            if total > len(listed):
                lines.append(_more(total - len(listed), listed=bool(listed), dots="\u2026"))
    return chat_text("\n".join(lines))


# --------------------------------------------------------------------------- payloads


def webhook_payload(message: Message) -> str:
    """The webhook body (JSON text), the same on every attempt. ``event`` is ``problem`` or
    ``resolved`` for a single notice (with its ``key``), ``digest`` for several (``key``
    null); ``notices`` lists at most ``DIGEST_CAP`` of them and ``more`` counts the others."""
    single = message.single
    document: dict[str, Any] = {
        "source": "zedonk-ordre",
        "id": message.id,
        "event": single.event if single else "digest",
        "key": single.key if single else None,
        "title": message.title,
        "details": digest_text(message),
        "host": message.host,
        "at": single.at if single else message.at,
        "notices": [n.to_json() for n in message.listed],
        "more": message.more,
        # What chat webhooks show, escaped for them; the fields above are raw data.
        "text": chat_summary(message),
    }
    if message.header:
        document["header"] = [
            {"heading": s.heading, "lines": list(s.lines)} for s in message.header
        ]
    return json.dumps(document)


def email_payload(message: Message) -> str:
    """The e-mail's subject, body and Message-ID (JSON text), the same on every attempt."""
    single = message.single
    if single is not None:
        subject = f"[zedonk-ordre] {_EVENT_LABEL[single.event]}: {single.title}"
        footer = f"problem key: {single.key}\nnotice id: {message.id}"
    else:
        subject = f"[zedonk-ordre] {message.title}"
        footer = f"digest id: {message.id}"
    body = f"{digest_text(message)}\n\n--\nzedonk-ordre on {message.host}\n{footer}\n"
    return json.dumps(
        {
            "subject": subject_line(subject),
            "body": body,
            "key": single.key if single else None,
            "message_id": f"<{message.id}@zedonk-ordre.{_domain(message.host)}>",
        }
    )


def _domain(host: str) -> str:
    """``host`` as it may stand in a Message-ID's right-hand side."""
    return re.sub(r"[^A-Za-z0-9.-]", "-", host) or "localhost"
