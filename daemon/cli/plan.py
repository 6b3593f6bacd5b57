"""Commands: plan, apply, history (docs/plan-apply.md describes them and their exit codes)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from daemon.apply import (
    ApplyReport,
    PlanResult,
    apply_plan,
    check_deletes,
    close_interrupted_runs,
    finish_apply_run,
    gather_ordre,
    load_plan,
    load_tree,
    open_clients,
    plan_only,
    refuse_if_stale,
    save_plan,
)
from daemon.cli.root import app, print_json
from daemon.config import Settings, find_root, load_settings, parse_duration
from daemon.errors import ConfigError, ExitCode, ZedonkOrdreError
from daemon.findings import Finding
from daemon.gitinfo import catalogue_commit
from daemon.history import History
from daemon.lock import StateLock
from daemon.plan import Action, Plan
from daemon.planfmt import SHOWN_IN_PLAN, plan_json, render_markdown, render_text

JSON_VERSION = 1


class PlanFormat(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


RootOption = Annotated[
    Path | None,
    typer.Option(
        "--root",
        help="The directory that holds connector.yaml. Default: the nearest one upwards.",
        file_okay=False,
    ),
]
StrictOption = Annotated[
    bool,
    typer.Option("--strict", help="Products left out for bad barcodes are errors, not warnings."),
]


def _root(root: Path | None) -> Path:
    if root is not None:
        if not root.is_dir():
            raise ConfigError(f"--root {root} is not a directory", hint="pass the repository root")
        return root
    return find_root(Path.cwd())


def _warn(findings: tuple[Finding, ...]) -> None:
    for finding in findings:
        if not finding.is_error and finding.code not in SHOWN_IN_PLAN:
            typer.echo(str(finding), err=True)


def _make_plan(root: Path | None, strict: bool) -> tuple[Settings, PlanResult]:
    settings, catalogue, findings = load_tree(_root(root))
    with open_clients(settings) as (zedonk, ordre):
        result = plan_only(settings, catalogue, zedonk, ordre, strict=strict, findings=findings)
    return settings, result


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
    _, result = _make_plan(root, strict)
    if output is PlanFormat.json:
        print_json(plan_json(result.plan))
    elif output is PlanFormat.markdown:
        typer.echo(render_markdown(result.plan, findings=result.findings))
    else:
        _warn(result.findings)
        typer.echo(render_text(result.plan))
    if out is not None:
        digest = save_plan(out, result)
        typer.echo(
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
            line = f"\r\x1b[2K[{done}/{total}] {status}: {action.label}"
            sys.stderr.write(line + end)
            sys.stderr.flush()
        else:
            typer.echo(f"[{done}/{total}] {status}: {action.label}", err=True)


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
                typer.echo(f"{outcome.status}: {outcome.action.label}: {outcome.error}", err=True)
        typer.echo(f"Apply (run {report.run_id}): {report.result}: {report.summary()}")
    if report.result == "partial":
        typer.echo(
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

    Exit codes: 0 done or nothing to do, 1 error, 3 applied only partly,
    4 another process holds the lock, 5 the saved plan no longer matches ORDRE.
    """
    if plan_file is not None:
        settings = load_settings(_root(root))
        with StateLock(settings.state_dir, "apply"), History.open(settings.state_dir) as history:
            saved = load_plan(plan_file)
            with open_clients(settings) as (_, ordre):
                snapshot = gather_ordre(ordre)
                refuse_if_stale(saved.actions, snapshot)
                check_deletes(
                    Plan(saved.actions, tracked=snapshot.tracked),
                    settings.catalogue,
                    allow_deletes=allow_deletes,
                )
                if not saved.actions:
                    typer.echo("No changes: the saved plan is empty.")
                    return
                close_interrupted_runs(history)
                run_id = history.start_run("apply", "cli", git_commit=saved.git_commit)
                report = apply_plan(
                    ordre,
                    history,
                    run_id,
                    saved.actions,
                    progress=_Progress(output is OutputFormat.json),
                )
                finish_apply_run(history, report)
        _finish(report, output)
        return

    settings, catalogue, findings = load_tree(_root(root))
    with (
        StateLock(settings.state_dir, "apply"),
        History.open(settings.state_dir) as history,
        open_clients(settings) as (zedonk, ordre),
    ):
        result = plan_only(settings, catalogue, zedonk, ordre, strict=strict, findings=findings)
        planned = result.plan
        if output is OutputFormat.text:
            _warn(result.findings)
            typer.echo(render_text(planned))
        if not planned.has_changes:
            run_id = history.start_run("apply", "cli", git_commit=result.git_commit)
            history.finish_run(run_id, "no-changes", summary=planned.counts())
            if output is OutputFormat.json:
                print_json(_report_json(ApplyReport(run_id, ())))
            return
        check_deletes(planned, settings.catalogue, allow_deletes=allow_deletes)
        if not yes:
            if not sys.stdin.isatty():
                raise ZedonkOrdreError(
                    "apply needs a confirmation, and there is no terminal to ask on",
                    hint="review the plan, then pass --yes (or apply a saved plan file)",
                )
            if not typer.confirm("Apply these changes to ORDRE?", default=False):
                typer.echo("Nothing applied.")
                return
        close_interrupted_runs(history)
        run_id = history.start_run("apply", "cli", git_commit=catalogue_commit(settings.root))
        report = apply_plan(
            ordre,
            history,
            run_id,
            planned.actions,
            progress=_Progress(output is OutputFormat.json),
        )
        finish_apply_run(history, report)
    _finish(report, output)


