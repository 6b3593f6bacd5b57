"""The daemon's small web server: /healthz, /metrics and the activity page.

Standard library only (``http.server``), so it adds no dependency and little memory to a
process that mostly sleeps. Every request opens the history read-only, so the page can never
change anything. It listens on loopback by default (``daemon.status_listen`` in connector.yaml).
The page is one self-contained HTML document: inline CSS, no scripts or fonts from elsewhere.
The /metrics text is written by ``metrics.py``. Every answer passes ``daemon.redact`` on its
way out, and text on the page shows control characters escaped.
"""

from __future__ import annotations

import html
import json
import logging
import socket
import threading
from collections.abc import Callable, Iterable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from daemon import __version__, redact
from daemon.core.words import printable
from daemon.service.metrics import render_metrics
from daemon.store.history import HISTORY_FILE, History
from daemon.store.ledger import Ledger

log = logging.getLogger(__name__)

# The live side of health (loops stuck or failing), supplied by the running service.
HealthSource = Callable[[], dict[str, Any]]

PROBLEM_IMPORT_STATES = ("failed", "needs_attention", "partial", "unresolved")
PAGE_LIMIT = 50


def _no_live_health() -> dict[str, Any]:
    return {"healthy": True, "problems": [], "loops": {}, "paused": False}


# ---------------------------------------------------------------------------- activity page

STYLE = """
:root { color-scheme: light dark; --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700;
  --muted: #6e7781; --line: #d0d7de; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0;
  padding: 0 12px 40px; max-width: 980px; margin-inline: auto; }
header { padding: 12px 0 4px; }
h1 { font-size: 1.3em; margin: 0; }
h2 { font-size: 1.1em; margin: 24px 0 8px; }
.muted { color: var(--muted); font-size: .9em; }
.summary { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr));
  gap: 8px; margin: 12px 0; }
.tile, .item { border: 1px solid var(--line); border-radius: 8px; padding: 8px 10px; }
.tile b { display: block; }
form { display: flex; flex-wrap: wrap; gap: 8px; align-items: end; margin: 12px 0; }
label { display: flex; flex-direction: column; font-size: .85em; }
label.check { flex-direction: row; align-items: center; gap: 6px; min-height: 36px; }
input, select, button { font: inherit; padding: 6px 8px; min-height: 36px; }
input[type=search] { min-width: 12em; }
.item { margin: 6px 0; overflow-wrap: anywhere; }
.item summary { cursor: pointer; list-style: none; display: flex; flex-wrap: wrap;
  gap: 4px 10px; }
.badge { font-weight: 600; }
.ok, .created, .no-changes, .no-orders, .info { color: var(--ok); }
.failed, .invalid, .error, .needs_attention, .interrupted { color: var(--bad); }
.partial, .warning, .running, .pending, .sending, .unresolved, .paused { color: var(--warn); }
pre { white-space: pre-wrap; overflow-wrap: anywhere; font-size: .85em; margin: 6px 0 0;
  padding: 6px; border-radius: 6px; background: rgba(127,127,127,.12); }
.empty { color: var(--muted); font-style: italic; }
"""

SECTIONS = ("all", "runs", "imports", "events")


def _e(value: Any) -> str:
    return html.escape(printable("" if value is None else str(value)))


def _pretty(value: Any) -> str:
    if value in (None, "", {}, []):
        return ""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return f"<pre>{_e(value)}</pre>"
    return f"<pre>{_e(json.dumps(value, indent=2, sort_keys=True, default=str))}</pre>"


def _when(value: str | None) -> str:
    if not value:
        return ""
    return f'<time datetime="{_e(value)}">{_e(value[:19].replace("T", " "))} UTC</time>'


def _matches(needle: str, *values: Any) -> bool:
    if not needle:
        return True
    haystack = " ".join(json.dumps(v, default=str) if not isinstance(v, str) else v for v in values)
    return needle.lower() in haystack.lower()


