"""How a plan reads: in a pull request (Markdown under GitHub's limits, annotations on the
diff), on a terminal (colour, one progress line) and in the guards' words."""

from __future__ import annotations

import io
import itertools
import re
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from test_plan import NAMES, converge, desired

from daemon.cli import plan as plan_cli
from daemon.cli import root as cli_root
from daemon.cli.validate import GITHUB_SHOWN, github_lines
from daemon.core.actions import Action
from daemon.core.findings import Finding
from daemon.core.guards import (
    DeletesRefused,
    UpdatesRefused,
    check_deletes,
    check_updates,
    guard_findings,
)
from daemon.core.model import OrdreCustomer
from daemon.core.plan import OrdreSnapshot, Plan, make_plan
from daemon.core.planfmt import (
    MARKDOWN_LIMIT,
    diff_lines,
    render_markdown,
    render_text,
    text_lines,
)
from daemon.core.resolve import ProductReport
from daemon.core.spec import Location
from daemon.tree.gitinfo import path_prefix
from daemon.tree.settings import CatalogueSettings

HERE = Location("catalogue/a.yaml", 3, 5)


def large_first_apply() -> tuple[Plan, list[Finding]]:
    """The large brand's first apply, as the benchmark makes it: 20,000 products in 200 looks
    across 40 collections, 2,000 retailers, every listing new; a product in fifty without a
    main image, a warning for each."""
    keys = iter(f"ST-{n:05d}/WOOL/C{n % 7}" for n in itertools.count())
    tree = {
        f"Collection {c:02d}": {
            f"Look {c:02d}-{k}": [next(keys) for _ in range(100)] for k in range(5)
        }
        for c in range(40)
    }
    want = desired(tree)
    customers = tuple(
        OrdreCustomer(f"C{n:05d}", f"Retailer {n}", "EUR", None, None, None, None)
        for n in range(2000)
    )
    want = replace(want, customers=customers)
    plan = make_plan(want, OrdreSnapshot(), prune=True, names=NAMES)
    reports = tuple(
        ProductReport(key, "C", "L", HERE, exported=True, has_image=bool(i % 50))
        for i, key in enumerate(listing.key for listing in want.listings)
    )
    plan = replace(plan, products=reports)
    findings = [
        Finding("catalogue/a.yaml", i, 5, "", "price-zero", "warning", f"{key} has a 0.00 price")
        for i, key in enumerate(r.key for r in reports[:300])
    ]
    return plan, findings


# --------------------------------------------------------------------------- Markdown


def _diff_block(markdown: str) -> list[str]:
    return markdown.split("```diff\n", 1)[1].split("\n```", 1)[0].splitlines()


def test_every_changed_line_of_the_markdown_plan_is_marked_at_column_0() -> None:
    _, after = converge(
        desired({"AW26": {"L1": ["A/W/N", "B/W/N"], "L2": ["C/W/N"]}}), OrdreSnapshot()
    )
    want = desired(
        {"AW26": {"Coats": ["B/W/N", "A/W/N", "D/W/N"], "L2": []}, "SS27": {"N": ["C/W/N"]}},
        **{"B/W/N": "Changed"},
    )
    plan = make_plan(want, after, prune=True, names=NAMES)
    text = render_text(plan).splitlines()[2:]
    lines = _diff_block(render_markdown(plan))
    assert len(lines) == len(text) > 10
    for plain, marked in zip(text, lines, strict=True):
        changed = plain.strip()[:1] in ("+", "-", "~", "→") or (":" in plain and "→" in plain)
        if changed:
            assert marked[0] in "+-!", marked  # a marker GitHub colours, at column 0
        else:
            assert marked[0] == " ", marked
        # no marker hides behind the indentation, where GitHub would not colour it
        assert not re.match(r" +[+~!→-] ", marked), marked
        # the text stays where the text format has it: only the marker moved
        unmarked = re.sub(r"^( *)[+~→-] ", r"\1  ", plain)
        assert marked[1:] == unmarked[1:], (marked, plain)
    colours = {line[0] for line in lines}
    assert colours <= {"+", "-", "!", " "} and {"+", "-", "!"} <= colours