# --------------------------------------------------------------------------- history


def parse_since(text: str, *, now: datetime | None = None) -> str:
    """``2h``, ``7d`` (ago) or a date/time (``2026-11-01``, RFC 3339) -> RFC 3339 UTC."""
    now = now or datetime.now(UTC)
    try:
        return (now - timedelta(seconds=parse_duration(text))).isoformat(timespec="microseconds")
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"--since {text!r} is neither a duration nor a date",
            hint="use a duration like 30m, 2h or 7d, or a date like 2026-11-01",
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat(timespec="microseconds")


def _short(value: Any, width: int = 90) -> str:
    text = " ".join(str(value or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _duration(run: dict[str, Any]) -> str:
    if not run.get("finished_at"):
        return "-"
    seconds = (
        datetime.fromisoformat(run["finished_at"]) - datetime.fromisoformat(run["started_at"])
    ).total_seconds()
    return f"{seconds:.1f}s"


def _counts(summary: Any) -> str:
    if not isinstance(summary, dict):
        return ""
    return " ".join(f"{k}={v}" for k, v in summary.items() if v)


def _run_events(history: History, run_id: int) -> list[dict[str, Any]]:
    return history.query("SELECT * FROM events WHERE run_id = ? ORDER BY id", (run_id,))


@app.command()
def history(
    root: RootOption = None,
    errors: Annotated[
        bool, typer.Option("--errors", help="Only runs that failed or finished partly.")
    ] = False,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only since a duration ago (30m, 2h, 7d) or a date."),
    ] = None,
    kind: Annotated[
        str | None,
        typer.Option("--kind", help="Only runs of one kind: apply, reconcile, import, ..."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most N runs.")] = 50,
    run: Annotated[
        int | None, typer.Option("--run", help="Show one run with its actions and events.")
    ] = None,
    output: Annotated[
        OutputFormat, typer.Option("--format", help="text for people, json for scripts.")
    ] = OutputFormat.text,
) -> None:
    """List past runs (apply, reconcile, import) with their results, newest first."""
    settings = load_settings(_root(root))
    with History.open(settings.state_dir, read_only=True) as store:
        if run is not None:
            rows = store.query("SELECT * FROM runs WHERE id = ?", (run,))
            if not rows:
                raise ZedonkOrdreError(
                    f"there is no run {run} in the history", hint="list runs with `history`"
                )
            detail = rows[0]
            detail["summary"] = json.loads(detail["summary"]) if detail["summary"] else None
            actions = store.actions(run)
            events = _run_events(store, run)
            if output is OutputFormat.json:
                print_json(
                    {
                        "format_version": JSON_VERSION,
                        "run": detail,
                        "actions": actions,
                        "events": events,
                    }
                )
                return
            _echo_run(detail)
            for action in actions:
                line = f"  {action['seq']:>4} {action['status']:<8} {action['intent']}"
                if action.get("remote_id"):
                    line += f" [{action['remote_id']}]"
                typer.echo(line)
                if action.get("error"):
                    typer.echo(f"         {_short(action['error'], 200)}")
            for event in events:
                typer.echo(f"  {event['level']}: {event['code']}: {_short(event['message'], 200)}")
            return
        since_at = parse_since(since) if since else None
        runs = store.runs(kind=kind, since=since_at, errors_only=errors, limit=limit)
        events = store.events(since=since_at, level="error", limit=limit) if errors else []
        if output is OutputFormat.json:
            print_json({"format_version": JSON_VERSION, "runs": runs, "events": events})
            return
        if not runs and not events:
            typer.echo("No runs match." if (errors or since or kind) else "No runs yet.")
            return
        for row in runs:
            _echo_run(row)
        if events:
            typer.echo("Errors:")
            for event in events:
                subject = f" {event['subject']}:" if event.get("subject") else ""
                typer.echo(
                    f"  {event['at'][:19]} {event['code']}:{subject} "
                    f"{_short(event['message'], 160)}"
                )


def _echo_run(row: dict[str, Any]) -> None:
    commit = (row.get("git_commit") or "")[:12]
    line = (
        f"{row['id']:>5} {row['started_at'][:19]} {row['kind']:<9} {row['trigger']:<7} "
        f"{row['result']:<10} {_duration(row):>7} {_counts(row.get('summary'))}"
    )
    if commit:
        line += f" @{commit}"
    typer.echo(line.rstrip())
    if row.get("error"):
        typer.echo(f"      {_short(row['error'])}")
