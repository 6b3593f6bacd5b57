"""The operations console's pages, over HTTP: what each shows, its filters and pages, its
links, and its colours. The history is made by the real commands against the sandboxes
(``console_support``), or written row by row where a test needs many rows."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import orders_support
import pytest
from console_support import HELD_BACK, NO_IMAGE, Brand, make_brand
from orders_support import cli

from daemon.sandbox import SandboxPair
from daemon.service.web import StatusServer
from daemon.service.web import catalogue as web_catalogue
from daemon.service.web.render import TEMPLATES
from daemon.store import catalogue as catalogue_store
from daemon.store.history import History, utcnow

sandboxes = orders_support.sandboxes  # fixture


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as refused:
        with refused:
            return refused.code, refused.read().decode()


def rows(page: str) -> list[str]:
    """The rows of a page's list table (its ``<tbody>``)."""
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in page else ""
    return re.findall(r"<tr>.*?</tr>", body, re.S)


@pytest.fixture(scope="module")
def console(
    sandboxes: SandboxPair, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[StatusServer, Brand]]:
    root = tmp_path_factory.mktemp("brand") / "repo"
    with pytest.MonkeyPatch.context() as env:
        env.setenv(orders_support.ZEDONK_ENV, sandboxes.zedonk.token)
        env.setenv(orders_support.ORDRE_ENV, sandboxes.ordre.token)
        sandboxes.reset()
        brand = make_brand(root, sandboxes)
        server = StatusServer(brand.settings.state_dir, ("127.0.0.1", 0))
        server.start()
        try:
            yield server, brand
        finally:
            server.stop()


# --------------------------------------------------------------------------- orders


def test_an_order_page_shows_its_lines_left_out_lines_so_and_events(
    console: tuple[StatusServer, Brand],
) -> None:
    server, brand = console
    status, page = get(server.url + "orders/" + quote(f"{brand.partial['id']}#1", safe=""))
    assert status == 200
    assert f"Order {brand.partial['number']}" in page and "PO-PARTIAL-1" in page
    assert re.search(r"Zedonk sales order</b>SO-\d+", page)
    [left_out] = [row for row in rows(page) if "4006381333931" in row]
    assert "left out: unknown" in left_out and "ML-999" in left_out
    imported = [row for row in rows(page) if "imported" in row]
    assert len(imported) == 1  # the other line
    assert "1 of 2" in page  # lines imported
    events = page.split("<h2>Events</h2>", 1)[1]
    assert "order-imported" in events and "1 of 2 lines left out" in events
    # The order is found by its ORDRE number too (its latest submission).
    status, by_number = get(server.url + "orders/" + brand.partial["number"])
    assert status == 200 and "PO-PARTIAL-1" in by_number
    assert get(server.url + "orders/" + quote("no-such#1", safe=""))[0] == 404


def test_a_resubmitted_order_shows_its_chain_and_the_earlier_order_still_active(
    console: tuple[StatusServer, Brand],
) -> None:
    server, brand = console
    first, second = (quote(f"{brand.resubmitted['id']}#{n}", safe="") for n in (1, 2))
    _, page = get(server.url + "orders/" + second)
    assert "<b>submission 2</b> (this page)" in page
    assert f'href="/orders/{first}">submission 1</a>' in page
    assert "is still active" in page  # on_resubmit: report
    _, earlier = get(server.url + "orders/" + first)
    assert f'href="/orders/{second}">submission 2</a>' in earlier


def test_orders_filter_by_state_retailer_and_po(console: tuple[StatusServer, Brand]) -> None:
    server, brand = console
    _, page = get(server.url + "orders?state=partial")
    assert [brand.partial["number"] in row for row in rows(page)] == [True]
    _, page = get(server.url + "orders?po=po-twice")  # any case
    assert len(rows(page)) == 2 and all("PO-TWICE" in row for row in rows(page))
    _, page = get(server.url + "orders?retailer=" + quote("Boutique & Co"))
    assert len(rows(page)) == 1 and brand.xss["number"] in page
    _, page = get(server.url + "orders?state=created&po=PARTIAL")
    assert rows(page) == [] and "No orders match." in page
    _, page = get(server.url + "orders?po=" + quote("%"))  # a LIKE wildcard, matched as text
    assert rows(page) == []
    _, page = get(server.url + "orders?state=nonsense")  # an unknown state: no filter
    assert len(rows(page)) == 4


