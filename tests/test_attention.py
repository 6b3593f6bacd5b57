"""The "needs a person" inbox against both sandboxes on loopback and a real history: every kind
of item appears, says who must act and how, leaves when its problem clears, and can be
acknowledged (recorded, listed as such, not counted)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orders_support
import pytest
from orders_support import CLI, barcodes, cli, submit, write_connector

from daemon.notify import Drainer, Notifier
from daemon.orders import ImportResult, import_orders
from daemon.sandbox import SandboxPair
from daemon.service.children import ChildPasses
from daemon.store.attention import inbox
from daemon.store.history import History, utcnow
from daemon.tree.settings import Settings, load_settings

sandboxes, pair = orders_support.sandboxes, orders_support.pair  # fixtures

REPO = Path(__file__).resolve().parent.parent
UNKNOWN = "4006381333931"  # a valid GTIN that no Zedonk SKU has
BAD_LINE = {"barcode": UNKNOWN, "style": "ML-999", "colour": "RED", "size": "M", "quantity": 1,
            "unit_price": "99.00"}  # fmt: skip


def run(settings: Settings) -> ImportResult:
    with History.open(settings.state_dir) as history:
        return import_orders(
            settings, history, trigger="test", notifier=Notifier(settings, history)
        )


def items(settings: Settings) -> dict[str, dict[str, Any]]:
    """The inbox as ``attention --format json`` prints it, by item id."""
    done = cli("attention", "--format", "json", "--root", str(settings.root))
    assert done.exit_code == 0, done.output
    document = json.loads(done.output)
    return {item["id"]: item for item in document["items"]}


def ack(settings: Settings, *ids: str, note: str = "done") -> Any:
    return cli("attention", "ack", *ids, "--note", note, "--root", str(settings.root))


def test_order_items_say_who_acts_and_leave_when_fixed(tmp_path: Path, pair: SandboxPair) -> None:
    settings = write_connector(tmp_path, pair)
    good, other = barcodes(pair, 2)
    partial = submit(pair, [{"barcode": good, "quantity": 2}, BAD_LINE], po_number="PO-1")
    failed = submit(pair, [BAD_LINE])
    held = submit(pair, [{"barcode": good, "quantity": 1}], currency="GBP")
    run(settings)
    found = items(settings)
    p_id, f_id, h_id = (
        f"order:{partial['number']}:partial",
        f"order:{failed['number']}:failed",
        f"order:{held['number']}:held",
    )
    assert set(found) == {p_id, f_id, h_id}
    assert found[p_id]["kind"] == "partial_order" and found[p_id]["who"] == "Zedonk"
    assert found[p_id]["details"] == [f"line 2: ML-999 RED M x1 (barcode {UNKNOWN}): unknown"]
    assert found[p_id]["link"] == {"order": partial["number"]}
    assert f"orders retry {failed['id']}#1" in found[f_id]["fix"]
    assert found[f_id]["details"] == [f"line 1: ML-999 RED M x1 (barcode {UNKNOWN}): unknown"]
    assert "held for review" in found[h_id]["what"] and "--accept" in found[h_id]["fix"]
    assert [i["kind"] for i in found.values()] == ["failed_order", "held_order", "partial_order"]

    # The failed order is fixed in ORDRE and retried; the held one is accepted as it is.
    pair.ordre.edit_order(failed["id"], {"lines": [{"barcode": other, "quantity": 1}]})
    assert cli("orders", "retry", failed["number"], "--root", str(settings.root)).exit_code == 0
    done = cli("orders", "retry", held["number"], "--accept", "--root", str(settings.root))
    assert done.exit_code == 0, done.output
    assert set(items(settings)) == {p_id}


def test_an_acknowledgement_is_recorded_shown_and_not_counted(
    tmp_path: Path, pair: SandboxPair
) -> None:
    settings = write_connector(tmp_path, pair)
    [good] = barcodes(pair, 1)
    partial = submit(pair, [{"barcode": good, "quantity": 2}, BAD_LINE])
    failed = submit(pair, [BAD_LINE])
    run(settings)
    p_id, f_id = f"order:{partial['number']}:partial", f"order:{failed['number']}:failed"

    refused = ack(settings, "order:NOPE:failed", p_id)
    assert refused.exit_code == 1 and "no item 'order:NOPE:failed'" in refused.output
    empty = ack(settings, p_id, note="  ")
    assert empty.exit_code == 1 and "--note is empty" in empty.output
    with History.open(settings.state_dir) as history:  # nothing recorded by either
        assert history.query("SELECT * FROM attention_acks") == []

    done = ack(settings, p_id, f_id, note="lines added to the Zedonk order")
    assert done.exit_code == 0, done.output
    assert f"acknowledged {p_id} (partial_order)" in done.output
    found = items(settings)
    assert found[p_id]["acked"]["note"] == "lines added to the Zedonk order"
    text = cli("attention", "--root", str(settings.root)).output
    assert text.startswith("0 items need a person (2 acknowledged).")
    assert "Acknowledged:" in text and "lines added to the Zedonk order" in text
    status = json.loads(cli("status", "--format", "json", "--root", str(settings.root)).output)
    assert status["attention"] == {"open": 0, "acknowledged": 2, "by_kind": {}}
    with History.open(settings.state_dir) as history:
        events = history.events(subject=p_id)
    assert [e["code"] for e in events] == ["attention-acknowledged"]
    assert events[0]["details"]["note"] == "lines added to the Zedonk order"

    # The failed order fails again after a retry: a new occurrence is not acknowledged.
    assert cli("orders", "retry", failed["number"], "--root", str(settings.root)).exit_code == 3
    assert items(settings)[f_id]["acked"] is None
    # A task acknowledged over a week ago has left the list; a problem stays while it lasts.
    with History.open(settings.state_dir) as history:
        later = inbox(history, now=datetime.now(UTC) + timedelta(days=8))
    assert [i.id for i in later.items] == [f_id]
    assert cli("attention", "--detailed-exitcode", "--root", str(settings.root)).exit_code == 2


def test_resubmissions_edits_and_cancellations_are_tasks(tmp_path: Path, pair: SandboxPair) -> None:
    settings = write_connector(tmp_path, pair, on_resubmit="report")
    a, b = barcodes(pair, 2)
    first = submit(pair, [{"barcode": a, "quantity": 1}])
    edited = submit(pair, [{"barcode": a, "quantity": 1}])
    run(settings)
    pair.ordre.resubmit_order(first["id"], {"lines": [{"barcode": b, "quantity": 3}]})
    pair.ordre.edit_order(edited["id"], {"lines": [{"barcode": b, "quantity": 9}]})
    run(settings)
    pair.ordre.cancel_order(edited["id"])
    run(settings)
    found = items(settings)
    resubmitted = f"order:{first['number']}#2:inactivate-earlier"
    cancelled = f"order:{edited['number']}:cancelled"
    [changed] = [i for i in found if i.startswith(f"order:{edited['number']}:changed-")]
    assert set(found) == {resubmitted, cancelled, changed}
    assert found[resubmitted]["kind"] == "inactivate_earlier"
    assert "inactivate Zedonk order SO-" in found[resubmitted]["fix"]
    assert found[cancelled]["kind"] == "cancelled_after_import"
    assert found[changed]["kind"] == "changed_after_import" and found[changed]["who"] == "Zedonk"
    assert ack(settings, resubmitted, cancelled, changed).exit_code == 0
    assert (
        json.loads(cli("attention", "--format", "json", "--root", str(settings.root)).output)[
            "open"
        ]
        == 0
    )


def test_with_inactivate_previous_only_a_refused_inactivation_is_listed(
    tmp_path: Path, pair: SandboxPair
) -> None:
    settings = write_connector(tmp_path, pair, on_resubmit="inactivate_previous")
    a, b = barcodes(pair, 2)
    order = submit(pair, [{"barcode": a, "quantity": 1}])
    run(settings)
    pair.ordre.resubmit_order(order["id"], {"lines": [{"barcode": b, "quantity": 3}]})
    run(settings)
    assert items(settings) == {}  # the import inactivated the earlier order itself
    with History.open(settings.state_dir) as history, history.transaction() as conn:
        conn.execute("UPDATE imports SET previous_inactivated = -1 WHERE submission = 2")
    [item] = items(settings).values()
    assert item["kind"] == "inactivate_earlier" and "Zedonk refused" in item["what"]


def test_an_unresolved_create_is_listed_until_it_settles(tmp_path: Path, pair: SandboxPair) -> None:
    settings = write_connector(tmp_path, pair)
    [good] = barcodes(pair, 1)
    order = submit(pair, [{"barcode": good, "quantity": 1}])
    run(settings)
    key = f"{order['id']}#1"
    # The state a create whose answer was lost waits in (the import's settle window).
    with History.open(settings.state_dir) as history, history.transaction() as conn:
        conn.execute("PRAGMA ignore_check_constraints = ON")
        conn.execute(
            "UPDATE imports SET state = 'unresolved', last_error = 'the answer was lost',"
            " updated_at = ? WHERE import_key = ?",
            (utcnow(), key),
        )
    [item] = items(settings).values()
    assert item["id"] == f"order:{order['number']}:unresolved"
    assert item["kind"] == "unresolved_create" and "the answer was lost" in item["what"]
    with History.open(settings.state_dir) as history, history.transaction() as conn:
        conn.execute("UPDATE imports SET state = 'created' WHERE import_key = ?", (key,))
    assert items(settings) == {}


# --------------------------------------------------------------------------- the catalogue


def catalogue_repo(root: Path, pair: SandboxPair) -> Settings:
    settings = write_connector(root, pair)
    shutil.copytree(REPO / "catalogue", root / "catalogue")
    text = (root / "connector.yaml").read_text()
    (root / "connector.yaml").write_text(text + "prices: {seasons: [AW25, SS26, AW26]}\n")
    return settings


def test_catalogue_items_appear_and_leave_when_fixed(tmp_path: Path, pair: SandboxPair) -> None:
    settings = catalogue_repo(tmp_path, pair)
    root = str(settings.root)
    assert cli("apply", "--yes", "--allow-deletes", "--root", root).exit_code == 0
    found = items(settings)
    held, incomplete = (
        "product:ML-102/WOOL/BLACK:held-back",
        "product:ML-610/LEATHER/BLACK:incomplete",
    )
    assert set(found) == {held, incomplete}
    assert found[held]["kind"] == "held_back_product" and found[held]["details"] == [
        "size 36: no barcode"
    ]
    assert "catalogue/aw26-main.yaml:10:9" in found[held]["fix"]
    assert "upload Image 1 of ML-610/LEATHER/BLACK" in found[incomplete]["fix"]
    assert found[incomplete]["link"] == {"product": "ML-610/LEATHER/BLACK"}

    # An invalid edit: the daemon's pass (here the command's own) applies nothing.
    main = settings.root / "catalogue" / "aw26-main.yaml"
    good_text = main.read_text()
    main.write_text(good_text.replace("looks:", "lokos:", 1))
    assert cli("reconcile", "--root", root).exit_code == 1
    found = items(settings)
    assert next(iter(found)) == "catalogue:invalid"  # the most urgent first
    invalid = found["catalogue:invalid"]
    assert invalid["who"] == "catalogue" and "zedonk-ordre validate" in invalid["fix"]
    assert any("aw26-main.yaml" in line for line in invalid["details"])
    since = invalid["since"]
    assert cli("reconcile", "--root", root).exit_code == 1
    assert items(settings)["catalogue:invalid"]["since"] == since  # the same problem

    # A plan the delete guard refuses.
    main.write_text(good_text)
    (settings.root / "catalogue" / "essentials.yaml").rename(tmp_path / "essentials.yaml")
    assert cli("reconcile", "--root", root).exit_code == 1
    found = items(settings)
    assert "catalogue:invalid" not in found
    assert "--allow-deletes" in found["catalogue:guard"]["fix"]

    # Fixed: the file back, the barcode entered in Zedonk.
    (tmp_path / "essentials.yaml").rename(settings.root / "catalogue" / "essentials.yaml")
    pair.zedonk.set_barcodes("ML-102/WOOL/BLACK", {"36": UNKNOWN})
    assert cli("reconcile", "--root", root).exit_code == 0
    assert set(items(settings)) == {incomplete}


# --------------------------------------------------------------------------- where it shows


def test_status_without_a_daemon_says_so_with_the_inbox_first(
    tmp_path: Path, pair: SandboxPair
) -> None:
    settings = write_connector(tmp_path, pair)
    [good] = barcodes(pair, 1)
    order = submit(pair, [{"barcode": good, "quantity": 1}, BAD_LINE])
    run(settings)
    done = subprocess.run(
        [*CLI, "status", "--root", str(settings.root)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.splitlines()[:2]
    assert first.startswith("needs a person: 1 (1 partial order): `zedonk-ordre attention`")
    assert second == "daemon: not running"
    assert order["number"] in done.stdout


def test_a_digest_starts_with_what_needs_a_person(
    tmp_path: Path, pair: SandboxPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    from test_notify import Hook

    hook = Hook()
    monkeypatch.setenv("TEST_WEBHOOK_URL", hook.url)
    try:
        settings = write_connector(tmp_path, pair)
        text = (settings.root / "connector.yaml").read_text()
        (settings.root / "connector.yaml").write_text(
            text + "notifications: {webhook: {url: {env: TEST_WEBHOOK_URL}}}\n"
        )
        settings = load_settings(tmp_path)
        [good] = barcodes(pair, 1)
        partial = submit(pair, [{"barcode": good, "quantity": 1}, BAD_LINE])
        failed = submit(pair, [BAD_LINE])
        run(settings)
        with History.open(settings.state_dir) as history:
            Drainer(lambda: settings, history, quiet=0).drain_now(within=10)
        [post] = hook.posts
    finally:
        hook.close()
    assert post["event"] == "digest"
    [header] = post["header"]
    assert header["heading"] == "Needs a person (2; `zedonk-ordre attention`)"
    assert header["lines"][0].startswith(f"- [Zedonk] ORDRE order {failed['number']}")
    assert partial["number"] in header["lines"][1]
    assert post["details"].index("Needs a person") < post["details"].index("Problems (")


def test_the_console_opens_on_the_inbox_escaped(tmp_path: Path, pair: SandboxPair) -> None:
    from test_web import get

    from daemon.service.web import StatusServer

    settings = write_connector(tmp_path, pair)
    [good] = barcodes(pair, 1)
    retailer = {"name": "<script>alert(1)</script> Boutique", "account_code": "XSS001"}
    order = submit(pair, [{"barcode": good, "quantity": 1}, BAD_LINE], retailer=retailer)
    run(settings)
    assert ack(settings, f"order:{order['number']}:partial", note="<b>added</b>").exit_code == 0
    server = StatusServer(settings.state_dir, ("127.0.0.1", 0), lambda: {"healthy": True})
    server.start()
    try:
        status, _, page = get(server.url)
    finally:
        server.stop()
    assert status == 200 and "<title>Needs a person · zedonk-ordre</title>" in page
    acked = r'<article class="card attention partial_order acknowledged".*?</article>'
    [item] = re.findall(acked, page, re.S)
    assert "ML-999 RED M" in item and "Acknowledged by" in item
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Boutique" in item
    assert "<script>" not in page and "&lt;b&gt;added&lt;/b&gt;" in item
    assert '<b class="ok">Open</b><span class="big">0</span>' in page  # acknowledged: not open


def test_the_daemon_lists_a_resubmission_with_no_notification_channel_set(
    tmp_path: Path, pair: SandboxPair
) -> None:
    """The daemon's passes run in child processes; with no e-mail or webhook set they must
    still record what a person has to do, as `orders import` does."""
    settings = write_connector(tmp_path, pair, on_resubmit="report")
    assert settings.email is None and settings.webhook is None
    a, b = barcodes(pair, 2)
    first = submit(pair, [{"barcode": a, "quantity": 1}])
    passes = ChildPasses(threading.Event(), grace=5)
    assert passes.run("import", settings, "timer").result == "ok"
    pair.ordre.resubmit_order(first["id"], {"lines": [{"barcode": b, "quantity": 3}]})
    assert passes.run("import", settings, "timer").result == "ok"
    found = items(settings)
    resubmitted = f"order:{first['number']}#2:inactivate-earlier"
    assert found[resubmitted]["kind"] == "inactivate_earlier", found
