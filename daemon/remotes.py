"""The remote clients, opened from the settings: the one place that reads their tokens."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from daemon.clients import OrdreClient, ZedonkClient
from daemon.tree.settings import Settings


@contextmanager
def open_clients(settings: Settings) -> Iterator[tuple[ZedonkClient, OrdreClient]]:
    """Zedonk's and ORDRE's clients, with their tokens read from where the settings say;
    both closed on leaving. Raises ConfigError when a token is not set."""
    with (
        ZedonkClient(settings.zedonk.url, settings.zedonk.token.resolve()) as zedonk,
        OrdreClient(settings.ordre.url, settings.ordre.token.resolve()) as ordre,
    ):
        yield zedonk, ordre


def open_zedonk(settings: Settings) -> ZedonkClient:
    """Zedonk's client alone, for commands that read only Zedonk (use it as a context
    manager). Raises ConfigError when its token is not set."""
    return ZedonkClient(settings.zedonk.url, settings.zedonk.token.resolve())
