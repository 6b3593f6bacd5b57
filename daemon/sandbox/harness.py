"""Start both sandbox servers and drive their admin and retailer endpoints from Python.

The demo and the tests use this; the connector never does (it talks HTTP through
``daemon.clients``). Admin calls go over real HTTP with the standard library, so they exercise
the same server paths a shell user would.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from daemon.sandbox.base import ADMIN_TOKEN, DEFAULT_SEED, Sandbox
from daemon.sandbox.ordre import OrdreSandbox
from daemon.sandbox.server import SandboxError, ServerHandle, run_in_thread
from daemon.sandbox.zedonk import ZedonkSandbox

ZEDONK_TOKEN = "zedonk-sandbox-token"
ORDRE_TOKEN = "ordre-sandbox-token"
# urllib must not send loopback calls through a proxy from the environment
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class SandboxHandle:
    """One running sandbox server plus helpers for its admin endpoints."""

    name: str
    url: str  # base URL, e.g. "http://127.0.0.1:8701"
    token: str = field(repr=False)
    admin_token: str = field(repr=False)
    server: ServerHandle = field(repr=False)
    sandbox: Sandbox = field(repr=False)

    @property
    def api_url(self) -> str:
        """The connector API base, e.g. "http://127.0.0.1:8701/api/v1"."""
        return f"{self.url}/api/v1"

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """An admin-token request; returns the decoded JSON (None for 204). Raises SandboxError."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.admin_token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with _OPENER.open(request, timeout=30) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")
            raise SandboxError(f"{method} {path} -> {exc.code}: {detail}") from None
        except urllib.error.URLError as exc:
            raise SandboxError(f"{method} {path}: {exc.reason}") from None
        return json.loads(raw) if raw else None

    def reset(self, **options: Any) -> None:
        """Back to the seeded state; clears log and knobs. Options: seed, large, populated,
        brand."""
        self.call("POST", "/_admin/reset", options)

    def state(self) -> dict[str, int]:
        """Counts of the objects the server holds."""
        result: dict[str, int] = self.call("GET", "/_admin/state")
        return result

    def set_faults(self, config: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        """Replace the fault configuration (docs/sandbox-api.md §5.4), e.g.
        ``set_faults(rules=[{"method": "POST", "times": 1, "action": "drop"}])``."""
        result: dict[str, Any] = self.call("PUT", "/_admin/faults", {**(config or {}), **fields})
        return result

    def fail_next(
        self, method: str, path_prefix: str, status: int = 503, times: int = 1, **extra: Any
    ) -> None:
        """Answer the next ``times`` matching API requests with ``status``."""
        rule = {"method": method, "path_prefix": path_prefix, "times": times,
                "action": "error", "status": status, **extra}  # fmt: skip
        self.set_faults(rules=[rule])

    def clear_faults(self) -> None:
        self.call("DELETE", "/_admin/faults")

    def set_rate_limit(self, limit: int, window_seconds: float = 60) -> None:
        self.call("PUT", "/_admin/rate-limit", {"limit": limit, "window_seconds": window_seconds})

    def clear_rate_limit(self) -> None:
        self.call("DELETE", "/_admin/rate-limit")

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        """The request log (method, path, status, actor, fault, write), oldest first."""
        items: list[dict[str, Any]] = self.call("GET", f"/_admin/requests?since={since}")["items"]
        return items

    def clear_requests(self) -> None:
        self.call("DELETE", "/_admin/requests")

    def counters(self) -> dict[str, Any]:
        result: dict[str, Any] = self.call("GET", "/_admin/counters")
        return result

    def write_count(self) -> int:
        """How many write requests (POST/PUT/PATCH/DELETE) the connector has made."""
        return int(self.counters()["writes"])

    def advance_clock(self, seconds: float) -> str:
        """Move the server clock forward; returns the new server time."""
        now: str = self.call("POST", "/_admin/clock", {"advance_seconds": seconds})["now"]
        return now

    def stop(self) -> None:
        self.server.stop()
        self.sandbox.store.close()


class ZedonkHandle(SandboxHandle):
    """The Zedonk server, plus its admin edits of products and customers (docs/sandbox-api.md
    §5.6): what a person changes in Zedonk's screens; its search lag and a view of every order
    it holds (§5.5)."""

    def set_search_lag(self, seconds: float) -> None:
        """Orders created from now on stay out of searches and listings for ``seconds``."""
        self.call("PUT", "/_admin/search-lag", {"seconds": seconds})

    def sales_orders(self) -> list[dict[str, Any]]:
        """Every sales order Zedonk holds, by id, whatever the search lag."""
        items: list[dict[str, Any]] = self.call("GET", "/_admin/sales-orders")["items"]
        return items

    def set_barcodes(self, product_id: str, barcodes: dict[str, str | None]) -> dict[str, Any]:
        """Change the barcodes of some sizes of a product (None removes one)."""
        path = f"/_admin/products/{urllib.parse.quote(product_id, safe='/')}/barcodes"
        result: dict[str, Any] = self.call("PUT", path, {"barcodes": barcodes})
        return result

    def edit_customer(self, customer_id: str, **changes: Any) -> dict[str, Any]:
        """Change a customer's name, account_code, currency, active or contact."""
        result: dict[str, Any] = self.call("PATCH", f"/_admin/customers/{customer_id}", changes)
        return result

    def put_product(self, product_id: str, product: dict[str, Any]) -> dict[str, Any]:
        """Create or replace a product (a ``Product`` without ``id`` and ``updated_at``)."""
        result: dict[str, Any] = self.call("PUT", _product_path(product_id), product)
        return result

    def edit_product(self, product_id: str, **changes: Any) -> dict[str, Any]:
        """Change some of a product's fields (``description``, ``prices``, ``skus``, ...)."""
        result: dict[str, Any] = self.call("PATCH", _product_path(product_id), changes)
        return result

    def delete_product(self, product_id: str) -> None:
        """Delete a product."""
        self.call("DELETE", _product_path(product_id))


def _product_path(product_id: str) -> str:
    return f"/_admin/products/{urllib.parse.quote(product_id, safe='/')}"


class OrdreHandle(SandboxHandle):
    """The ORDRE server, plus the retailer side (docs/sandbox-api.md §4)."""

    def submit_order(self, order: dict[str, Any]) -> dict[str, Any]:
        """Submit a new order as a retailer; returns the stored Order."""
        result: dict[str, Any] = self.call("POST", "/_retailer/orders", order)
        return result

    def edit_order(self, order_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Edit without re-submitting: updated_at changes, submission does not."""
        result: dict[str, Any] = self.call("PATCH", f"/_retailer/orders/{order_id}", changes)
        return result

    def resubmit_order(
        self, order_id: str, changes: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """(Edit and) submit again: submission + 1, status submitted."""
        result: dict[str, Any] = self.call(
            "POST", f"/_retailer/orders/{order_id}/submit", changes or {}
        )
        return result

    def cancel_order(self, order_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call("POST", f"/_retailer/orders/{order_id}/cancel", {})
        return result

    def post_raw_order(self, body: Any) -> str:
        """Store any JSON verbatim as an order (a malformed order); returns its id."""
        rid: str = self.call("POST", "/_retailer/orders:raw", body)["id"]
        return rid


@dataclass
class SandboxPair:
    """Both servers. Use as a context manager, or call ``stop()``."""

    zedonk: ZedonkHandle
    ordre: OrdreHandle

    def reset(self) -> None:
        self.zedonk.reset()
        self.ordre.reset()

    def stop(self) -> None:
        self.zedonk.stop()
        self.ordre.stop()

    def __enter__(self) -> SandboxPair:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_sandboxes(
    *,
    host: str = "127.0.0.1",
    zedonk_port: int = 0,
    ordre_port: int = 0,
    state: str | None = None,
    seed: int = DEFAULT_SEED,
    large: bool = False,
    populated: bool = False,
    brand: str = "demo",
    zedonk_token: str = ZEDONK_TOKEN,
    ordre_token: str = ORDRE_TOKEN,
    admin_token: str = ADMIN_TOKEN,
) -> SandboxPair:
    """Start the Zedonk and ORDRE sandboxes in threads (port 0 = a free port). ``brand``:
    "demo" (Maison Lune, EAN-13) or "us" (Maison Lune US, UPC-A)."""
    zedonk_box = ZedonkSandbox(
        token=zedonk_token,
        admin_token=admin_token,
        state_path=state,
        seed=seed,
        large=large,
        brand=brand,
    )
    ordre_box = OrdreSandbox(
        token=ordre_token,
        admin_token=admin_token,
        state_path=state,
        seed=seed,
        large=large,
        populated=populated,
        brand=brand,
    )
    zedonk_server = run_in_thread(zedonk_box.app(), host, zedonk_port)
    try:
        ordre_server = run_in_thread(ordre_box.app(), host, ordre_port)
    except SandboxError:
        zedonk_server.stop()
        raise
    zedonk = ZedonkHandle("zedonk", zedonk_server.url, zedonk_token, admin_token,
                          zedonk_server, zedonk_box)  # fmt: skip
    ordre = OrdreHandle("ordre", ordre_server.url, ordre_token, admin_token,
                        ordre_server, ordre_box)  # fmt: skip
    return SandboxPair(zedonk, ordre)