class Filters:
    """The page's filters, read from the query string."""

    def __init__(self, query: dict[str, list[str]]) -> None:
        def one(key: str, default: str) -> str:
            return (query.get(key) or [default])[0].strip()

        self.show = one("show", "all") if one("show", "all") in SECTIONS else "all"
        self.problems = one("problems", "") in ("1", "on", "yes", "true")
        self.q = one("q", "")[:200]
        # An order poll that found nothing runs every poll_interval; hidden unless asked for.
        self.idle = one("idle", "") in ("1", "on", "yes", "true")

    def wants(self, section: str) -> bool:
        return self.show in ("all", section)


def _item(summary_parts: Iterable[str], body: str, *, css: str = "") -> str:
    head = "".join(summary_parts)
    return f'<details class="item {css}"><summary>{head}</summary>{body}</details>'


def _counts(summary: Any) -> str:
    if not isinstance(summary, dict):
        return ""
    return ", ".join(f"{k} {v}" for k, v in summary.items() if isinstance(v, int | float) and v)


def _runs_html(history: History, f: Filters) -> str:
    rows = history.runs(errors_only=f.problems, limit=PAGE_LIMIT * 4)
    items = []
    for run in rows:
        if run["kind"] == "import" and run["result"] in ("no-changes", "no-orders") and not f.idle:
            continue
        if not _matches(
            f.q, run["kind"], run["trigger"], run["result"], run["summary"], run["error"]
        ):
            continue
        actions = history.actions(run["id"]) if run["kind"] in ("reconcile", "apply") else []
        acts = "".join(
            f"<li><span class='badge {_e(a['status'])}'>{_e(a['status'])}</span> "
            f"{_e(a['intent'])}{' - ' + _e(a['error']) if a['error'] else ''}</li>"
            for a in actions[:200]
        )
        body = (
            f"<div class='muted'>run {run['id']} · trigger {_e(run['trigger'])} · "
            f"started {_when(run['started_at'])} · finished {_when(run['finished_at'])}</div>"
            + (f"<pre>{_e(run['error'])}</pre>" if run["error"] else "")
            + _pretty(run["summary"])
            + (f"<ul>{acts}</ul>" if acts else "")
        )
        items.append(
            _item(
                [
                    f"<span class='badge {_e(run['result'])}'>{_e(run['result'])}</span>",
                    f"<span>{_e(run['kind'])} ({_e(run['trigger'])})</span>",
                    f"<span>{_e(_counts(run['summary']))}</span>",
                    f"<span class='muted'>{_when(run['started_at'])}</span>",
                ],
                body,
                css="run",
            )
        )
        if len(items) >= PAGE_LIMIT:
            break
    return "".join(items) or "<p class='empty'>No runs match.</p>"


def _imports_html(history: History, f: Filters) -> str:
    ledger = Ledger(history)
    rows = ledger.recent(PROBLEM_IMPORT_STATES if f.problems else (), limit=PAGE_LIMIT * 4)
    items = []
    for imp in rows:
        if not _matches(
            f.q,
            imp["import_key"],
            imp["ordre_number"],
            imp["po_number"],
            imp["retailer_name"],
            imp["state"],
            imp["zedonk_order_number"],
            imp["last_error"],
        ):
            continue
        lines = ledger.left_out_lines(imp["import_key"])
        left_out = "".join(
            f"<li>line {ln['line_no']}: {_e(ln['style'])} {_e(ln['colour'])} {_e(ln['size'])}"
            f" × {_e(ln['quantity'])} (barcode {_e(ln['barcode'] or 'none')}) - "
            f"{_e(ln['reason'])}</li>"
            for ln in lines
        )
        body = (
            f"<div class='muted'>import key {_e(imp['import_key'])} · submission "
            f"{_e(imp['submission'])} · PO {_e(imp['po_number'] or '-')} · "
            f"Zedonk order {_e(imp['zedonk_order_number'] or '-')} · lines "
            f"{_e(imp['lines_imported'])}/{_e(imp['lines_total'])} · attempts "
            f"{_e(imp['attempts'])} · updated {_when(imp['updated_at'])}</div>"
            + (f"<pre>{_e(imp['last_error'])}</pre>" if imp["last_error"] else "")
            + (f"<p>Lines left out:</p><ul>{left_out}</ul>" if left_out else "")
        )
        items.append(
            _item(
                [
                    f"<span class='badge {_e(imp['state'])}'>{_e(imp['state'])}</span>",
                    f"<span>order {_e(imp['ordre_number'])}</span>",
                    f"<span>{_e(imp['retailer_name'] or '')}</span>",
                    f"<span class='muted'>{_when(imp['updated_at'])}</span>",
                ],
                body,
                css="import",
            )
        )
        if len(items) >= PAGE_LIMIT:
            break
    return "".join(items) or "<p class='empty'>No orders match.</p>"


