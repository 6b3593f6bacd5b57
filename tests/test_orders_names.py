"""Look-alike retailer names: one retailer, one Zedonk customer, however ORDRE spells it; a name
that differs only in accents holds the order rather than merge or duplicate silently.

The table of cases is docs/orders.md ("How retailer names are compared"); each row is a case
here, against both sandboxes on loopback, through the command line.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import orders_support
import pytest
from orders_support import (
    barcodes,
    cli,
    ledger,
    sales_orders,
    submit,
    write_connector,
)

from daemon.clients import ZedonkClient
from daemon.core.model import Customer
from daemon.core.names import accent_key, name_key
from daemon.sandbox import SandboxPair
from daemon.store.history import History

sandboxes, pair = orders_support.sandboxes, orders_support.pair  # fixtures

QUEENS = "Queen's Atelier"
SAINT = "Saint-Germain Studio"
CAFE = "Café Lumière"

# (how ORDRE spells the retailer, the Zedonk customer it must be)
LOOK_ALIKES = [
    ("Queen\u2019s Atelier", QUEENS),  # curly apostrophe
    ("Queen\u02bcs Atelier", QUEENS),  # modifier letter apostrophe
    ("Queen's\u00a0Atelier", QUEENS),  # no-break space
    ("Queen's\u2003Atelier", QUEENS),  # em space
    ("  QUEEN'S   atelier ", QUEENS),  # case, runs of spaces, ends
    ("Queen's Atel\u200bier", QUEENS),  # a zero-width space inside
    ("\uff31ueen's Atelier", QUEENS),  # a full-width letter (NFKC)
    ("Saint\u2013Germain Studio", SAINT),  # en dash
    ("Saint\u2011Germain Studio", SAINT),  # non-breaking hyphen
    (unicodedata.normalize("NFD", CAFE), CAFE),  # decomposed accents
]


def customers(pair: SandboxPair) -> list[Customer]:
    with ZedonkClient(pair.zedonk.api_url, pair.zedonk.token) as zedonk:
        return list(zedonk.customers())


def rename_seed_customers(pair: SandboxPair) -> dict[str, str]:
    """Three seed customers renamed (without account codes, so names decide); name -> id."""
    ids = {}
    for customer, name in zip(customers(pair)[:3], (QUEENS, SAINT, CAFE), strict=True):
        pair.zedonk.edit_customer(
            customer.id, name=name, account_code=None, active=True, currency="EUR"
        )
        ids[name] = customer.id
    return ids


@pytest.mark.parametrize(("sent", "meant"), LOOK_ALIKES)
def test_look_alike_names_are_one_customer(
    tmp_path: Path, pair: SandboxPair, sent: str, meant: str
) -> None:
    assert name_key(sent) == name_key(meant)
    settings = write_connector(tmp_path, pair)
    ids = rename_seed_customers(pair)
    [good] = barcodes(pair, 1)
    before = len(customers(pair))
    order = submit(pair, [{"barcode": good, "quantity": 1}], retailer={"name": sent})
    imported = cli("orders", "import", "--once", "--root", str(settings.root))
    assert imported.exit_code == 0, imported.output
    assert len(customers(pair)) == before  # no second customer
    [made] = sales_orders(pair)
    assert made.customer_id == ids[meant]
    assert ledger(settings)[f"{order['id']}#1"]["state"] == "created"


def test_a_name_differing_only_in_accents_is_held_as_a_possible_duplicate(
    tmp_path: Path, pair: SandboxPair
) -> None:
    settings = write_connector(tmp_path, pair)
    root = str(settings.root)
    ids = rename_seed_customers(pair)
    [good] = barcodes(pair, 1)
    assert accent_key("Cafe Lumiere") == accent_key(CAFE)
    assert name_key("Cafe Lumiere") != name_key(CAFE)
    order = submit(pair, [{"barcode": good, "quantity": 1}], retailer={"name": "Cafe Lumiere"})
    key = f"{order['id']}#1"
    writes = pair.zedonk.write_count()
    held = cli("orders", "import", "--once", "--root", root)
    assert held.exit_code == 3, held.output
    assert pair.zedonk.write_count() == writes  # neither merged nor created
    row = ledger(settings)[key]
    assert row["state"] == "needs_attention"
    assert row["last_error"].endswith(f"possible duplicate of {ids[CAFE]}")
    assert f"{ids[CAFE]} 'Café Lumière'" in row["last_error"]

    # A person decides it is another retailer: imported with a new customer, and a warning.
    accepted = cli("orders", "retry", key, "--accept", "--root", root)
    assert accepted.exit_code == 0, accepted.output
    names = [c.name for c in customers(pair)]
    assert names.count("Cafe Lumiere") == 1 and names.count(CAFE) == 1
    with History.open(settings.state_dir) as history:
        codes = [e["code"] for e in history.events(subject=key, level="warning")]
    assert "order-possible-duplicate" in codes


def test_the_same_retailer_twice_in_one_pass_makes_one_customer(
    tmp_path: Path, pair: SandboxPair
) -> None:
    settings = write_connector(tmp_path, pair)
    [good] = barcodes(pair, 1)
    before = len(customers(pair))
    submit(pair, [{"barcode": good, "quantity": 1}], retailer={"name": "Hollow\u2013Oak Store"})
    submit(pair, [{"barcode": good, "quantity": 2}], retailer={"name": "hollow-oak  store"})
    imported = cli("orders", "import", "--once", "--root", str(settings.root))
    assert imported.exit_code == 0, imported.output
    assert len(customers(pair)) == before + 1
    assert len({o.customer_id for o in sales_orders(pair)}) == 1
