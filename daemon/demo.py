"""``zedonk-ordre demo``: the whole product on one screen, against local sandboxes.

It starts the Zedonk and ORDRE sandboxes, copies the repository's connector.yaml and catalogue/
into a temporary folder (pointed at the sandboxes), runs the daemon on that copy, and plays a
short story: the catalogue is published, retailers order (one with an unknown barcode, one who
is new, one who re-submits), an editor changes the catalogue, someone makes a typo. A narrator
reads the daemon's history as it grows and says what happened in plain words.

Nothing is written outside the temporary folder, which is deleted at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from daemon.clients import OrdreClient
from daemon.core.attentionitems import order_label
from daemon.errors import ConfigError
from daemon.sandbox import SandboxPair, start_sandboxes
from daemon.service import Service
from daemon.store.attention import inbox
from daemon.store.history import History
from daemon.store.ledger import Ledger
from daemon.tree.settings import CONNECTOR_FILE, find_root, load_settings

Say = Callable[[str], None]

ZEDONK_TOKEN_ENV = "ZEDONK_ORDRE_DEMO_ZEDONK_TOKEN"
ORDRE_TOKEN_ENV = "ZEDONK_ORDRE_DEMO_ORDRE_TOKEN"
UNKNOWN_GTIN = "4006381333931"  # a valid GTIN that no product of the brand carries
REASONS = {
    "missing": "no barcode",
    "malformed": "the barcode is not a GTIN",
    "check-digit": "the barcode's check digit is wrong",
    "unknown": "no Zedonk SKU has this barcode",
    "ambiguous": "several Zedonk SKUs have this barcode",
    "quantity": "the quantity is not valid",
    "price": "the price is not valid",
}


class Stop(Exception):
    """The demo's time is up."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def prepare_copy(source: Path, target: Path, pair: SandboxPair) -> Path:
    """connector.yaml and catalogue/ copied into ``target``, pointed at the sandboxes."""
    root = target / "repo"
    root.mkdir()
    shutil.copytree(source / "catalogue", root / "catalogue")
    doc = yaml.safe_load((source / CONNECTOR_FILE).read_text(encoding="utf-8"))
    doc["zedonk"] = {"url": pair.zedonk.api_url, "token": {"env": ZEDONK_TOKEN_ENV}}
    doc["ordre"] = {"url": pair.ordre.api_url, "token": {"env": ORDRE_TOKEN_ENV}}
    doc.pop("notifications", None)  # the demo sends no e-mail
    # The sandbox's search shows an order as soon as it is stored, so no create needs to
    # settle: the demo's first orders are imported at once, not after the default 2 minutes.
    doc["import"] = {**doc.get("import", {}), "settle_window": "0s"}
    doc["daemon"] = {
        **doc.get("daemon", {}),
        "poll_interval": "2s",
        "debounce": "1s",
        "reconcile_interval": "10m",
        "status_listen": f"127.0.0.1:{_free_port()}",
        "state_dir": str(target / "state"),
    }
    text = "# A copy made by `zedonk-ordre demo`, pointed at the local sandboxes.\n"
    (root / CONNECTOR_FILE).write_text(text + yaml.safe_dump(doc, sort_keys=False))
    return root


