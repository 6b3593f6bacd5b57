"""Commands: run, status, pause, resume, reconcile, demo (see docs/service.md)."""

from __future__ import annotations

import logging
import signal
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import typer

from daemon.cli.root import (
    JSON_VERSION,
    Options,
    OutputFormat,
    RootOption,
    app,
    echo,
    fail,
    print_json,
    repository_root,
    say_waiting,
)
from daemon.core.words import import_summary
from daemon.errors import ConfigError, ExitCode, LockHeld, ZedonkOrdreError
from daemon.store import requests
from daemon.store.history import History
from daemon.store.lock import StateLock, describe, running_daemon
from daemon.store.status import PAUSED_KEY, PROBLEM_RESULTS, gather, pause, resume
from daemon.tree.settings import Settings, load_settings, parse_listen

ANSWER_POLL = 0.2  # seconds between two looks for the daemon's answer

FORMAT_OPTION = typer.Option(
    OutputFormat.text, "--format", help="text for people, json for scripts.", case_sensitive=False
)


def _settings(root: Path | None) -> Settings:
    return load_settings(repository_root(root))


def _state_dir(root: Path | None) -> Path:
    return _settings(root).state_dir


@app.command()
def run(
    root: RootOption = None,
    status_listen: str | None = typer.Option(
        None,
        "--status-listen",
        metavar="HOST:PORT",
        help="Serve the status page here instead of daemon.status_listen in connector.yaml "
        "(one port per brand on a shared host).",
    ),
) -> None:
    """Run the daemon: watch catalogue/, reconcile ORDRE, import orders; stop on SIGTERM.

    Exit codes: 0 after a clean stop; 78 when connector.yaml or the tokens are invalid at
    start (systemd then does not restart it); 4 when another daemon runs on the same state
    directory.
    """
    from daemon.service import Service, setup_logging

    setup_logging(debug=Options.debug)
    try:
        settings = _settings(root)
        if status_listen is not None:
            settings = _listening_on(settings, status_listen)
        service = Service(settings)
        signal.signal(signal.SIGTERM, service.request_stop)
        signal.signal(signal.SIGINT, service.request_stop)
        code = service.run()
    except ConfigError as exc:  # the settings, a secret or the state directory
        fail(exc, int(ExitCode.CONFIG))
    raise typer.Exit(code)


def _listening_on(settings: Settings, address: str) -> Settings:
    try:
        listen = parse_listen(address)
    except ValueError as exc:
        raise typer.BadParameter(
            f"{address!r}: {exc}; write HOST:PORT, e.g. 127.0.0.1:9808",
            param_hint="'--status-listen'",
        ) from None
    return replace(settings, daemon=replace(settings.daemon, status_listen=listen))


def _when(value: str | None) -> str:
    return value[:19].replace("T", " ") + " UTC" if value else "never"


def _run_line(label: str, run: dict[str, Any] | None) -> str:
    if run is None:
        return f"{label}: none yet"
    line = (
        f"{label}: {run['result']} ({run['kind']}, {run['trigger']}) at {_when(run['started_at'])}"
    )
    if (run.get("repeats") or 1) > 1:
        line += f", the same {run['repeats']} times since {_when(run['first_started_at'])}"
    if run.get("error"):
        line += f"\n    {run['error'].splitlines()[0]}"
    return line


def _working_line(side: str, holder: dict[str, Any] | None) -> str | None:
    if holder is None:
        return None
    return f"now working on the {side}: {describe(holder)}"


def _attention_line(counts: dict[str, Any]) -> str:
    line = f"needs a person: {counts['open']}"
    if counts["open"]:
        kinds = ", ".join(
            f"{n} {kind.replace('_', ' ')}" for kind, n in sorted(counts["by_kind"].items())
        )
        line += f" ({kinds}): `zedonk-ordre attention` says what and how to fix it"
    if counts["acknowledged"]:
        line += f"; {counts['acknowledged']} acknowledged"
    return line


def render_status(doc: dict[str, Any]) -> str:
    lines = [_attention_line(doc["attention"])]
    daemon = doc["daemon"]
    lines.append(
        f"daemon: running - {describe(daemon['holder'])}"
        if daemon["running"]
        else "daemon: not running"
    )
    for side in ("catalogue", "orders"):
        line = _working_line(side, doc["working"][side])
        if line:
            lines.append(line)
    paused = doc["paused"]
    if paused:
        lines.append(
            f"reconciling: PAUSED since {_when(paused.get('at'))} by {paused.get('by')}: "
            f"{paused.get('reason')}"
        )
    elif doc["reconciling"] == "off":
        lines.append("reconciling: off (no daemon runs; `zedonk-ordre reconcile` runs one pass)")
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
    good = doc["last_good_poll"]
    if good and doc["last_poll"] and good["id"] != doc["last_poll"]["id"]:
        lines.append(f"  last good poll: {good['result']} at {_when(good['started_at'])}")
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
    problems = _problem_lines(doc)
    if problems:
        lines.append("problems now:")
        lines += problems
    else:
        lines.append("problems now: none (past errors: `zedonk-ordre history --errors`)")
    return "\n".join(lines)


def _problem_lines(doc: dict[str, Any]) -> list[str]:
    """What is wrong now, loop by loop: the errors of its last pass when it did not succeed,
    or that pass's own error when it recorded none."""
    lines = []
    for loop, key in (("reconcile", "last_reconcile"), ("import", "last_poll")):
        run = doc[key]
        if run is None or run["result"] not in PROBLEM_RESULTS:
            continue
        events = [e for e in doc["problems"] if e["run_id"] == run["id"]]
        if not events:
            summary = run.get("summary")
            said = import_summary(summary) if loop == "import" and isinstance(summary, dict) else ""
            first = (run.get("error") or said or run["result"]).splitlines()[0]
            lines.append(f"  {loop}: {run['result']}: {first} ({_when(run['finished_at'])})")
        for event in events:
            lines.append(f"  {loop}: {event['code']}: {event['message']} ({_when(event['at'])})")
    return lines


