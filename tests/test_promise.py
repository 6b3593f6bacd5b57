"""A green plan applies: whatever validate and plan pass, ORDRE takes.

The first tests are the three ways a green check used to lie (names ORDRE takes for the same,
a description ORDRE finds too long, settings Zedonk does not hold); then a property test:
Hypothesis writes catalogues within the schema and beyond it (names with spaces, case and
Unicode, long values, many looks) into a repository wired to the sandboxes, one after
another, and whenever validate and plan are green, apply must succeed with no refusal and a
second plan must be empty.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test
from sandbox_harness import Sandboxes
from typer.testing import CliRunner

from daemon.cli import app
from daemon.core.yamlwrite import scalar
from daemon.errors import ConfigError, ExitCode
from daemon.reconcile import PlanResult, load_tree, plan_only, reconcile
from daemon.remotes import open_clients
from daemon.store.history import History
from daemon.tree.settings import load_settings
from daemon.tree.validation import validate_tree

PRODUCTS = (
    "ML-101/WOOL/NAVY",
    "ML-101/WOOL/CAMEL",
    "ML-105/ALPACA/RUST",
    "ML-205/CASH/BLACK",
    "ML-205/CASH/ECRU",
    "ML-510/COTTON/BLUE",
    "ML-510/COTTON/WHITE",
    "ML-303/LINEN/OLIVE",
    "ML-310/SILK/BLACK",
    "ML-310/SILK/IVORY",
    "ML-503/LINEN/ECRU",
    "ML-506/SILK/OLIVE",
)


@dataclass(frozen=True)
class Look:
    name: str
    products: tuple[str, ...]


@dataclass(frozen=True)
class Collection:
    name: str
    looks: tuple[Look, ...]
    description: str | None = None


class Repo:
    """A catalogue repository wired to the sandboxes; the tests write its files."""

    def __init__(self, root: Path, sandbox: Sandboxes) -> None:
        self.root = root
        self.sandbox = sandbox
        self.connector()

    def connector(
        self,
        *,
        season: str = "AW26",
        owner: str = "sophie",
        prices: Sequence[str] = ("AW25", "SS26", "AW26"),
    ) -> None:
        (self.root / "connector.yaml").write_text(
            "version: 1\n"
            f"zedonk:\n  url: {self.sandbox.zedonk_url}\n  token: {{env: ZEDONK_TOKEN}}\n"
            f"ordre:\n  url: {self.sandbox.ordre_url}\n  token: {{env: ORDRE_TOKEN}}\n"
            "import:\n"
            f"  season: {json.dumps(season)}\n"
            f"  order_owner: {json.dumps(owner)}\n"
            "prices:\n"
            f"  seasons: [{', '.join(json.dumps(p) for p in prices)}]\n"
            "daemon: {state_dir: state}\n",
            encoding="utf-8",
        )

    def write(self, collections: Sequence[Collection]) -> None:
        directory = self.root / "catalogue"
        directory.mkdir(exist_ok=True)
        for old in directory.glob("*.yaml"):
            old.unlink()
        for order, collection in enumerate(collections, start=1):
            lines = [f"collection: {scalar(collection.name)}", f"order: {order}"]
            if collection.description is not None:
                lines.append(f"description: {scalar(collection.description)}")
            lines.append("looks:")
            for look in collection.looks:
                lines.append(f"  - name: {scalar(look.name)}")
                lines.append("    products:")
                lines += [f"      - {key}" for key in look.products]
            (directory / f"c{order:02d}.yaml").write_text("\n".join(lines) + "\n", "utf-8")

    def plan(self) -> PlanResult:
        settings, catalogue, findings = load_tree(self.root)
        with open_clients(settings) as (zedonk, ordre):
            return plan_only(settings, catalogue, zedonk, ordre, findings=findings)

    def apply(self) -> Any:
        with History.open(self.root / "state") as history:
            return reconcile(
                load_settings(self.root),
                history,
                trigger="cli",
                allow_deletes=True,
                allow_updates=True,
            )

    def failures(self, run_id: int) -> list[str]:
        with History.open(self.root / "state") as history:
            return [
                f"{a['intent']}: {a['error']}"
                for a in history.actions(run_id)
                if a["status"] != "ok"
            ]

    def cli(self, *args: str) -> Any:
        return CliRunner().invoke(app, [*args, "--root", str(self.root)], catch_exceptions=False)

    def showroom(self) -> dict[str, dict[str, list[str]]]:
        ordre = self.sandbox.client("ordre")
        names = {c["id"]: c["name"] for c in ordre.get("/collections").json()["items"]}
        shown: dict[str, dict[str, list[str]]] = {name: {} for name in names.values()}
        for look in ordre.get("/looks", params={"limit": 200}).json()["items"]:
            shown[names[look["collection_id"]]][look["name"]] = look["product_keys"]
        return shown


@pytest.fixture
def repo(sandbox: Sandboxes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Repo]:
    monkeypatch.setenv("ZEDONK_TOKEN", sandbox.zedonk_token)
    monkeypatch.setenv("ORDRE_TOKEN", sandbox.ordre_token)
    yield Repo(tmp_path, sandbox)


def main(name: str = "AW26 Main Collection", *looks: Look, **extra: Any) -> Collection:
    chosen = looks or (Look("Look 1", PRODUCTS[:2]),)
    return Collection(name, tuple(chosen), **extra)


# --------------------------------------------------------------------------- the three lies


def test_a_name_ordre_takes_for_another_is_refused_before_any_write(repo: Repo) -> None:
    repo.write(
        [main("AW26 Main Collection "), main("AW26 Main Collection", Look("B", PRODUCTS[2:3]))]
    )
    refused = repo.cli("validate")
    assert refused.exit_code == ExitCode.ERROR
    assert "[collection-duplicate-name]" in refused.output
    assert "ORDRE ignores case and spaces at either end" in refused.output
    repo.write(
        [main("AW26 Main Collection", Look("Other", PRODUCTS[:1]), Look("other ", PRODUCTS[1:2]))]
    )
    refused = repo.cli("validate")
    assert refused.exit_code == ExitCode.ERROR and "[look-duplicate-name]" in refused.output
    assert repo.cli("apply", "--yes").exit_code == ExitCode.ERROR
    assert repo.sandbox.ordre.write_count() == 0


def test_a_name_ordre_takes_for_one_it_holds_updates_that_one(repo: Repo) -> None:
    repo.write([main("AW26 Main Collection", Look("Other", PRODUCTS[:2]))])
    assert repo.apply().result == "ok"
    repo.write([main(" aw26 MAIN collection ", Look("OTHER ", PRODUCTS[:2]))])
    plan = repo.plan().plan
    assert [(a.op, a.kind) for a in plan.actions] == [("update", "collection"), ("update", "look")]
    applied = repo.apply()
    assert applied.result == "ok", applied.message
    assert repo.showroom() == {" aw26 MAIN collection ": {"OTHER ": list(PRODUCTS[:2])}}
    assert repo.plan().plan.has_changes is False


def test_a_value_over_ordres_length_is_refused_offline_without_repeating_it(repo: Repo) -> None:
    repo.write([main(description="x" * 10_000)])
    refused = repo.cli("validate")
    assert refused.exit_code == ExitCode.ERROR
    assert (
        "description: the collection description is 10,000 characters long; "
        "at most 2,000 are allowed [schema-value]"
    ) in refused.output
    assert "x" * 100 not in refused.output and len(refused.output) < 1000
    repo.write([main("N" * 10_000)])
    refused = repo.cli("validate")
    assert "the collection name is 10,000 characters long; at most 200 are allowed" in (
        refused.output
    )
    assert "N" * 100 not in refused.output and len(refused.output) < 1000
    repo.write([main(description="x" * 2000)])
    assert repo.cli("validate").exit_code == 0
    assert repo.cli("apply", "--yes").exit_code == 0


@pytest.mark.parametrize(
    ("setting", "line", "column", "message", "hint"),
    [
        (
            {"season": "XX99"},
            9,
            11,
            "import.season: 'XX99' is not a Zedonk season [zedonk-season-unknown]",
            "choose one of Zedonk's seasons: AW25, SS26, AW26",
        ),
        (
            {"season": "aw26"},
            9,
            11,
            "import.season: 'aw26' is not a Zedonk season",
            "Zedonk matches them exactly: did you mean 'AW26'?",
        ),
        (
            {"owner": "intern"},
            10,
            16,
            "import.order_owner: 'intern' is an inactive Zedonk user",
            "reactivate the user in Zedonk, or choose one of the active Zedonk users: ",
        ),
        (
            {"owner": "nobody"},
            10,
            16,
            "import.order_owner: 'nobody' is not a Zedonk user [zedonk-user-unknown]",
            "choose one of the active Zedonk users: ",
        ),
        (
            {"prices": ("AW25", "SS62")},
            12,
            21,
            "prices.seasons[1]: 'SS62' is not a Zedonk season",
            "did you mean 'SS26'?",
        ),
    ],
)
def test_settings_zedonk_does_not_hold_fail_the_plan_at_their_line(
    repo: Repo,
    setting: dict[str, Any],
    line: int,
    column: int,
    message: str,
    hint: str,
) -> None:
    repo.write([main()])
    repo.connector(**setting)
    assert repo.cli("validate").exit_code == 0  # offline, it cannot know
    failed = repo.cli("plan")
    assert failed.exit_code == ExitCode.ERROR
    assert f"connector.yaml:{line}:{column}: {message}" in failed.output
    assert hint in failed.output
    assert "connector.yaml does not match Zedonk (1 error)" in failed.output
    assert repo.cli("apply", "--yes").exit_code == ExitCode.ERROR
    assert repo.sandbox.ordre.write_count() == 0


def test_the_order_import_refuses_the_same_settings_with_the_same_findings(repo: Repo) -> None:
    repo.connector(season="XX99", owner="intern")
    refused = repo.cli("orders", "import", "--once")
    assert refused.exit_code == ExitCode.ERROR
    assert "connector.yaml:9:11: import.season: 'XX99' is not a Zedonk season" in refused.output
    assert "connector.yaml:10:16: import.order_owner: 'intern' is an inactive" in refused.output


# --------------------------------------------------------------------------- the property


WORDS = ("AW26 Main Collection", "Other", "Look 1", "Straße", "Café", "ÉTÉ 26", "Ünïcödé")


@st.composite
def names(draw: st.DrawFn) -> str:
    """Names as people write them (the same word in another case, spaces at either end),
    any Unicode text, and names around ORDRE's 200-character limit."""
    kind = draw(st.sampled_from(["word"] * 6 + ["text", "text", "long"]))
    if kind == "text":
        return draw(st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=12))
    if kind == "long":
        return "N" * draw(st.integers(195, 205)) + draw(st.sampled_from(["", " "]))
    word = draw(st.sampled_from(WORDS)) + draw(st.sampled_from(["", "", " 2", " 3", " B"]))
    word = draw(st.sampled_from([word, word, word.upper(), word.lower(), word.casefold()]))
    pad = st.sampled_from(["", "", "", " ", "  ", "\u00a0"])
    return draw(pad) + word + draw(pad)