class Narrator:
    """Reads the history as it grows and tells what happened, once per thing."""

    def __init__(self, state_dir: Path, say: Say) -> None:
        self.state_dir = state_dir
        self.say = say
        self.last_run = 0
        self.last_event = 0
        self.told_imports: dict[str, str] = {}

    def _history(self) -> History | None:
        if not (self.state_dir / "history.sqlite").exists():
            return None
        return History.open(self.state_dir, read_only=True)

    def catch_up(self) -> None:
        history = self._history()
        if history is None:
            return
        with history:
            for run in history.query(
                "SELECT * FROM runs WHERE id > ? AND result != 'running' AND kind = 'reconcile'"
                " ORDER BY id",
                (self.last_run,),
            ):
                self._tell_reconcile(run)
            running = history.query("SELECT MIN(id) AS id FROM runs WHERE result = 'running'")
            finished = history.query("SELECT MAX(id) AS id FROM runs WHERE result != 'running'")
            self.last_run = min(
                (running[0]["id"] or 1 << 62) - 1, finished[0]["id"] or self.last_run
            )
            for imp in Ledger(history).in_order_seen():
                self._tell_import(history, imp)
            for event in history.query(
                "SELECT * FROM events WHERE id > ? AND code = 'order-resubmitted' ORDER BY id",
                (self.last_event,),
            ):
                self.say(f"   ↻ {event['message']}")
            last = history.query("SELECT MAX(id) AS id FROM events")[0]["id"]
            self.last_event = last or self.last_event

    def _tell_reconcile(self, run: dict[str, Any]) -> None:
        counts = json.loads(run["summary"]) if run["summary"] else {}
        why = {
            "startup": "at start-up",
            "watch": "after the edit",
            "timer": "on its regular check",
            "retry": "on a retry",
        }.get(run["trigger"], "")
        if run["result"] == "ok":
            done = ", ".join(
                f"{counts[op]} {word}"
                for op, word in (
                    ("create", "created"),
                    ("update", "updated"),
                    ("delete", "deleted"),
                )
                if counts.get(op)
            )
            self.say(f"   ✔ ORDRE updated {why}: {done or 'changes applied'}.")
        elif run["result"] == "no-changes":
            if run["trigger"] != "timer":
                self.say(f"   ✔ Checked {why}: ORDRE already matches the catalogue.")
        elif run["result"] == "invalid":
            first = (run["error"] or "").splitlines()[0] if run["error"] else ""
            self.say(
                f"   ✘ The catalogue is invalid, so nothing was sent to ORDRE "
                f"(it keeps the last good state):\n       {first}"
            )
        else:
            self.say(f"   ✘ Reconcile {run['result']}: {run['error']}")

    def _tell_attention(self, history: History, item_id: str) -> None:
        """Say where the inbox lists ``item_id``, when it does."""
        item = inbox(history).find(item_id)
        if item is None:
            return
        self.say(
            f"     It needs a person ({item.who}): `zedonk-ordre attention` and the console's "
            f"first page, 'Needs a person', list it as {item.id}, with the fix:\n"
            f"       {item.fix}"
        )

    def _tell_import(self, history: History, imp: dict[str, Any]) -> None:
        key, state = imp["import_key"], imp["state"]
        if state in ("pending", "sending", "unresolved") or self.told_imports.get(key) == state:
            return
        self.told_imports[key] = state
        who = imp["retailer_name"] or "a retailer"
        po = f" (PO {imp['po_number']})" if imp["po_number"] else ""
        order = f"ORDRE order {imp['ordre_number']}#{imp['submission']}{po} from {who}"
        if state == "created":
            self.say(
                f"   ✔ {order} became Zedonk sales order {imp['zedonk_order_number']} "
                f"({imp['lines_imported']} line(s))."
            )
            for new in Ledger(history).customers_created_for(key):
                self.say(
                    f"     {new['name']} was new to Zedonk, so the connector created the "
                    f"customer first ({new['customer_id']})."
                )
        elif state == "partial":
            self.say(
                f"   ! {order} became Zedonk sales order {imp['zedonk_order_number']}, "
                f"but {imp['lines_total'] - imp['lines_imported']} line(s) were left out:"
            )
            for line in Ledger(history).left_out_lines(key):
                self.say(
                    f"       line {line['line_no']} ({line['style']} {line['colour']} "
                    f"{line['size']}, barcode {line['barcode'] or 'none'}): "
                    f"{REASONS.get(line['reason'], line['reason'])}"
                )
            self._tell_attention(history, f"order:{order_label(imp)}:partial")
        elif state == "skipped":
            self.say(f"   · {order} was superseded by a newer submission before import.")
        else:
            self.say(f"   ✘ {order} needs a person ({state}): {imp['last_error']}")


