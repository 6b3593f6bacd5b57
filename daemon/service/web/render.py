"""HTML for the console's pages: Jinja2 templates (``templates/``), safe by default.

Every ``{{ value }}`` a template writes is HTML-escaped (autoescape) and shows control
characters escaped (``daemon.core.words.printable``, the same as the command line), so text
that comes with an order or a file can neither inject markup nor drive the reader's terminal
when the page is saved and printed. ``None`` writes nothing, and a name a template does not
get is an error, never an empty string.

A page is a template that extends ``base.html`` (the head, the inline style, the header and
its navigation) and fills its ``content`` block; ``macros.html`` holds the shared pieces
(times, badges, pagination, JSON details). ``render`` gives it the context every page needs,
and a ``refresh`` so that a page left open redraws itself (a meta refresh: no script). Nothing
on a page comes from elsewhere: no script, font, image or style sheet is loaded.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from daemon import __version__
from daemon.core.words import printable

TEMPLATES = Path(__file__).resolve().parent / "templates"

# The pages in the header's navigation, in order: (path, label).
NAV: tuple[tuple[str, str], ...] = (
    ("/", "inbox"),
    ("/orders", "orders"),
    ("/catalogue", "catalogue"),
    ("/runs", "runs"),
    ("/health", "health"),
)
REFRESH_SECONDS = 30  # a page left open draws itself again this often


def _finalize(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, Markup):  # a macro's output: escaped already
        return value
    return printable(str(value))


def _pretty(value: Any) -> str:
    """JSON as indented text (a string that holds JSON is decoded first)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return str(value)
    return json.dumps(value, indent=2, sort_keys=True, default=str)


environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=True,
    finalize=_finalize,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)


def _ago(value: Any) -> str:
    """How long ago an ISO 8601 time was, in words ("3 min ago"); empty when unreadable."""
    try:
        then = datetime.fromisoformat(str(value))
    except ValueError:
        return ""
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    seconds = int((datetime.now(UTC) - then).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return "just now" if seconds < 5 else f"{seconds} s ago"


def _link(path: str, **query: Any) -> str:
    """``path`` with ``query`` (the items that are set) as its query string."""
    kept = {k: v for k, v in query.items() if v not in (None, "", False)}
    return path + ("?" + urlencode(kept) if kept else "")


def _code_spans(value: Any) -> Markup:
    """Text with its `backquoted` parts (commands, as the inbox words its fixes) in
    ``<code>``; everything escaped."""
    parts = printable(str(value)).split("`")
    if len(parts) % 2 == 0:  # an odd backquote: no spans
        return escape("`".join(parts))
    return Markup("").join(
        Markup("<code>%s</code>") % part if odd else escape(part)
        for odd, part in ((i % 2 == 1, part) for i, part in enumerate(parts))
    )


environment.filters["pretty"] = _pretty
environment.filters["code_spans"] = _code_spans
environment.filters["ago"] = _ago
environment.filters["segment"] = lambda value: quote(str(value), safe="")
environment.globals["link"] = _link


def render(template: str, *, path: str, title: str, **context: Any) -> str:
    """The page ``template`` (a file in ``templates/``) as one HTML document. ``path`` is
    the page's own address (its navigation link is marked current); ``context`` holds the
    names the template reads, ``subtitle`` is optional and ``refresh`` (seconds, None for
    never) defaults to ``REFRESH_SECONDS``. A navigation link is current on its own page and
    on the pages under it (``/orders/KEY`` under ``/orders``)."""
    nav = [
        {
            "href": href,
            "label": label,
            "current": path == href or (href != "/" and path.startswith(href + "/")),
        }
        for href, label in NAV
    ]
    context.setdefault("subtitle", None)
    context.setdefault("refresh", REFRESH_SECONDS)
    page: str = environment.get_template(template).render(
        title=title, nav=nav, version=__version__, **context
    )
    return page
