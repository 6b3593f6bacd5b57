"""The layer in front of each sandbox app: auth, the request log, the rate limit and faults.

It wraps the Starlette app as raw ASGI, directly under uvicorn, because two faults need the
socket itself: a dropped connection and a lost response close it without any answer.
"""

from __future__ import annotations

import asyncio
import hmac
import math
import random
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote_plus

from starlette.responses import Response

from daemon.sandbox.common import WRITE_METHODS, ApiError, Clock, error_response

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

API_PREFIX = "/api/v1"
# uvicorn adds "date: Sat, 29 Nov 2026 17:59:54 GMT" to every answer, after this layer
DATE_HEADER_BYTES = len("date: Sat, 29 Nov 2026 17:59:54 GMT\r\n")
ACTIONS = ("error", "drop", "drip", "lose_response", "delay", "malformed")
FAULT_STATUSES = frozenset({429, *range(400, 600)})


# --------------------------------------------------------------------------- fault config


def _fields(src: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(src) - allowed)
    if unknown:
        raise _bad(f"{where}: unknown field(s) {', '.join(unknown)}")


def _bad(message: str) -> ApiError:
    return ApiError(422, "invalid", message, {"errors": [{"field": "faults", "message": message}]})


def _number(src: dict[str, Any], name: str, default: float, where: str, hi: float = 1e9) -> float:
    value = src.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= hi:
        raise _bad(f"{where}.{name} must be a number from 0 to {hi:g}")
    return float(value)


