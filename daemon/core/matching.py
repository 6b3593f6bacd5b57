"""Matching desired objects to ORDRE's (pure): what the plan updates rather than recreates,
and the positions it leaves as they are."""

from __future__ import annotations

from bisect import bisect_right
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


def keep_positions(existing: Sequence[int | None]) -> list[int]:
    """Positions (integers >= 0, increasing) for objects in their display order, keeping as
    many of their ``existing`` positions (None for a new object) as that order allows.

    ORDRE shows collections and looks by position, so only the order matters: when some are
    deleted or added, the others keep their numbers and need no update ("position: 22 → 3"
    after 19 deletes). An object keeps its position when the kept ones increase and leave
    room, in whole numbers, for the objects between them; the rest are numbered after the
    kept one before them. ``[5, None, 9]`` stays ``[5, 6, 9]``; ``[0, 1, 2]`` stays.
    """
    # Kept positions p_i (at index i) need p_j - p_i >= j - i for i < j, and p_i >= i for
    # room before the first: a longest non-decreasing run of p_i - i >= 0.
    tails: list[int] = []  # tails[n]: smallest last key of a run of length n + 1
    tail_at: list[int] = []  # its index
    before: dict[int, int] = {}  # index -> the index before it in its run
    for i, position in enumerate(existing):
        if position is None or position < i:
            continue
        key = position - i
        n = bisect_right(tails, key)
        if n == len(tails):
            tails.append(key)
            tail_at.append(i)
        else:
            tails[n], tail_at[n] = key, i
        if n:
            before[i] = tail_at[n - 1]
    kept: set[int] = set()
    index = tail_at[-1] if tail_at else None
    while index is not None:
        kept.add(index)
        index = before.get(index)
    positions: list[int] = []
    for i, position in enumerate(existing):
        if i in kept and position is not None:
            positions.append(position)
        else:
            positions.append(positions[-1] + 1 if positions else 0)
    return positions
