"""Plans for people and for scripts: text, Markdown (pull-request comments) and JSON.

Summary counts first, then a +/~/- diff grouped collection -> look -> product. A plan with no
changes is one line. JSON is a versioned document in a stable order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from daemon.core.actions import Action, Change
from daemon.core.findings import Finding
from daemon.core.model import Listing, OrdreCustomer
from daemon.core.plan import Plan
from daemon.core.words import plural

PLAN_JSON_VERSION = 1
NO_CHANGES = "No changes: ORDRE matches the catalogue."

SYMBOL = {"create": "+", "update": "~", "delete": "-"}
SHOWN_IN_PLAN = frozenset({"product-not-exported", "image-missing"})  # listed by the plan itself


def summary_line(plan: Plan) -> str:
    if not plan.has_changes:
        return NO_CHANGES
    counts = plan.counts()
    text = (
        f"Plan: {counts['create']} to create, {counts['update']} to update, "
        f"{counts['delete']} to delete"
    )
    if counts["move"]:
        text += f", {plural(counts['move'], 'product')} to move"
    return text + "."


def _show(field: str, value: Any) -> str:
    if value is None:
        return "none"
    if field == "sizes" and isinstance(value, list):
        return " ".join(f"{s.get('size')}={s.get('gtin')}" for s in value) or "none"
    if field == "prices" and isinstance(value, list):
        return ", ".join(f"{p.get('currency')} {p.get('wsp')}/{p.get('rrp')}" for p in value) or (
            "none"
        )
    if isinstance(value, dict):
        return ", ".join(str(v) for v in value.values() if v) or "empty"
    return json.dumps(value, ensure_ascii=False)


def describe_change(change: Change) -> str:
    before, after = _show(change.field, change.before), _show(change.field, change.after)
    return f"{change.field}: {before} → {after}"


def _field_changes(action: Action, skip: Iterable[str] = ()) -> list[str]:
    if action.op != "update":
        return []
    skipped = set(skip)
    return [describe_change(c) for c in action.changes if c.field not in skipped]


def _keys(value: Any) -> list[str]:
    return [str(k) for k in value] if isinstance(value, list) else []


def _diff_lines(plan: Plan) -> list[str]:
    """The +/~/- lines, grouped collection -> look -> product."""
    listing_actions = {a.key: a for a in plan.actions if a.kind == "listing"}
    collection_actions = {a.key: a for a in plan.actions if a.kind == "collection"}
    look_actions: dict[str, list[Action]] = {}
    for action in plan.actions:
        if action.kind == "look":
            look_actions.setdefault(action.key, []).append(action)
    moved_in = {(m.target, m.key): m for m in plan.moves}
    moved_out = {(m.source, m.key): m for m in plan.moves}

    tree: list[tuple[str, list[str]]] = [(c, list(looks)) for c, looks in plan.tree]
    known_collections = {c for c, _ in tree}
    for action in plan.actions:  # collections and looks that are not in the catalogue
        if action.kind == "collection" and action.key not in known_collections:
            tree.append((action.key, []))
            known_collections.add(action.key)
    for key, actions in look_actions.items():
        collection = actions[0].collection or key.split(" / ")[0]
        group = next((looks for c, looks in tree if c == collection), None)
        if group is None:
            tree.append((collection, [key]))
            known_collections.add(collection)
        elif key not in group:
            group.append(key)

    by_look: dict[str, list[str]] = {}
    for key, look in plan.placement.items():
        by_look.setdefault(look, []).append(key)

    lines: list[str] = []
    shown_listings: set[str] = set()
    for collection, looks in tree:
        c_action = collection_actions.get(collection)
        body: list[str] = []
        if c_action is not None:
            body += [f"      {text}" for text in _field_changes(c_action)]
        for look in looks:
            l_lines = _look_lines(
                look, look_actions.get(look, []), listing_actions, by_look, moved_in, moved_out
            )
            shown_listings.update(k for k in by_look.get(look, []) if k in listing_actions)
            for action in look_actions.get(look, []):
                shown_listings.update(
                    k for c in action.changes for k in _keys(c.after) if k in listing_actions
                )
            body += l_lines
        if c_action is None and not body:
            continue
        symbol = SYMBOL[c_action.op] if c_action else " "
        lines.append(f"{symbol} collection {json.dumps(collection, ensure_ascii=False)}")
        lines += body

    others = [a for a in plan.actions if a.kind == "listing" and a.key not in shown_listings]
    if others:
        lines.append("  listings not in any look")
        for action in others:
            lines.append(f"    {SYMBOL[action.op]} {action.key}")
            lines += [f"        {text}" for text in _field_changes(action)]
    customers = [a for a in plan.actions if a.kind == "customer"]
    if customers:
        lines.append("  customers")
        for action in customers:
            name = action.payload.name if isinstance(action.payload, OrdreCustomer) else ""
            lines.append(f"    {SYMBOL[action.op]} {action.key} {name}".rstrip())
            lines += [f"        {text}" for text in _field_changes(action)]
    return lines


def _has_image(action: Action) -> bool:
    return isinstance(action.payload, Listing) and bool(action.payload.image_url)


def _look_lines(
    look: str,
    actions: Sequence[Action],
    listings: dict[str, Action],
    by_look: dict[str, list[str]],
    moved_in: dict[tuple[str, str], Any],
    moved_out: dict[tuple[str, str], Any],
) -> list[str]:
    final = next((a for a in reversed(actions) if a.step != "detach"), None)
    name = look.split(" / ", 1)[-1]
    lines: list[str] = []
    before_keys: list[str] = []
    after_keys: list[str] = list(by_look.get(look, []))
    if final is not None:
        change = next((c for c in final.changes if c.field == "product_keys"), None)
        if change is not None:
            before_keys, after_keys = _keys(change.before), _keys(change.after)
        elif final.op == "update":
            before_keys = after_keys
        lines += [f"          {t}" for t in _field_changes(final, skip=("product_keys",))]
    else:
        before_keys = after_keys
    product_lines: list[str] = []
    if final is None or final.op != "delete":
        before = set(before_keys)
        for key in after_keys:
            listing = listings.get(key)
            move = moved_in.get((look, key))
            if move is not None:
                product_lines.append(f"        → {key}  moved from {move.source}")
            elif key not in before:
                what = "new listing" if listing and listing.op == "create" else "added"
                if listing and listing.op == "create" and not _has_image(listing):
                    what += ", no main image"
                product_lines.append(f"        + {key}  {what}")
            elif listing is not None:
                product_lines.append(f"        ~ {key}")
            if listing is not None and listing.op == "update":
                product_lines += [f"            {t}" for t in _field_changes(listing)]
        after = set(after_keys)
        for key in before_keys:
            if key in after:
                continue
            move = moved_out.get((look, key))
            where = f"moves to {move.target}" if move else "removed from the look"
            product_lines.append(f"        - {key}  {where}")
        common_before = [k for k in before_keys if k in after]
        common_after = [k for k in after_keys if k in before]
        if common_before != common_after:
            product_lines.append("        ~ products reordered")
    if final is None and not product_lines:
        return []
    symbol = SYMBOL[final.op] if final else " "
    return [f"    {symbol} look {json.dumps(name, ensure_ascii=False)}", *lines, *product_lines]


def _report_lines(plan: Plan) -> list[str]:
    lines: list[str] = []
    skipped = plan.not_exported()
    if skipped:
        lines.append(f"Not exported ({len(skipped)}): every size needs a valid, unique barcode.")
        for p in skipped:
            lines.append(f"  ! {p.key} in {p.collection} / {p.look} ({p.location})")
            lines += [f"      {problem}" for problem in p.problems]
    missing = [p for p in plan.products if p.exported and not p.has_image]
    if missing:
        lines.append(f"No main image ({len(missing)}): {', '.join(p.key for p in missing)}")
    if plan.kept:
        lines.append(
            f"Kept on ORDRE although not in catalogue/ ({len(plan.kept)}): prune is off. "
            "Set catalogue.prune: true in connector.yaml to delete them."
        )
    return lines


def render_text(plan: Plan) -> str:
    if not plan.has_changes:
        return NO_CHANGES
    parts = [summary_line(plan), "", *_diff_lines(plan)]
    report = _report_lines(plan)
    if report:
        parts += ["", *report]
    return "\n".join(parts)


def render_markdown(plan: Plan, *, findings: Sequence[Finding] = ()) -> str:
    """For a pull-request comment: summary, the diff in a fenced block, then the reports."""
    head = "### zedonk-ordre plan"
    if not plan.has_changes:
        lines = [head, "", f"**{NO_CHANGES}**"]
    else:
        counts = plan.counts()
        lines = [
            head,
            "",
            f"**{summary_line(plan)}**",
            "",
            "| create | update | delete | move |",
            "|---:|---:|---:|---:|",
            f"| {counts['create']} | {counts['update']} | {counts['delete']} | {counts['move']} |",
            "",
            "```diff",
            *_diff_lines(plan),
            "```",
        ]
    report = _report_lines(plan) if plan.has_changes else []
    warnings = [f for f in findings if not f.is_error and f.code not in SHOWN_IN_PLAN]
    if report or warnings:
        lines += ["", "<details><summary>Warnings and notes</summary>", "", "```"]
        lines += report
        lines += [str(f) for f in warnings]
        lines += ["```", "", "</details>"]
    return "\n".join(lines)


def plan_json(plan: Plan) -> dict[str, Any]:
    """The ``--format json`` document. Stable: keys and actions in a fixed order."""
    return {
        "format_version": PLAN_JSON_VERSION,
        "changes": plan.has_changes,
        "summary": plan.counts(),
        "prune": plan.prune,
        "actions": [a.to_json() for a in plan.actions],
        "moves": [{"key": m.key, "from": m.source, "to": m.target} for m in plan.moves],
        "kept": list(plan.kept),
        "products": {
            "not_exported": [
                {
                    "key": p.key,
                    "look": f"{p.collection} / {p.look}",
                    "location": str(p.location),
                    "problems": list(p.problems),
                }
                for p in plan.not_exported()
            ],
            "without_image": [p.key for p in plan.products if p.exported and not p.has_image],
        },
        "findings": [f.to_json() for f in plan.findings],
    }