@st.composite
def descriptions(draw: st.DrawFn) -> str | None:
    kind = draw(st.sampled_from(["none", "none", "text", "text", "long"]))
    if kind == "none":
        return None
    if kind == "text":
        return draw(st.text(max_size=40))
    return "d" * draw(st.integers(1995, 2005))


@st.composite
def catalogues(draw: st.DrawFn) -> list[Collection]:
    """One to three collections of up to six looks over the demo brand's products. Half of
    them are meant to pass (each name distinct from its neighbours once trimmed and
    case-folded, values within the limits); the others may break any rule, and validate or
    plan must then say so."""
    careful = draw(st.booleans())
    order = list(draw(st.permutations(PRODUCTS)))
    shapes = draw(st.lists(st.integers(1, 6), min_size=1, max_size=3))
    collections: list[Collection] = []
    for looks in shapes:
        made: list[Look] = []
        for _ in range(looks):
            if not order:
                break
            take = draw(st.integers(1, max(1, min(3, len(order)))))
            chosen, order = order[:take], order[take:]
            if not careful and draw(st.integers(0, 9)) == 0:
                chosen.append(draw(st.sampled_from(PRODUCTS)))
            taken = [look.name for look in made]
            made.append(Look(_name(draw, careful, taken), tuple(chosen)))
        if made:
            taken = [c.name for c in collections]
            description = draw(descriptions())
            if careful and description is not None:
                description = description[:2000]
            collections.append(Collection(_name(draw, careful, taken), tuple(made), description))
    return collections


