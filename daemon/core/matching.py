"""Matching desired objects to ORDRE's (pure): what the plan updates rather than recreates."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any


def pair(
    wanted: Sequence[Any],
    have: Sequence[Any],
    name_of_wanted: Any,
    name_of_have: Any,
    keys_of_wanted: Any,
    keys_of_have: Any,
    position_of_wanted: Any,
    position_of_have: Any,
    *,
    name_key: Callable[[str], str],
) -> dict[int, Any]:
    """Match desired objects to ORDRE's: by name (exactly, then as ORDRE compares names:
    ``name_key``), then by shared products, then by position.

    Returns index in ``wanted`` -> matched object of ``have``. A rename keeps the object
    (and its id) as long as it keeps some of its products or its place. Matching by ORDRE's
    comparison first means a name ORDRE takes for one it holds always updates that object,
    never creates a second one ORDRE would refuse.
    """
    matched: dict[int, Any] = {}
    taken: set[int] = set()
    for exact in (True, False):
        for i, w in enumerate(wanted):
            if i in matched:
                continue
            for j, h in enumerate(have):
                if j in taken:
                    continue
                a, b = name_of_wanted(w), name_of_have(h)
                if (a == b) if exact else (name_key(a) == name_key(b)):
                    matched[i] = h
                    taken.add(j)
                    break
    overlaps = []
    for i, w in enumerate(wanted):
        if i in matched:
            continue
        mine = set(keys_of_wanted(w))
        for j, h in enumerate(have):
            if j in taken:
                continue
            shared = len(mine & set(keys_of_have(h)))
            if shared:
                overlaps.append((-shared, i, j))
    for _, i, j in sorted(overlaps):
        if i not in matched and j not in taken:
            matched[i] = have[j]
            taken.add(j)
    for i, w in enumerate(wanted):
        if i in matched:
            continue
        for j, h in enumerate(have):
            if j not in taken and position_of_wanted(w) == position_of_have(h):
                matched[i] = h
                taken.add(j)
                break
    return matched
