"""ORDRE's collections, looks and listings as catalogue files (pure: data in, text out).

``dump_catalogue`` is the mapping behind ``zedonk-ordre dump``: one file per collection, in
ORDRE's display order (written as ``order: 1, 2, ...``), its looks in ORDRE's order, and each
look's products by their Zedonk ids in ORDRE's order, with a comment naming each product. A
catalogue written this way resolves to the collections and looks ORDRE shows, so ``plan``
right after a dump of a showroom the connector keeps finds nothing to change.

What the catalogue format cannot hold is left out and reported as a finding, never dropped
silently: a product Zedonk does not know (it stays in the file as a comment), a name the
format refuses (empty, longer than 200 characters, or the same as an earlier one but for
case), a look left with no product, a collection left with no look, and a listing that sits
in no look. The findings name the place on ORDRE (file ``ORDRE``), since there is no file yet.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from daemon.core.findings import Finding
from daemon.core.matching import keep_positions
from daemon.core.model import OrdreCollection, OrdreLook, Product
from daemon.core.plan import OrdreSnapshot
from daemon.core.words import plural
from daemon.core.yamlwrite import comment, scalar

NAME_MAX = 200  # the schema's maxLength of collection and look names
ID_PART_MAX = {"style": 50, "fabric": 20, "colour": 30}  # Zedonk's field limits
CATALOGUE_SCHEMA_FILE = "catalogue.schema.json"
Shown = TypeVar("Shown", OrdreCollection, OrdreLook)


@dataclass(frozen=True)
class DumpedFile:
    """One collection file: its name in the target folder and its text."""

    name: str  # e.g. "aw26-main-collection.yaml"
    collection: str
    text: str
    looks: int
    products: int


@dataclass(frozen=True)
class Dump:
    files: tuple[DumpedFile, ...]  # in display order
    findings: tuple[Finding, ...]  # what was left out (warnings) and notes, in ORDRE's order

    @property
    def left_out(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity != "note")

    @property
    def looks(self) -> int:
        return sum(f.looks for f in self.files)

    @property
    def products(self) -> int:
        return sum(f.products for f in self.files)


def _left_out(where: str, code: str, message: str, hint: str) -> Finding:
    return Finding("ORDRE", 0, 0, where, code, "warning", message, hint)


def name_problem(name: str) -> str | None:
    """Why the catalogue cannot hold ``name`` as a collection or look name, or None."""
    if not name.strip():
        return "it is empty"
    if len(name) > NAME_MAX:
        return f"it is {len(name)} characters long; the catalogue holds up to {NAME_MAX}"
    return None


def id_problem(product: Product) -> str | None:
    """Why ``STYLE/FABRIC/COLOUR`` cannot be written for ``product``, or None."""
    for part, limit in ID_PART_MAX.items():
        value: str = getattr(product.id, part)
        if not value or value != value.strip() or "/" in value or len(value) > limit:
            return (
                f"its {part} {value!r} cannot be written in a product id "
                f"(no slash, no space at either end, up to {limit} characters)"
            )
    return None


def slug(name: str) -> str:
    """A file name stem for ``name``: ASCII letters and digits joined by ``-``; may be ""."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:60].strip("-")


def _file_names(collections: Sequence[str]) -> list[str]:
    """One file name per collection, unique even on a case-insensitive file system."""
    taken: set[str] = set()
    names: list[str] = []
    for number, collection in enumerate(collections, start=1):
        stem = slug(collection) or f"collection-{number:02d}"
        name, n = f"{stem}.yaml", 1
        while name.casefold() in taken:
            n += 1
            name = f"{stem}-{n}.yaml"
        taken.add(name.casefold())
        names.append(name)
    return names


@dataclass
class _Look:
    name: str
    position: int  # on ORDRE
    lines: list[str] = field(default_factory=list)  # its "products:" entries, indented
    products: int = 0