def _name(draw: st.DrawFn, careful: bool, taken: Sequence[str]) -> str:
    name = draw(names())
    if not careful:
        return name
    base = name[:200] if name.strip() else "Name"
    keys = {other.strip().casefold() for other in taken}  # ORDRE's comparison, as documented
    name, n = base, 1
    while name.strip().casefold() in keys:
        name, n = f"{base.strip()[:190]} {n}", n + 1
    return name


class GreenPlanApplies(RuleBasedStateMachine):
    repo: ClassVar[Repo]

    def __init__(self) -> None:
        super().__init__()
        self.repo.sandbox.pair.reset()
        self.green = 0

    @rule(name=names(), with_look=st.booleans())
    def made_by_hand(self, name: str, with_look: bool) -> None:
        """Someone adds a collection (and a look) in ORDRE's own screens: the next plan must
        still apply, whatever names the two sides use."""
        http = self.repo.sandbox.client("ordre")
        made = http.post("/collections", json={"name": name, "position": 0})
        if made.status_code == 201 and with_look:
            look = {"collection_id": made.json()["id"], "name": name, "position": 0}
            http.post("/looks", json=look)

    @rule(catalogue=catalogues())
    def edit_and_apply(self, catalogue: list[Collection]) -> None:
        self.repo.write(catalogue)
        if not validate_tree(self.repo.root).ok:
            return  # validate said no: nothing reaches ORDRE
        try:
            planned = self.repo.plan()
        except ConfigError:
            return  # plan said no
        applied = self.repo.apply()
        refused = self.repo.failures(applied.run_id)
        assert refused == [], f"apply-time refusals plan could have known: {refused}"
        assert applied.result in ("ok", "no-changes"), applied.message
        assert applied.counts["create"] + applied.counts["update"] + applied.counts[
            "delete"
        ] == len(planned.plan.actions)
        assert self.repo.plan().plan.has_changes is False
        self.green += 1


def _run(repo: Repo, examples: int) -> None:
    GreenPlanApplies.repo = repo
    run_state_machine_as_test(
        GreenPlanApplies,
        settings=settings(
            max_examples=examples,
            stateful_step_count=4,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        ),
    )


def test_a_green_plan_applies(repo: Repo) -> None:
    _run(repo, examples=6)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_a_green_plan_applies_long(repo: Repo, request: pytest.FixtureRequest) -> None:
    if "slow" not in (request.config.getoption("-m") or ""):
        pytest.skip("a long run: select it with -m slow")
    _run(repo, examples=150)
