"""Commands: orders import | list | show | retry (docs/orders.md describes them)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from daemon.cli.root import (
    ORDERS_JSON_VERSION,
    FormatOption,
    OutputFormat,
    RootOption,
    app,
    echo,
    print_json,
    repository_root,
    say_waiting,
)
from daemon.errors import ExitCode, ZedonkOrdreError
from daemon.notify import Drainer, Notifier
from daemon.orders import (
    ImportResult,
    audit_orders,
    check_import_settings,
    find_import,
    import_details,
    import_orders,
    list_imports,
    retry_import,
)
from daemon.remotes import open_clients
from daemon.store.history import History
from daemon.store.ledger import Ledger
from daemon.store.lock import (
    ORDERS_LOCK_FILE,
    describe,
    refuse_unless_daemon_pass,
    running_daemon,
)
from daemon.tree.settings import Settings, load_settings

STATES = (
    "pending",
    "sending",
    "created",
    "partial",
    "failed",
    "needs_attention",
    "skipped",
    "unresolved",
    "attention",
)

orders_app = typer.Typer(
    no_args_is_help=True,
    help="Import ORDRE orders into Zedonk, and look into past imports.",
)
app.add_typer(orders_app, name="orders")


def _settings(root: Path | None) -> Settings:
    return load_settings(repository_root(root))


def _exit_code(result: ImportResult) -> int:
    if result.result == "failed":
        return int(ExitCode.ERROR)
    if result.result == "partial":
        return int(ExitCode.PARTIAL)
    return int(ExitCode.OK)


def _echo_result(result: ImportResult) -> None:
    stamp = time.strftime("%H:%M:%S")
    echo(f"{stamp} import run {result.run_id}: {result.result}: {result.message}")


DRAIN_WITHIN = 5.0  # seconds after a pass during which notices start going out


def _send_notices(settings: Settings, history: History) -> None:
    """Send what the pass owed, within a bound; say what stays owed. Never changes the exit
    code: the orders are done whatever the mail server or the webhook does. With a daemon
    running, its drainer sends them (within seconds), so that one sender owns the outbox."""
    if running_daemon(settings.state_dir) is not None:
        return
    rounds = Drainer(lambda: settings, history).drain_now(within=DRAIN_WITHIN)
    for channel, done in rounds.items():
        if done.waiting:
            why = f" ({done.error})" if done.error else ""
            echo(
                f"notices: {done.waiting} not sent by {channel} yet{why}; the next "
                "`orders import` or the daemon sends them",
                err=True,
            )


@orders_app.command("import")
def import_command(
    once: Annotated[bool, typer.Option("--once", help="Do one pass, then exit.")] = False,
    root: RootOption = None,
) -> None:
    """Poll ORDRE and create its new orders in Zedonk, every import poll interval until Ctrl-C.

    With the daemon running, each pass waits for the daemon's import pass in flight, if any
    (saying so on stderr). With --once: one pass; exit 0 when all went well, 3 when some
    orders failed or wait for the next pass, 1 when the pass failed, 4 when another command
    (an import or a retry) is importing. The notices a pass owes are sent after it (with
    --once, for a few seconds at most) or beside the passes, by the daemon when one runs;
    what a channel does never changes the exit code.
    """
    settings = _settings(root)
    refuse_unless_daemon_pass(settings.state_dir, ORDERS_LOCK_FILE, say=say_waiting)
    daemon = running_daemon(settings.state_dir)
    if daemon is not None and not once:
        echo(
            f"note: the daemon ({describe(daemon)}) imports orders too; "
            "this command's passes take turns with its passes",
            err=True,
        )
    with History.open(settings.state_dir) as history:
        with open_clients(settings) as (zedonk, _):
            check_import_settings(settings, zedonk)  # before any order is touched
        notifier = Notifier(settings, history)
        if once:
            result = import_orders(settings, history, trigger="cli", notifier=notifier)
            _echo_result(result)
            _send_notices(settings, history)
            raise typer.Exit(_exit_code(result))
        drainer = Drainer(lambda: settings, history)  # sends beside the passes, as the daemon
        if daemon is None:  # else the daemon's drainer sends what these passes owe
            drainer.start()
        try:
            while True:
                _echo_result(import_orders(settings, history, trigger="cli", notifier=notifier))
                drainer.poke()
                try:
                    time.sleep(settings.daemon.poll_interval)
                except KeyboardInterrupt:
                    raise typer.Exit(0) from None
        finally:
            drainer.stop()


@orders_app.command("list")
def list_command(
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status",
            help="Only imports in this state (repeatable): pending, sending, unresolved, "
            "created, partial, failed, needs_attention, skipped, or attention (failed, "
            "needs_attention and unresolved).",
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 100,
    output: FormatOption = OutputFormat.text,
    root: RootOption = None,
) -> None:
    """List imports, most recently changed first."""
    states = tuple(s.strip().lower().replace("-", "_") for s in status or ())
    unknown = [s for s in states if s not in STATES]
    if unknown:
        raise typer.BadParameter(
            f"unknown state {', '.join(unknown)}; use one of: {', '.join(STATES)}",
            param_hint="'--status'",
        )
    settings = _settings(root)
    rows = []
    if History.exists(settings.state_dir):  # else nothing was imported yet: an empty list
        with History.open(settings.state_dir, read_only=True) as history:
            rows = list_imports(history, states=states, limit=limit)
    if output is OutputFormat.json:
        print_json({"format_version": ORDERS_JSON_VERSION, "imports": rows})
        return
    if not rows:
        echo("no imports" + (f" in state {', '.join(states)}" if states else ""))
        return
    table = [("IMPORT", "ORDER", "PO", "RETAILER", "STATE", "ZEDONK", "LINES", "UPDATED", "REASON")]
    for row in rows:
        lines = (
            f"{row['lines_imported']}/{row['lines_total']}"
            if row["lines_imported"] is not None
            else str(row["lines_total"] or "")
        )
        table.append(
            (
                row["import_key"],
                row["ordre_number"],
                row["po_number"] or "",
                row["retailer_name"] or "",
                row["state"],
                row["zedonk_order_number"] or "",
                lines,
                (row["updated_at"] or "")[:19].replace("T", " "),
                _reason(row),
            )
        )
    widths = [max(len(str(r[i])) for r in table) for i in range(len(table[0]))]
    for r in table:
        echo("  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())


@orders_app.command("show")
def show_command(
    ident: Annotated[
        str,
        typer.Argument(
            help="Import key (id#submission), ORDRE order id or number, or Zedonk order number."
        ),
    ],
    output: FormatOption = OutputFormat.text,
    root: RootOption = None,
) -> None:
    """Everything known about one import: the order, its outcome, left-out lines and errors."""
    settings = _settings(root)
    with History.open(settings.state_dir, read_only=True) as history:
        key = _resolve(history, ident)
        details = import_details(history, key)
    if output is OutputFormat.json:
        print_json({"format_version": ORDERS_JSON_VERSION, "import": details})
        return
    _print_details(details)


@orders_app.command("retry")
def retry_command(
    ident: Annotated[
        str, typer.Argument(help="Import key (id#submission), ORDRE order id or number.")
    ],
    accept: Annotated[
        bool,
        typer.Option(
            "--accept",
            help="Import an order held for review as it is: its currency, its 0.00 prices, "
            "or a new customer whose name looks like an existing one's are accepted.",
        ),
    ] = False,
    root: RootOption = None,
) -> None:
    """Import a failed, skipped or held submission again, once its data is fixed.

    Works beside the running daemon: it waits for the daemon's import pass in flight, if
    any (saying so on stderr). Exit 0 when it is imported now (or was already), 3 when it
    still fails, waits or is held, 1 on error, 4 when another command (an import or a retry)
    is importing.
    """
    settings = _settings(root)
    refuse_unless_daemon_pass(settings.state_dir, ORDERS_LOCK_FILE, say=say_waiting)
    with History.open(settings.state_dir) as history:
        key = _resolve(history, ident)
        notifier = Notifier(settings, history)
        result = retry_import(settings, history, key, notifier=notifier, accept=accept)
        row = Ledger(history).outcome(key)
        _send_notices(settings, history)
    if result.run_id is None:  # imported already: nothing ran
        echo(result.message)
        return
    _echo_result(result)
    echo(f"{key}: {row['state']}" + (f" ({row['last_error']})" if row["last_error"] else ""))
    if result.result == "failed":
        raise typer.Exit(int(ExitCode.ERROR))
    if row["state"] not in ("created", "partial"):
        raise typer.Exit(int(ExitCode.PARTIAL))


@orders_app.command("audit")
def audit_command(output: FormatOption = OutputFormat.text, root: RootOption = None) -> None:
    """Look for ORDRE submissions that are on more than one active Zedonk order, now.

    Reads the import season's Zedonk orders that carry this connector's references, and
    reports (history, status, a notice) each submission held by several active ones; it never
    inactivates anything. The daemon does the same once a day. Exit 0 when there is none, 3
    when there are, 1 when Zedonk could not be read. It may run while the daemon runs (which
    then sends the notice); otherwise it sends the notice itself, for a few seconds at most.
    """
    settings = _settings(root)
    with History.open(settings.state_dir) as history:
        run_id, duplicates = audit_orders(settings, history, notifier=Notifier(settings, history))
        record = Ledger(history).last_audit()
        _send_notices(settings, history)  # with a daemon running, its drainer sends them
    if duplicates is None:
        raise ZedonkOrdreError(
            "the audit could not read Zedonk's orders",
            hint=f"see `zedonk-ordre history --run {run_id}`; try again when Zedonk answers",
        )
    assert record is not None
    if output is OutputFormat.json:
        print_json({"format_version": ORDERS_JSON_VERSION, "audit": record})
    else:
        echo(_audit_line(record))
        for duplicate in record["duplicates"]:
            numbers = ", ".join(o["number"] or o["id"] for o in duplicate["orders"])
            echo(f"  {duplicate['import_key']}: {numbers}")
    if duplicates:
        raise typer.Exit(int(ExitCode.PARTIAL))


def _audit_line(record: dict[str, Any]) -> str:
    found = len(record["duplicates"])
    head = f"audit of {record['season']}: {record['checked']} active Zedonk order(s) checked"
    if not found:
        return head + "; no ORDRE submission is on more than one"
    return (
        f"{head}; {found} ORDRE submission(s) on more than one (keep one of each and "
        "inactivate the others in Zedonk):"
    )


def _reason(row: dict[str, Any]) -> str:
    """Why a row is not simply imported (its last error or skip reason), on one short line."""
    if row["state"] in ("created", "partial") or not row["last_error"]:
        return ""
    text = " ".join(str(row["last_error"]).split())
    return text if len(text) <= 80 else text[:79] + "…"


def _resolve(history: History, ident: str) -> str:
    key = find_import(history, ident)
    if key is None:
        raise ZedonkOrdreError(
            f"no import matches {ident!r}",
            hint="use an import key, ORDRE order id or number from `zedonk-ordre orders list`",
        )
    return key


def _print_details(d: dict[str, Any]) -> None:
    echo(f"import        {d['import_key']}")
    echo(f"ORDRE order   {d['ordre_number']} (id {d['ordre_id']}, submission {d['submission']})")
    echo(
        f"state         {d['state']}"
        + (f" after {d['attempts']} attempt(s)" if d["attempts"] else "")
    )
    if d["last_error"]:
        echo(f"error         {d['last_error']}")
    echo(f"retailer      {d['retailer_name'] or ''}  PO {d['po_number'] or '(none)'}")
    if d["zedonk_order_number"]:
        echo(
            f"Zedonk order  {d['zedonk_order_number']} (id {d['zedonk_order_id']},"
            f" customer {d['customer_id']})"
        )
    if d["lines_total"] is not None:
        echo(f"lines         {d['lines_imported'] or 0} of {d['lines_total']} imported")
    if d["previous_import_key"]:
        done = {1: "inactivated", -1: "Zedonk refused: inactivate it by hand"}.get(
            d["previous_inactivated"], "to inactivate"
        )
        echo(f"replaces      {d['previous_import_key']} ({done})")
    echo(f"first seen    {d['first_seen_at']}   updated {d['updated_at']}")
    order = d["order"] if isinstance(d["order"], dict) else {}
    if isinstance(order.get("lines"), list):
        left_out = {x["line_no"] for x in d["left_out_lines"]}
        echo(f"\nlines ({order.get('currency', '')}):")
        for x in order["lines"]:
            mark = "  left out" if x.get("line_no") in left_out else ""
            echo(
                f"  {x.get('line_no')}: {x.get('barcode') or '(no barcode)'}  {x.get('style')} "
                f"{x.get('colour')} {x.get('size')}  {x.get('quantity')} x {x.get('unit_price')}"
                f"{mark}"
            )
    if d["left_out_lines"]:
        echo("\nlines left out:")
        for x in d["left_out_lines"]:
            echo(
                f"  line {x['line_no']}: barcode {x['barcode'] or '(none)'}  {x['style']} "
                f"{x['colour']} {x['size']}  qty {x['quantity']} @ {x['unit_price']}"
                f"  -> {x['reason']}"
            )
    if d["reports"]:
        echo("\nreported:")
        for r in d["reports"]:
            echo(f"  {r['at'][:19]}  {r['kind']}: {r['message']}")
    if d["other_submissions"]:
        echo("\nother submissions:")
        for s in d["other_submissions"]:
            echo(f"  {s['import_key']}  {s['state']}  {s['zedonk_order_number'] or ''}".rstrip())
    if d["events"]:
        echo("\nhistory:")
        for e in d["events"]:
            echo(f"  {e['at'][:19]}  {e['level']:<7}  {e['message']}")
            for line in e["details"] if isinstance(e["details"], list) else []:
                echo(f"      {line}")
