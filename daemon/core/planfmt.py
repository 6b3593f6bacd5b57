"""Plans for people and for scripts: text, Markdown (pull-request comments) and JSON.

Summary counts first, then a +/~/- diff grouped collection -> look -> product. A plan with no
changes is one line. JSON is a versioned document in a stable order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

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


# How a diff line is marked. The text format marks it as Terraform does (+ ~ - and → for a
# move); Markdown puts a marker GitHub's diff highlighting colours at column 0, as Atlantis
# does: it colours + and - and ! (a change), not ~.
Style = Literal["create", "update", "delete", "move-in", "move-out", "change", "context", "heading"]
_TEXT_MARKER: dict[str, str] = {
    "create": "+", "update": "~", "delete": "-", "move-in": "→", "move-out": "-", "context": " ",
}  # fmt: skip
_MARKDOWN_MARKER: dict[str, str] = {
    "create": "+", "update": "!", "delete": "-", "move-in": "+", "move-out": "-", "change": "!",
}  # fmt: skip


@dataclass(frozen=True)
class DiffLine:
    """One line of the diff: how deep it sits, how it is marked, and what it says."""

    indent: int
    style: Style
    text: str

    def plain(self) -> str:
        """As the text format writes it: the marker after the indentation."""
        marker = _TEXT_MARKER.get(self.style)
        return " " * self.indent + (f"{marker} {self.text}" if marker else self.text)

    def markdown(self) -> str:
        """As a ```diff block writes it: the marker at column 0, so GitHub colours the line;
        the text stays where the text format has it."""
        plain = self.plain()
        marker = _MARKDOWN_MARKER.get(self.style, " ")
        if self.style in _TEXT_MARKER:
            return marker + plain[: self.indent] + " " + plain[self.indent + 2 :]
        return marker + plain[1:]


_BY_SYMBOL: dict[str, Style] = {"+": "create", "~": "update", "-": "delete", " ": "context"}


def _line(indent: int, symbol: str, text: str) -> DiffLine:
    """A line marked like the action it shows: ``symbol`` is + ~ - or a space."""
    return DiffLine(indent, _BY_SYMBOL[symbol], text)


def diff_lines(plan: Plan) -> list[DiffLine]:
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

    lines: list[DiffLine] = []
    shown_listings: set[str] = set()
    for collection, looks in tree:
        c_action = collection_actions.get(collection)
        body: list[DiffLine] = []
        if c_action is not None:
            body += [DiffLine(6, "change", text) for text in _field_changes(c_action)]
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
        lines.append(_line(0, symbol, f"collection {json.dumps(collection, ensure_ascii=False)}"))
        lines += body

    others = [a for a in plan.actions if a.kind == "listing" and a.key not in shown_listings]
    if others:
        lines.append(DiffLine(2, "heading", "listings not in any look"))
        for action in others:
            lines.append(_line(4, SYMBOL[action.op], action.key))
            lines += [DiffLine(8, "change", text) for text in _field_changes(action)]
    customers = [a for a in plan.actions if a.kind == "customer"]
    if customers:
        lines.append(DiffLine(2, "heading", "customers"))
        for action in customers:
            name = action.payload.name if isinstance(action.payload, OrdreCustomer) else ""
            lines.append(_line(4, SYMBOL[action.op], f"{action.key} {name}".rstrip()))
            lines += [DiffLine(8, "change", text) for text in _field_changes(action)]
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
) -> list[DiffLine]:
    final = next((a for a in reversed(actions) if a.step != "detach"), None)
    name = look.split(" / ", 1)[-1]
    lines: list[DiffLine] = []
    before_keys: list[str] = []
    after_keys: list[str] = list(by_look.get(look, []))
    if final is not None:
        change = next((c for c in final.changes if c.field == "product_keys"), None)
        if change is not None:
            before_keys, after_keys = _keys(change.before), _keys(change.after)
        elif final.op == "update":
            before_keys = after_keys
        lines += [DiffLine(10, "change", t) for t in _field_changes(final, skip=("product_keys",))]
    else:
        before_keys = after_keys
    product_lines: list[DiffLine] = []
    if final is None or final.op != "delete":
        before = set(before_keys)
        for key in after_keys:
            listing = listings.get(key)
            move = moved_in.get((look, key))
            if move is not None:
                product_lines.append(DiffLine(8, "move-in", f"{key}  moved from {move.source}"))
            elif key not in before:
                what = "new listing" if listing and listing.op == "create" else "added"
                if listing and listing.op == "create" and not _has_image(listing):
                    what += ", no main image"
                product_lines.append(DiffLine(8, "create", f"{key}  {what}"))
            elif listing is not None:
                product_lines.append(DiffLine(8, "update", key))
            if listing is not None and listing.op == "update":
                product_lines += [DiffLine(12, "change", t) for t in _field_changes(listing)]
        after = set(after_keys)
        for key in before_keys:
            if key in after:
                continue
            move = moved_out.get((look, key))
            where = f"moves to {move.target}" if move else "removed from the look"
            style: Style = "move-out" if move else "delete"
            product_lines.append(DiffLine(8, style, f"{key}  {where}"))
        common_before = [k for k in before_keys if k in after]
        common_after = [k for k in after_keys if k in before]
        if common_before != common_after:
            product_lines.append(DiffLine(8, "update", "products reordered"))
    if final is None and not product_lines:
        return []
    symbol = SYMBOL[final.op] if final else " "
    head = _line(4, symbol, f"look {json.dumps(name, ensure_ascii=False)}")
    return [head, *lines, *product_lines]


def _report_lines(plan: Plan, *, most: int | None = None) -> list[str]:
    """What is not exported, and what is kept; ``most`` caps a list of product keys."""
    lines: list[str] = []
    skipped = plan.not_exported()
    if skipped:
        lines.append(
            f"Not exported ({len(skipped)}): every size needs a valid, unique barcode, "
            "and ORDRE refuses what is over its limits."
        )
        for p in skipped:
            lines.append(f"  ! {p.key} in {p.collection} / {p.look} ({p.location})")
            lines += [f"      {problem}" for problem in p.problems]
    missing = [p.key for p in plan.products if p.exported and not p.has_image]
    if missing:
        shown = missing if most is None else missing[:most]
        more = f" and {len(missing) - len(shown):,} more" if len(shown) < len(missing) else ""
        lines.append(f"No main image ({len(missing)}): {', '.join(shown)}{more}")
    if plan.kept:
        lines.append(
            f"Kept on ORDRE although not in catalogue/ ({len(plan.kept)}): prune is off. "
            "Set catalogue.prune: true in connector.yaml to delete them."
        )
    return lines


def text_lines(plan: Plan) -> list[tuple[str, str]]:
    """The text format as (style, line) pairs, so that a terminal can colour each line by
    its style (create, update, delete, move-in, move-out, change, context, heading, summary,
    report) after the line is made safe to show."""
    if not plan.has_changes:
        return [("summary", NO_CHANGES)]
    lines = [("summary", summary_line(plan)), ("context", "")]
    lines += [(line.style, line.plain()) for line in diff_lines(plan)]
    report = _report_lines(plan)
    if report:
        lines += [("context", ""), *(("report", text) for text in report)]
    return lines


def render_text(plan: Plan) -> str:
    return "\n".join(text for _, text in text_lines(plan))


# GitHub refuses a comment over 65,536 characters; the plan keeps under this many bytes of
# UTF-8 (never fewer bytes than characters), leaving room for the workflow's own lines.
MARKDOWN_LIMIT = 60_000
MOST_KEYS = 50  # product keys a Markdown report line lists before "and N more"


def render_markdown(
    plan: Plan, *, findings: Sequence[Finding] = (), limit: int = MARKDOWN_LIMIT
) -> str:
    """For a pull-request comment: summary, the diff in a fenced ``diff`` block with every
    changed line marked at column 0, then the reports and warnings.

    Over ``limit`` bytes, the counts and warnings stay and the diff is cut, ending with how
    many lines were left out; warnings past half the limit are folded the same way.
    """
    head = "### zedonk-ordre plan"
    if not plan.has_changes:
        top = [head, "", f"**{NO_CHANGES}**"]
    else:
        counts = plan.counts()
        top = [
            head,
            "",
            f"**{summary_line(plan)}**",
            "",
            "| create | update | delete | move |",
            "|---:|---:|---:|---:|",
            f"| {counts['create']} | {counts['update']} | {counts['delete']} | {counts['move']} |",
        ]
    report = _report_lines(plan, most=MOST_KEYS) if plan.has_changes else []
    warnings = [str(f) for f in findings if not f.is_error and f.code not in SHOWN_IN_PLAN]
    notes = report + warnings
    tail: list[str] = []
    if notes:
        budget = limit // 2 - _size(top)
        kept, left = _fit(notes, budget)
        if left:
            kept.append(f"... and {left:,} more lines: `zedonk-ordre plan` shows them all")
        tail = ["", "<details><summary>Warnings and notes</summary>", "", "```", *kept]
        tail += ["```", "", "</details>"]
    if not plan.has_changes:
        return "\n".join([*top, *tail])
    diff = [line.markdown() for line in diff_lines(plan)]
    fence = ["", "```diff", "```"]
    budget = limit - _size(top) - _size(tail) - _size(fence) - 200  # room for the fold line
    shown, left = _fit(diff, budget)
    if left:
        shown.append(f"  ... and {left:,} more lines: `zedonk-ordre plan` shows the whole plan")
    return "\n".join([*top, "", "```diff", *shown, "```", *tail])


def _size(lines: Sequence[str]) -> int:
    """Bytes of UTF-8 the lines take, with their line breaks."""
    return sum(len(line.encode()) + 1 for line in lines)


def _fit(lines: Sequence[str], budget: int) -> tuple[list[str], int]:
    """The first lines that fit in ``budget`` bytes, and how many are left out."""
    kept: list[str] = []
    used = 0
    for line in lines:
        used += len(line.encode()) + 1
        if used > budget:
            break
        kept.append(line)
    return kept, len(lines) - len(kept)


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