def test_the_markdown_plan_of_the_large_brands_first_apply_stays_under_githubs_limit() -> None:
    plan, findings = large_first_apply()
    whole = render_text(plan)
    assert len(whole.encode()) > 10 * MARKDOWN_LIMIT  # far over: it must fold
    markdown = render_markdown(plan, findings=findings)
    assert len(markdown.encode()) <= MARKDOWN_LIMIT < 65_536
    counts = plan.counts()
    assert f"| {counts['create']} | 0 | 0 | 0 |" in markdown  # the counts stay
    assert "**Plan: 22240 to create, 0 to update, 0 to delete.**" in markdown
    shown = _diff_block(markdown)
    folded = re.fullmatch(r"  \.\.\. and ([\d,]+) more lines: .*", shown[-1])
    assert folded is not None
    assert len(shown) - 1 + int(folded[1].replace(",", "")) == len(diff_lines(plan))
    # the warnings stay too, folded once they pass half the limit
    assert "0.00 price" in markdown and "No main image (400): " in markdown
    assert "ST-02450/WOOL/C0 and 350 more" in markdown  # the report line lists 50 keys


def test_a_small_markdown_plan_is_not_folded() -> None:
    plan, _ = converge(desired({"AW26": {"L1": ["A/W/N"]}}), OrdreSnapshot())
    markdown = render_markdown(plan)
    assert "more lines" not in markdown and len(_diff_block(markdown)) == 3


# --------------------------------------------------------------------------- annotations


def _finding(n: int, severity: str = "error") -> Finding:
    return Finding(
        f"catalogue/c{n}.yaml", 4, 3, "looks[0]", "schema-pattern", severity, "bad", None
    )  # type: ignore[arg-type]


def test_github_shows_ten_annotations_of_a_kind_the_rest_go_to_the_log() -> None:
    findings = [_finding(n) for n in range(12)] + [_finding(n, "warning") for n in range(3)]
    lines = github_lines(findings, "brands/maison/")
    annotations = [line for line in lines if line.startswith("::")]
    assert len([a for a in annotations if a.startswith("::error ")]) == GITHUB_SHOWN
    assert len([a for a in annotations if a.startswith("::warning ")]) == 3
    assert all("file=brands/maison/catalogue/c" in a for a in annotations)
    note = lines.index(next(line for line in lines if line.startswith("GitHub shows at most 10")))
    assert "the other 2 findings follow" in lines[note]
    assert lines[note + 1 :] == [
        "brands/maison/catalogue/c10.yaml:4:3: looks[0]: bad [schema-pattern]",
        "brands/maison/catalogue/c11.yaml:4:3: looks[0]: bad [schema-pattern]",
    ]


def test_annotation_paths_are_relative_to_the_git_top_level(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    brand = tmp_path / "mono" / "brands" / "maison"
    brand.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(tmp_path / "mono")], check=True)
    monkeypatch.chdir(brand)
    assert path_prefix(brand) == "brands/maison/"
    assert path_prefix(tmp_path / "mono") == ""
    outside = tmp_path / "plain"
    outside.mkdir()
    monkeypatch.chdir(tmp_path)  # no git here: relative to where the command runs
    assert path_prefix(outside) == "plain/"


# --------------------------------------------------------------------------- a terminal


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _print_plan(
    monkeypatch: pytest.MonkeyPatch, plan: Plan, *, tty: bool, no_color: str | None
) -> str:
    out = Tty() if tty else io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    monkeypatch.delenv("TERM", raising=False)
    if no_color is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", no_color)
    cli_root.echo_styled(text_lines(plan))
    return out.getvalue()


def test_colour_on_a_terminal_unless_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    _, after = converge(desired({"AW26": {"L1": ["A/W/N", "B/W/N"]}}), OrdreSnapshot())
    plan = make_plan(desired({"AW26": {"L1": ["A/W/N", "C/W/N"]}}), after, prune=True, names=NAMES)
    coloured = _print_plan(monkeypatch, plan, tty=True, no_color=None)
    assert "\x1b[32m        + C/W/N  new listing, no main image\x1b[0m" in coloured
    assert "\x1b[31m        - B/W/N  removed from the look\x1b[0m" in coloured
    assert "\x1b[1mPlan: 1 to create, 1 to update, 1 to delete.\x1b[0m" in coloured
    plain = render_text(plan) + "\n"
    assert _print_plan(monkeypatch, plan, tty=True, no_color="1") == plain
    assert _print_plan(monkeypatch, plan, tty=False, no_color=None) == plain


