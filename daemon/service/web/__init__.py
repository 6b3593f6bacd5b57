"""The daemon's web side: the operations console, /healthz and /metrics, on uvicorn and
Starlette.

- ``app.py``: the Starlette application: routes, answers, their headers and time limit;
- ``render.py`` and ``templates/``: the pages' HTML (Jinja2, escaped by default);
- ``paging.py``: a page's filters from its query string, and its pagination;
- ``inbox.py``, ``orders.py``, ``catalogue.py``, ``runs.py``, ``health.py``: the console's
  pages, each filled from the history (read-only) and the daemon's live health;
- ``server.py``: uvicorn on a thread of the daemon, with its connections bounded.

``StatusServer`` puts them together for the daemon: ``StatusServer(state_dir, listen,
health).start()``. It listens on loopback by default (``daemon.status_listen``).
"""

from __future__ import annotations

from pathlib import Path

from daemon.service.web.app import HealthSource, make_app, no_live_health
from daemon.service.web.server import WebServer


class StatusServer(WebServer):
    """The console of the history in ``state_dir``, served on ``listen`` (host, port; port 0
    picks a free one) with the daemon's live ``health``. Raises ``OSError`` when the address
    cannot be bound."""

    def __init__(
        self,
        state_dir: Path,
        listen: tuple[str, int] = ("127.0.0.1", 8787),
        health: HealthSource = no_live_health,
    ) -> None:
        super().__init__(make_app(state_dir, health), listen)
        self.state_dir = state_dir


__all__ = ["StatusServer", "WebServer", "make_app"]
