"""Commands: plan and apply (docs/plan-apply.md describes them and their exit codes)."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from daemon.cli.root import (
    JSON_VERSION,
    OutputFormat,
    RootOption,
    app,
    echo,
    print_json,
    repository_root,
    safe_text,
    say_waiting,
)
from daemon.core.actions import Action
from daemon.core.findings import Finding
from daemon.core.plan import Plan
from daemon.core.planfmt import SHOWN_IN_PLAN, plan_json, render_markdown, render_text
from daemon.errors import ExitCode, ZedonkOrdreError
from daemon.reconcile import (
    ApplyReport,
    PlanResult,
    apply_fresh,
    apply_saved,
    plan_tree,
    save_plan,
)


class PlanFormat(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


StrictOption = Annotated[
    bool,
    typer.Option("--strict", help="Products left out for bad barcodes are errors, not warnings."),
]


def _warn(findings: tuple[Finding, ...]) -> None:
    for finding in findings:
        if not finding.is_error and finding.code not in SHOWN_IN_PLAN:
            echo(str(finding), err=True)


# --------------------------------------------------------------------------- plan


@app.command()
def plan(
    root: RootOption = None,
    output: Annotated[
        PlanFormat,
        typer.Option(
            "--format",
            help="text for people, markdown for a pull-request comment, json for scripts.",
            case_sensitive=False,
        ),
    ] = PlanFormat.text,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Save the plan to FILE, for `apply FILE`.", dir_okay=False),
    ] = None,
    detailed_exitcode: Annotated[
        bool,
        typer.Option(
            "--detailed-exitcode", help="Exit 0 for no changes, 2 for changes, 1 for an error."
        ),
    ] = False,
    strict: StrictOption = False,
) -> None:
    """Show what apply would change on ORDRE to match the catalogue. Writes nothing."""
    result = plan_tree(repository_root(root), strict=strict)
    if output is PlanFormat.json:
        print_json(plan_json(result.plan))
    elif output is PlanFormat.markdown:
        echo(render_markdown(result.plan, findings=result.findings))
    else:
        _warn(result.findings)
        echo(render_text(result.plan))
    if out is not None:
        digest = save_plan(out, result)
        echo(
            f"Saved the plan to {out} (sha256 {digest[:12]}). Apply exactly it with: "
            f"zedonk-ordre apply {out}",
            err=True,
        )
    if detailed_exitcode and result.plan.has_changes:
        raise typer.Exit(int(ExitCode.CHANGES))


# --------------------------------------------------------------------------- apply


class _Progress:
    """One updating line on a terminal; one plain line per action otherwise."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()

    def __call__(self, done: int, total: int, action: Action, status: str) -> None:
        if self.quiet:
            return
        if self.tty:
            end = "\n" if done == total or status != "ok" else ""
            line = f"[{done}/{total}] {status}: {action.label}"
            sys.stderr.write(f"\r\x1b[2K{safe_text(line)}{end}")
            sys.stderr.flush()
        else:
            echo(f"[{done}/{total}] {status}: {action.label}", err=True)


def _report_json(report: ApplyReport) -> dict[str, Any]:
    return {
        "format_version": JSON_VERSION,
        "run_id": report.run_id,
        "result": report.result,
        "summary": report.counts(),
        "actions": [
            {
                "op": o.action.op,
                "kind": o.action.kind,
                "key": o.action.key,
                "step": o.action.step,
                "status": o.status,
                "remote_id": o.remote_id,
                "error": o.error,
            }
            for o in report.outcomes
        ],
    }


def _finish(report: ApplyReport, output: OutputFormat) -> None:
    if output is OutputFormat.json:
        print_json(_report_json(report))
    else:
        for outcome in report.outcomes:
            if outcome.status != "ok":
                echo(f"{outcome.status}: {outcome.action.label}: {outcome.error}", err=True)
        echo(f"Apply (run {report.run_id}): {report.result}: {report.summary()}")
    if report.result == "partial":
        echo(
            "hint: run `zedonk-ordre apply` again once the cause is fixed; it converges",
            err=True,
        )
        raise typer.Exit(int(ExitCode.PARTIAL))
    if report.result == "failed":
        raise typer.Exit(int(ExitCode.ERROR))


@app.command()
def apply(
    plan_file: Annotated[
        Path | None,
        typer.Argument(help="A plan saved with `plan --out`; applied exactly, without a prompt."),
    ] = None,
    root: RootOption = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking.")] = False,
    allow_deletes: Annotated[
        bool, typer.Option("--allow-deletes", help="Allow deletes over the delete guard.")
    ] = False,
    output: Annotated[
        OutputFormat, typer.Option("--format", help="text for people, json for scripts.")
    ] = OutputFormat.text,
    strict: StrictOption = False,
) -> None:
    """Make ORDRE match the catalogue: plan, show, ask, apply (or apply a saved plan).

    With the daemon running, it waits for the daemon's reconcile pass in flight, if any
    (saying so on stderr), then plans and applies as usual.

    Exit codes: 0 done or nothing to do, 1 error, 3 applied only partly, 4 another command
    (an apply) holds the lock, 5 the saved plan no longer matches ORDRE.
    """
    progress = _Progress(output is OutputFormat.json)
    if plan_file is not None:
        report = apply_saved(
            repository_root(root),
            plan_file,
            allow_deletes=allow_deletes,
            progress=progress,
            waiting=say_waiting,
        )
        if report is None:
            echo("No changes: the saved plan is empty.")
            return
        _finish(report, output)
        return

    def show(result: PlanResult) -> None:
        if output is OutputFormat.text:
            _warn(result.findings)
            echo(render_text(result.plan))

    def confirm(_: Plan) -> bool:
        if yes:
            return True
        if not sys.stdin.isatty():
            raise ZedonkOrdreError(
                "apply needs a confirmation, and there is no terminal to ask on",
                hint="review the plan, then pass --yes (or apply a saved plan file)",
            )
        return typer.confirm("Apply these changes to ORDRE?", default=False)

    fresh = apply_fresh(
        repository_root(root),
        strict=strict,
        allow_deletes=allow_deletes,
        show=show,
        confirm=confirm,
        progress=progress,
        waiting=say_waiting,
    )
    if fresh is None:
        echo("Nothing applied.")
    elif fresh.result != "no-changes":
        _finish(fresh, output)
    elif output is OutputFormat.json:
        print_json(_report_json(fresh))
