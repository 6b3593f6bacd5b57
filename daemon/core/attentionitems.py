"""The wording of each kind of "needs a person" item, from the history's rows (pure).

``daemon.store.attention`` reads the rows; each function here turns one problem into an
``AttentionItem`` (``daemon.core.attention``): its stable id, what is wrong, who must act and
the exact fix. ``product_troubles`` picks, from a full plan's product reports, the products
a person must see to.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from daemon.core.attention import AttentionItem, Who
from daemon.core.resolve import ProductReport
from daemon.core.words import plural

# --------------------------------------------------------------------------- orders


def order_label(row: Mapping[str, Any]) -> str:
    """``ORD-1`` for a first submission, ``ORD-1#2`` for a later one (its import key when
    ORDRE sent no number)."""
    number = row.get("ordre_number") or row["import_key"]
    submission = row.get("submission") or 1
    return number if submission == 1 else f"{number}#{submission}"


def _retailer(row: Mapping[str, Any]) -> str:
    name = row.get("retailer_name")
    po = row.get("po_number")
    return f" from {name}" if name and not po else f" from {name} (PO {po})" if name else ""


def _line(line: Mapping[str, Any]) -> str:
    what = " ".join(str(line[k]) for k in ("style", "colour", "size") if line.get(k))
    barcode = f"barcode {line['barcode']}" if line.get("barcode") else "no barcode"
    return (
        f"line {line['line_no']}: {what or 'a line'} x{line.get('quantity') or '?'} "
        f"({barcode}): {line['reason']}"
    )


# Who fixes an order that failed, by the code of its failure event (``order-<code>``).
_FAILED_BY: dict[str, Who] = {
    "order-malformed": "ORDRE",
    "order-id-too-long": "ORDRE",
    "order-no-lines": "Zedonk",
}


def failed_order(
    row: Mapping[str, Any], lines: Sequence[Mapping[str, Any]], code: str | None
) -> AttentionItem:
    """An import in state ``failed``: ``code`` is its last error event's code."""
    label = order_label(row)
    who: Who = _FAILED_BY.get(code or "", "Zedonk")
    where = "the order in ORDRE (ask the retailer)" if who == "ORDRE" else "the data in Zedonk"
    return AttentionItem(
        id=f"order:{label}:failed",
        kind="failed_order",
        subject=label,
        what=f"ORDRE order {label}{_retailer(row)} is not in Zedonk: {row.get('last_error')}",
        who=who,
        fix=f"correct {where}, then `zedonk-ordre orders retry {row['import_key']}`",
        since=row["updated_at"],
        details=tuple(_line(line) for line in lines),
        link={"order": row.get("ordre_number") or row["import_key"]},
    )


def held_order(row: Mapping[str, Any], *, held_prefix: str) -> AttentionItem:
    """An import in state ``needs_attention``: held for review (its ``last_error`` starts with
    ``held_prefix``) or waiting for a person's choice (several Zedonk orders carry it)."""
    label = order_label(row)
    error = str(row.get("last_error") or "")
    key = row["import_key"]
    if error.startswith(held_prefix):
        reasons = error.removeprefix(held_prefix)
        what = f"ORDRE order {label}{_retailer(row)} is held for review: {reasons}"
        fix = (
            f"correct it in ORDRE or Zedonk and `zedonk-ordre orders retry {key}`, or import "
            f"it as it is: `zedonk-ordre orders retry {key} --accept`"
        )
        who: Who = "Zedonk"
    else:
        what = f"ORDRE order {label}{_retailer(row)} waits for a person: {error}"
        fix = (
            f"in Zedonk, keep one order for it and inactivate the others; then "
            f"`zedonk-ordre orders retry {key}`"
        )
        who = "Zedonk"
    return AttentionItem(
        id=f"order:{label}:held",
        kind="held_order",
        subject=label,
        what=what,
        who=who,
        fix=fix,
        since=row["updated_at"],
        link={"order": row.get("ordre_number") or key},
    )


def unresolved_create(row: Mapping[str, Any]) -> AttentionItem:
    """An import in state ``unresolved``: its create may or may not have reached Zedonk."""
    label = order_label(row)
    key = row["import_key"]
    return AttentionItem(
        id=f"order:{label}:unresolved",
        kind="unresolved_create",
        subject=label,
        what=(
            f"ORDRE order {label}{_retailer(row)}: Zedonk's answer to its create was lost; "
            f"the import looks it up before it creates it again ({row.get('last_error')})"
        ),
        who="Zedonk",
        fix=(
            f"nothing while the import settles it; if it stays, look in Zedonk for an order "
            f"carrying {row.get('connector_ref') or key} and run `zedonk-ordre orders show {key}`"
        ),
        since=row["updated_at"],
        link={"order": row.get("ordre_number") or key},
    )


