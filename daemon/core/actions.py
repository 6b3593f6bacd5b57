"""A plan's actions, and the one JSON codec for them: ``plan --format json`` and plan files.

An action is one write on ORDRE: what it writes (``payload``, the object as ORDRE will hold
it; ``body``, its JSON write body from daemon.core.bodies), which fields change, and the ORDRE
version of the object it was computed from. ``to_json``/``from_json`` write and read it; a plan
file (``plan --out FILE``) also carries ``PLAN_FORMAT_VERSION`` and a ``checksum``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from daemon.core.bodies import body_of
from daemon.core.model import (
    Address,
    AddressKind,
    CatalogueObject,
    Listing,
    ListingPrice,
    ListingSize,
    OrdreCollection,
    OrdreCustomer,
    OrdreLook,
)

Op = Literal["create", "update", "delete"]
Kind = Literal["listing", "customer", "collection", "look"]

OPS: tuple[Op, ...] = ("create", "update", "delete")
KINDS: tuple[Kind, ...] = ("collection", "look", "listing", "customer")


@dataclass(frozen=True)
class Change:
    field: str
    before: Any
    after: Any


@dataclass(frozen=True)
class Action:
    """One write. ``remote_id`` names the ORDRE object ("" for a create); ``remote_version``
    is its version when planned ("" for a create: it must not exist yet).

    ``payload`` is what is written, as ORDRE will hold it (None for a delete): a Listing, an
    OrdreCustomer, or an OrdreCollection or OrdreLook whose ``id`` is ``remote_id``. A look in
    a collection the same plan creates has no ``collection_id`` until apply created it.
    """

    op: Op
    kind: Kind
    key: str  # listing key, account code, collection name, or "collection / look"
    remote_id: str = ""
    remote_version: str = ""
    payload: CatalogueObject | None = None  # None for a delete
    changes: tuple[Change, ...] = ()  # updates only: a create's body says it all
    collection: str = ""  # a look's collection key, so apply can find its id
    step: str = ""  # "detach": a look lets go of products before the final update

    @property
    def body(self) -> dict[str, Any] | None:
        """What is written, as ORDRE's JSON write body; None for a delete."""
        return None if self.payload is None else body_of(self.payload)

    @property
    def label(self) -> str:
        return f"{self.op} {self.kind} {self.key}" + (f" ({self.step})" if self.step else "")

    def to_json(self) -> dict[str, Any]:
        """The action in ``plan --format json`` and in plan files (``from_json`` reads it)."""
        return {
            "op": self.op,
            "kind": self.kind,
            "key": self.key,
            "remote_id": self.remote_id,
            "remote_version": self.remote_version,
            "collection": self.collection,
            "step": self.step,
            "body": self.body,
            "changes": [
                {"field": c.field, "before": c.before, "after": c.after} for c in self.changes
            ],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Action:
        """The action ``to_json`` wrote. Raises KeyError, TypeError or ValueError for one that
        cannot be read (an unknown op or kind, a missing body, a field of the wrong type)."""
        op, kind = data["op"], data["kind"]
        if op not in OPS or kind not in KINDS:
            raise ValueError(f"unknown action {op!r} {kind!r}")
        key, remote_id = str(data["key"]), str(data.get("remote_id") or "")
        body = data.get("body")
        if body is None and op != "delete":
            raise ValueError(f"{op} {kind} {key} has no body")
        if body is not None and not isinstance(body, Mapping):
            raise TypeError(f"the body of {op} {kind} {key} is not an object")
        return cls(
            op=op,
            kind=kind,
            key=key,
            remote_id=remote_id,
            remote_version=str(data.get("remote_version") or ""),
            payload=None if body is None else _payload_from_body(kind, key, remote_id, body),
            changes=tuple(
                Change(str(c["field"]), c.get("before"), c.get("after"))
                for c in data.get("changes") or ()
            ),
            collection=str(data.get("collection") or ""),
            step=str(data.get("step") or ""),
        )


@dataclass(frozen=True)
class Move:
    key: str  # listing key
    source: str  # "collection / look" it leaves
    target: str  # "collection / look" it joins


# --------------------------------------------------------------------------- plan file codec


def _amount(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{value!r} is not an amount") from None


def _address_from_body(data: Mapping[str, Any] | None, kind: AddressKind) -> Address | None:
    if data is None:
        return None
    if not isinstance(data, Mapping):
        raise TypeError(f"the {kind} address is not an object")
    return Address.from_fields(kind, lambda name: str(data.get(name) or ""))


def _payload_from_body(
    kind: Kind, key: str, remote_id: str, body: Mapping[str, Any]
) -> CatalogueObject:
    """The object an action's write body describes (the reverse of ``bodies.body_of``)."""
    if kind == "listing":
        return Listing(
            key=key,
            style=body["style"],
            fabric=body["fabric"],
            colour=body["colour"],
            description=body["description"],
            category=body["category"],
            sizes=tuple(ListingSize(s["size"], s["gtin"]) for s in body["sizes"]),
            prices=tuple(
                ListingPrice(p["currency"], _amount(p["wsp"]), _amount(p["rrp"]))
                for p in body["prices"]
            ),
            image_url=body.get("image_url"),
        )
    if kind == "customer":
        return OrdreCustomer(
            account_code=key,
            name=body["name"],
            currency=body["currency"],
            delivery_address=_address_from_body(body.get("delivery_address"), "delivery"),
            accounts_address=_address_from_body(body.get("accounts_address"), "accounts"),
            contact_email=body.get("contact_email"),
            contact_name=body.get("contact_name"),
        )
    if kind == "collection":
        return OrdreCollection(
            body["name"], int(body["position"]), body.get("description") or "", remote_id
        )
    return OrdreLook(
        body.get("collection_id") or "",
        body["name"],
        int(body["position"]),
        tuple(body["product_keys"]),
        remote_id,
    )


# --------------------------------------------------------------------------- changes


def diff(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> tuple[Change, ...]:
    """Field-level changes between two bodies, in the order of ``after``'s fields."""
    before = before or {}
    after = after or {}
    names = list(after) + [k for k in before if k not in after]
    return tuple(
        Change(name, before.get(name), after.get(name))
        for name in names
        if before.get(name) != after.get(name)
    )


# --------------------------------------------------------------------------- plan files

PLAN_FORMAT_VERSION = 2  # 2: actions are read back into typed payloads


def checksum(document: Mapping[str, Any]) -> str:
    """sha256 of a plan document's canonical JSON, without its own checksum field."""
    content = {k: v for k, v in document.items() if k != "checksum"}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
