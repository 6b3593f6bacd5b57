"""Shared fixtures.

- ``sandbox``: both sandbox servers (real uvicorn on 127.0.0.1, free ports), reset before the
  test; a ``Sandboxes`` object with URLs, tokens, httpx clients and admin/retailer helpers.
- ``sandbox_pair``: the session's ``SandboxPair`` itself, not reset (for read-only tests).
- An autouse guard refuses any socket connection that is not loopback.
- Secrets registered for redaction by one test are forgotten after it.
- Each test has a state home of its own (``$XDG_STATE_HOME``), so a default state directory
  never lands in the home directory nor is shared between tests.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from sandbox_harness import Sandboxes, loopback_only

from daemon import redact
from daemon.sandbox import SandboxPair, start_sandboxes


@pytest.fixture(scope="session")
def sandbox_pair() -> Iterator[SandboxPair]:
    """Zedonk and ORDRE sandboxes for the whole session (demo seed, ORDRE empty)."""
    with start_sandboxes() as pair:
        yield pair


@pytest.fixture
def sandbox(sandbox_pair: SandboxPair) -> Iterator[Sandboxes]:
    """Both sandboxes, reset to the seed (empty log, no faults, no rate limit) for this test."""
    sandbox_pair.reset()
    helper = Sandboxes(sandbox_pair)
    yield helper
    helper.close()


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests talk to loopback only: any other connect() fails at once."""
    monkeypatch.setattr(socket.socket, "connect", loopback_only(socket.socket.connect))


@pytest.fixture(autouse=True)
def _state_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Default state directories go under a fresh ``$XDG_STATE_HOME``, never ``~``."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state-home")))
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    """The redaction registry is per process: one test's secrets must not hide another's text."""
    yield
    redact.forget_all()
