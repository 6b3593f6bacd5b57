"""Local stand-ins for the Zedonk and ORDRE APIs, for the demo and the tests.

They play the remote systems, so nothing here imports the rest of ``daemon``. The HTTP
contract is docs/sandbox-api.md; the Python entry point is ``start_sandboxes``.
"""

from __future__ import annotations

from daemon.sandbox.harness import (
    ORDRE_TOKEN,
    ZEDONK_TOKEN,
    OrdreHandle,
    SandboxHandle,
    SandboxPair,
    ZedonkHandle,
    start_sandboxes,
)
from daemon.sandbox.server import SandboxError, ServerHandle, run_in_thread

__all__ = [
    "ORDRE_TOKEN",
    "ZEDONK_TOKEN",
    "OrdreHandle",
    "SandboxError",
    "SandboxHandle",
    "SandboxPair",
    "ServerHandle",
    "ZedonkHandle",
    "run_in_thread",
    "start_sandboxes",
]
