"""Commands: run, status, pause, resume, demo (see docs/service.md)."""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from typing import Any

import typer

from daemon.cli.root import (
    Options,
    OutputFormat,
    RootOption,
    app,
    echo,
    fail,
    print_json,
    repository_root,
)
from daemon.errors import ConfigError, ExitCode
from daemon.store.history import History
from daemon.store.lock import describe
from daemon.store.status import gather, pause, resume
from daemon.tree.settings import Settings, load_settings

FORMAT_OPTION = typer.Option(
    OutputFormat.text, "--format", help="text for people, json for scripts.", case_sensitive=False
)


def _settings(root: Path | None) -> Settings:
    return load_settings(repository_root(root))


def _state_dir(root: Path | None) -> Path:
    return _settings(root).state_dir


@app.command()
def run(root: RootOption = None) -> None:
    """Run the daemon: watch catalogue/, reconcile ORDRE, import orders; stop on SIGTERM.

    Exit codes: 0 after a clean stop; 78 when connector.yaml or the tokens are invalid at
    start (systemd then does not restart it); 4 when another process holds the lock.
    """
    from daemon.service import Service, setup_logging

    setup_logging(debug=Options.debug)
    try:
        settings = _settings(root)
        service = Service(settings)
        signal.signal(signal.SIGTERM, service.request_stop)
        signal.signal(signal.SIGINT, service.request_stop)
        code = service.run()
    except ConfigError as exc:  # the settings, a secret or the state directory
        fail(exc, int(ExitCode.CONFIG))
    raise typer.Exit(code)


def _when(value: str | None) -> str:
    return value[:19].replace("T", " ") + " UTC" if value else "never"


def _run_line(label: str, run: dict[str, Any] | None) -> str:
    if run is None:
        return f"{label}: none yet"
    line = (
        f"{label}: {run['result']} ({run['kind']}, {run['trigger']}) at {_when(run['started_at'])}"
    )
    if run.get("error"):
        line += f"\n    {run['error'].splitlines()[0]}"
    return line


def render_status(doc: dict[str, Any]) -> str:
    lines = []
    lock = doc["lock"]
    lines.append(
        f"daemon: running - {describe(lock['holder'])}" if lock["held"] else "daemon: not running"
    )
    paused = doc["paused"]
    if paused:
        lines.append(
            f"reconciling: PAUSED since {_when(paused.get('at'))} by {paused.get('by')}: "
            f"{paused.get('reason')}"
        )
    else:
        lines.append("reconciling: active")
    if not doc["history"]:
        lines.append(f"history: none yet in {doc['state_dir']}")
        return "\n".join(lines)
    lines.append(_run_line("last reconcile", doc["last_reconcile"]))
    good = doc["last_good_reconcile"]
    if good and doc["last_reconcile"] and good["id"] != doc["last_reconcile"]["id"]:
        lines.append(f"  last good reconcile: {good['result']} at {_when(good['started_at'])}")
    lines.append(_run_line("last poll", doc["last_poll"]))
    waiting, attention = doc["orders"]["waiting"], doc["orders"]["needs_attention"]
    lines.append(f"orders waiting: {len(waiting)}")
    for imp in waiting:
        lines.append(f"  {imp['ordre_number']} ({imp['retailer_name']}): {imp['state']}")
    lines.append(f"orders needing attention: {len(attention)}")
    for imp in attention:
        lines.append(
            f"  {imp['ordre_number']} ({imp['retailer_name']}): {imp['state']}"
            + (f" - {imp['last_error']}" if imp["last_error"] else "")
        )
    rebuilt = doc["orders"].get("rebuilt")
    if rebuilt:
        lines.append(
            f"ledger rebuilt from Zedonk: {rebuilt['found']} orders found "
            f"(since {_when(rebuilt['at'])})"
        )
    audit = doc["orders"].get("audit")
    if audit:
        found = audit["duplicates"]
        lines.append(
            f"last audit: {_when(audit['at'])}, {audit['checked']} active Zedonk orders of "
            f"{audit['season']} checked: "
            + (f"{len(found)} ORDRE submission(s) on more than one" if found else "no duplicate")
        )
        for duplicate in found:
            numbers = ", ".join(o["number"] or o["id"] for o in duplicate["orders"])
            lines.append(
                f"  {duplicate['import_key']}: {numbers} (keep one, inactivate the others)"
            )
    if doc["recent_errors"]:
        lines.append("recent errors:")
        for event in doc["recent_errors"]:
            lines.append(f"  {_when(event['at'])} {event['code']}: {event['message']}")
    return "\n".join(lines)


@app.command()
def status(
    root: RootOption = None,
    output: OutputFormat = FORMAT_OPTION,
) -> None:
    """Show the last reconcile and poll, orders waiting or in trouble, the lock and any pause."""
    doc = gather(_state_dir(root))
    if output == OutputFormat.json:
        print_json(doc)
    else:
        echo(render_status(doc))


@app.command("pause")
def pause_command(
    reason: str = typer.Option(..., "--reason", help="Why, for the people who will read status."),
    root: RootOption = None,
) -> None:
    """Stop automatic reconciling (orders keep being imported) until `resume`."""
    if not reason.strip():
        raise ConfigError("--reason is empty", hint="say why, e.g. --reason 'stock count'")
    with History.open(_state_dir(root)) as history:
        record = pause(history, reason.strip())
    echo(f"reconciling paused: {record['reason']} (resume with `zedonk-ordre resume`)")


@app.command("resume")
def resume_command(root: RootOption = None) -> None:
    """Restart automatic reconciling; edits made meanwhile are applied at once."""
    with History.open(_state_dir(root)) as history:
        record = resume(history)
    if record is None:
        echo("reconciling was not paused")
    else:
        echo(f"reconciling resumed (it was paused: {record.get('reason')})")


@app.command()
def demo(
    duration: float | None = typer.Option(
        None, "--duration", help="Stop after this many seconds (default: run until Ctrl-C)."
    ),
    once: bool = typer.Option(
        False, "--once", help="Play the story once, then stop (what the tests run)."
    ),
    speed: float = typer.Option(
        1.0, "--speed", help="Play the story faster (2 = twice as fast).", min=0.1
    ),
) -> None:
    """Watch the connector work against local sandboxes: catalogue sync, orders, problems."""
    from daemon.demo import run_demo

    # The narration tells the story; the daemon's own logs would only drown it.
    logging.getLogger().setLevel(logging.DEBUG if Options.debug else logging.ERROR)
    code = run_demo(duration=duration, once=once, speed=speed, say=echo)
    raise typer.Exit(code)
