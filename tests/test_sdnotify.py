import os
import socket
import uuid
from pathlib import Path

import pytest

from daemon.service.sdnotify import SystemdNotifier


def _receiver(address: str | bytes) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(2)
    return sock


def test_messages_reach_a_path_socket(tmp_path: Path) -> None:
    path = str(tmp_path / "notify")
    with _receiver(path) as sock:
        notifier = SystemdNotifier({"NOTIFY_SOCKET": path})
        assert notifier.enabled
        assert notifier.ready("watching catalogue/")
        assert sock.recv(4096) == b"READY=1\nSTATUS=watching catalogue/"
        assert notifier.watchdog()
        assert sock.recv(4096) == b"WATCHDOG=1"
        assert notifier.status("two\nlines")
        assert sock.recv(4096) == b"STATUS=two lines"
        assert notifier.stopping()
        assert sock.recv(4096) == b"STOPPING=1"
        notifier.close()


def test_an_at_sign_names_an_abstract_socket() -> None:
    name = f"zedonk-ordre-test-{uuid.uuid4().hex}"
    with _receiver(b"\0" + name.encode()) as sock:
        notifier = SystemdNotifier({"NOTIFY_SOCKET": "@" + name})
        assert notifier.watchdog()
        assert sock.recv(4096) == b"WATCHDOG=1"
        notifier.close()


def test_without_systemd_every_call_is_a_quiet_no_op(tmp_path: Path) -> None:
    notifier = SystemdNotifier({})
    assert not notifier.enabled
    assert notifier.ready() is False
    assert notifier.watchdog_interval() is None
    # A socket that went away is not an error either: systemd is optional.
    gone = SystemdNotifier({"NOTIFY_SOCKET": str(tmp_path / "missing")})
    assert gone.watchdog() is False
    gone.close()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"WATCHDOG_USEC": "2000000"}, 1.0),
        ({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getpid())}, 1.0),
        ({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "1"}, None),  # meant for another process
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({}, None),
    ],
)
def test_watchdog_interval_is_half_the_timeout_for_this_process(
    env: dict[str, str], expected: float | None
) -> None:
    assert SystemdNotifier(env).watchdog_interval() == expected


def test_a_reader_that_does_not_read_never_blocks_the_sender(tmp_path: Path) -> None:
    path = str(tmp_path / "full")
    with _receiver(path):
        notifier = SystemdNotifier({"NOTIFY_SOCKET": path})
        results = [notifier.watchdog() for _ in range(5000)]  # far beyond the socket's queue
        assert results[0] is True and results[-1] is False
        notifier.close()