def _events_html(history: History, f: Filters) -> str:
    rows = history.events(limit=PAGE_LIMIT * 4)
    items = []
    for ev in rows:
        if f.problems and ev["level"] == "info":
            continue
        if not _matches(f.q, ev["code"], ev["subject"], ev["message"], ev["details"]):
            continue
        body = (
            f"<div class='muted'>{_e(ev['code'])}"
            f"{' · ' + _e(ev['subject']) if ev['subject'] else ''}"
            f"{' · run ' + str(ev['run_id']) if ev['run_id'] else ''}</div>"
            + _pretty(ev["details"])
        )
        items.append(
            _item(
                [
                    f"<span class='badge {_e(ev['level'])}'>{_e(ev['level'])}</span>",
                    f"<span>{_e(ev['message'])}</span>",
                    f"<span class='muted'>{_when(ev['at'])}</span>",
                ],
                body,
                css="event",
            )
        )
        if len(items) >= PAGE_LIMIT:
            break
    return "".join(items) or "<p class='empty'>No events match.</p>"


def _tiles(history: History | None, health: dict[str, Any]) -> str:
    tiles = []
    paused = history.get_state("paused") if history is not None else None
    if paused:
        tiles.append(
            f"<div class='tile paused'><b>Reconciling paused</b>{_e(paused.get('reason'))}"
            f"<div class='muted'>by {_e(paused.get('by'))}, {_when(paused.get('at'))}</div></div>"
        )
    state = "healthy" if health.get("healthy", True) else "unhealthy"
    problems = "".join(f"<div>{_e(p)}</div>" for p in health.get("problems", []))
    css = "ok" if state == "healthy" else "failed"
    tiles.append(f"<div class='tile'><b class='{css}'>Daemon {state}</b>{problems}</div>")
    if history is not None:
        for title, kinds in (("Last reconcile", "'reconcile', 'apply'"), ("Last poll", "'import'")):
            rows = history.query(
                f"SELECT result, started_at FROM runs WHERE kind IN ({kinds})"
                " ORDER BY id DESC LIMIT 1"
            )
            if rows:
                r = rows[0]
                tiles.append(
                    f"<div class='tile'><b>{title}</b><span class='{_e(r['result'])}'>"
                    f"{_e(r['result'])}</span> <span class='muted'>{_when(r['started_at'])}"
                    "</span></div>"
                )
            else:
                tiles.append(
                    f"<div class='tile'><b>{title}</b><span class='muted'>none yet</span></div>"
                )
    return f"<section class='summary'>{''.join(tiles)}</section>"