def test_retailer_supplied_text_is_escaped(console: tuple[StatusServer, Brand]) -> None:
    server, brand = console
    for path in ("orders", "orders/" + quote(f"{brand.xss['id']}#1", safe="")):
        _, page = get(server.url + path)
        assert "<script>alert" not in page and "<img src=x" not in page
        assert "<b>PO-XSS" not in page
        assert "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;" in page
    _, listing = get(server.url + "orders")
    assert "&lt;b&gt;PO-XSS&lt;/b&gt;" in listing
    _, run = get(server.url + "runs/2")  # the import's events name the new customer
    assert "created Zedonk customer &lt;script&gt;" in run and "<script>" not in run


# --------------------------------------------------------------------------- catalogue


def test_the_catalogue_shows_images_barcodes_and_why_a_product_is_held_back(
    console: tuple[StatusServer, Brand],
) -> None:
    server, _ = console
    _, page = get(server.url + "catalogue")
    held = page.split(f'id="p-{HELD_BACK}"', 1)[1].split('<div class="product', 1)[0]
    assert "held back from ORDRE" in held and "size 36: no barcode" in held
    assert '<li class="missing" title="no barcode">36 &#10007; no barcode</li>' in held
    assert re.search(r'<li class="valid" title="\d{13}">34 &#10003;</li>', held)
    no_image = page.split(f'id="p-{NO_IMAGE}"', 1)[1].split('<div class="product', 1)[0]
    assert 'aria-label="no main image"' in no_image and "on ORDRE" in no_image
    assert "no main image" in no_image
    # Collections and looks in the catalogue's order, each product under its look.
    names = re.findall(r"<h2>(.*?)</h2>", page)
    assert names == ["AW26 Main Collection", "AW26 Evening", "Essentials"], names


def test_the_catalogue_filters_held_back_and_imageless_products(
    console: tuple[StatusServer, Brand],
) -> None:
    server, _ = console
    _, page = get(server.url + "catalogue?show=held")
    assert re.findall(r'id="p-([^"]+)"', page) == [HELD_BACK]
    _, page = get(server.url + "catalogue?show=no-image")
    assert re.findall(r'id="p-([^"]+)"', page) == [NO_IMAGE]
    _, page = get(server.url + "catalogue?q=" + quote("belted wrap"))  # the description
    assert re.findall(r'id="p-([^"]+)"', page) == [HELD_BACK]
    _, page = get(server.url + "catalogue?collection=Essentials")
    assert re.findall(r"<h2>(.*?)</h2>", page) == ["Essentials"]


