"""Settings that name something in Zedonk, checked against what Zedonk holds (pure).

connector.yaml names the import season, the order owner and the price seasons; only Zedonk
knows whether they exist. ``plan`` (for all three) and the order import (for the first two)
ask the same question here, and get findings that point at the line of connector.yaml and
list the choices Zedonk offers.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

from daemon.core.findings import Finding
from daemon.core.limits import NameRule, ZedonkLimits
from daemon.core.model import Season, User
from daemon.core.spec import Location
from daemon.core.words import plural
from daemon.errors import ConfigError

MAX_CHOICES = 20  # choices a hint lists before it says how many more there are


@dataclass(frozen=True)
class Named:
    """A value a setting names, where it is written (``path`` is its key path, e.g.
    ``prices.seasons[1]``)."""

    path: str
    value: str
    where: Location


@dataclass(frozen=True)
class ZedonkNames:
    """What connector.yaml names in Zedonk. ``price_seasons`` is empty when the file does
    not list them (they default to the import season, which is checked already)."""

    import_season: Named
    order_owner: Named
    price_seasons: tuple[Named, ...] = ()


def check_zedonk_names(
    names: ZedonkNames,
    seasons: Sequence[Season],
    users: Sequence[User],
    limits: ZedonkLimits,
    *,
    import_only: bool = False,
) -> list[Finding]:
    """A finding (an error) for each named season that Zedonk does not have and for an order
    owner that is not an active Zedonk user; ``import_only`` leaves the price seasons out.
    Names match as Zedonk matches them (``limits.seasons``, ``limits.usernames``)."""
    findings: list[Finding] = []
    codes = [s.code for s in seasons]
    wanted = [names.import_season] if import_only else [names.import_season, *names.price_seasons]
    known = {limits.seasons.key(code) for code in codes}
    for season in wanted:
        if limits.seasons.key(season.value) not in known:
            findings.append(
                _finding(
                    season,
                    "zedonk-season-unknown",
                    f"{season.value!r} is not a Zedonk season",
                    _choose(season.value, codes, "Zedonk's seasons", limits.seasons),
                )
            )
    by_key = {limits.usernames.key(u.username): u for u in users}
    owner = names.order_owner
    user = by_key.get(limits.usernames.key(owner.value))
    active = [u.username for u in users if u.active]
    if user is None:
        findings.append(
            _finding(
                owner,
                "zedonk-user-unknown",
                f"{owner.value!r} is not a Zedonk user",
                _choose(
                    owner.value,
                    active,
                    "the active Zedonk users",
                    limits.usernames,
                    near=[u.username for u in users],
                ),
            )
        )
    elif not user.active:
        findings.append(
            _finding(
                owner,
                "zedonk-user-inactive",
                f"{owner.value!r} is an inactive Zedonk user: imported orders need an active "
                "order owner",
                "reactivate the user in Zedonk, or "
                + _choose(owner.value, active, "the active Zedonk users", limits.usernames),
            )
        )
    return findings


def refusal(findings: Sequence[Finding]) -> ConfigError:
    """The error for settings Zedonk does not hold: it carries each finding, so the renderer
    shows every ``connector.yaml:line:col``; one finding is also said in the message."""
    if len(findings) == 1:
        only = findings[0]
        return ConfigError(f"{only.path} {only.message}", list(findings), hint=only.hint)
    return ConfigError(
        f"connector.yaml names what Zedonk does not hold ({plural(len(findings), 'setting')})",
        list(findings),
        hint="fix the settings above in connector.yaml, or the data in Zedonk",
    )


def _finding(named: Named, code: str, message: str, hint: str) -> Finding:
    where = named.where
    return Finding(where.file, where.line, where.column, named.path, code, "error", message, hint)


def _choose(
    value: str,
    choices: Sequence[str],
    what: str,
    rule: NameRule,
    *,
    near: Sequence[str] | None = None,
) -> str:
    """The hint: the closest of ``near`` (the choices, unless given) first when one is
    close, then the choices themselves."""
    pool = list(choices if near is None else near)
    same = [c for c in pool if c.strip().casefold() == value.strip().casefold()]
    close = same or difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    if not choices:
        text = f"Zedonk has none of {what} yet"
        return f"did you mean {same[0]!r}? {text}" if same else text
    listed = ", ".join(choices[:MAX_CHOICES])
    if len(choices) > MAX_CHOICES:
        listed += f" and {len(choices) - MAX_CHOICES} more"
    text = f"choose one of {what}: {listed}"
    if same and not (rule.casefold and rule.trim):
        return f"Zedonk matches them exactly: did you mean {same[0]!r}? Else {text}"
    if close:
        return f"did you mean {close[0]!r}? Else {text}"
    return text