class Story:
    """The scripted part: what the retailers and the editor do, with pauses between."""

    def __init__(
        self,
        pair: SandboxPair,
        root: Path,
        narrator: Narrator,
        say: Say,
        *,
        speed: float,
        deadline: float | None,
    ) -> None:
        self.pair = pair
        self.root = root
        self.narrator = narrator
        self.say = say
        self.speed = speed
        self.deadline = deadline

    def pause(self, seconds: float) -> None:
        """Wait, telling what happens meanwhile; raise Stop when the time is up."""
        end = time.monotonic() + seconds / self.speed
        while True:
            self.narrator.catch_up()
            now = time.monotonic()
            if self.deadline is not None and now >= self.deadline:
                raise Stop
            if now >= end:
                return
            time.sleep(min(0.25, end - now))

    def wait_for(self, check: Callable[[], bool], limit: float = 30.0) -> None:
        end = time.monotonic() + limit
        while not check() and time.monotonic() < end:
            self.pause(0.25 * self.speed)
        self.narrator.catch_up()

    def step(self, text: str) -> None:
        self.say(f"\n▶ {text}")

    def _settled_imports(self) -> int:
        history = self.narrator._history()
        if history is None:
            return 0
        with history:
            return Ledger(history).count_settled()

    def _runs(self) -> int:
        history = self.narrator._history()
        if history is None:
            return 0
        with history:
            return int(
                history.query(
                    "SELECT COUNT(*) AS n FROM runs"
                    " WHERE kind = 'reconcile' AND result != 'running'"
                )[0]["n"]
            )

    def _settled(self, count: int) -> Callable[[], bool]:
        return lambda: self._settled_imports() >= count

    def edit(self, relative: str, old: str, new: str) -> None:
        """Save a catalogue file the way editors do: a temp file renamed over the original."""
        path = self.root / relative
        text = path.read_text(encoding="utf-8")
        temp = path.with_name(f".{path.name}.swp")
        temp.write_text(text.replace(old, new, 1), encoding="utf-8")
        temp.replace(path)

    def play(self) -> None:
        ordre = OrdreClient(self.pair.ordre.api_url, self.pair.ordre.token)
        try:
            self._play(ordre)
        finally:
            ordre.close()

    def _play(self, ordre: OrdreClient) -> None:
        self.step("The daemon publishes the catalogue to ORDRE (it was empty).")
        self.wait_for(lambda: self._runs() >= 1, limit=60)
        state = self.pair.ordre.state()
        self.say(
            f"   ORDRE now shows {state['collections']} collections, {state['looks']} looks, "
            f"{state['listings']} products and {state['customers']} retailers - "
            "all read from Zedonk, grouped as catalogue/*.yaml says."
        )
        self.pause(3)

        listings = list(ordre.listings())
        retailers = list(ordre.customers())
        first, second = listings[0], listings[min(1, len(listings) - 1)]
        shop = retailers[0]
        self.step(
            f"{shop.name} (a known retailer) orders 2 x {first.style} {first.colour} "
            f"and 1 x {second.style} {second.colour} in ORDRE."
        )
        order = self.pair.ordre.submit_order(
            {
                "retailer": {"account_code": shop.account_code},
                "po_number": "PO-2041",
                "lines": [
                    {"barcode": first.sizes[0].gtin, "quantity": 2},
                    {"barcode": second.sizes[-1].gtin, "quantity": 1},
                ],
            }
        )
        self.say("   The daemon polls ORDRE every few seconds...")
        self.wait_for(self._settled(1))
        self.pause(3)

        self.step(
            "An editor renames a look in catalogue/essentials.yaml and saves "
            "(a temp file renamed over the original, as editors do)."
        )
        self.edit("catalogue/essentials.yaml", "- name: Shirts", "- name: Shirts and tees")
        runs = self._runs()
        self.wait_for(lambda: self._runs() > runs)
        self.pause(3)

        self.step(
            f"{shop.name} orders again, with one line whose barcode no product carries "
            f"({UNKNOWN_GTIN})."
        )
        self.pair.ordre.submit_order(
            {
                "retailer": {"account_code": shop.account_code},
                "po_number": "PO-2042",
                "lines": [
                    {"barcode": first.sizes[-1].gtin, "quantity": 3},
                    {
                        "barcode": UNKNOWN_GTIN,
                        "style": "ML-999",
                        "colour": "RED",
                        "size": "M",
                        "quantity": 1,
                        "unit_price": "99.00",
                    },
                ],
            }
        )
        self.wait_for(self._settled(2))
        self.pause(3)

        self.step("A retailer ORDRE knows but Zedonk does not (Boutique Nouvelle) orders.")
        self.pair.ordre.submit_order(
            {
                "retailer": {
                    "name": "Boutique Nouvelle",
                    "account_code": None,
                    "email": "achats@boutique-nouvelle.example",
                },
                "po_number": "BN-1",
                "currency": "EUR",
                "lines": [{"barcode": second.sizes[0].gtin, "quantity": 2}],
            }
        )
        self.wait_for(self._settled(3))
        self.pause(3)

        self.step(
            f"{shop.name} edits PO-2041 in ORDRE and submits it again (a re-submission): "
            "one more piece."
        )
        self.pair.ordre.resubmit_order(
            order["id"],
            {
                "lines": [
                    {"barcode": first.sizes[0].gtin, "quantity": 3},
                    {"barcode": second.sizes[-1].gtin, "quantity": 1},
                ]
            },
        )
        self.wait_for(self._settled(4))
        self.pause(3)

        self.step("Someone makes a typo in catalogue/essentials.yaml ('nme:' for 'name:').")
        runs = self._runs()
        self.edit("catalogue/essentials.yaml", "- name: Accessories", "- nme: Accessories")
        self.wait_for(lambda: self._runs() > runs)
        self.pause(3)
        self.step("They fix it.")
        runs = self._runs()
        self.edit("catalogue/essentials.yaml", "- nme: Accessories", "- name: Accessories")
        self.wait_for(lambda: self._runs() > runs)
        self.pause(2)


