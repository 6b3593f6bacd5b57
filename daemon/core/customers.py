"""Zedonk's customers as ORDRE's retailers (pure).

Active customers with an account code are exported, keyed by that code, with a Delivery and
an Accounts address; the Store address fills whichever of the two is missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from daemon.core.findings import Finding, finding_at
from daemon.core.model import Address, AddressKind, Customer, OrdreCustomer, assemble


def _pick_address(addresses: Sequence[Address], kind: str) -> Address | None:
    of_kind = [a for a in addresses if a.kind == kind]
    if not of_kind:
        return None
    return next((a for a in of_kind if a.is_default), of_kind[0])


def _as_kind(address: Address | None, kind: AddressKind) -> Address | None:
    """The same place as an address of ``kind`` (a Store address fills in for the others)."""
    if address is None or (address.kind == kind and not address.is_default):
        return address
    return assemble(Address, {**address.__dict__, "kind": kind, "is_default": False})


def resolve_customers(customers: Iterable[Customer]) -> tuple[list[OrdreCustomer], list[Finding]]:
    """Active customers with an account code, with Delivery and Accounts addresses.

    The Store address fills whichever of the two is missing.
    """
    findings: list[Finding] = []
    by_code: dict[str, OrdreCustomer] = {}
    owner: dict[str, Customer] = {}
    for customer in sorted(customers, key=lambda c: c.id):
        code = (customer.account_code or "").strip()
        if not customer.active or not code:
            continue
        if code in by_code:
            findings.append(
                finding_at(
                    None,
                    "customer-code-duplicate",
                    "warning",
                    f"Zedonk customers {owner[code].name!r} and {customer.name!r} share the "
                    f"account code {code}; only {owner[code].name!r} is exported",
                    "give each customer its own account code in Zedonk",
                    path=f"customer {code}",
                )
            )
            continue
        usable = [a for a in customer.addresses if a.country.strip()]
        if len(usable) < len(customer.addresses):
            findings.append(
                finding_at(
                    None,
                    "customer-address-no-country",
                    "warning",
                    f"customer {customer.name!r} ({code}) has an address without a country; "
                    "ORDRE needs one, so that address is left out",
                    "fill in the country of each address in Zedonk",
                    path=f"customer {code}",
                )
            )
        store = _pick_address(usable, "store")
        delivery = _pick_address(usable, "delivery") or store
        accounts = _pick_address(usable, "accounts") or store
        by_code[code] = OrdreCustomer(
            account_code=code,
            name=customer.name,
            currency=customer.currency,
            delivery_address=_as_kind(delivery, "delivery"),
            accounts_address=_as_kind(accounts, "accounts"),
            contact_email=customer.contact_email,
            contact_name=customer.contact_name,
        )
        owner[code] = customer
    return [by_code[c] for c in sorted(by_code)], findings