@dataclass
class Rule:
    action: str
    method: str | None = None
    path_prefix: str = API_PREFIX
    body_contains: str | None = None  # only requests whose body holds this text
    query_contains: str | None = None  # only requests whose query (URL-decoded) holds this text
    times: int | None = None
    rate: float = 1.0
    status: int = 503
    retry_after: int | None = None
    ms: float = 0
    bytes_per_second: float = 20
    mode: str = "drop"
    stall_seconds: float = 30

    def matches(self, method: str, path: str, body: bytes, query: str = "") -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if self.body_contains is not None and self.body_contains.encode() not in body:
            return False
        if self.query_contains is not None and self.query_contains not in query:
            return False
        return (self.method is None or self.method == method) and path.startswith(self.path_prefix)

    def describe(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    @classmethod
    def parse(cls, src: Any, where: str) -> Rule:
        if not isinstance(src, dict):
            raise _bad(f"{where} must be an object")
        _fields(src, set(cls.__dataclass_fields__), where)
        action = src.get("action")
        if action not in ACTIONS:
            raise _bad(f"{where}.action must be one of {', '.join(ACTIONS)}")
        rule = cls(action=action)
        if src.get("method") is not None:
            if not isinstance(src["method"], str):
                raise _bad(f"{where}.method must be a string")
            rule.method = src["method"].upper()
        prefix = src.get("path_prefix", API_PREFIX)
        if not isinstance(prefix, str) or not prefix.startswith("/"):
            raise _bad(f"{where}.path_prefix must be a path starting with /")
        rule.path_prefix = prefix
        if src.get("body_contains") is not None:
            if not isinstance(src["body_contains"], str) or not src["body_contains"]:
                raise _bad(f"{where}.body_contains must be a non-empty string")
            rule.body_contains = src["body_contains"]
        if src.get("query_contains") is not None:
            if not isinstance(src["query_contains"], str) or not src["query_contains"]:
                raise _bad(f"{where}.query_contains must be a non-empty string")
            rule.query_contains = src["query_contains"]
        if src.get("times") is not None:
            rule.times = int(_number(src, "times", 0, where))
        rule.rate = _number(src, "rate", 1.0, where, 1.0)
        rule.status = int(_number(src, "status", 503, where, 599))
        if action == "error" and rule.status not in FAULT_STATUSES:
            raise _bad(f"{where}.status must be from 400 to 599")
        if src.get("retry_after") is not None:
            rule.retry_after = int(_number(src, "retry_after", 0, where))
        rule.ms = _number(src, "ms", 0, where)
        rule.bytes_per_second = _number(src, "bytes_per_second", 20, where) or 20
        rule.mode = src.get("mode", "drop")
        if rule.mode not in ("drop", "stall"):
            raise _bad(f"{where}.mode must be drop or stall")
        rule.stall_seconds = _number(src, "stall_seconds", 30, where)
        return rule


@dataclass
class Faults:
    seed: int = 0
    latency_ms: float = 0
    error_rates: dict[int, float] = field(default_factory=dict)
    retry_after: int | None = 1
    rules: list[Rule] = field(default_factory=list)
    rng: random.Random = field(default_factory=lambda: random.Random(0))

    @classmethod
    def parse(cls, src: Any) -> Faults:
        if not isinstance(src, dict):
            raise _bad("the fault configuration must be an object")
        _fields(src, {"seed", "latency_ms", "error_rates", "retry_after", "rules"}, "faults")
        faults = cls(seed=int(_number(src, "seed", 0, "faults")))
        faults.rng = random.Random(faults.seed)
        faults.latency_ms = _number(src, "latency_ms", 0, "faults")
        rates = src.get("error_rates", {})
        if not isinstance(rates, dict):
            raise _bad('faults.error_rates must be an object like {"503": 0.5}')
        for status in rates:
            if not str(status).isdigit() or int(status) not in FAULT_STATUSES:
                raise _bad(f"faults.error_rates: {status!r} is not a status from 400 to 599")
            faults.error_rates[int(status)] = _number(rates, status, 0, "faults.error_rates", 1)
        if sum(faults.error_rates.values()) > 1:
            raise _bad("faults.error_rates must add up to at most 1")
        if src.get("retry_after", 1) is None:
            faults.retry_after = None
        else:
            faults.retry_after = int(_number(src, "retry_after", 1, "faults"))
        rules = src.get("rules", [])
        if not isinstance(rules, list):
            raise _bad("faults.rules must be a list")
        faults.rules = [Rule.parse(r, f"faults.rules[{i}]") for i, r in enumerate(rules)]
        return faults

    def describe(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "latency_ms": self.latency_ms,
            "error_rates": {str(k): v for k, v in sorted(self.error_rates.items())},
            "retry_after": self.retry_after,
            "rules": [r.describe() for r in self.rules],
        }

    @property
    def reads_bodies(self) -> bool:
        return any(rule.body_contains is not None for rule in self.rules)

    def pick(self, method: str, path: str, body: bytes = b"", query: str = "") -> Rule | None:
        for rule in self.rules:
            if not rule.matches(method, path, body, query):
                continue
            if rule.rate < 1 and self.rng.random() >= rule.rate:
                continue
            if rule.times is not None:
                rule.times -= 1
            return rule
        if self.error_rates:
            draw, total = self.rng.random(), 0.0
            for status, rate in sorted(self.error_rates.items()):
                total += rate
                if draw < total:
                    return Rule("error", status=status, retry_after=self.retry_after)
        return None


@dataclass
class RateLimit:
    limit: int
    window_seconds: float
    window_start: float | None = None
    count: int = 0

    def admit(self) -> int | None:
        """None when the request may pass, else the seconds until the window resets."""
        now = time.monotonic()
        if self.window_start is None or now - self.window_start >= self.window_seconds:
            self.window_start, self.count = now, 0
        self.count += 1
        if self.count <= self.limit:
            return None
        return max(1, math.ceil(self.window_start + self.window_seconds - now))


# --------------------------------------------------------------------------- the layer


@dataclass
class Control:
    """Run-time knobs and the request log of one sandbox server."""

    token: str
    admin_token: str
    clock: Clock
    faults: Faults = field(default_factory=Faults)
    rate_limit: RateLimit | None = None
    log: list[dict[str, Any]] = field(default_factory=list)
    seq: int = 0

    def clear(self) -> None:
        self.faults = Faults()
        self.rate_limit = None
        self.log.clear()

    def counters(self) -> dict[str, Any]:
        by_status: dict[str, int] = {}
        for entry in self.log:
            key = str(entry["status"]) if entry["status"] is not None else "none"
            by_status[key] = by_status.get(key, 0) + 1
        return {
            "requests": len(self.log),
            "writes": sum(1 for e in self.log if e["write"]),
            "by_status": dict(sorted(by_status.items())),
            "faults": sum(1 for e in self.log if e["fault"]),
            "bytes_in": sum(e["bytes_in"] for e in self.log),
            "bytes_out": sum(e["bytes_out"] for e in self.log),
        }


_PHRASES = {status.value: status.phrase for status in HTTPStatus}


def _request_bytes(scope: Scope) -> int:
    """What the request took on the wire as HTTP/1.1 frames it: request line, headers and
    the body its Content-Length announces."""
    query = scope.get("query_string", b"")
    target = len(scope.get("raw_path") or scope["path"].encode()) + (len(query) + 1 if query else 0)
    size = len(scope["method"]) + 1 + target + len(" HTTP/1.1\r\n") + 2
    for name, value in scope.get("headers", []):
        size += len(name) + 2 + len(value) + 2
        if name == b"content-length" and value.isdigit():
            size += int(value)
    return size


def _head_bytes(status: int, headers: list[tuple[bytes, bytes]]) -> int:
    """An answer's status line and headers as HTTP/1.1 frames them (uvicorn's Date header
    included)."""
    size = len(f"HTTP/1.1 {status} {_PHRASES.get(status, '')}\r\n") + 2 + DATE_HEADER_BYTES
    return size + sum(len(name) + 2 + len(value) + 2 for name, value in headers)


def _token(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            text = value.decode("latin-1")
            scheme, _, token = text.partition(" ")
            return token.strip() if scheme.lower() == "bearer" else ""
    return ""


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """The whole request body, and a ``receive`` that hands it to the app again."""
    chunks: list[bytes] = []
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            return b"".join(chunks), receive
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()  # after the body: wait for a disconnect, as uvicorn does
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return body, replay


def _cycle(send: Send) -> Any:
    """uvicorn's per-request object behind ``send``: it holds the socket's transport."""
    return getattr(send, "__self__", None)


async def _drop(send: Send) -> None:
    cycle = _cycle(send)
    transport = getattr(cycle, "transport", None)
    if transport is not None:
        transport.close()  # a FIN, no answer; the client sees the server hang up
        cycle.disconnected = True  # tell uvicorn not to answer for us


def _gone(send: Send) -> bool:
    return bool(getattr(_cycle(send), "disconnected", False))


class ControlLayer:
    """ASGI app: checks the token, logs, rate-limits and injects faults, then calls ``app``."""

    def __init__(self, control: Control, app: ASGIApp, after_write: Callable[[], None]) -> None:
        self.control = control
        self.app = app
        self.after_write = after_write

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        method: str = scope["method"]
        if path.startswith("/_admin"):
            await self._admin(scope, receive, send)
            return
        control = self.control
        actor, expected = "anonymous", None
        if path.startswith(API_PREFIX + "/") or path == API_PREFIX:
            actor, expected = "connector", control.token
        elif path.startswith("/_retailer"):
            actor, expected = "retailer", control.admin_token
        given = _token(scope)
        authorised = expected is None or (given and hmac.compare_digest(given, expected))
        control.seq += 1
        entry: dict[str, Any] = {
            "seq": control.seq,
            "at": control.clock.now(),
            "actor": actor if authorised and expected else "anonymous",
            "method": method,
            "path": path,
            "query": scope.get("query_string", b"").decode("latin-1"),
            "status": None,
            "fault": None,
            "write": bool(authorised and actor == "connector" and method in WRITE_METHODS),
            "bytes_in": _request_bytes(scope),
            "bytes_out": 0,
        }
        control.log.append(entry)
        send = self._recording(send, entry)
        if not authorised:
            await _unauthorised(scope, receive, send)
            return
        rule: Rule | None = None
        if actor == "connector":
            if control.rate_limit is not None:
                wait = control.rate_limit.admit()
                if wait is not None:
                    entry["fault"] = "rate_limited"
                    response = error_response(
                        429, "rate_limited", "too many requests; slow down",
                        {"retry_after": wait}, {"Retry-After": str(wait)},
                    )  # fmt: skip
                    await response(scope, receive, send)
                    return
            faults = control.faults
            if faults.latency_ms:
                await asyncio.sleep(faults.latency_ms / 1000)
            query = unquote_plus(entry["query"])
            if faults.reads_bodies:
                body, receive = await _buffered(receive)
                rule = faults.pick(method, path, body, query)
            else:
                rule = faults.pick(method, path, query=query)
        if rule is None or rule.action == "delay":
            if rule is not None:
                entry["fault"] = "delay"
                await asyncio.sleep(rule.ms / 1000)
            await self._call(scope, receive, send, method)
            return
        entry["fault"] = rule.action
        await self._fault(rule, scope, receive, send, method)

    async def _call(self, scope: Scope, receive: Receive, send: Send, method: str) -> None:
        await self.app(scope, receive, send)
        if method in WRITE_METHODS:
            self.after_write()

    async def _fault(
        self, rule: Rule, scope: Scope, receive: Receive, send: Send, method: str
    ) -> None:
        if rule.action == "error":
            headers = {"Retry-After": str(rule.retry_after)} if rule.retry_after is not None else {}
            code = "rate_limited" if rule.status == 429 else "injected_fault"
            message = f"injected fault: answering {rule.status}"
            await error_response(rule.status, code, message, None, headers)(scope, receive, send)
        elif rule.action == "drop":
            await _drop(send)
        elif rule.action == "malformed":
            body = b'{"items": [{"id": "truncated'
            response = Response(body, 200, media_type="application/json")
            await response(scope, receive, send)
        else:
            # drip and lose_response: the request is really carried out first
            captured: list[Message] = []

            async def keep(message: Message) -> None:
                captured.append(message)

            await self._call(scope, receive, keep, method)
            if rule.action == "drip":
                await _drip(captured, send, rule.bytes_per_second)
            else:
                if rule.mode == "stall":
                    deadline = time.monotonic() + rule.stall_seconds
                    while time.monotonic() < deadline and not _gone(send):
                        await asyncio.sleep(0.05)
                await _drop(send)

    async def _admin(self, scope: Scope, receive: Receive, send: Send) -> None:
        given = _token(scope)
        if not (given and hmac.compare_digest(given, self.control.admin_token)):
            await _unauthorised(scope, receive, send)
            return
        await self._call(scope, receive, send, scope["method"])

    def _recording(self, send: Send, entry: dict[str, Any]) -> Send:
        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry["status"] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", str(entry["seq"]).encode()))
                message = {**message, "headers": headers}
                entry["bytes_out"] += _head_bytes(message["status"], headers)
            elif message["type"] == "http.response.body":
                entry["bytes_out"] += len(message.get("body", b""))
            await send(message)

        # keep uvicorn's object reachable, so that faults can still reach the socket
        return _Bound(recording_send, _cycle(send))


class _Bound:
    """A ``send`` wrapper that still exposes uvicorn's cycle as ``__self__``."""

    def __init__(self, fn: Send, cycle: Any) -> None:
        self._fn = fn
        self.__self__ = cycle

    async def __call__(self, message: Message) -> None:
        await self._fn(message)


async def _unauthorised(scope: Scope, receive: Receive, send: Send) -> None:
    response = error_response(
        401,
        "unauthorized",
        "missing or wrong bearer token: send 'Authorization: Bearer <token>'",
        None,
        {"WWW-Authenticate": "Bearer"},
    )
    await response(scope, receive, send)


async def _drip(captured: list[Message], send: Send, bytes_per_second: float) -> None:
    start = next(m for m in captured if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in captured if m["type"] == "http.response.body")
    await send(start)
    step = max(1, int(bytes_per_second / 10))
    for i in range(0, len(body), step):
        if _gone(send):
            return
        await send({"type": "http.response.body", "body": body[i : i + step], "more_body": True})
        await asyncio.sleep(step / bytes_per_second)
    await send({"type": "http.response.body", "body": b"", "more_body": False})
