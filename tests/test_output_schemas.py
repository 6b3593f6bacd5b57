"""Every ``--format json`` document is described by a JSON Schema under schemas/output/, and the
real output of each command validates against it: one version key (``format_version``) and one
event shape everywhere. The commands run against both sandboxes on loopback."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from sandbox_harness import Sandboxes
from typer.testing import CliRunner

from daemon.cli import app

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = REPO / "schemas" / "output"
SHARED = {"event.schema.json", "finding.schema.json"}


def registry() -> Registry:
    resources = []
    for path in sorted(SCHEMAS.glob("*.schema.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        resources.append((schema["$id"], Resource.from_contents(schema)))
    return Registry().with_resources(resources)


def validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, registry=registry())


def check(name: str, document: dict[str, Any]) -> None:
    errors = sorted(validator(name).iter_errors(document), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


class Repo:
    """The example catalogue in a temporary repository, wired to the sandboxes."""

    def __init__(self, root: Path, sandbox: Sandboxes) -> None:
        self.root = root
        self.sandbox = sandbox
        shutil.copytree(REPO / "catalogue", root / "catalogue")
        (root / "connector.yaml").write_text(
            "version: 1\n"
            f'zedonk: {{url: "{sandbox.zedonk_url}", token: {{env: ZEDONK_TOKEN}}}}\n'
            f'ordre: {{url: "{sandbox.ordre_url}", token: {{env: ORDRE_TOKEN}}}}\n'
            # the sandbox's search does not lag: a new history need not wait to import
            "import: {season: AW26, order_owner: sophie, settle_window: 0s}\n"
            "prices: {seasons: [AW25, SS26, AW26]}\n"
            "daemon: {state_dir: state}\n",
            encoding="utf-8",
        )

    def json(self, *args: str, root: bool = True) -> dict[str, Any]:
        full = [*args, "--format", "json", *(["--root", str(self.root)] if root else [])]
        result = CliRunner().invoke(app, full, catch_exceptions=False)
        document: dict[str, Any] = json.loads(result.output)
        return document

    def run(self, *args: str) -> None:
        CliRunner().invoke(app, [*args, "--root", str(self.root)], catch_exceptions=False)


@pytest.fixture
def repo(sandbox: Sandboxes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Repo]:
    monkeypatch.setenv("ZEDONK_TOKEN", sandbox.zedonk_token)
    monkeypatch.setenv("ORDRE_TOKEN", sandbox.ordre_token)
    yield Repo(tmp_path / "brand", sandbox)


def documents(repo: Repo) -> Iterator[tuple[str, dict[str, Any]]]:
    """(schema name, document) for every --format json document, from a life-like session."""
    yield "status", repo.json("status")  # before anything ran: no history yet
    yield "attention", repo.json("attention")
    yield "history", repo.json("history")
    yield "validate", repo.json("validate")
    yield "plan", repo.json("plan")
    yield "apply", repo.json("apply", "--yes")
    yield "dump", repo.json("dump", "--out", str(repo.root / "dumped"))
    yield "products", repo.json("products", "--search", "coat")
    yield "schemas", repo.json("schemas", root=False)
    yield "schemas", repo.json("schemas", "--write", str(repo.root / "copy"), root=False)
    ordre = repo.sandbox.ordre
    ordre.submit_order({"retailer": {"account_code": "ANT001"}, "lines": [
        {"barcode": "4006381333931", "style": "X", "colour": "Y", "size": "Z", "quantity": 1,
         "unit_price": "10.00"}]})  # fmt: skip
    repo.run("orders", "import", "--once")
    yield "orders-list", repo.json("orders", "list")
    yield "orders-show", repo.json("orders", "show", "ORD-10001")
    yield "orders-audit", repo.json("orders", "audit")
    yield "history", repo.json("history")
    yield "history", repo.json("history", "--errors")
    yield "history-run", repo.json("history", "--run", "1")
    yield "history-run", repo.json("history", "--run", "2")
    yield "status", repo.json("status")
    yield "attention", repo.json("attention")
    yield "attention-ack", repo.json("attention", "ack", "order:ORD-10001:failed", "--note", "ok")
    yield "attention", repo.json("attention")  # listed as acknowledged
    yield "reconcile", repo.json("reconcile")  # no daemon: the command runs the pass


def test_every_json_document_validates_against_its_schema(repo: Repo) -> None:
    seen: set[str] = set()
    for name, document in documents(repo):
        check(name, document)
        assert "version" not in document  # the one version key is format_version
        seen.add(name)
    schemas = {p.name.removesuffix(".schema.json") for p in SCHEMAS.glob("*.schema.json")}
    assert seen == schemas - {s.removesuffix(".schema.json") for s in SHARED}


def test_an_event_has_one_shape_in_history_orders_and_status(repo: Repo) -> None:
    docs = dict(documents(repo))  # the last of each kind: after the failed import
    shown = docs["orders-show"]["import"]["events"]
    [failed] = [e for e in shown if e["code"] == "order-no-lines"]
    assert isinstance(failed["details"], list) and failed["details"]  # JSON, not a string
    in_run = docs["history-run"]["events"]
    assert failed in in_run
    assert failed in docs["status"]["problems"]  # the last poll's error, still unfixed
    errors = repo.json("history", "--errors")["events"]
    assert failed in errors


def test_the_schemas_can_fail() -> None:
    """A document of the wrong shape is refused: the old key, a details string, a bad state."""
    event = {"id": 1, "run_id": 2, "at": "2026-01-01T00:00:00+00:00", "level": "error",
             "code": "x", "subject": None, "message": "m", "details": None}  # fmt: skip
    check("history", {"format_version": 2, "runs": [], "events": [event]})
    for bad in (
        {"version": 2, "runs": [], "events": []},
        {"format_version": 1, "runs": [], "events": []},
        {"format_version": 2, "runs": [], "events": [{**event, "level": "fatal"}]},
        {
            "format_version": 2,
            "runs": [],
            "events": [{k: v for k, v in event.items() if k != "at"}],
        },
    ):
        assert list(validator("history").iter_errors(bad)), bad
    row = {"import_key": "a#1", "state": "lost"}
    assert list(validator("orders-list").iter_errors({"format_version": 2, "imports": [row]}))