def test_colour_codes_are_added_after_the_data_is_made_safe(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = Tty()
    monkeypatch.setattr("sys.stdout", out)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("TERM", raising=False)
    cli_root.echo_styled([("create", 'look "\x1b[8mhidden\x1b[0m\r"')])
    assert out.getvalue() == '\x1b[32mlook "\\x1b[8mhidden\\x1b[0m\\r"\x1b[0m\n'


def _action(n: int) -> Action:
    return Action("create", "listing", f"K-{n}/W/N")


def test_a_long_apply_shows_one_line_with_counts_elapsed_and_an_estimate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [100.0]
    monkeypatch.setattr(plan_cli.time, "monotonic", lambda: now[0])
    err = Tty()
    monkeypatch.setattr("sys.stderr", err)
    progress = plan_cli._Progress(quiet=False)
    progress.restart()
    total = 20_000
    for done in range(1, total + 1):
        now[0] += 0.003
        progress(done, total, _action(done), "failed" if done == 7 else "ok")
    output = err.getvalue()
    assert output.count("\n") == 1 and output.endswith("\n")  # one line, redrawn in place
    assert output.count("\r\x1b[2K") < 700  # at most ten redraws a second
    frames = output.split("\r\x1b[2K")[1:]
    shape = re.compile(
        r"Applying: ([\d,]+) of 20,000 \((\d+)%\)( · 1 failed or skipped)? · "
        r"(\d+):(\d\d) elapsed(?: · about (\d+):(\d\d) left)?\n?"
    )
    middle = [m for m in map(shape.fullmatch, frames) if m and m[2] == "50"]
    assert middle and all(m[3] for m in middle)
    seconds = [int(m[4]) * 60 + int(m[5]) for m in middle]
    left = [int(m[6]) * 60 + int(m[7]) for m in middle]
    assert all(29 <= s <= 31 and 29 <= x <= 31 for s, x in zip(seconds, left, strict=True))
    assert frames[-1] == "Applying: 20,000 of 20,000 (100%) · 1 failed or skipped · 1:00 elapsed\n"


def test_in_a_log_the_progress_is_a_line_at_each_tenth(monkeypatch: pytest.MonkeyPatch) -> None:
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    progress = plan_cli._Progress(quiet=False)
    for done in range(1, 1001):
        progress(done, 1000, _action(done), "ok")
    lines = err.getvalue().splitlines()
    assert len(lines) == 10 and lines[0].startswith("Applying: 100 of 1,000 (10%)")
    quiet = plan_cli._Progress(quiet=True)
    quiet(1, 1, _action(1), "ok")
    assert len(err.getvalue().splitlines()) == 10


# --------------------------------------------------------------------------- the guards


def _guards(**changes: Any) -> CatalogueSettings:
    base = CatalogueSettings(True, 20, 0.25, update_threshold_count=50, update_threshold_share=0.3)
    return replace(base, **changes)


def _updating(count: int, of: int) -> Plan:
    actions = tuple(
        Action("update", "listing", f"K-{n}/W/N", remote_id=f"K-{n}/W/N", remote_version="1")
        for n in range(count)
    )
    return Plan(actions, tracked=of, listings=of)


@pytest.mark.parametrize(
    ("count", "of", "refused"),
    [
        (50, 60, False),  # not more than the count: a small showroom's edits
        (51, 200, False),  # not more than the share
        (61, 200, True),  # over both
        (19_810, 19_810, True),  # a price season rewrites the whole showroom
    ],
)
def test_the_update_guard(count: int, of: int, refused: bool) -> None:
    plan = _updating(count, of)
    if refused:
        with pytest.raises(UpdatesRefused, match=r"over the update guard") as caught:
            check_updates(plan, _guards(), allow_updates=False)
        assert caught.value.hint is not None and "--allow-updates" in caught.value.hint
    else:
        check_updates(plan, _guards(), allow_updates=False)
    check_updates(plan, _guards(), allow_updates=True)


def test_the_plan_warns_when_apply_will_need_a_flag() -> None:
    plan = _updating(100, 100)
    deletes = tuple(Action("delete", "listing", f"D-{n}/W/N") for n in range(30))
    plan = replace(plan, actions=(*plan.actions, *deletes))
    with pytest.raises(DeletesRefused):
        check_deletes(plan, _guards(), allow_deletes=False)
    where = Location("connector.yaml", 12, 3)
    found = guard_findings(plan, _guards(), deletes_at=where, updates_at=where)
    assert [(f.code, f.severity) for f in found] == [
        ("plan-delete-guard", "warning"),
        ("plan-update-guard", "warning"),
    ]
    assert "rewrites 100 of the 100 listings on ORDRE (100%)" in found[1].message
    assert guard_findings(_updating(3, 100), _guards(), deletes_at=where, updates_at=where) == []
