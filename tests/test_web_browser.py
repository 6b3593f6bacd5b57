"""The operations console in a real headless Chromium (Debian's ``chromium``, installed by
.ci/run), over a history the real commands made against the sandboxes.

One browser visits every page at 1280 and 375 CSS pixels (and, at 375, in the dark colour
scheme); each visit's full-page screenshot is saved under ``tests/browser.artifacts()``
(``build/test-artifacts/console/`` unless ``$ZEDONK_ORDRE_ARTIFACTS`` says elsewhere), named
``PAGE-WIDTH[-dark].png``.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import orders_support
import pytest
from browser import Browser, Visit, artifacts, require_chromium
from console_support import HELD_BACK, NO_IMAGE, XSS_RETAILER, Brand, make_brand

from daemon.sandbox import SandboxPair
from daemon.service.web import StatusServer

pytestmark = pytest.mark.browser

sandboxes = orders_support.sandboxes  # fixture


@pytest.fixture(scope="module")
def console(
    sandboxes: SandboxPair, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[StatusServer, Brand, Browser]]:
    require_chromium()
    root = tmp_path_factory.mktemp("brand")
    with pytest.MonkeyPatch.context() as env:
        env.setenv(orders_support.ZEDONK_ENV, sandboxes.zedonk.token)
        env.setenv(orders_support.ORDRE_ENV, sandboxes.ordre.token)
        sandboxes.reset()
        brand = make_brand(root / "repo", sandboxes)
    server = StatusServer(brand.settings.state_dir, ("127.0.0.1", 0))
    server.start()
    browser = Browser(root / "profile")
    try:
        yield server, brand, browser
    finally:
        browser.close()
        server.stop()


def shot(visit: Visit, name: str) -> Path:
    """Save ``visit``'s screenshot as ``name``.png among the artifacts; checks it is a PNG
    as wide as the window."""
    header = visit.png[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    assert width == visit.window_width and height > 100
    path = artifacts() / f"{name}.png"
    path.write_bytes(visit.png)
    return path


def pages(brand: Brand) -> dict[str, str]:
    return {
        "inbox": "",
        "orders": "orders",
        "order": "orders/" + quote(f"{brand.partial['id']}#1", safe=""),
        "resubmitted": "orders/" + quote(f"{brand.resubmitted['id']}#2", safe=""),
        "catalogue": "catalogue",
        "runs": "runs",
        "run": "runs/1",
        "health": "health",
    }


def test_every_page_reads_at_desktop_and_phone_width_light_and_dark(
    console: tuple[StatusServer, Brand, Browser],
) -> None:
    server, brand, browser = console
    for name, path in pages(brand).items():
        for width, dark in ((1280, False), (375, False), (375, True)):
            visit = browser.visit(server.url + path, width=width, dark=dark)
            saved = shot(visit, f"{name}-{width}{'-dark' if dark else ''}")
            assert visit.fits, f"{name} at {width}px is {visit.scroll_width}px wide ({saved})"
            assert "zedonk-ordre" in visit.text and "internal error" not in visit.text
            # Nothing is loaded from elsewhere, and the page refreshes itself without a script.
            assert not re.search(r"""(src|href)=["']?(https?:)?//""", visit.dom), name
            assert '<meta http-equiv="refresh"' in visit.dom, name


def test_the_inbox_shows_the_partial_order_with_its_left_out_line(
    console: tuple[StatusServer, Brand, Browser],
) -> None:
    server, brand, browser = console
    visit = browser.visit(server.url, width=375)
    number = brand.partial["number"]
    partial = r'<article class="card attention partial_order.*?</article>'
    [item] = re.findall(partial, visit.dom, re.S)
    assert number in item and "4006381333931" in item and "Zedonk must act" in item, item
    # Drawn where a person sees it: the item's box is on the page, with a height.
    box = browser.evaluate(
        "document.querySelector('article.partial_order').getBoundingClientRect().height"
    )
    assert box > 50
    assert f'href="/orders/{number}"' in item  # the link to the order's page
    shot(visit, "inbox-partial-375")


def test_a_retailer_name_with_markup_is_shown_as_text(
    console: tuple[StatusServer, Brand, Browser],
) -> None:
    server, brand, browser = console
    for path in ("orders", "orders/" + quote(f"{brand.xss['id']}#1", safe="")):
        visit = browser.visit(server.url + path, width=1280)
        assert XSS_RETAILER in visit.text, path  # shown as the retailer wrote it ...
        assert "<script>alert" not in visit.dom and "<img src" not in visit.dom, path  # ... inert
        assert "&lt;script&gt;alert" in visit.dom and "<b>PO-XSS</b>" not in visit.dom
        # No element came from the payload: the browser's own count of scripts and images.
        assert browser.evaluate("document.scripts.length + document.images.length") == 0


def test_the_catalogue_shows_a_product_without_a_main_image_as_such(
    console: tuple[StatusServer, Brand, Browser],
) -> None:
    server, _, browser = console
    visit = browser.visit(server.url + "catalogue?show=no-image", width=375)
    shot(visit, "catalogue-no-image-375")
    product = browser.evaluate(
        f"(() => {{ const p = document.getElementById('p-{NO_IMAGE}');"
        " return p && [p.querySelector('.picture').getAttribute('aria-label'), p.innerText]; })()"
    )
    assert product is not None, visit.text[:2000]
    label, text = product
    assert label == "no main image" and "no main image" in text and "on ORDRE" in text
    # A product with its image shows the picture icon, as Zedonk's screen does.
    visit = browser.visit(server.url + "catalogue", width=1280)
    pictures = browser.evaluate(
        "[...document.querySelectorAll('.picture')].map(e => e.getAttribute('aria-label'))"
    )
    assert "main image" in pictures and "no main image" in pictures
    held = browser.evaluate(f"document.getElementById('p-{HELD_BACK}').innerText")
    assert "held back from ORDRE" in held and "no barcode" in held, held