def _entries(
    look: OrdreLook,
    where: str,
    products: Mapping[str, Product],
    group_colours: bool,
    findings: list[Finding],
) -> _Look:
    """The look's ``products:`` lines: known products as ids (or styles with colours), others
    as comments in their place."""
    made = _Look(look.name, look.position)
    rows: list[tuple[str, Product | None, str]] = []  # (key, product, why left out)
    seen: set[str] = set()
    for key in look.product_keys:
        if key in seen:
            continue  # ORDRE shows a product once per look; the catalogue names it once
        seen.add(key)
        product = products.get(key)
        if product is None:
            why = "Zedonk has no product with this id"
            findings.append(
                _left_out(
                    where,
                    "dump-product-unknown",
                    f"{key} is in this look on ORDRE, but Zedonk has no such product; "
                    "it is written as a comment, and apply would take it out of the look",
                    "find the product in Zedonk under its current id, or leave it out",
                )
            )
            rows.append((key, None, why))
            continue
        wrong = id_problem(product)
        if wrong is not None:
            findings.append(
                _left_out(
                    where,
                    "dump-product-id",
                    f"{key}: {wrong}; it is written as a comment",
                    "correct the product's style, fabric or colour in Zedonk",
                )
            )
            rows.append((key, None, wrong))
            continue
        rows.append((key, product, ""))
    # Runs of one style and fabric (each of one product unless colours are grouped).
    groups: list[list[Product] | tuple[str, str]] = []
    for key, product, why in rows:
        if product is None:
            groups.append((key, why))
            continue
        last = groups[-1] if groups else None
        if (
            group_colours
            and isinstance(last, list)
            and (last[0].id.style, last[0].id.fabric) == (product.id.style, product.id.fabric)
        ):
            last.append(product)
        else:
            groups.append([product])
    singles = [scalar(str(g[0].id)) for g in groups if isinstance(g, list) and len(g) == 1]
    width = max(map(len, singles), default=0)
    for group in groups:
        if isinstance(group, tuple):
            key, why = group
            made.lines.append(f"      # - {scalar(key)}  # left out: {comment(why)}")
            continue
        first = group[0]
        if len(group) > 1:
            colours = ", ".join(scalar(p.id.colour) for p in group)
            made.lines += [
                f"      - style: {scalar(first.id.style)}  # {_about(first)}",
                f"        fabric: {scalar(first.id.fabric)}",
                f"        colours: [{colours}]",
            ]
        else:
            made.lines.append(f"      - {scalar(str(first.id)).ljust(width)}  # {_about(first)}")
        made.products += len(group)
    return made


def _about(product: Product) -> str:
    return comment(product.description) or comment(product.category) or "-"


def _renumbered(positions: Sequence[int]) -> int:
    """How many of these positions, in display order, apply would change."""
    return sum(
        1 for old, new in zip(positions, keep_positions(positions), strict=True) if old != new
    )


def _ordered(items: Iterable[Shown]) -> list[Shown]:
    """ORDRE's display order: by position, then name and id for ties."""
    return sorted(items, key=lambda item: (item.position, item.name, item.id))