def run_demo(
    *,
    duration: float | None = None,
    once: bool = False,
    speed: float = 1.0,
    say: Say,
    source: Path | None = None,
) -> int:
    """Play the demo; returns the exit code. Ctrl-C stops everything cleanly."""
    try:
        source = source or find_root(Path())
    except ConfigError as exc:
        raise ConfigError(
            exc.message, hint="run the demo from the zedonk-ordre repository (make demo)"
        ) from None
    deadline = None if duration is None else time.monotonic() + duration
    service: Service | None = None
    thread: threading.Thread | None = None
    failure: list[BaseException] = []
    with tempfile.TemporaryDirectory(prefix="zedonk-ordre-demo-") as temp:
        say("zedonk-ordre demo: a brand's catalogue in git, kept in step with its ORDRE showroom;")
        say("ORDRE's orders imported into Zedonk, each exactly once.\n")
        say("Starting the local Zedonk and ORDRE sandboxes...")
        pair = start_sandboxes()
        try:
            counts = pair.zedonk.state()
            say(
                f"   Zedonk (the ERP) at {pair.zedonk.url}: {counts.get('products')} products, "
                f"{counts.get('customers')} customers."
            )
            say(f"   ORDRE (the showroom) at {pair.ordre.url}: empty.")
            root = prepare_copy(source, Path(temp), pair)
            os.environ[ZEDONK_TOKEN_ENV] = pair.zedonk.token
            os.environ[ORDRE_TOKEN_ENV] = pair.ordre.token
            settings = load_settings(root)
            say(f"   Working copy of connector.yaml and catalogue/: {root}")
            service = Service(settings, stop_grace=10)

            def serve() -> None:
                try:
                    assert service is not None
                    service.run()
                except BaseException as exc:
                    failure.append(exc)

            thread = threading.Thread(target=serve, name="daemon", daemon=True)
            thread.start()
            while service.web is None and thread.is_alive():
                time.sleep(0.05)
            if failure:
                raise failure[0]
            assert service.web is not None
            # From the moment the page's address is shown, Ctrl-C means "stop cleanly".
            try:
                say(f"\nThe daemon is running. Console: {service.web.url}")
                say("   (health at /healthz, metrics at /metrics; Ctrl-C stops the demo)")
                narrator = Narrator(settings.state_dir, say)
                story = Story(pair, root, narrator, say, speed=speed, deadline=deadline)
                story.play()
                say("\nThat is the whole loop: edit YAML -> ORDRE follows; orders -> Zedonk.")
                say(f"Look around the console: {service.web.url}")
                if not once:
                    say("The daemon keeps running and narrating; press Ctrl-C to stop.")
                    while True:
                        story.pause(1)
            except Stop:
                say("\nTime is up.")
            except KeyboardInterrupt:
                say("\nCtrl-C: stopping.")
        finally:
            if service is not None:
                service.request_stop()
            if thread is not None:
                with contextlib.suppress(KeyboardInterrupt):
                    thread.join(timeout=15)
            pair.stop()
            for name in (ZEDONK_TOKEN_ENV, ORDRE_TOKEN_ENV):
                os.environ.pop(name, None)
    if failure:
        raise failure[0]  # the daemon could not start: the CLI renders why
    say("Stopped cleanly; the temporary folder is gone.")
    return 0
