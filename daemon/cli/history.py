"""Command: history (docs/plan-apply.md describes it)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

import typer

from daemon.cli.root import (
    HISTORY_JSON_VERSION,
    OutputFormat,
    RootOption,
    app,
    echo,
    print_json,
    repository_root,
)
from daemon.core.words import plural
from daemon.errors import ConfigError, ZedonkOrdreError
from daemon.store.history import History
from daemon.tree.settings import load_settings, parse_duration


class RunKind(StrEnum):
    """The kinds of run the history records (``History.start_run``)."""

    apply = "apply"
    reconcile = "reconcile"
    import_ = "import"
    audit = "audit"


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
        RunKind | None,
        typer.Option("--kind", help="Only runs of one kind.", case_sensitive=False),
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
    try:
        since_at = parse_since(since) if since else None
    except ConfigError as exc:  # a bad option value is a usage error
        raise typer.BadParameter(f"{exc.message}; {exc.hint}", param_hint="'--since'") from None
    settings = load_settings(repository_root(root))
    if not History.exists(settings.state_dir) and run is None:
        # Nothing has run yet: an empty answer, not an error.
        if output is OutputFormat.json:
            print_json({"format_version": HISTORY_JSON_VERSION, "runs": [], "events": []})
        else:
            echo(f"No runs yet (no history in {settings.state_dir}).")
        return
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
            events = store.run_events(run)
            if output is OutputFormat.json:
                print_json(
                    {
                        "format_version": HISTORY_JSON_VERSION,
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
                echo(line)
                if action.get("error"):
                    echo(f"         {_short(action['error'], 200)}")
            for event in events:
                echo(f"  {event['level']}: {event['code']}: {_short(event['message'], 200)}")
            return
        runs = store.runs(
            kind=kind.value if kind else None, since=since_at, errors_only=errors, limit=limit
        )
        events = store.events(since=since_at, level="error", limit=limit) if errors else []
        if output is OutputFormat.json:
            print_json({"format_version": HISTORY_JSON_VERSION, "runs": runs, "events": events})
            return
        if not runs and not events:
            echo("No runs match." if (errors or since or kind) else "No runs yet.")
            return
        for row in runs:
            _echo_run(row)
        if events:
            echo("Errors:")
            for event in events:
                subject = event.get("subject") or ""
                # A finding's message starts with its place, which is also its subject.
                shown = subject and not event["message"].startswith(subject)
                subject = f" {subject}:" if shown else ""
                echo(
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
    if (row.get("repeats") or 1) > 1:  # a streak of idle runs, kept as its last one
        line += f" (x{row['repeats']} since {row['first_started_at'][:19]})"
    recorded = [
        plural(row[key], level)
        for key, level in (("errors", "error"), ("warnings", "warning"))
        if row.get(key)
    ]
    if recorded:  # what they are: history --run N
        line += f" [{', '.join(recorded)}]"
    echo(line.rstrip())
    if row.get("error"):
        echo(f"      {_short(row['error'])}")