def test_a_long_catalogue_is_drawn_a_page_at_a_time(
    console: tuple[StatusServer, Brand], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _ = console
    _, whole = get(server.url + "catalogue")
    every = re.findall(r'id="p-([^"]+)"', whole)
    monkeypatch.setattr(web_catalogue, "PAGE_PRODUCTS", 7)
    seen: list[str] = []
    url = server.url + "catalogue"
    while url:
        _, page = get(url)
        products = re.findall(r'id="p-([^"]+)"', page)
        assert len(products) <= 7
        seen += products
        found = re.search(r'<a href="([^"]+)" rel="next">', page)
        url = server.url + found.group(1).replace("&amp;", "&").lstrip("/") if found else ""
    assert seen == every and len(every) > 14


def test_a_pass_that_changes_nothing_leaves_the_kept_view_as_it_was(
    console: tuple[StatusServer, Brand],
) -> None:
    _, brand = console
    state = brand.settings.state_dir

    def rows_now() -> dict[str, str]:
        with History.open(state) as history:
            found = history.query("SELECT key, updated_at FROM state WHERE key LIKE 'catalogue%'")
        return {row["key"]: row["updated_at"] for row in found}

    before = rows_now()
    again = cli("apply", "--yes", "--root", str(brand.settings.root))
    assert again.exit_code == 0, again.output
    after = rows_now()
    assert after[catalogue_store.VIEW_KEY] == before[catalogue_store.VIEW_KEY]
    assert after[catalogue_store.PASS_KEY] > before[catalogue_store.PASS_KEY]


def test_the_daemons_reconcile_pass_keeps_the_view_too(
    console: tuple[StatusServer, Brand],
) -> None:
    server, brand = console
    done = cli("reconcile", "--root", str(brand.settings.root))  # no daemon: the pass runs here
    assert done.exit_code == 0, done.output
    with History.open(brand.settings.state_dir) as history:
        [last] = history.runs(kind="reconcile", limit=1)
        found = catalogue_store.last(history)
    assert found is not None
    view, meta = found
    assert (meta["source"], meta["run_id"]) == ("reconcile", last["id"])
    assert view["counts"] == {"products": 20, "exported": 19, "held_back": 1, "without_image": 1}
    _, page = get(server.url + "catalogue")
    assert f'<a href="/runs/{last["id"]}">the reconcile of run {last["id"]}</a>' in page


# --------------------------------------------------------------------------- inbox, runs, health


def test_the_inbox_comes_first_and_links_to_what_each_item_is_about(
    console: tuple[StatusServer, Brand],
) -> None:
    server, brand = console
    _, page = get(server.url)
    assert "<title>Needs a person · zedonk-ordre</title>" in page
    [partial] = re.findall(r'<article class="card attention partial_order.*?</article>', page, re.S)
    assert f'<a href="/orders/{brand.partial["number"]}">' in partial
    assert "<code>zedonk-ordre attention ack" in partial  # the fix's command, as code
    held = re.findall(r'<article class="card attention held_back_product.*?</article>', page, re.S)
    assert f'href="/catalogue?q={quote(HELD_BACK, safe="")}#p-{HELD_BACK}"' in held[0]
    _, page = get(server.url + "?who=ORDRE")
    assert "<article" not in page and "Nothing matches." in page


def test_runs_list_and_a_run_with_its_actions(console: tuple[StatusServer, Brand]) -> None:
    server, _ = console
    _, page = get(server.url + "runs")
    assert '<a href="/runs/1">1</a>' in page
    _, run = get(server.url + "runs/1")
    assert "apply <span" in run and "<th>Action</th>" in run
    actions = rows(run)
    assert len(actions) > 10 and "create collection Essentials" in run
    assert all('<span class="badge ok">ok</span>' in row for row in actions)
    _, imports = get(server.url + "runs?kind=import")
    assert "apply <span" not in imports and "import <span" in imports
    assert get(server.url + "runs/99999")[0] == 404
    assert get(server.url + "runs/nope")[0] == 404
    request = urllib.request.Request(server.url + "activity")
    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as moved:
        opener.open(request, timeout=10)
    moved.value.close()
    assert moved.value.code == 301 and moved.value.headers["Location"] == "/runs"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def test_the_health_panel_shows_the_daemon_passes_remotes_and_inbox(
    console: tuple[StatusServer, Brand],
) -> None:
    server, _ = console
    _, page = get(server.url + "health")
    assert "not running" in page  # no daemon holds this state directory
    assert re.search(r"Needs a person</b><span class=\"bad\">\d+ open", page)
    assert '<b>Zedonk</b>: <span class="ok">reached' in page
    assert re.search(r'order import</td><td data-label="Last pass"><a href="/runs/\d+">', page)


def test_every_page_refreshes_itself_and_marks_where_it_is(
    console: tuple[StatusServer, Brand],
) -> None:
    server, _ = console
    for path, label in (
        ("", "inbox"),
        ("orders", "orders"),
        ("catalogue", "catalogue"),
        ("runs", "runs"),
        ("runs/1", "runs"),
        ("health", "health"),
    ):
        status, page = get(server.url + path)
        assert status == 200, path
        assert '<meta http-equiv="refresh" content="30">' in page, path
        assert re.findall(r'<a href="[^"]+" aria-current="page">([^<]+)</a>', page) == [label]
        assert "<script" not in page and "<link" not in page, path


# --------------------------------------------------------------------------- long lists


def add_imports(state: Path, count: int) -> None:
    now = utcnow()
    with History.open(state) as history, history.transaction() as conn:
        for n in range(count):
            conn.execute(
                "INSERT INTO imports (import_key, ordre_id, ordre_number, submission,"
                " connector_ref, state, po_number, retailer_name, first_seen_at, updated_at)"
                " VALUES (?, ?, ?, 1, ?, 'created', ?, 'Shop', ?, ?)",
                (f"o-{n}#1", f"o-{n}", f"N-{n:04}", f"REF-{n}", f"PO-{n}", now, f"{now}-{n:04}"),
            )
        for _ in range(count):
            conn.execute(
                "INSERT INTO runs (kind, trigger, started_at, finished_at, result)"
                " VALUES ('import', 'timer', ?, ?, 'ok')",
                (now, now),
            )


def test_long_lists_come_a_page_at_a_time(tmp_path: Path) -> None:
    add_imports(tmp_path, 120)
    server = StatusServer(tmp_path, ("127.0.0.1", 0))
    server.start()
    try:
        _, first = get(server.url + "orders")
        assert len(rows(first)) == 50 and "N-0119" in first  # the newest first
        assert '<a href="/orders?page=2" rel="next">' in first
        _, last = get(server.url + "orders?page=3")
        assert len(rows(last)) == 20 and "N-0000" in last and 'rel="next"' not in last
        assert '<a href="/orders?page=2" rel="prev">' in last
        _, runs = get(server.url + "runs")
        assert len(rows(runs)) == 50
        older = re.search(r'<a href="(/runs\?before=\d+)" rel="next">', runs)
        assert older is not None
        _, second = get(server.url + older.group(1).lstrip("/"))
        assert len(rows(second)) == 50 and set(rows(second)).isdisjoint(rows(runs))
    finally:
        server.stop()


# --------------------------------------------------------------------------- colours


def luminance(hex_colour: str) -> float:
    """WCAG 2's relative luminance of ``#rrggbb``."""
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_contrast_is_checked_the_way_wcag_computes_it() -> None:
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0
    assert round(contrast("#777777", "#ffffff"), 2) == 4.48  # the classic near miss


def test_every_text_colour_meets_wcag_aa_in_light_and_dark() -> None:
    css = (TEMPLATES / "style.css").read_text()
    light_block = re.search(r":root \{(.*?)\}", css, re.S)
    dark_block = re.search(r"prefers-color-scheme: dark\) \{\s*:root \{(.*?)\}", css, re.S)
    assert light_block and dark_block
    schemes = {
        name: dict(re.findall(r"--([\w-]+): (#[0-9a-f]{6})", block.group(1)))
        for name, block in (("light", light_block), ("dark", dark_block))
    }
    # Every colour the style sheet writes text in, and every background it puts text on.
    text_colours = set(re.findall(r"(?<![-\w])color: var\(--([\w-]+)\)", css))
    backgrounds = set(re.findall(r"background: var\(--([\w-]+)\)", css))
    assert {"fg", "muted", "link", "ok", "bad", "warn"} <= text_colours
    assert backgrounds == {"bg", "panel"}
    for scheme, colours in schemes.items():
        assert set(colours) >= text_colours | backgrounds, scheme
        for fg in sorted(text_colours):
            for bg in sorted(backgrounds):
                ratio = contrast(colours[fg], colours[bg])
                assert ratio >= 4.5, f"{scheme}: --{fg} on --{bg} is {ratio:.2f}:1"
