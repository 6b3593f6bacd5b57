"""HTML for the status pages: Jinja2 templates (``templates/``), safe by default.

Every ``{{ value }}`` a template writes is HTML-escaped (autoescape) and shows control
characters escaped (``daemon.core.words.printable``, the same as the command line), so text
that comes with an order or a file can neither inject markup nor drive the reader's terminal
when the page is saved and printed. ``None`` writes nothing, and a name a template does not
get is an error, never an empty string.

A page is a template that extends ``base.html`` (the head, the inline style, the header and
its navigation) and fills its ``content`` block; ``macros.html`` holds the shared pieces
(times, badges, JSON details). ``render`` gives it the context every page needs. Nothing on
a page comes from elsewhere: no script, font, image or style sheet is loaded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from daemon import __version__
from daemon.core.words import printable

TEMPLATES = Path(__file__).resolve().parent / "templates"

# The pages in the header's navigation, in order: (path, label).
NAV: tuple[tuple[str, str], ...] = (
    ("/", "activity"),
    ("/healthz", "health"),
    ("/metrics", "metrics"),
)


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
environment.filters["pretty"] = _pretty


def render(template: str, *, path: str, title: str, **context: Any) -> str:
    """The page ``template`` (a file in ``templates/``) as one HTML document. ``path`` is
    the page's own address (its navigation link is marked current); ``context`` holds the
    names the template reads, and ``subtitle`` and ``refresh`` (seconds) are optional."""
    nav = [{"href": href, "label": label, "current": href == path} for href, label in NAV]
    context.setdefault("subtitle", None)
    context.setdefault("refresh", None)
    page: str = environment.get_template(template).render(
        title=title, nav=nav, version=__version__, **context
    )
    return page
