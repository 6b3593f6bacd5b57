"""Retry policy, deadline and error mapping of the shared HTTP session (httpx.MockTransport)."""

from __future__ import annotations

import gzip
import json
import logging
import random
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime

import httpx
import pytest
from sandbox_harness import Sandboxes

from daemon.clients.failures import parse_retry_after
from daemon.clients.http import HttpSession, RetryPolicy
from daemon.errors import (
    AuthError,
    BadResponse,
    Conflict,
    NotFound,
    OutcomeUnknown,
    RateLimited,
    RemoteError,
    TransientError,
)

TOKEN = "sk-test-9f8e7d6c5b4a"
Handler = Callable[[httpx.Request], httpx.Response]


class FakeTime:
    """A clock that only moves when the session sleeps (or a test says so)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def session(
    handler: Handler,
    time: FakeTime | None = None,
    retry: RetryPolicy | None = None,
    deadline: float = 30.0,
) -> HttpSession:
    time = time or FakeTime()
    return HttpSession(
        "zedonk",
        "http://zedonk.test/api/",
        TOKEN,
        transport=httpx.MockTransport(handler),
        retry=retry or RetryPolicy(attempts=4, budget=60.0),
        deadline=deadline,
        sleep=time.sleep,
        clock=time.clock,
        rng=random.Random(7),
    )


def scripted(*responses: httpx.Response | Exception) -> tuple[Handler, list[httpx.Request]]:
    """A handler that answers with each response in turn and records the requests."""
    seen: list[httpx.Request] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler, seen


def ok(body: object = None, **headers: str) -> httpx.Response:
    return httpx.Response(200, json=body if body is not None else {}, headers=headers)


# --------------------------------------------------------------------------- Retry-After


def test_retry_after_delta_seconds() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 0 ") == 0.0


def test_retry_after_http_date() -> None:
    now = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    header = format_datetime(now + timedelta(seconds=42), usegmt=True)
    assert parse_retry_after(header, now=now) == 42.0


def test_retry_after_in_the_past_is_zero_and_garbage_is_none() -> None:
    now = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Sun, 01 Mar 2026 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after("-5") is None
    assert parse_retry_after(None) is None


def test_429_waits_retry_after_then_succeeds() -> None:
    handler, seen = scripted(
        httpx.Response(429, json={"error": "slow down"}, headers={"Retry-After": "3"}),
        ok({"id": 1}),
    )
    time = FakeTime()
    assert session(handler, time).get("/things/1").body == {"id": 1}
    assert time.sleeps == [3.0]
    assert len(seen) == 2


def test_503_honours_http_date_retry_after() -> None:
    when = datetime.now(UTC) + timedelta(seconds=30)
    handler, _ = scripted(
        httpx.Response(503, headers={"Retry-After": format_datetime(when, usegmt=True)}),
        ok(),
    )
    time = FakeTime()
    session(handler, time).get("/x")
    assert len(time.sleeps) == 1
    assert 27.0 <= time.sleeps[0] <= 30.0


def test_retry_after_is_clamped_to_the_maximum() -> None:
    handler, _ = scripted(httpx.Response(429, headers={"Retry-After": "3600"}), ok())
    time = FakeTime()
    policy = RetryPolicy(attempts=3, budget=100.0, max_retry_after=20.0)
    session(handler, time, retry=policy).get("/x")
    assert time.sleeps == [20.0]


def test_429_beyond_the_budget_gives_up_with_rate_limited() -> None:
    handler, seen = scripted(httpx.Response(429, headers={"Retry-After": "50"}))
    time = FakeTime()
    policy = RetryPolicy(attempts=5, budget=10.0, max_retry_after=100.0)
    with pytest.raises(RateLimited) as caught:
        session(handler, time, retry=policy).get("/x")
    assert caught.value.retry_after == 50.0
    assert time.sleeps == []
    assert len(seen) == 1


def test_429_on_post_is_retried_because_it_was_refused_unprocessed() -> None:
    handler, seen = scripted(httpx.Response(429, headers={"Retry-After": "1"}), ok({"id": "9"}))
    assert session(handler).post("/orders", {"a": 1}).body == {"id": "9"}
    assert [r.method for r in seen] == ["POST", "POST"]


# --------------------------------------------------------------------------- backoff


def test_backoff_is_jittered_and_bounded() -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_max=4.0)
    rng = random.Random(1)
    for retry in range(1, 10):
        cap = min(4.0, 0.5 * 2 ** (retry - 1))
        waits = [policy.backoff(retry, rng) for _ in range(200)]
        assert all(0.0 <= w <= cap for w in waits)
        assert max(waits) > cap * 0.8  # full jitter spreads over the whole range
        assert len(set(waits)) > 100


def test_get_on_5xx_is_retried_until_success() -> None:
    handler, seen = scripted(httpx.Response(500), httpx.Response(502), ok({"n": 2}))
    time = FakeTime()
    assert session(handler, time).get("/x").body == {"n": 2}
    assert len(seen) == 3
    assert len(time.sleeps) == 2
    assert time.sleeps[0] <= 0.25 and time.sleeps[1] <= 0.5


def test_attempts_bound_the_retries() -> None:
    handler, seen = scripted(*[httpx.Response(500) for _ in range(3)])
    time = FakeTime()
    with pytest.raises(TransientError) as caught:
        session(handler, time, retry=RetryPolicy(attempts=3)).get("/x")
    assert len(seen) == 3
    assert "after 3 attempts" in str(caught.value)
    assert caught.value.status == 500


def test_total_budget_bounds_the_retries() -> None:
    handler, seen = scripted(*[httpx.Response(503, headers={"Retry-After": "4"})] * 10)
    time = FakeTime()
    with pytest.raises(TransientError):
        session(handler, time, retry=RetryPolicy(attempts=10, budget=10.0)).get("/x")
    assert time.sleeps == [4.0, 4.0]  # a third wait would end past the 10 s budget
    assert len(seen) == 3


def test_put_and_delete_are_retried_on_5xx() -> None:
    handler, seen = scripted(httpx.Response(503), ok(), httpx.Response(504), ok())
    s = session(handler)
    s.put("/x/1", {"a": 1}, if_match='"v1"')
    s.delete("/x/1", if_match='"v2"')
    assert [r.method for r in seen] == ["PUT", "PUT", "DELETE", "DELETE"]
    assert seen[1].headers["If-Match"] == '"v1"'


def test_post_on_5xx_is_not_retried_and_outcome_is_unknown() -> None:
    handler, seen = scripted(httpx.Response(500, json={"error": "boom"}), ok())
    time = FakeTime()
    with pytest.raises(OutcomeUnknown) as caught:
        session(handler, time).post("/orders", {"ref": "R1"})
    assert len(seen) == 1
    assert time.sleeps == []
    assert "look the object up" in (caught.value.hint or "")


def test_post_timeout_and_reset_are_outcome_unknown() -> None:
    for failure in (
        httpx.ReadTimeout("read timed out"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadError("connection reset by peer"),
    ):
        handler, seen = scripted(failure, ok())
        with pytest.raises(OutcomeUnknown):
            session(handler).post("/orders", {"ref": "R1"})
        assert len(seen) == 1, failure


def test_post_with_idempotency_key_is_retried() -> None:
    handler, seen = scripted(httpx.ReadTimeout("slow"), ok({"id": "1"}))
    assert session(handler).post("/orders", {}, idempotency_key="k-1").body == {"id": "1"}
    assert [r.headers["Idempotency-Key"] for r in seen] == ["k-1", "k-1"]


def test_connect_error_is_retried_for_any_method() -> None:
    handler, seen = scripted(httpx.ConnectError("refused"), ok({"id": "5"}))
    assert session(handler).post("/orders", {}).body == {"id": "5"}
    handler, seen = scripted(httpx.ConnectTimeout("slow connect"), ok())
    session(handler).get("/x")
    assert len(seen) == 2


def test_connect_error_exhausted_is_transient_not_unknown() -> None:
    handler, _ = scripted(*[httpx.ConnectError("refused")] * 2)
    with pytest.raises(TransientError) as caught:
        session(handler, retry=RetryPolicy(attempts=2)).post("/orders", {})
    assert not isinstance(caught.value, OutcomeUnknown)
    assert "cannot connect" in str(caught.value)


def test_get_timeout_is_retried() -> None:
    handler, seen = scripted(httpx.ReadTimeout("slow"), ok())
    session(handler).get("/x")
    assert len(seen) == 2


# --------------------------------------------------------------------------- status mapping


@pytest.mark.parametrize(
    ("status", "error"),
    [(401, AuthError), (403, AuthError), (404, NotFound), (409, Conflict), (412, Conflict)],
)
def test_client_errors_map_to_types_without_retry(status: int, error: type[RemoteError]) -> None:
    handler, seen = scripted(
        httpx.Response(status, json={"error": {"code": "x", "message": "nope"}}), ok()
    )
    with pytest.raises(error) as caught:
        session(handler).get("/x")
    assert caught.value.status == status
    assert "GET /x" in str(caught.value) and "nope" in str(caught.value)
    assert len(seen) == 1


def test_other_4xx_is_a_plain_remote_error_with_the_servers_reason() -> None:
    error = {
        "code": "invalid",
        "message": "the order is invalid",
        "details": {"errors": [{"field": "season", "message": "is required"}]},
    }
    handler, _ = scripted(httpx.Response(422, json={"error": error}))
    with pytest.raises(RemoteError) as caught:
        session(handler).post("/orders", {})
    assert type(caught.value) is RemoteError
    assert str(caught.value) == (
        "zedonk: POST /orders: HTTP 422: invalid; the order is invalid; season: is required"
    )


@pytest.mark.parametrize(
    ("message", "causes", "expected"),
    [
        (
            "order_ref: must be at most 100 characters",
            [("order_ref", "must be at most 100 characters")],
            "invalid; order_ref: must be at most 100 characters",
        ),
        (
            "lines[0].quantity: must be at least 1 (and 1 more)",
            [("lines[0].quantity", "must be at least 1"), ("currency", "must be one of EUR")],
            "invalid; lines[0].quantity: must be at least 1; currency: must be one of EUR",
        ),
        (
            "season: is required",
            [("season", "is required"), ("season", "is required")],
            "invalid; season: is required",
        ),
    ],
)
def test_each_cause_of_a_refusal_is_named_once(
    message: str, causes: list[tuple[str, str]], expected: str
) -> None:
    errors = [{"field": field, "message": text} for field, text in causes]
    error = {"code": "invalid", "message": message, "details": {"errors": errors}}
    handler, _ = scripted(httpx.Response(422, json={"error": error}))
    with pytest.raises(RemoteError) as caught:
        session(handler).post("/sales-orders", {})
    assert str(caught.value) == f"zedonk: POST /sales-orders: HTTP 422: {expected}"


def test_malformed_json_is_bad_response_naming_the_endpoint() -> None:
    handler, seen = scripted(httpx.Response(200, content=b'{"items": [1, 2'))
    with pytest.raises(BadResponse) as caught:
        session(handler).get("/products")
    assert "GET /products" in str(caught.value)
    assert "not valid JSON" in str(caught.value)
    assert len(seen) == 1


def test_json_numbers_are_read_as_decimal() -> None:
    handler, _ = scripted(httpx.Response(200, content=b'{"wsp": 12.10, "qty": 3}'))
    body = session(handler).get("/x").body
    assert body == {"wsp": Decimal("12.10"), "qty": 3}
    assert str(body["wsp"]) == "12.10"


def test_etag_is_captured() -> None:
    handler, _ = scripted(ok({"id": 1}, ETag='"abc"'))
    assert session(handler).get("/x").etag == '"abc"'


def test_empty_body_reads_as_none() -> None:
    handler, _ = scripted(httpx.Response(204))
    assert session(handler).delete("/x").body is None


# --------------------------------------------------------------------------- deadline


def test_slow_drip_hits_the_overall_deadline() -> None:
    time = FakeTime()

    def drip() -> Iterator[bytes]:
        for piece in (b'{"items"', b": [", b"1, 2", b"]}"):
            time.now += 4.0  # each chunk arrives within the read timeout ...
            yield piece

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=drip())

    s = session(handler, time, retry=RetryPolicy(attempts=1), deadline=10.0)
    with pytest.raises(TransientError) as caught:
        s.get("/products")
    assert "too slowly" in str(caught.value)  # ... but the whole answer takes too long


def test_slow_drip_on_post_is_outcome_unknown() -> None:
    time = FakeTime()

    def handler(request: httpx.Request) -> httpx.Response:
        def drip() -> Iterator[bytes]:
            for _ in range(5):
                time.now += 5.0
                yield b" "

        return httpx.Response(201, content=drip())

    with pytest.raises(OutcomeUnknown):
        session(handler, time, deadline=8.0).post("/orders", {})


# --------------------------------------------------------------------------- pagination


def test_paginate_follows_cursors() -> None:
    pages = {
        None: {"items": [1, 2], "next_cursor": "c2"},
        "c2": {"items": [3], "next_cursor": "c3"},
        "c3": {"items": [4], "next_cursor": None},
    }

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params.get("limit") == "2"
        return ok(pages[request.url.params.get("cursor")])

    assert list(session(handler).paginate("/things", params={"limit": 2})) == [1, 2, 3, 4]


def test_paginate_rejects_a_repeating_cursor_and_a_missing_list() -> None:
    def loops(request: httpx.Request) -> httpx.Response:
        return ok({"items": [1], "next_cursor": "same"})

    with pytest.raises(BadResponse, match="repeats"):
        list(session(loops).paginate("/things"))

    handler, _ = scripted(ok({"data": []}))
    with pytest.raises(BadResponse, match="'items' is missing"):
        list(session(handler).paginate("/things"))


# --------------------------------------------------------------------------- secrets


def test_token_is_sent_but_never_shown(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    handler, seen = scripted(
        httpx.Response(503, headers={"Retry-After": "1"}),
        httpx.Response(401, json={"error": {"code": "unauthorized", "message": f"bad {TOKEN}"}}),
    )
    s = session(handler)
    with pytest.raises(AuthError) as caught:
        s.get("/x")
    assert seen[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in repr(s)
    assert TOKEN not in str(caught.value) and TOKEN not in repr(caught.value)
    assert TOKEN not in (caught.value.hint or "")
    assert "retry 1/3" in caplog.text
    assert TOKEN not in caplog.text


def test_an_injected_transport_is_left_open() -> None:
    class Transport(httpx.MockTransport):
        closed = False

        def close(self) -> None:
            self.closed = True

    handler, _ = scripted(ok())
    transport = Transport(handler)
    with HttpSession("ordre", "http://ordre.test", TOKEN, transport=transport) as s:
        s.get("/x")
    assert not transport.closed


def test_answers_are_decoded_as_content_encoding_says() -> None:
    packed = gzip.compress(b'{"wsp": 310.00}')
    handler, seen = scripted(
        httpx.Response(200, content=packed, headers={"Content-Encoding": "gzip"})
    )
    assert session(handler).get("/x").body == {"wsp": Decimal("310.00")}
    assert "gzip" in seen[0].headers["Accept-Encoding"]
    assert seen[0].headers["User-Agent"].startswith("zedonk-ordre/")


def test_bodies_carry_money_as_strings_and_dates_as_iso() -> None:
    handler, seen = scripted(ok())
    session(handler).put("/x", {"wsp": Decimal("310.00"), "on": date(2026, 7, 1)})
    assert json.loads(seen[0].content) == {"wsp": "310.00", "on": "2026-07-01"}
    assert seen[0].headers["Content-Type"] == "application/json"


def test_conflict_on_a_retry_says_the_first_attempt_may_have_applied() -> None:
    handler, _ = scripted(
        httpx.ReadTimeout("lost"),
        httpx.Response(412, json={"error": {"code": "precondition_failed", "message": "v2"}}),
    )
    with pytest.raises(Conflict, match="earlier attempt whose answer was lost"):
        session(handler).put("/x/1", {}, if_match='"1"')


def test_documented_idempotent_post_is_retried() -> None:
    handler, seen = scripted(httpx.Response(502), ok({"active": False}))
    assert session(handler).post("/so/1/inactivate", idempotent=True).body == {"active": False}
    assert len(seen) == 2
    assert seen[0].content == b""


def test_a_request_that_cannot_be_sent_is_not_retried_as_a_network_fault(
    sandbox: Sandboxes,
) -> None:
    """h11 refuses a header value with a line break before anything leaves: no retry helps."""
    token = f"{sandbox.ordre_token}\n"
    time = FakeTime()
    with (
        HttpSession("ordre", sandbox.ordre_url, token, sleep=time.sleep, clock=time.clock) as s,
        pytest.raises(RemoteError) as caught,
    ):
        s.get("/collections")
    assert not isinstance(caught.value, TransientError)
    assert "cannot be sent" in caught.value.message and "after" not in caught.value.message
    assert time.sleeps == []
    assert sandbox.ordre_token not in str(caught.value)
    assert sandbox.requests("ordre") == []