def dump_catalogue(
    ordre: OrdreSnapshot,
    products: Mapping[str, Product],
    *,
    schema_path: str = f"../schemas/{CATALOGUE_SCHEMA_FILE}",
    group_colours: bool = False,
) -> Dump:
    """The catalogue files for what ORDRE shows; ``products`` is Zedonk's, by readable id.

    ``schema_path`` is the JSON Schema as seen from the folder the files go to (for the
    editor's modeline). ``group_colours`` writes a run of colours of one style and fabric,
    next to each other in a look, as one ``{style, fabric, colours}`` entry.
    """
    findings: list[Finding] = []
    looks_of: dict[str, list[OrdreLook]] = {}
    for look in ordre.looks:
        looks_of.setdefault(look.collection_id, []).append(look)
    kept: list[tuple[OrdreCollection, list[_Look]]] = []
    names: set[str] = set()
    for collection in _ordered(ordre.collections):
        where = f"collection {collection.name!r}"
        wrong = name_problem(collection.name)
        if wrong is None and collection.name.casefold() in names:
            wrong = "another collection has the same name (the catalogue ignores case)"
        if wrong is not None:
            count = len(looks_of.get(collection.id, []))
            findings.append(
                _left_out(
                    where,
                    "dump-name",
                    f"the collection is left out, with its {plural(count, 'look')}: "
                    f"its name cannot be written: {wrong}",
                    "rename the collection on ORDRE, then dump again",
                )
            )
            continue
        names.add(collection.name.casefold())
        looks: list[_Look] = []
        look_names: set[str] = set()
        for look in _ordered(looks_of.get(collection.id, [])):
            look_where = f"{where} / look {look.name!r}"
            wrong = name_problem(look.name)
            if wrong is None and look.name.casefold() in look_names:
                wrong = "another look of the collection has the same name (ignoring case)"
            if wrong is not None:
                held = plural(len(look.product_keys), "product")
                findings.append(
                    _left_out(
                        look_where,
                        "dump-name",
                        f"the look is left out, with its {held}: its name cannot be written: "
                        f"{wrong}",
                        "rename the look on ORDRE, then dump again",
                    )
                )
                continue
            look_names.add(look.name.casefold())
            made = _entries(look, look_where, products, group_colours, findings)
            if not made.products:
                findings.append(
                    _left_out(
                        look_where,
                        "dump-look-empty",
                        "the look is left out: it holds no product Zedonk knows, and a "
                        "catalogue look needs at least one",
                        "add products to the look in the catalogue, or let apply remove it",
                    )
                )
                continue
            looks.append(made)
        if not looks:
            findings.append(
                _left_out(
                    where,
                    "dump-collection-empty",
                    "the collection is left out: none of its looks could be written, and a "
                    "catalogue collection needs at least one look",
                    "add a look to the collection in the catalogue, or let apply remove it",
                )
            )
            continue
        kept.append((collection, looks))

    # Apply keeps positions that already give the display order (``keep_positions``) and
    # renumbers the rest, such as two that share one.
    moved = _renumbered([c.position for c, _ in kept])
    moved_looks = sum(_renumbered([x.position for x in looks]) for _, looks in kept)
    if moved or moved_looks:
        findings.append(
            Finding(
                "ORDRE",
                0,
                0,
                "positions",
                "dump-positions",
                "note",
                f"ORDRE numbers {plural(moved, 'collection')} and {plural(moved_looks, 'look')} "
                "so that they share a position with another: apply renumbers them, and the "
                "order they are shown in stays the same",
            )
        )

    in_looks = {key for look in ordre.looks for key in look.product_keys}
    loose = sorted(listing.key for listing in ordre.listings if listing.key not in in_looks)
    if loose:
        shown = ", ".join(loose[:5]) + (", ..." if len(loose) > 5 else "")
        findings.append(
            _left_out(
                "listings",
                "dump-listing-loose",
                f"{plural(len(loose), 'listing')} on ORDRE sit in no look ({shown}); the "
                "catalogue holds products only in looks, so apply with prune would delete them",
                "add them to a look in the catalogue, or set catalogue.prune: false",
            )
        )

    files: list[DumpedFile] = []
    file_names = _file_names([collection.name for collection, _ in kept])
    for order, ((collection, looks), name) in enumerate(zip(kept, file_names, strict=True), 1):
        lines = [
            f"# yaml-language-server: $schema={schema_path}",
            f"collection: {scalar(collection.name)}",
        ]
        if collection.description:
            lines.append(f"description: {scalar(collection.description)}")
        lines += [f"order: {order}", "looks:"]
        for written in looks:
            lines += [f"  - name: {scalar(written.name)}", "    products:", *written.lines]
        files.append(
            DumpedFile(
                name,
                collection.name,
                "\n".join(lines) + "\n",
                len(looks),
                sum(written.products for written in looks),
            )
        )
    return Dump(tuple(files), tuple(findings))
