"""Commands: plan and apply (docs/plan-apply.md describes them and their exit codes)."""

from __future__ import annotations

import sys
import time
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
    echo_styled,
    print_json,
    repository_root,
    safe_text,
    say_waiting,
)
from daemon.core.actions import Action
from daemon.core.findings import Finding
from daemon.core.plan import Plan
from daemon.core.planfmt import SHOWN_IN_PLAN, plan_json, render_markdown, text_lines
from daemon.errors import ExitCode, ZedonkOrdreError
from daemon.reconcile import (
    ApplyReport,
    Outcome,
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
    echo_styled(
        (
            (finding.severity, str(finding))
            for finding in findings
            if not finding.is_error and finding.code not in SHOWN_IN_PLAN
        ),
        err=True,
    )


# --------------------------------------------------------------------------- plan


def _cache_folder(name: str) -> Path:
    """``--cache DIR`` as a folder. An empty name (an unset variable in a CI job) would be the
    current folder, most often the brand's checkout: refused, as is a file."""
    if not name.strip():
        raise typer.BadParameter(
            "is empty: name the folder to keep the read cache in (is a variable unset?)",
            param_hint="'--cache'",
        )
    folder = Path(name)
    if folder.exists() and not folder.is_dir():
        raise typer.BadParameter(f"{name} is not a folder", param_hint="'--cache'")
    return folder


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
    cache: Annotated[
        str | None,
        typer.Option(
            "--cache",
            help="Keep what was read in DIR, and next time read only what changed since "
            "(for CI runners that keep a cache folder).",
            metavar="DIR",
        ),
    ] = None,
) -> None:
    """Show what apply would change on ORDRE to match the catalogue. Writes nothing."""
    folder = None if cache is None else _cache_folder(cache)
    result = plan_tree(repository_root(root), strict=strict, cache=folder)
    if output is PlanFormat.json:
        print_json(plan_json(result.plan))
    elif output is PlanFormat.markdown:
        echo(render_markdown(result.plan, findings=result.findings))
    else:
        _warn(result.findings)
        echo_styled(text_lines(result.plan))
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


def _clock(seconds: float) -> str:
    """``83.4`` -> ``1:23``; an hour or more -> ``1:02:03``."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class _Progress:
    """A long apply's progress on stderr. On a terminal, one line that updates in place:
    how many actions are done of how many, how many failed, the time so far and an
    estimate of the time left. Otherwise (a log), that line at each tenth of the way."""

    REDRAW = 0.1  # seconds between two redraws of the terminal line

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.started = time.monotonic()
        self.drawn = 0.0
        self.tenths = 0
        self.problems = 0

    def restart(self) -> None:
        """The apply starts now (after the plan and the confirmation)."""
        self.started = time.monotonic()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def line(self, done: int, total: int) -> str:
        elapsed = self.elapsed
        text = f"Applying: {done:,} of {total:,} ({done / max(total, 1):.0%})"
        if self.problems:
            text += f" · {self.problems:,} failed or skipped"
        text += f" · {_clock(elapsed)} elapsed"
        if 0 < done < total:
            text += f" · about {_clock(elapsed / done * (total - done))} left"
        return text

    def __call__(self, done: int, total: int, action: Action, status: str) -> None:
        self.problems += status != "ok"
        if self.quiet:
            return
        now = time.monotonic()
        if self.tty:
            if done < total and now - self.drawn < self.REDRAW:
                return
            self.drawn = now
            end = "\n" if done == total else ""
            sys.stderr.write(f"\r\x1b[2K{safe_text(self.line(done, total))}{end}")
            sys.stderr.flush()
        elif done * 10 >= (self.tenths + 1) * total:
            self.tenths = done * 10 // total
            echo(self.line(done, total), err=True)


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


def _finish(report: ApplyReport, output: OutputFormat, elapsed: float) -> None:
    if output is OutputFormat.json:
        print_json(_report_json(report))
    else:
        problems = [o for o in report.outcomes if o.status != "ok"]
        echo_styled(
            [("error" if o.status == "failed" else "warning", _outcome(o)) for o in problems],
            err=True,
        )
        echo_styled([(_RESULT_STYLE.get(report.result, ""), _summary(report, elapsed))])
    if report.result == "partial":
        echo(
            "hint: run `zedonk-ordre apply` again once the cause is fixed; it converges",
            err=True,
        )
        raise typer.Exit(int(ExitCode.PARTIAL))
    if report.result == "failed":
        raise typer.Exit(int(ExitCode.ERROR))


_RESULT_STYLE = {"ok": "create", "partial": "warning", "failed": "error"}


def _outcome(outcome: Outcome) -> str:
    return f"{outcome.status}: {outcome.action.label}: {outcome.error}"


def _summary(report: ApplyReport, elapsed: float) -> str:
    """``Apply (run 12): ok in 1:23: 40 created, 12 updated, 0 deleted; 0 failed, 0 skipped``"""
    counts = report.counts()
    return (
        f"Apply (run {report.run_id}): {report.result} in {_clock(elapsed)}: "
        f"{counts['create']:,} created, {counts['update']:,} updated, "
        f"{counts['delete']:,} deleted; {counts['failed']:,} failed, "
        f"{counts['skipped']:,} skipped"
    )


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
    allow_updates: Annotated[
        bool,
        typer.Option("--allow-updates", help="Allow listing updates over the update guard."),
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
            allow_updates=allow_updates,
            progress=progress,
            waiting=say_waiting,
        )
        if report is None:
            echo("No changes: the saved plan is empty.")
            return
        _finish(report, output, progress.elapsed)
        return

    def show(result: PlanResult) -> None:
        if output is OutputFormat.text:
            _warn(result.findings)
            echo_styled(text_lines(result.plan))

    def confirm(_: Plan) -> bool:
        progress.restart()
        if yes:
            return True
        if not sys.stdin.isatty():
            raise ZedonkOrdreError(
                "apply needs a confirmation, and there is no terminal to ask on",
                hint="review the plan, then pass --yes (or apply a saved plan file)",
            )
        answer = typer.confirm("Apply these changes to ORDRE?", default=False)
        progress.restart()
        return answer

    fresh = apply_fresh(
        repository_root(root),
        strict=strict,
        allow_deletes=allow_deletes,
        allow_updates=allow_updates,
        show=show,
        confirm=confirm,
        progress=progress,
        waiting=say_waiting,
    )
    if fresh is None:
        echo("Nothing applied.")
    elif fresh.result != "no-changes":
        _finish(fresh, output, progress.elapsed)
    elif output is OutputFormat.json:
        print_json(_report_json(fresh))