def render_page(history: History | None, health: dict[str, Any], f: Filters) -> str:
    """The activity page, as one self-contained HTML document."""
    options = "".join(
        f"<option value='{s}'{' selected' if f.show == s else ''}>{s}</option>" for s in SECTIONS
    )
    form = (
        "<form method='get' action='/' role='search'>"
        f"<label>Show<select name='show'>{options}</select></label>"
        f"<label>Search<input type='search' name='q' value='{_e(f.q)}' "
        "placeholder='order, PO, retailer, error...'></label>"
        "<label class='check'><input type='checkbox' name='problems' value='1'"
        f"{' checked' if f.problems else ''}>Problems only</label>"
        "<label class='check'><input type='checkbox' name='idle' value='1'"
        f"{' checked' if f.idle else ''}>Idle polls</label>"
        "<button type='submit'>Filter</button></form>"
    )
    if history is None:
        content = "<p class='empty'>No history yet: the daemon has not run here.</p>"
    else:
        parts = []
        if f.wants("runs"):
            parts.append(f"<section id='runs'><h2>Runs</h2>{_runs_html(history, f)}</section>")
        if f.wants("imports"):
            parts.append(
                f"<section id='imports'><h2>Orders</h2>{_imports_html(history, f)}</section>"
            )
        if f.wants("events"):
            parts.append(
                f"<section id='events'><h2>Events and errors</h2>{_events_html(history, f)}"
                "</section>"
            )
        content = "".join(parts)
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<title>zedonk-ordre activity</title>"
        f"<style>{STYLE}</style></head><body>"
        "<header><h1>zedonk-ordre activity</h1>"
        f"<div class='muted'>version {_e(__version__)} · newest first · "
        "<a href='/metrics'>metrics</a> · <a href='/healthz'>health</a></div></header>"
        f"{_tiles(history, health)}{form}{content}</body></html>"
    )


# ------------------------------------------------------------------------------ the server


class _Handler(BaseHTTPRequestHandler):
    server: ActivityServer
    server_version = "zedonk-ordre"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("web: " + format, *args)

    def _send(self, status: int, body: str, content_type: str) -> None:
        data = redact.redact(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        # Nothing on the page comes from elsewhere; say so to the browser too.
        self.send_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        try:
            health = self.server.health()
            if url.path == "/healthz":
                status = (
                    HTTPStatus.OK if health.get("healthy", True) else HTTPStatus.SERVICE_UNAVAILABLE
                )
                doc = {"status": "ok" if status == HTTPStatus.OK else "unhealthy", **health}
                self._send(status, json.dumps(doc, default=str) + "\n", "application/json")
            elif url.path == "/metrics":
                with self.server.open_history() as history:
                    text = render_metrics(history, health)
                self._send(HTTPStatus.OK, text, "text/plain; version=0.0.4; charset=utf-8")
            elif url.path in ("/", "/activity"):
                filters = Filters(parse_qs(url.query))
                with self.server.open_history() as history:
                    page = render_page(history, health, filters)
                self._send(HTTPStatus.OK, page, "text/html; charset=utf-8")
            else:
                self._send(HTTPStatus.NOT_FOUND, "not found\n", "text/plain; charset=utf-8")
        except Exception:
            log.exception("web: %s failed", url.path)
            self._send(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error\n", "text/plain")


class _MaybeHistory:
    """Opens the history read-only for one request; yields None when there is none yet."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.history: History | None = None

    def __enter__(self) -> History | None:
        if (self.state_dir / HISTORY_FILE).exists():
            self.history = History.open(self.state_dir, read_only=True)
        return self.history

    def __exit__(self, *exc: object) -> None:
        if self.history is not None:
            self.history.close()


class ActivityServer(ThreadingHTTPServer):
    """Serves /healthz, /metrics and the activity page from a thread. Port 0 picks a free one."""

    daemon_threads = True

    def __init__(
        self,
        state_dir: Path,
        listen: tuple[str, int] = ("127.0.0.1", 8787),
        health: HealthSource = _no_live_health,
    ) -> None:
        if ":" in listen[0]:
            self.address_family = socket.AF_INET6
        super().__init__(listen, _Handler)
        self.state_dir = state_dir
        self.health = health
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"

    def open_history(self) -> _MaybeHistory:
        return _MaybeHistory(self.state_dir)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.2}, name="web", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.server_close()
