"""A real history for the console's tests, made by the real commands against the sandboxes.

``make_brand`` copies this repository's catalogue (Maison Lune: ML-102/WOOL/BLACK has a size
without a barcode, so it is held back; ML-610/LEATHER/BLACK has no main image), applies it to
the ORDRE sandbox (the populated one: its other listings go), and plays retailers: a partial
order (one line with a barcode Zedonk does not know), an order from a new retailer whose name
carries markup, and an order re-submitted once. ``zedonk-ordre orders import --once`` imports them.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from orders_support import barcodes, cli, submit, write_connector

from daemon.sandbox import SandboxPair
from daemon.tree.settings import Settings

REPO = Path(__file__).resolve().parent.parent
XSS_RETAILER = "<script>alert('xss')</script><img src=x onerror=alert(2)> Boutique & Co"
UNKNOWN_LINE = {
    "barcode": "4006381333931",  # a valid GTIN that no Zedonk SKU has
    "style": "ML-999",
    "colour": "RED",
    "size": "M",
    "quantity": 1,
    "unit_price": "99.00",
}
HELD_BACK = "ML-102/WOOL/BLACK"  # a size without a barcode
NO_IMAGE = "ML-610/LEATHER/BLACK"  # no main image (Zedonk's Image 1)


@dataclass(frozen=True)
class Brand:
    settings: Settings
    partial: dict[str, str]  # ORDRE's order: id, number
    xss: dict[str, str]
    resubmitted: dict[str, str]


def make_brand(root: Path, pair: SandboxPair) -> Brand:
    """The brand's repository at ``root``, applied, with orders imported (see above). The
    sandboxes' tokens must be in the environment (``orders_support.pair`` sets them)."""
    settings = write_connector(root, pair)
    shutil.copytree(REPO / "catalogue", root / "catalogue")
    applied = cli("apply", "--yes", "--allow-deletes", "--root", str(root))
    assert applied.exit_code == 0, applied.output
    good = barcodes(pair, 3)
    partial = submit(
        pair,
        [{"barcode": good[0], "quantity": 2}, UNKNOWN_LINE],
        po_number="PO-PARTIAL-1",
    )
    xss = submit(
        pair,
        [{"barcode": good[1], "quantity": 1}],
        retailer={"name": XSS_RETAILER},
        po_number="<b>PO-XSS</b>",
    )
    first = submit(pair, [{"barcode": good[2], "quantity": 1}], po_number="PO-TWICE")
    imported = cli("orders", "import", "--once", "--root", str(root))
    assert imported.exit_code == 3, imported.output  # the partial order
    pair.ordre.resubmit_order(first["id"], {"lines": [{"barcode": good[2], "quantity": 4}]})
    again = cli("orders", "import", "--once", "--root", str(root))
    assert again.exit_code in (0, 3), again.output
    return Brand(
        settings,
        {"id": partial["id"], "number": partial["number"]},
        {"id": xss["id"], "number": xss["number"]},
        {"id": first["id"], "number": first["number"]},
    )
