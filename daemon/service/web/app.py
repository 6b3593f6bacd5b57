"""The operations console as a Starlette application: routes, answers and their limits.

``make_app(state_dir, health)`` builds it; ``daemon.service.web.server.WebServer`` serves it.
The pages (each a module of this package and a template): ``/`` the "needs a person" inbox
(``inbox``), ``/orders`` and ``/orders/KEY`` (``orders``), ``/catalogue`` (``catalogue``),
``/runs`` and ``/runs/ID`` (``runs``), ``/health`` (``health``); beside them ``/healthz`` and
``/metrics``. ``/activity``, the page the console replaced, redirects to ``/runs``.

Each request that needs the history opens it read-only (``MaybeHistory``), so no page can
change anything, and a state directory without a history shows an empty page and creates
nothing. Every route answers GET (and HEAD) only: the console reads, the commands act.
``/healthz`` answers from the daemon's memory on the event loop itself, so it stays quick
while pages are being drawn; the rest is drawn on worker threads, and an answer that takes
longer than ``ANSWER_SECONDS`` (a history locked by a long write) is a 503, so a stuck page
never holds a connection for good.

Every answer passes ``daemon.redact`` on its way out and carries headers that keep the
browser from loading anything from elsewhere (``Content-Security-Policy``), guessing types
or caching. To add a page: a template extending ``base.html`` in ``templates/``, a function
that fills it (like ``runs.listing``), a route in ``make_app`` and, for the navigation, an
entry in ``render.NAV``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from daemon import redact
from daemon.service import metrics
from daemon.service.web import catalogue, health, inbox, orders, runs
from daemon.store.history import History

log = logging.getLogger(__name__)

ANSWER_SECONDS = 15.0  # the longest one answer may take to draw

# The live side of health (loops stuck or failing), supplied by the running service.
HealthSource = Callable[[], dict[str, Any]]

HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # Nothing on the pages comes from elsewhere; say so to the browser too.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'",
}
HTML = "text/html; charset=utf-8"
TEXT = "text/plain; charset=utf-8"


def no_live_health() -> dict[str, Any]:
    """The health of a server that no daemon runs (tests, a page on its own)."""
    return {"healthy": True, "problems": [], "loops": {}, "paused": False}


def answer(body: str | bytes, media_type: str, status: int = 200) -> Response:
    """An answer with the house headers; text passes ``daemon.redact`` first."""
    text = body.decode() if isinstance(body, bytes) else body
    return Response(
        redact.redact(text),
        status_code=status,
        media_type=None,
        headers={
            **HEADERS,
            "Content-Type": media_type,
        },
    )


class MaybeHistory:
    """Opens the history in ``state_dir`` read-only for one request; yields None when there
    is none yet (nothing is created)."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.history: History | None = None

    def __enter__(self) -> History | None:
        if History.exists(self.state_dir):
            self.history = History.open(self.state_dir, read_only=True)
        return self.history

    def __exit__(self, *exc: object) -> None:
        if self.history is not None:
            self.history.close()


Draw = Callable[[History | None], str | None]  # a page from the history; None: 404


class Site:
    """The endpoints, sharing the state directory and the live health."""

    def __init__(self, state_dir: Path, health: HealthSource) -> None:
        self.state_dir = state_dir
        self.health = health
        self.collector = metrics.HistoryCollector(health, self.open_history)

    def open_history(self) -> MaybeHistory:
        return MaybeHistory(self.state_dir)

    async def drawn(self, draw: Callable[[], Response]) -> Response:
        """``draw`` on a worker thread, within ``ANSWER_SECONDS``; a 503 when it takes
        longer (the thread is left to finish on its own)."""
        try:
            with anyio.fail_after(ANSWER_SECONDS):
                return await anyio.to_thread.run_sync(draw, abandon_on_cancel=True)
        except TimeoutError:
            log.warning("web: an answer took longer than %ss; answered 503", ANSWER_SECONDS)
            return answer("the page took too long; try again\n", TEXT, 503)

    async def page(self, fill: Draw) -> Response:
        """A page ``fill`` draws from the history (read-only, or None when there is none);
        404 when it draws nothing."""

        def draw() -> Response:
            with self.open_history() as history:
                html = fill(history)
            return answer(html, HTML) if html is not None else answer("not found\n", TEXT, 404)

        return await self.drawn(draw)

    async def healthz(self, request: Request) -> Response:
        health = self.health()
        healthy = health.get("healthy", True)
        doc = {"status": "ok" if healthy else "unhealthy", **health}
        return answer(
            json.dumps(doc, default=str) + "\n", "application/json", 200 if healthy else 503
        )

    async def metrics(self, request: Request) -> Response:
        accept = request.headers.get("accept", "")

        def draw() -> Response:
            body, content_type = metrics.exposition(self.collector, accept)
            return answer(body, content_type)

        return await self.drawn(draw)

    async def inbox(self, request: Request) -> Response:
        query = request.query_params
        return await self.page(lambda h: inbox.page(h, query))

    async def orders(self, request: Request) -> Response:
        query = request.query_params
        return await self.page(lambda h: orders.listing(h, query))

    async def order(self, request: Request) -> Response:
        key = request.path_params["key"]
        return await self.page(lambda h: orders.detail(h, key))

    async def catalogue(self, request: Request) -> Response:
        query = request.query_params
        return await self.page(lambda h: catalogue.page(h, query))

    async def runs(self, request: Request) -> Response:
        query = request.query_params
        return await self.page(lambda h: runs.listing(h, query))

    async def run(self, request: Request) -> Response:
        run_id, query = request.path_params["run_id"], request.query_params
        return await self.page(lambda h: runs.detail(h, run_id, query))

    async def health_panel(self, request: Request) -> Response:
        def draw() -> Response:
            return answer(health.page(self.state_dir, self.health()), HTML)

        return await self.drawn(draw)

    async def activity(self, request: Request) -> Response:
        return RedirectResponse("/runs", status_code=301, headers=HEADERS)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    words = "not found" if exc.status_code == 404 else exc.detail
    return answer(f"{words}\n", TEXT, exc.status_code)


async def _internal_error(request: Request, exc: Exception) -> Response:
    log.error("web: %s failed: %s", request.url.path, exc, exc_info=exc)
    return answer("internal error\n", TEXT, 500)


def make_app(state_dir: Path, health: HealthSource = no_live_health) -> Starlette:
    """The application: the console's pages, ``/healthz`` and ``/metrics``, each for GET and
    HEAD (see the module's docstring)."""
    site = Site(state_dir, health)
    routes = [
        Route("/healthz", site.healthz, methods=["GET"]),
        Route("/metrics", site.metrics, methods=["GET"]),
        Route("/", site.inbox, methods=["GET"]),
        Route("/orders", site.orders, methods=["GET"]),
        Route("/orders/{key}", site.order, methods=["GET"]),
        Route("/catalogue", site.catalogue, methods=["GET"]),
        Route("/runs", site.runs, methods=["GET"]),
        Route("/runs/{run_id:int}", site.run, methods=["GET"]),
        Route("/health", site.health_panel, methods=["GET"]),
        Route("/activity", site.activity, methods=["GET"]),
    ]
    return Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error, Exception: _internal_error},
    )
