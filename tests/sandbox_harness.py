"""Test-side helpers around the sandbox servers: one object with both URLs, tokens, plain
httpx clients and the admin/retailer helpers, addressed by remote name ("zedonk" / "ordre").
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any, Literal

import httpx

from daemon.sandbox import OrdreHandle, SandboxHandle, SandboxPair, ZedonkHandle

Remote = Literal["zedonk", "ordre"]


class Sandboxes:
    """Both sandbox servers, freshly reset, for one test.

    ``zedonk_url``/``ordre_url`` are the connector API bases (``.../api/v1``). Admin helpers
    take the remote's name; retailer helpers talk to ORDRE. See docs/sandbox-api.md.
    """

    def __init__(self, pair: SandboxPair) -> None:
        self.pair = pair
        self.zedonk: ZedonkHandle = pair.zedonk
        self.ordre: OrdreHandle = pair.ordre
        self.zedonk_url = pair.zedonk.api_url
        self.ordre_url = pair.ordre.api_url
        self.zedonk_token = pair.zedonk.token
        self.ordre_token = pair.ordre.token
        self.admin_token = pair.zedonk.admin_token
        self._clients: list[httpx.Client] = []

    def remote(self, name: Remote) -> SandboxHandle:
        return self.zedonk if name == "zedonk" else self.ordre

    def client(
        self, name: Remote, *, token: str | None = None, timeout: float = 10
    ) -> httpx.Client:
        """A plain httpx client on the remote's API base, with its bearer token."""
        handle = self.remote(name)
        client = httpx.Client(
            base_url=handle.api_url,
            headers={"Authorization": f"Bearer {token or handle.token}"},
            timeout=timeout,
            trust_env=False,
        )
        self._clients.append(client)
        return client

    def admin_client(self, name: Remote) -> httpx.Client:
        """A plain httpx client on the server root, with the admin token."""
        client = httpx.Client(
            base_url=self.remote(name).url,
            headers={"Authorization": f"Bearer {self.admin_token}"},
            timeout=10,
            trust_env=False,
        )
        self._clients.append(client)
        return client

    # admin helpers --------------------------------------------------------------
    def reset(self) -> None:
        """Both servers back to the seed, with empty logs and no faults."""
        self.pair.reset()

    def set_faults(self, name: Remote, config: dict[str, Any] | None = None, **fields: Any) -> None:
        """Replace the remote's fault configuration (docs/sandbox-api.md §5.4)."""
        self.remote(name).set_faults(config, **fields)

    def fail_next(
        self, name: Remote, method: str, path: str, status: int = 503, times: int = 1
    ) -> None:
        """The next ``times`` requests METHOD /api/v1{path}... answer ``status``."""
        self.remote(name).fail_next(method, "/api/v1" + path, status, times)

    def clear_faults(self, name: Remote | None = None) -> None:
        for handle in [self.remote(name)] if name else [self.zedonk, self.ordre]:
            handle.clear_faults()

    def requests(self, name: Remote) -> list[dict[str, Any]]:
        """The remote's request log: seq, actor, method, path, query, status, fault, write."""
        return self.remote(name).requests()

    def write_count(self, name: Remote) -> int:
        """Connector write requests (POST/PUT/PATCH/DELETE) the remote has seen since reset."""
        return self.remote(name).write_count()

    # retailer helpers (ORDRE) -----------------------------------------------------
    def submit_order(self, order: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        """Submit an order as a retailer; ``fields`` override the body."""
        return self.ordre.submit_order({**(order or {}), **fields})

    def edit_order(self, order_id: str, **changes: Any) -> dict[str, Any]:
        return self.ordre.edit_order(order_id, changes)

    def resubmit_order(self, order_id: str, **changes: Any) -> dict[str, Any]:
        return self.ordre.resubmit_order(order_id, changes)

    def cancel_order(self, order_id: str) -> dict[str, Any]:
        return self.ordre.cancel_order(order_id)

    def post_raw_order(self, body: Any) -> str:
        return self.ordre.post_raw_order(body)

    def close(self) -> None:
        for client in self._clients:
            client.close()


def loopback_only(real_connect: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``socket.connect`` so that anything but loopback (or a Unix socket) is refused."""

    def connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]
            try:
                allowed = host == "localhost" or ipaddress.ip_address(host).is_loopback
            except ValueError:
                allowed = False
            if not allowed:
                raise ConnectionRefusedError(f"tests may only connect to loopback, not {host}")
        return real_connect(self, address)

    return connect