def doubled_order(
    duplicate: Mapping[str, Any], row: Mapping[str, Any] | None, since: str
) -> AttentionItem:
    """An ORDRE submission on more than one active Zedonk order, as the last audit found it
    (``duplicate``: ``import_key`` and ``orders``, each ``id`` and ``number``; ``row``: its
    import, when the ledger has it). It clears when an audit finds one order left."""
    key = duplicate["import_key"]
    label = order_label(row) if row is not None else key
    numbers = [o.get("number") or o["id"] for o in duplicate["orders"]]
    return AttentionItem(
        id=f"order:{label}:doubled",
        kind="doubled_order",
        subject=label,
        what=(
            f"ORDRE order {label}{_retailer(row or {})} is on {len(numbers)} active Zedonk "
            f"orders: {', '.join(numbers)}"
        ),
        who="Zedonk",
        fix=(
            "keep one of them and inactivate the others in Zedonk, then run "
            "`zedonk-ordre orders audit` (the daemon's daily audit clears it too)"
        ),
        since=since,
        link={"order": (row or {}).get("ordre_number") or key},
    )


def partial_order(row: Mapping[str, Any], lines: Sequence[Mapping[str, Any]]) -> AttentionItem:
    """An import in state ``partial``: in Zedonk without ``lines``."""
    label = order_label(row)
    so = row.get("zedonk_order_number") or "its Zedonk order"
    return AttentionItem(
        id=f"order:{label}:partial",
        kind="partial_order",
        subject=label,
        what=(
            f"ORDRE order {label}{_retailer(row)} is in Zedonk as {so} without "
            f"{plural(len(lines), 'line')}"
        ),
        who="Zedonk",
        fix=(
            f"fix the barcodes in Zedonk, add the lines to Zedonk order {so} by hand, then "
            f"`zedonk-ordre attention ack order:{label}:partial --note 'lines added'`"
        ),
        since=row["updated_at"],
        details=tuple(_line(line) for line in lines),
        link={"order": row.get("ordre_number") or row["import_key"]},
    )


def inactivate_earlier(row: Mapping[str, Any], previous: Mapping[str, Any]) -> AttentionItem:
    """A re-submission ``row`` imported beside the earlier Zedonk order of ``previous``, which
    nobody inactivated (``previous_inactivated`` 0 with ``on_resubmit: report``, -1 when
    Zedonk refused)."""
    label = order_label(row)
    earlier = previous.get("zedonk_order_number") or previous.get("zedonk_order_id")
    refused = row.get("previous_inactivated") == -1
    item_id = f"order:{label}:inactivate-earlier"
    return AttentionItem(
        id=item_id,
        kind="inactivate_earlier",
        subject=label,
        what=(
            f"ORDRE order {label} was re-submitted and imported as Zedonk order "
            f"{row.get('zedonk_order_number')}; the earlier Zedonk order {earlier} (submission "
            f"{previous.get('submission')}) is still active"
            + (" (Zedonk refused to inactivate it)" if refused else "")
        ),
        who="Zedonk",
        fix=(
            f"inactivate Zedonk order {earlier} in Zedonk, then "
            f"`zedonk-ordre attention ack {item_id} --note 'inactivated'`"
        ),
        since=row["updated_at"],
        link={"order": row.get("ordre_number") or row["import_key"]},
    )


def after_import(row: Mapping[str, Any], report: Mapping[str, Any]) -> AttentionItem:
    """An edit (``kind`` edited, with its content's ``fingerprint``) or a cancellation of an
    order already imported: Zedonk's order does not follow by itself."""
    label = order_label(row)
    so = row.get("zedonk_order_number") or "its Zedonk order"
    cancelled = report["kind"] == "cancelled"
    suffix = "cancelled" if cancelled else f"changed-{str(report['fingerprint'])[:8]}"
    item_id = f"order:{label}:{suffix}"
    action = (
        f"cancel or inactivate Zedonk order {so}"
        if cancelled
        else f"carry the change over to Zedonk order {so}"
    )
    return AttentionItem(
        id=item_id,
        kind="cancelled_after_import" if cancelled else "changed_after_import",
        subject=label,
        what=str(report["message"]),
        who="Zedonk",
        fix=f"{action} by hand, then `zedonk-ordre attention ack {item_id} --note 'done'`",
        since=report["at"],
        link={"order": row.get("ordre_number") or row["import_key"]},
    )


def resubmitted_after_go_live(row: Mapping[str, Any], event: Mapping[str, Any]) -> AttentionItem:
    """A re-submission of an order made before go-live: an earlier submission may have been
    keyed into Zedonk by hand."""
    return _resubmission_task(
        row,
        event,
        "check-earlier",
        "resubmitted_after_go_live",
        f"look in Zedonk for an order for {row.get('ordre_number')} keyed in by hand and "
        "inactivate it",
        "checked",
    )


def inactivate_untracked(row: Mapping[str, Any], event: Mapping[str, Any]) -> AttentionItem:
    """A re-submission ``row`` imported beside earlier Zedonk orders its history has no record
    of making (the history was replaced or put back since), found by their connector reference;
    or Zedonk refused that search. The event's message names them, or says why."""
    return _resubmission_task(
        row,
        event,
        "inactivate-untracked",
        "inactivate_earlier",
        "inactivate in Zedonk the earlier orders named (or, when the search was refused, look "
        "for them)",
        "inactivated",
    )


