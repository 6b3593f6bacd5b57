"""The parts of a sandbox server that Zedonk and ORDRE share: state, admin routes, the app."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from daemon.sandbox.common import ApiError, Clock, error_response, no_content, read_object
from daemon.sandbox.control import Control, ControlLayer, Faults, RateLimit
from daemon.sandbox.openapi import describe
from daemon.sandbox.seed import BRANDS
from daemon.sandbox.store import Store, Table

DEFAULT_SEED = 20260227
ADMIN_TOKEN = "sandbox-admin-token"

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 400: "bad_request"}


class Sandbox:
    """One stand-in server. Subclasses add the seed and the connector-facing routes."""

    name = "sandbox"
    title = "Sandbox"

    def __init__(
        self,
        *,
        token: str,
        admin_token: str = ADMIN_TOKEN,
        state_path: str | None = None,
        seed: int = DEFAULT_SEED,
        large: bool = False,
        populated: bool = False,
        brand: str = "demo",
    ) -> None:
        self.clock = Clock()
        self.control = Control(token=token, admin_token=admin_token, clock=self.clock)
        self.store = Store(self.name, state_path)
        self.options: dict[str, Any] = {
            "seed": seed,
            "large": large,
            "populated": populated,
            "brand": brand,
        }
        if not self.store.load():
            self.reseed(self.options)
        else:
            self.options = {**self.options, **self.store.meta.get("options", {})}
            self.loaded()

    # to override ------------------------------------------------------------
    def seed_tables(self, options: dict[str, Any]) -> tuple[dict[str, Table], dict[str, int]]:
        raise NotImplementedError

    def api_routes(self) -> list[BaseRoute]:
        raise NotImplementedError

    def extra_routes(self) -> list[BaseRoute]:
        return []

    def summary(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in sorted(self.store.tables.items())}

    def loaded(self) -> None:
        """Called after the tables were replaced (seed or load): rebuild any index."""

    # state -------------------------------------------------------------------
    def reseed(self, options: dict[str, Any]) -> None:
        self.options = options
        tables, counters = self.seed_tables(options)
        self.store.replace(tables, counters, {"options": options})
        self.store.flush()
        self.loaded()

    def reset(self, changes: dict[str, Any]) -> None:
        self.reseed({**self.options, **changes})
        self.control.clear()
        self.clock.offset_ms = 0

    # the app -------------------------------------------------------------------
    def app(self) -> ControlLayer:
        routes = [
            Route("/healthz", self.healthz, methods=["GET"]),
            Route("/openapi.json", self.openapi, methods=["GET"]),
            *self.api_routes(),
            *self.extra_routes(),
            *self.admin_routes(),
        ]
        self.routes = routes
        starlette = Starlette(
            routes=routes,
            exception_handlers={ApiError: _api_error, HTTPException: _http_error},  # type: ignore[dict-item]
        )
        return ControlLayer(self.control, starlette, self.store.flush)

    async def healthz(self, request: Request) -> Response:
        """Liveness check (no token)."""
        return JSONResponse({"status": "ok", "server": self.name})

    async def openapi(self, request: Request) -> Response:
        """This server's OpenAPI description (no token)."""
        return JSONResponse(describe(self.title, self.routes))

    def admin_routes(self) -> list[BaseRoute]:
        return [
            Route("/_admin/reset", self.admin_reset, methods=["POST"]),
            Route("/_admin/state", self.admin_state, methods=["GET"]),
            Route("/_admin/clock", self.admin_clock, methods=["POST"]),
            Route("/_admin/requests", self.admin_requests, methods=["GET"]),
            Route("/_admin/requests", self.admin_clear_requests, methods=["DELETE"]),
            Route("/_admin/counters", self.admin_counters, methods=["GET"]),
            Route("/_admin/rate-limit", self.admin_get_rate_limit, methods=["GET"]),
            Route("/_admin/rate-limit", self.admin_set_rate_limit, methods=["PUT"]),
            Route("/_admin/rate-limit", self.admin_clear_rate_limit, methods=["DELETE"]),
            Route("/_admin/faults", self.admin_get_faults, methods=["GET"]),
            Route("/_admin/faults", self.admin_set_faults, methods=["PUT"]),
            Route("/_admin/faults", self.admin_clear_faults, methods=["DELETE"]),
        ]

    async def admin_reset(self, request: Request) -> Response:
        """Back to the freshly seeded state; clears log, faults, rate limit and clock offset."""
        body = await read_object(request, optional=True)
        changes: dict[str, Any] = {}
        for name, kind in (("seed", int), ("large", bool), ("populated", bool), ("brand", str)):
            if name in body:
                if type(body[name]) is not kind:
                    raise ApiError(400, "bad_request", f"{name} must be {kind.__name__}")
                changes[name] = body.pop(name)
        if body:
            raise ApiError(400, "bad_request", f"unknown field(s): {', '.join(sorted(body))}")
        if changes.get("brand", "demo") not in BRANDS:
            raise ApiError(400, "bad_request", f"brand must be one of {', '.join(BRANDS)}")
        self.reset(changes)
        return JSONResponse({"ok": True, "options": self.options})

    async def admin_state(self, request: Request) -> Response:
        """Counts of the objects this server holds."""
        return JSONResponse(self.summary())

    async def admin_clock(self, request: Request) -> Response:
        """Move the server clock forward by advance_seconds."""
        body = await read_object(request)
        seconds = body.get("advance_seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise ApiError(400, "bad_request", "advance_seconds must be a number >= 0")
        self.clock.offset_ms += int(seconds * 1000)
        return JSONResponse({"now": self.clock.now()})

    async def admin_requests(self, request: Request) -> Response:
        """The request log, oldest first; ?since=SEQ keeps the newer entries."""
        since_text = request.query_params.get("since", "0")
        if not since_text.isdigit():
            raise ApiError(400, "bad_request", "since must be a sequence number")
        since = int(since_text)
        return JSONResponse({"items": [e for e in self.control.log if e["seq"] > since]})

    async def admin_clear_requests(self, request: Request) -> Response:
        """Empty the request log."""
        self.control.log.clear()
        return no_content()

    async def admin_counters(self, request: Request) -> Response:
        """Request, write, status and fault counts from the log."""
        return JSONResponse(self.control.counters())

    async def admin_get_rate_limit(self, request: Request) -> Response:
        """The rate limit, or null when off."""
        limit = self.control.rate_limit
        if limit is None:
            return JSONResponse(None)
        return JSONResponse({"limit": limit.limit, "window_seconds": limit.window_seconds})

    async def admin_set_rate_limit(self, request: Request) -> Response:
        """At most `limit` API requests per `window_seconds`."""
        body = await read_object(request)
        limit, window = body.get("limit"), body.get("window_seconds", 1)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ApiError(400, "bad_request", "limit must be an integer >= 0")
        if isinstance(window, bool) or not isinstance(window, int | float) or window <= 0:
            raise ApiError(400, "bad_request", "window_seconds must be a number > 0")
        if set(body) - {"limit", "window_seconds"}:
            raise ApiError(400, "bad_request", "only limit and window_seconds are known")
        self.control.rate_limit = RateLimit(limit, float(window))
        return JSONResponse({"limit": limit, "window_seconds": window})

    async def admin_clear_rate_limit(self, request: Request) -> Response:
        """Switch the rate limit off."""
        self.control.rate_limit = None
        return no_content()

    async def admin_get_faults(self, request: Request) -> Response:
        """The fault configuration, with the times left on each rule."""
        return JSONResponse(self.control.faults.describe())

    async def admin_set_faults(self, request: Request) -> Response:
        """Replace the fault configuration."""
        self.control.faults = Faults.parse(await read_object(request))
        return JSONResponse(self.control.faults.describe())

    async def admin_clear_faults(self, request: Request) -> Response:
        """Switch every fault off."""
        self.control.faults = Faults()
        return no_content()


async def _api_error(request: Request, exc: ApiError) -> Response:
    return exc.response()


async def _http_error(request: Request, exc: HTTPException) -> Response:
    code = _HTTP_CODES.get(exc.status_code, "error")
    message = {404: f"no route {request.url.path}", 405: f"{request.method} is not allowed here"}
    headers = dict(exc.headers or {})
    return error_response(
        exc.status_code, code, message.get(exc.status_code, str(exc.detail)), None, headers
    )
