"""Command: sandbox (local Zedonk and ORDRE servers for the demo and for trying things out)."""

from __future__ import annotations

import signal
import threading
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from daemon.cli.root import app, echo
from daemon.errors import ZedonkOrdreError
from daemon.sandbox import ORDRE_TOKEN, ZEDONK_TOKEN, SandboxError, start_sandboxes
from daemon.sandbox.base import ADMIN_TOKEN, DEFAULT_SEED
from daemon.sandbox.server import is_loopback


class SeedBrand(StrEnum):
    """The brands the sandbox can seed (daemon/sandbox/seed.py)."""

    demo = "demo"
    us = "us"


@app.command()
def sandbox(
    host: Annotated[str, typer.Option(help="Loopback address to listen on.")] = "127.0.0.1",
    zedonk_port: Annotated[
        int, typer.Option(help="Port of the Zedonk sandbox (0 = any free port).")
    ] = 8701,
    ordre_port: Annotated[
        int, typer.Option(help="Port of the ORDRE sandbox (0 = any free port).")
    ] = 8702,
    state: Annotated[
        Path | None, typer.Option(help="SQLite file that keeps the sandbox state across restarts.")
    ] = None,
    large: Annotated[
        bool,
        typer.Option("--large", help="Seed the 20,000-product benchmark brand."),
    ] = False,
    populated: Annotated[
        bool, typer.Option("--populated", help="Start ORDRE with the demo catalogue published.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed of the generated brand.")] = DEFAULT_SEED,
    brand: Annotated[
        SeedBrand,
        typer.Option(
            help="demo: Maison Lune, whose Zedonk issues EAN-13; us: Maison Lune US, the same "
            "collection in a Zedonk that issues UPC-A.",
            case_sensitive=False,
        ),
    ] = SeedBrand.demo,
    zedonk_token: Annotated[
        str, typer.Option(help="Bearer token of the Zedonk API.")
    ] = ZEDONK_TOKEN,
    ordre_token: Annotated[str, typer.Option(help="Bearer token, ORDRE API.")] = ORDRE_TOKEN,
    admin_token: Annotated[
        str, typer.Option(help="Bearer token of /_admin and /_retailer.")
    ] = ADMIN_TOKEN,
) -> None:
    """Run local Zedonk and ORDRE servers until Ctrl-C (API: docs/sandbox-api.md)."""
    if not is_loopback(host):
        raise ZedonkOrdreError(
            f"the sandbox only listens on loopback, not {host!r}",
            hint="use --host 127.0.0.1 (or ::1)",
        )
    try:
        pair = start_sandboxes(
            host=host,
            zedonk_port=zedonk_port,
            ordre_port=ordre_port,
            state=str(state) if state else None,
            seed=seed,
            large=large,
            populated=populated,
            brand=brand.value,
            zedonk_token=zedonk_token,
            ordre_token=ordre_token,
            admin_token=admin_token,
        )
    except SandboxError as exc:
        raise ZedonkOrdreError(
            str(exc), hint="pick other ports with --zedonk-port/--ordre-port (0 = any free port)"
        ) from None
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    echo(f"zedonk  {pair.zedonk.api_url}  token {zedonk_token}")
    echo(f"ordre   {pair.ordre.api_url}  token {ordre_token}")
    echo(f"admin   token {admin_token}  (/_admin on both, /_retailer on ordre)")
    if state:
        echo(f"state   {state}")
    echo("Ctrl-C to stop.")
    try:
        while not stop.wait(0.5):
            pass
    finally:
        pair.stop()
    echo("stopped.")