def _resubmission_task(
    row: Mapping[str, Any], event: Mapping[str, Any], suffix: str, kind: str, do: str, note: str
) -> AttentionItem:
    """A task a re-submission's import told a person once, by ``event`` (its message is the
    item's "what"): ``do`` it in Zedonk, then acknowledge it with ``note``."""
    label = order_label(row)
    item_id = f"order:{label}:{suffix}"
    return AttentionItem(
        id=item_id,
        kind=kind,
        subject=label,
        what=str(event["message"]),
        who="Zedonk",
        fix=f"{do}; then `zedonk-ordre attention ack {item_id} --note '{note}'`",
        since=event["at"],
        link={"order": row.get("ordre_number") or row["import_key"]},
    )


# --------------------------------------------------------------------------- catalogue


def product_troubles(products: Iterable[ProductReport]) -> dict[str, dict[str, Any]]:
    """The catalogued products a person must see to, by product id: ``{"collection", "look",
    "where", "held_back": [why not exported], "warnings": [no main image, no price]}``.
    What a full plan found; ``daemon.store.attention.record_products`` keeps it."""
    found: dict[str, dict[str, Any]] = {}
    for p in products:
        held_back = [] if p.exported else list(p.problems)
        warnings = list(p.warnings) if p.exported else []
        if held_back or warnings:
            found[p.key] = {
                "collection": p.collection,
                "look": p.look,
                "where": str(p.location),
                "held_back": held_back,
                "warnings": warnings,
            }
    return found


def product_item(key: str, trouble: Mapping[str, Any], since: str) -> AttentionItem:
    """A product held back from ORDRE, or shown there without a main image or a price."""
    place = f"{trouble['collection']} / {trouble['look']}"
    if trouble["held_back"]:
        return AttentionItem(
            id=f"product:{key}:held-back",
            kind="held_back_product",
            subject=key,
            what=f"{key} ({place}) is not on ORDRE: " + "; ".join(trouble["held_back"]),
            who="Zedonk",
            fix=(
                f"fix product {key} in Zedonk (every size needs a valid, unique barcode); "
                "the next reconcile exports it, or take it out of "
                f"{trouble['where']}"
            ),
            since=since,
            details=tuple(trouble["held_back"]),
            link={"product": key},
        )
    return AttentionItem(
        id=f"product:{key}:incomplete",
        kind="incomplete_product",
        subject=key,
        what=f"{key} ({place}) is on ORDRE, but it " + "; it ".join(trouble["warnings"]),
        who="Zedonk",
        fix=_completing(key, trouble["warnings"]),
        since=since,
        details=tuple(trouble["warnings"]),
        link={"product": key},
    )


def _completing(key: str, warnings: Sequence[str]) -> str:
    steps = []
    if any("main image" in w for w in warnings):
        steps.append(f"upload Image 1 of {key} in Zedonk")
    if any("price" in w for w in warnings):
        steps.append(
            f"enter the prices of {key} in Zedonk in a price season (or name a season it is "
            "priced in under prices.seasons in connector.yaml)"
        )
    return "; ".join(steps or [f"complete {key} in Zedonk"]) + "; the next reconcile sends it"


def invalid_catalogue(
    run: Mapping[str, Any], errors: Sequence[Mapping[str, Any]], since: str
) -> AttentionItem:
    """The last reconcile found the catalogue invalid (or not matching Zedonk): ``errors``
    are its error events."""
    details = tuple(str(e["message"]) for e in errors) or (str(run.get("error")),)
    return AttentionItem(
        id="catalogue:invalid",
        kind="invalid_catalogue",
        subject="catalogue",
        what=(
            "the catalogue is invalid, so the daemon applies nothing: "
            f"{str(run.get('error') or 'see the errors').splitlines()[0]}"
        ),
        who="catalogue",
        fix="fix the files named below (`zedonk-ordre validate` lists every error); the daemon "
        "reconciles once they are saved",
        since=since,
        details=details,
        link={"run": int(run["id"])},
    )


def guard_refused(run: Mapping[str, Any], code: str, since: str) -> AttentionItem:
    """The last reconcile's plan was refused by the delete or update guard (``code``
    deletes-refused, updates-refused or catalogue-empty)."""
    flag = "--allow-updates" if code == "updates-refused" else "--allow-deletes"
    return AttentionItem(
        id="catalogue:guard",
        kind="guard_refused",
        subject="catalogue",
        what=f"the daemon applies nothing: {str(run.get('error') or code).splitlines()[0]}",
        who="catalogue",
        fix=(
            "review `zedonk-ordre plan`; if the catalogue is right, `zedonk-ordre apply "
            f"{flag}`, else restore the catalogue's files"
        ),
        since=since,
        link={"run": int(run["id"])},
    )
