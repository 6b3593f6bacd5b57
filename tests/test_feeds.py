"""The changes protocol at the edge (pure protocol logic, on a mock transport): when a remote
cannot say what changed, the list is read whole; never a guess."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest

from daemon.clients.feeds import in_order, keyed, read_changed, read_whole, storable
from daemon.clients.http import HttpSession, RetryPolicy
from daemon.clients.lists import ORDRE_FEEDS, ZEDONK_FEEDS
from daemon.errors import TransientError

LOOKS = ORDRE_FEEDS["looks"]


def session(answer: Any, status: int = 200) -> HttpSession:
    def handler(request: httpx.Request) -> httpx.Response:
        body = answer(request) if callable(answer) else answer
        return httpx.Response(status, content=json.dumps(body).encode())

    return HttpSession(
        "ordre",
        "http://remote.test/api/v1",
        "t0ken-for-feeds",
        transport=httpx.MockTransport(handler),
        retry=RetryPolicy(attempts=1),
    )


@pytest.mark.parametrize(
    "answer",
    [
        {"items": [], "next_cursor": None, "sync_token": "t2"},  # ignored the parameter
        {"items": [], "deleted": "x", "next_cursor": None, "sync_token": "t2"},
        {"items": [], "deleted": [], "next_cursor": None, "sync_token": None},
        {"items": [], "deleted": [7], "next_cursor": None, "sync_token": "t2"},
        {"items": [{"name": "no id"}], "deleted": [], "next_cursor": None, "sync_token": "t2"},
    ],
)
def test_an_answer_that_is_not_a_changes_answer_means_read_whole(answer: Any) -> None:
    assert read_changed(session(answer), LOOKS, "t1", 200) is None


@pytest.mark.parametrize("status", [400, 410])
def test_a_token_the_remote_does_not_serve_means_read_whole(status: int) -> None:
    error = {"error": {"code": "sync_token_expired", "message": "list again", "details": {}}}
    assert read_changed(session(error, status), LOOKS, "t1", 200) is None


def test_other_failures_are_raised() -> None:
    with pytest.raises(TransientError):
        read_changed(session({"error": {}}, 503), LOOKS, "t1", 200)


def test_changes_are_read_through_their_pages() -> None:
    def answer(request: httpx.Request) -> Any:
        assert request.url.params["changed_since"] == "t1"
        if "cursor" not in request.url.params:
            return {"items": [{"id": "a"}], "deleted": ["b"], "next_cursor": "c1"}
        return {"items": [{"id": "c"}], "deleted": [], "next_cursor": None, "sync_token": "t2"}

    changed = read_changed(session(answer), LOOKS, "t1", 200)
    assert changed is not None
    assert changed.items == [{"id": "a"}, {"id": "c"}]
    assert (changed.deleted, changed.token) == (["b"], "t2")


def test_a_whole_read_keeps_the_token_of_its_last_page() -> None:
    def answer(request: httpx.Request) -> Any:
        if "cursor" not in request.url.params:
            return {"items": [{"id": "a"}], "next_cursor": "c1", "sync_token": None}
        return {"items": [{"id": "b"}], "next_cursor": None, "sync_token": "t9"}

    whole = read_whole(session(answer), LOOKS, 200)
    assert (whole.items, whole.token) == ([{"id": "a"}, {"id": "b"}], "t9")
    plain = read_whole(session({"items": [], "next_cursor": None}), LOOKS, 200)
    assert plain.token is None


def test_items_are_kept_only_when_they_can_be_kept_faithfully() -> None:
    assert storable({"wsp": "1.00"}) == '{"wsp":"1.00"}'
    assert storable({"wsp": Decimal("1.00")}) is None  # a JSON number with a fraction
    assert keyed(LOOKS, [{"id": "a"}, {"id": "a"}]) is None
    assert keyed(LOOKS, [{"id": 1}]) is None
    looks = {
        "x": {"id": "x", "collection_id": "c2", "position": 0},
        "y": {"id": "y", "collection_id": "c1", "position": 5},
        "z": {"id": "z", "collection_id": "c1", "position": 2},
    }
    assert [lk["id"] for lk in in_order(LOOKS, looks) or []] == ["z", "y", "x"]
    assert in_order(LOOKS, {**looks, "w": {"id": "w", "collection_id": "c1"}}) is None
    seasons = ZEDONK_FEEDS["seasons"]
    mixed = {"a": {"code": "a", "starts_on": "2026-01-01"}, "b": {"code": "b", "starts_on": 3}}
    assert in_order(seasons, mixed) is None