@app.command()
def status(
    root: RootOption = None,
    output: OutputFormat = FORMAT_OPTION,
) -> None:
    """Show the present: how many items need a person (`attention` lists them), whether the
    daemon runs, what works now, the last pass of each loop, orders waiting or in trouble,
    any pause, and what is wrong now."""
    doc = gather(_state_dir(root))
    if output == OutputFormat.json:
        print_json(doc)
    else:
        echo(render_status(doc))


def _after_the_pass_in_flight(state_dir: Path) -> None:
    """Wait for the daemon's reconcile pass in flight, if any (saying so): a pass reads the
    pause under the catalogue's lock, so from now on the daemon applies nothing."""
    lock = StateLock(state_dir, "pause")
    try:
        lock.acquire(behind_daemon=say_waiting)
    except LockHeld:  # a command applies: the pause is for the daemon, not for it
        return
    lock.release()


@app.command("pause")
def pause_command(
    reason: str = typer.Option(..., "--reason", help="Why, for the people who will read status."),
    root: RootOption = None,
) -> None:
    """Stop automatic reconciling (orders keep being imported) until `resume`.

    When a reconcile pass of the daemon is running, it waits for it to finish (saying so):
    once `pause` has returned, the daemon applies nothing until `resume`.
    """
    if not reason.strip():
        raise ConfigError("--reason is empty", hint="say why, e.g. --reason 'stock count'")
    state_dir = _state_dir(root)
    with History.open(state_dir) as history:
        record = pause(history, reason.strip())
    _after_the_pass_in_flight(state_dir)
    echo(f"reconciling paused: {record['reason']} (resume with `zedonk-ordre resume`)")
    if running_daemon(state_dir) is None:
        echo("note: no daemon runs here now; the pause holds when one starts", err=True)


@app.command("resume")
def resume_command(root: RootOption = None) -> None:
    """Restart automatic reconciling; edits made meanwhile are applied at once."""
    state_dir = _state_dir(root)
    with History.open(state_dir) as history:
        record = resume(history)
    if record is None:
        echo("reconciling was not paused")
        return
    echo(f"reconciling resumed (it was paused: {record.get('reason')})")
    if running_daemon(state_dir) is None:
        echo("note: no daemon runs here now; `zedonk-ordre reconcile` runs one pass", err=True)


@app.command("reconcile")
def reconcile_command(
    root: RootOption = None,
    output: OutputFormat = FORMAT_OPTION,
) -> None:
    """Reconcile now: the running daemon runs a full pass at once, and this waits for it;
    without a daemon, this command runs the pass itself.

    A full pass reads both systems and applies what the catalogue asks, like the daemon's
    timer does (`apply` is the same with a plan to review first). It refuses while
    reconciling is paused. Exit codes: 0 done or nothing to do, 1 failed or the catalogue is
    invalid, 3 applied only partly, 4 another command holds the catalogue's lock.
    """
    settings = _settings(root)
    state_dir = settings.state_dir
    with History.open(state_dir) as history:
        paused = history.get_state(PAUSED_KEY)
        if paused:
            raise ZedonkOrdreError(
                f"reconciling is paused: {paused.get('reason')} (by {paused.get('by')})",
                hint="`zedonk-ordre resume` first, or `zedonk-ordre apply` to apply once "
                "while it stays paused",
            )
        answer = _ask_the_daemon(history, state_dir)
    if answer is None:  # no daemon (any longer): this command runs the pass
        answer = _reconcile_here(settings)
    _print_reconcile(answer, output)


def _ask_the_daemon(history: History, state_dir: Path) -> dict[str, Any] | None:
    """Ask the running daemon for a pass and wait for its answer; None when no daemon runs
    (or it stopped before it answered)."""
    daemon = running_daemon(state_dir)
    if daemon is None:
        return None
    asked = requests.ask(history, requests.RECONCILE)
    say_waiting(
        f"asked the daemon (pid {daemon.get('pid')} on {daemon.get('host')}) to reconcile now;"
        " waiting for its pass"
    )
    while True:
        found = requests.answer_of(history, asked)
        if found is not None:
            return {**found, "by": "daemon"}
        if running_daemon(state_dir) is None:
            echo("the daemon stopped before it answered; reconciling here instead", err=True)
            return None
        time.sleep(ANSWER_POLL)


def _reconcile_here(settings: Settings) -> dict[str, Any]:
    from daemon.reconcile import holding_catalogue, reconcile

    with holding_catalogue(settings, "reconcile", say_waiting) as history:
        done = reconcile(settings, history, trigger="cli")
    return {"run_id": done.run_id, "result": done.result, "message": done.message, "by": "cli"}


def _print_reconcile(answer: dict[str, Any], output: OutputFormat) -> None:
    result = str(answer["result"])
    if output == OutputFormat.json:
        print_json(
            {
                "format_version": JSON_VERSION,
                "run_id": answer["run_id"],
                "result": result,
                "message": answer["message"],
                "by": answer["by"],
            }
        )
    else:
        run = f" (run {answer['run_id']})" if answer.get("run_id") else ""
        echo(f"Reconcile{run}: {result}: {answer['message']}")
    if result == "partial":
        raise typer.Exit(int(ExitCode.PARTIAL))
    if result not in ("ok", "no-changes"):
        raise typer.Exit(int(ExitCode.ERROR))


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
