"""plan and apply against the sandbox servers over real sockets: scenarios, guards, journal.

``Brand`` is a catalogue repository in a temporary directory, wired to the sandboxes; the
scenarios edit its YAML (or ORDRE directly, for drift) and check what ORDRE holds afterwards.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from sandbox_harness import Sandboxes
from typer.testing import CliRunner

from daemon.cli import app
from daemon.clients.ordre import OrdreClient
from daemon.core.actions import PLAN_FORMAT_VERSION, checksum
from daemon.core.plan import Plan
from daemon.errors import ExitCode
from daemon.reconcile import ReconcileResult, load_tree, plan_only, reconcile
from daemon.remotes import open_clients
from daemon.store.history import History
from daemon.store.lock import StateLock
from daemon.tree.gitinfo import catalogue_commit
from daemon.tree.settings import Settings, load_settings

Tree = Mapping[str, Sequence[tuple[str, Sequence[str]]]]  # collection -> [(look, [ids])]

MAIN: Tree = {
    "AW26 Main": [
        ("Look 1 - Outerwear", ["ML-101/WOOL/NAVY", "ML-101/WOOL/CAMEL", "ML-105/ALPACA/RUST"]),
        ("Look 2 - Knitwear", ["ML-205/CASH/BLACK", "ML-205/CASH/ECRU"]),
    ],
    "Essentials": [("Shirts", ["ML-510/COTTON/BLUE", "ML-510/COTTON/WHITE"])],
}


class Brand:
    """A catalogue repository wired to the sandboxes."""

    def __init__(self, root: Path, sandbox: Sandboxes, *, prune: bool = True, count: int = 20):
        self.root = root
        self.sandbox = sandbox
        self.state_dir = root / "state"
        self.configure(prune=prune, count=count)

    def configure(
        self, *, prune: bool = True, count: int = 20, share: float = 1.0, updates: int = 50
    ) -> None:
        (self.root / "connector.yaml").write_text(
            "version: 1\n"
            f'zedonk: {{url: "{self.sandbox.zedonk_url}", token: {{env: ZEDONK_TOKEN}}}}\n'
            f'ordre: {{url: "{self.sandbox.ordre_url}", token: {{env: ORDRE_TOKEN}}}}\n'
            "import: {season: AW26, order_owner: sophie}\n"
            "prices: {seasons: [AW25, SS26, AW26]}\n"
            f"catalogue: {{prune: {str(prune).lower()}, "
            f"delete_threshold: {{count: {count}, share: {share}}}, "
            f"update_threshold: {{count: {updates}, share: 0.3}}}}\n"
            f"daemon: {{state_dir: '{self.state_dir}'}}\n",
            encoding="utf-8",
        )

    def write(self, tree: Tree) -> None:
        directory = self.root / "catalogue"
        directory.mkdir(exist_ok=True)
        for old in directory.glob("*.yaml"):
            old.unlink()
        for order, (collection, looks) in enumerate(tree.items(), start=1):
            lines = [f"collection: {json.dumps(collection)}", f"order: {order}"]
            lines.append("looks:" + ("" if looks else " []"))
            for name, products in looks:
                lines.append(f"  - name: {json.dumps(name)}")
                lines.append("    products:" + ("" if products else " []"))
                lines += [f"      - {p}" for p in products]
            (directory / f"c{order:02d}.yaml").write_text("\n".join(lines) + "\n")

    @property
    def settings(self) -> Settings:
        return load_settings(self.root)

    def reconcile(self, **kwargs: Any) -> ReconcileResult:
        with History.open(self.state_dir) as history:
            return reconcile(self.settings, history, trigger="cli", **kwargs)

    def plan(self) -> Plan:
        settings, catalogue, findings = load_tree(self.root)
        with open_clients(settings) as (zedonk, ordre):
            return plan_only(settings, catalogue, zedonk, ordre, findings=findings).plan

    def ordre(self) -> OrdreClient:
        return OrdreClient(self.sandbox.ordre_url, self.sandbox.ordre_token)

    def showroom(self) -> dict[str, dict[str, list[str]]]:
        """What ORDRE shows: {collection: {look: [keys]}}."""
        with self.ordre() as client:
            names = {c.id: c.name for c in client.collections()}
            shown: dict[str, dict[str, list[str]]] = {name: {} for name in names.values()}
            for look in client.looks():
                shown[names[look.collection_id]][look.name] = list(look.product_keys)
        return shown

    def cli(self, *args: str) -> Any:
        return CliRunner().invoke(app, [*args, "--root", str(self.root)], catch_exceptions=False)


def expected(tree: Tree) -> dict[str, dict[str, list[str]]]:
    return {c: {name: list(keys) for name, keys in looks} for c, looks in tree.items()}


@pytest.fixture
def brand(sandbox: Sandboxes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Brand]:
    monkeypatch.setenv("ZEDONK_TOKEN", sandbox.zedonk_token)
    monkeypatch.setenv("ORDRE_TOKEN", sandbox.ordre_token)
    made = Brand(tmp_path, sandbox)
    made.write(MAIN)
    yield made


def writes(sandbox: Sandboxes) -> int:
    return sandbox.ordre.write_count()


# --------------------------------------------------------------------------- scenarios


def test_create_from_empty_then_a_second_apply_makes_no_write(brand: Brand) -> None:
    first = brand.reconcile()
    assert first.result == "ok", first.message
    assert brand.showroom() == expected(MAIN)
    with brand.ordre() as client:
        listing = client.get_listing("ML-101/WOOL/NAVY")
        customers = list(client.customers())
    assert listing.prices and all(len(s.gtin) == 14 for s in listing.sizes)
    assert customers, "active customers with an account code are exported"

    before = writes(brand.sandbox)
    second = brand.reconcile()
    assert second.result == "no-changes"
    assert writes(brand.sandbox) == before
    assert brand.plan().has_changes is False


def test_rename_a_look_keeps_the_look(brand: Brand) -> None:
    brand.reconcile()
    with brand.ordre() as client:
        before = {x.name: x.id for x in client.looks()}
    renamed = dict(MAIN)
    renamed["AW26 Main"] = [("Coats", MAIN["AW26 Main"][0][1]), MAIN["AW26 Main"][1]]
    brand.write(renamed)
    plan = brand.plan()
    assert [(a.op, a.kind) for a in plan.actions] == [("update", "look")]
    assert brand.reconcile().result == "ok"
    with brand.ordre() as client:
        after = {x.name: x.id for x in client.looks()}
    assert after["Coats"] == before["Look 1 - Outerwear"]
    assert brand.showroom() == expected(renamed)


def test_move_a_product_between_looks_keeps_its_listing(brand: Brand) -> None:
    brand.reconcile()
    moved = dict(MAIN)
    moved["AW26 Main"] = [
        ("Look 1 - Outerwear", ["ML-101/WOOL/NAVY", "ML-105/ALPACA/RUST"]),
        ("Look 2 - Knitwear", ["ML-205/CASH/BLACK", "ML-101/WOOL/CAMEL", "ML-205/CASH/ECRU"]),
    ]
    brand.write(moved)
    plan = brand.plan()
    assert plan.counts() == {"create": 0, "update": 2, "delete": 0, "move": 1}
    mark = brand.sandbox.ordre.requests()[-1]["seq"]
    assert brand.reconcile().result == "ok"
    assert brand.showroom() == expected(moved)
    touched = [r for r in brand.sandbox.ordre.requests(since=mark) if r["write"]]
    assert all("/listings" not in r["path"] for r in touched)


def test_remove_a_collection_with_prune(brand: Brand) -> None:
    brand.reconcile()
    smaller = {"AW26 Main": MAIN["AW26 Main"]}
    brand.write(smaller)
    result = brand.reconcile()
    assert result.result == "ok" and result.counts["delete"] == 4  # look, collection, 2 listings
    assert brand.showroom() == expected(smaller)
    with brand.ordre() as client:
        keys = {x.key for x in client.listings()}
    assert "ML-510/COTTON/BLUE" not in keys


def test_without_prune_a_removed_collection_stays(brand: Brand) -> None:
    brand.configure(prune=False)
    brand.reconcile()
    brand.write({"AW26 Main": MAIN["AW26 Main"]})
    assert brand.reconcile().result == "no-changes"
    assert brand.showroom() == expected(MAIN)


def test_drift_is_shown_and_put_back(brand: Brand) -> None:
    brand.reconcile()
    http = brand.sandbox.client("ordre")
    with brand.ordre() as client:
        look = next(x for x in client.looks() if x.name == "Shirts")
        listing = client.get_listing("ML-101/WOOL/NAVY")
    assert http.patch(f"/looks/{look.id}", json={"product_keys": []}).status_code == 200
    body = {"description": "Changed by hand"}
    sizes = [{"size": s.size, "gtin": s.gtin} for s in listing.sizes]
    prices = [
        {"currency": p.currency, "wsp": str(p.wsp), "rrp": str(p.rrp)} for p in listing.prices
    ]
    put = http.put(
        "/listings/ML-101/WOOL/NAVY",
        json={
            "style": "ML-101", "fabric": "WOOL", "colour": "NAVY", "category": "Coats",
            "sizes": sizes, "prices": prices, "image_url": listing.image_url, **body,
        },
    )  # fmt: skip
    assert put.status_code == 200
    shown = brand.cli("plan")
    assert shown.exit_code == 0
    assert '"Changed by hand" →' in shown.output and "+ ML-510/COTTON/BLUE" in shown.output
    assert brand.reconcile().result == "ok"
    assert brand.showroom() == expected(MAIN)
    with brand.ordre() as client:
        assert client.get_listing("ML-101/WOOL/NAVY").description != "Changed by hand"


def test_a_stale_saved_plan_is_refused_naming_the_object(brand: Brand, tmp_path: Path) -> None:
    brand.reconcile()
    brand.write({**MAIN, "Essentials": [("Shirts", ["ML-510/COTTON/WHITE"])]})
    plan_file = tmp_path / "plan.json"
    made = brand.cli("plan", "--out", str(plan_file))
    assert made.exit_code == 0, made.output
    with brand.ordre() as client:
        look = next(x for x in client.looks() if x.name == "Shirts")
    http = brand.sandbox.client("ordre")
    http.patch(f"/looks/{look.id}", json={"position": 7})
    before = writes(brand.sandbox)
    refused = brand.cli("apply", str(plan_file))
    assert refused.exit_code == ExitCode.STALE_PLAN
    assert "look Essentials / Shirts changed" in refused.output
    assert writes(brand.sandbox) == before


def test_a_saved_plan_ignores_changes_to_other_objects(brand: Brand, tmp_path: Path) -> None:
    brand.reconcile()
    brand.write({**MAIN, "Essentials": [("Shirts", ["ML-510/COTTON/WHITE"])]})
    plan_file = tmp_path / "plan.json"
    assert brand.cli("plan", "--out", str(plan_file)).exit_code == 0
    with brand.ordre() as client:
        other = next(x for x in client.looks() if x.name == "Look 2 - Knitwear")
    brand.sandbox.client("ordre").patch(f"/looks/{other.id}", json={"position": 9})
    applied = brand.cli("apply", str(plan_file))
    assert applied.exit_code == 0, applied.output
    assert brand.showroom()["Essentials"] == {"Shirts": ["ML-510/COTTON/WHITE"]}


def test_a_tampered_plan_file_is_refused(brand: Brand, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    assert brand.cli("plan", "--out", str(plan_file)).exit_code == 0
    document = json.loads(plan_file.read_text())
    document["actions"][0]["body"]["description"] = "sneaky"
    plan_file.write_text(json.dumps(document))
    refused = brand.cli("apply", str(plan_file))
    assert refused.exit_code == ExitCode.ERROR
    assert "checksum" in refused.output


def test_a_plan_file_made_by_an_older_version_is_refused(brand: Brand, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    assert brand.cli("plan", "--out", str(plan_file)).exit_code == 0
    document = json.loads(plan_file.read_text())
    document["plan_file_version"] = PLAN_FORMAT_VERSION - 1
    document["checksum"] = checksum(document)
    plan_file.write_text(json.dumps(document))
    before = writes(brand.sandbox)
    refused = brand.cli("apply", str(plan_file))
    assert refused.exit_code == ExitCode.ERROR
    assert "made by an older zedonk-ordre" in refused.output
    assert "make the plan again with `zedonk-ordre plan --out FILE`" in refused.output
    assert writes(brand.sandbox) == before


def test_the_delete_guard(brand: Brand) -> None:
    brand.reconcile()
    brand.configure(prune=True, count=2, share=1.0)
    brand.write({"AW26 Main": MAIN["AW26 Main"]})
    before = writes(brand.sandbox)
    refused = brand.cli("apply", "--yes")
    assert refused.exit_code == ExitCode.ERROR
    assert "--allow-deletes" in refused.output
    assert writes(brand.sandbox) == before
    assert brand.reconcile().result == "failed"
    allowed = brand.cli("apply", "--yes", "--allow-deletes")
    assert allowed.exit_code == 0, allowed.output
    assert "Essentials" not in brand.showroom()


def test_the_update_guard(brand: Brand) -> None:
    """Listings rewritten on ORDRE by hand stand for bad data from Zedonk: three of seven
    listings to rewrite is over a guard of two and 30%."""
    assert brand.reconcile().result == "ok"
    brand.configure(updates=2)
    http = brand.sandbox.client("ordre")
    for key in ("ML-101/WOOL/NAVY", "ML-205/CASH/BLACK", "ML-510/COTTON/BLUE"):
        body = {k: v for k, v in http.get(f"/listings/{key}").json().items() if k not in (
            "key", "version", "created_at", "updated_at")}  # fmt: skip
        assert http.put(f"/listings/{key}", json={**body, "description": "Wrong"}).is_success
    shown = brand.cli("plan")
    assert shown.exit_code == 0
    assert "over the update guard (more than 2 listings and more than 30% of them)" in (
        shown.output
    )
    assert "[plan-update-guard]" in shown.output and "connector.yaml:6:" in shown.output
    before = writes(brand.sandbox)
    refused = brand.cli("apply", "--yes")
    assert refused.exit_code == ExitCode.ERROR
    assert "error: the plan rewrites 3 of the 7 listings on ORDRE (43%)" in refused.output
    assert "--allow-updates" in refused.output
    assert writes(brand.sandbox) == before
    result = brand.reconcile()
    assert result.result == "failed" and "over the update guard" in result.message
    with History.open(brand.state_dir) as history:
        assert "updates-refused" in {e["code"] for e in history.events()}
    allowed = brand.cli("apply", "--yes", "--allow-updates")
    assert allowed.exit_code == 0, allowed.output
    assert "0 created, 3 updated, 0 deleted; 0 failed, 0 skipped" in allowed.output
    assert brand.plan().has_changes is False


def test_an_empty_catalogue_is_refused_never_taken_as_in_sync(brand: Brand) -> None:
    brand.reconcile()
    brand.write({})
    before = writes(brand.sandbox)
    result = brand.reconcile(allow_deletes=True)
    assert result.result == "failed", result
    assert "would delete all of them" in result.message
    with History.open(brand.state_dir) as history:
        [event] = [e for e in history.events(level="error") if e["run_id"] == result.run_id]
    assert event["code"] == "catalogue-empty"

    planned = brand.cli("plan", "--detailed-exitcode")
    assert planned.exit_code == ExitCode.ERROR, planned.output
    assert "No changes" not in planned.output
    assert "2 collections, 3 looks and 7 listings" in planned.output
    assert "refuses an empty catalogue" in planned.output
    applied = brand.cli("apply", "--yes", "--allow-deletes")
    assert applied.exit_code == ExitCode.ERROR, applied.output
    assert writes(brand.sandbox) == before
    assert brand.showroom() == expected(MAIN)

    brand.configure(prune=False)  # nothing would be deleted, but it is not in sync either
    kept = brand.cli("plan", "--detailed-exitcode")
    assert kept.exit_code == ExitCode.ERROR and "prune off" in kept.output, kept.output


@pytest.mark.parametrize("how", ["removed", "dangling symlink"])
def test_a_vanished_catalogue_folder_is_an_error_everywhere(brand: Brand, how: str) -> None:
    brand.reconcile()
    shutil.rmtree(brand.root / "catalogue")
    if how == "dangling symlink":
        (brand.root / "catalogue").symlink_to(brand.root / "gone")
    validated = brand.cli("validate")
    assert validated.exit_code == ExitCode.ERROR, validated.output
    assert "[catalogue-missing]" in validated.output
    planned = brand.cli("plan", "--detailed-exitcode")
    assert planned.exit_code == ExitCode.ERROR, planned.output
    assert "[catalogue-missing]" in planned.output
    assert "No changes" not in planned.output
    result = brand.reconcile()
    assert result.result == "invalid", result
    assert "catalogue" in result.message
    with History.open(brand.state_dir) as history:
        codes = {e["code"] for e in history.events(level="error") if e["run_id"] == result.run_id}
    assert codes == {"catalogue-missing"}
    assert brand.showroom() == expected(MAIN)


def test_partial_failure_is_reported_and_the_next_apply_converges(brand: Brand) -> None:
    brand.sandbox.ordre.set_faults(
        rules=[{"method": "POST", "path_prefix": "/api/v1/looks", "times": 1,
                "action": "error", "status": 400}]
    )  # fmt: skip
    partial = brand.cli("apply", "--yes")
    assert partial.exit_code == ExitCode.PARTIAL, partial.output
    assert "1 failed" in partial.output
    brand.sandbox.ordre.clear_faults()
    with History.open(brand.state_dir) as history:
        (run,) = history.runs(kind="apply")
        statuses = [a["status"] for a in history.actions(run["id"])]
    assert run["result"] == "partial" and statuses.count("failed") == 1
    again = brand.cli("apply", "--yes")
    assert again.exit_code == 0, again.output
    assert brand.showroom() == expected(MAIN)


def test_a_failed_collection_skips_its_looks(brand: Brand) -> None:
    brand.sandbox.ordre.set_faults(
        rules=[{"method": "POST", "path_prefix": "/api/v1/collections", "times": 1,
                "action": "error", "status": 400}]
    )  # fmt: skip
    result = brand.reconcile()
    assert result.result == "partial"
    assert result.counts["failed"] == 1 and result.counts["skipped"] >= 1
    brand.sandbox.ordre.clear_faults()
    assert brand.reconcile().result == "ok"
    assert brand.showroom() == expected(MAIN)


def test_a_second_apply_waits_for_the_lock(brand: Brand) -> None:
    with StateLock(brand.state_dir, "daemon"):
        held = brand.cli("apply", "--yes")
    assert held.exit_code == ExitCode.LOCKED
    assert "daemon" in held.output


def test_apply_without_yes_and_without_a_terminal_refuses(brand: Brand) -> None:
    refused = brand.cli("apply")
    assert refused.exit_code == ExitCode.ERROR
    assert "--yes" in refused.output


def test_an_apply_with_nothing_to_do_records_it_and_an_empty_saved_plan_writes_nothing(
    brand: Brand, tmp_path: Path
) -> None:
    brand.reconcile()
    fresh = brand.cli("apply", "--format", "json")  # nothing to confirm
    assert fresh.exit_code == 0, fresh.output
    report = json.loads(fresh.stdout)
    assert (report["result"], report["actions"]) == ("no-changes", [])
    plan_file = tmp_path / "plan.json"
    assert brand.cli("plan", "--out", str(plan_file)).exit_code == 0
    before = writes(brand.sandbox)
    saved = brand.cli("apply", str(plan_file))
    assert saved.exit_code == 0, saved.output
    assert "No changes: the saved plan is empty." in saved.output
    assert writes(brand.sandbox) == before
    with History.open(brand.state_dir) as history:
        runs = [(r["id"], r["kind"], r["result"]) for r in history.runs()]
    assert runs[:2] == [(report["run_id"], "apply", "no-changes"), (runs[1][0], "reconcile", "ok")]


# --------------------------------------------------------------------------- plan command


def test_plan_detailed_exitcode_and_formats(brand: Brand) -> None:
    changes = brand.cli("plan", "--detailed-exitcode")
    assert changes.exit_code == ExitCode.CHANGES
    assert changes.output.splitlines()[0].startswith("Plan: ")
    doc = json.loads(brand.cli("plan", "--format", "json").stdout)
    assert doc["format_version"] == 1 and doc["summary"]["create"] > 0
    markdown = brand.cli("plan", "--format", "markdown").stdout
    assert "```diff" in markdown
    brand.reconcile()
    none = brand.cli("plan", "--detailed-exitcode")
    assert none.exit_code == 0
    assert none.stdout.strip() == "No changes: ORDRE matches the catalogue."


def test_plan_names_an_unknown_product_with_its_line(brand: Brand) -> None:
    brand.write({"AW26 Main": [("Look 1", ["ML-101/WOOL/NAVY", "ML-999/WOOL/NAVY"])]})
    failed = brand.cli("plan")
    assert failed.exit_code == ExitCode.ERROR
    assert "catalogue/c01.yaml:7" in failed.output and "ML-999/WOOL/NAVY" in failed.output


def test_a_crash_partway_is_recorded_and_the_next_apply_converges(brand: Brand) -> None:
    """A real apply process killed in the middle of its writes."""
    brand.sandbox.ordre.set_faults(
        rules=[{"method": "POST", "path_prefix": "/api/v1/looks", "action": "delay", "ms": 3000}]
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    child = subprocess.Popen(
        [sys.executable, "-m", "daemon", "apply", "--yes", "--root", str(brand.root)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not any(
            r["method"] == "POST" and r["path"] == "/api/v1/looks"
            for r in brand.sandbox.ordre.requests()
        ):
            assert time.monotonic() < deadline, "the apply never reached the looks"
            time.sleep(0.05)
    finally:
        child.kill()
        child.wait()
    time.sleep(3.5)  # the delayed create still lands on ORDRE: let it, then converge
    brand.sandbox.ordre.clear_faults()
    result = brand.reconcile()
    assert result.result == "ok", result.message
    assert brand.showroom() == expected(MAIN)
    with History.open(brand.state_dir) as history:
        crashed = history.runs(kind="apply")[0]
        assert crashed["result"] == "interrupted"
        assert any(a["status"] == "failed" for a in history.actions(crashed["id"]))
        assert all(a["status"] != "pending" for a in history.actions(crashed["id"]))


def test_runs_record_the_catalogue_commit(brand: Brand) -> None:
    assert catalogue_commit(brand.root) is None  # not a git repository
    git = ["git", "-C", str(brand.root), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "connector.yaml", "catalogue"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "catalogue"], check=True)
    head = subprocess.run(
        [*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    assert catalogue_commit(brand.root) == head
    result = brand.reconcile()
    with History.open(brand.state_dir) as history:
        assert history.runs()[0]["git_commit"] == head
    brand.write({"Essentials": MAIN["Essentials"]})
    assert catalogue_commit(brand.root) == f"{head}-dirty"
    assert result.result == "ok"


def test_a_saved_plan_records_versions_and_applies_with_json_output(
    brand: Brand, tmp_path: Path
) -> None:
    brand.reconcile()
    brand.write({**MAIN, "Essentials": [("Shirts", ["ML-510/COTTON/WHITE"])]})
    plan_file = tmp_path / "plan.json"
    assert brand.cli("plan", "--out", str(plan_file)).exit_code == 0
    saved = json.loads(plan_file.read_text())
    assert saved["plan_file_version"] == 2 and re.fullmatch(r"[0-9a-f]{64}", saved["checksum"])
    actions = saved["actions"]
    assert [(a["op"], a["kind"]) for a in actions] == [("update", "look"), ("delete", "listing")]
    assert saved["versions"] == {
        f"{a['kind']} {a['remote_id']}": a["remote_version"] for a in actions
    }
    assert all(saved["versions"].values())
    applied = brand.cli("apply", str(plan_file), "--format", "json")
    assert applied.exit_code == 0, applied.output
    report = json.loads(applied.stdout)
    assert report["format_version"] == 1 and report["result"] == "ok"
    assert [a["status"] for a in report["actions"]] == ["ok", "ok"]
