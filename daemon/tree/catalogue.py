"""catalogue/: one collection per file, turned into plain spec dataclasses.

The spec (daemon.core.spec) is what the files say, not yet what Zedonk holds: product
references and selectors are resolved against Zedonk later (daemon.core.resolve).
``load_catalogue(root)`` raises ``ConfigError`` with every finding. A catalogue/ folder that is
missing, not a folder, or cannot be read is an error (``catalogue-missing``,
``file-unreadable``): a vanished folder must never read as "no collections". An empty one loads
as no collections plus a warning, and plan, apply and the daemon refuse it while ORDRE shows
collections (``daemon.core.guards.refuse_empty_catalogue``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from daemon.core.findings import Finding, has_errors, invalid
from daemon.core.limits import NameRule
from daemon.core.model import ProductId
from daemon.core.spec import (
    CatalogueSpec,
    CollectionSpec,
    Location,
    LookSpec,
    ProductRef,
    Selector,
    StyleRef,
)
from daemon.gcpause import cyclic_gc_paused
from daemon.tree.resources import CATALOGUE_SCHEMA, load_schema
from daemon.tree.schema import schema_findings
from daemon.tree.yamlload import Document, load_file

CATALOGUE_DIR = "catalogue"
YAML_SUFFIXES = (".yaml", ".yml")


def tree_digest(root: Path) -> str:
    """A digest of what a plan reads of the repository at ``root``: connector.yaml and the
    YAML files in catalogue/, names and bytes (a file that cannot be read counts by its
    error). Equal digests, equal settings and catalogue."""
    digest = hashlib.sha256()
    directory = root / CATALOGUE_DIR
    try:
        entries = sorted(directory.iterdir()) if directory.is_dir() else []
    except OSError:
        entries = []
    files = [root / "connector.yaml"] + [
        e for e in entries if e.suffix.lower() in YAML_SUFFIXES and not e.name.startswith(".")
    ]
    for path in files:
        digest.update(path.name.encode() + b"\0")
        try:
            digest.update(path.read_bytes())
        except OSError as exc:
            digest.update(f"unreadable: {exc}".encode())
        digest.update(b"\0")
    return digest.hexdigest()


# --------------------------------------------------------------------------- loading


def load_catalogue(root: Path) -> CatalogueSpec:
    """The catalogue in ``root``/catalogue/. Raises ConfigError listing every finding."""
    spec, findings = check_catalogue(root)
    if spec is None:
        raise invalid(f"{CATALOGUE_DIR}/", findings)
    return spec


@dataclass
class CleanFiles:
    """Files whose schema check found nothing, by the digest of their bytes.

    The check depends on the bytes alone and is most of the time validation takes, so a
    daemon that re-reads the whole tree on every save checks only what changed: it passes
    the previous pass's ``now`` as the next one's ``before``.
    """

    before: frozenset[str] = frozenset()
    now: set[str] = field(default_factory=set)


def check_catalogue(
    root: Path, clean: CleanFiles | None = None
) -> tuple[CatalogueSpec | None, list[Finding]]:
    """Every finding in catalogue/, and the spec when there is no error."""
    with cyclic_gc_paused():
        return _check_catalogue(root, clean or CleanFiles())


def _check_catalogue(root: Path, clean: CleanFiles) -> tuple[CatalogueSpec | None, list[Finding]]:
    directory = root / CATALOGUE_DIR
    findings: list[Finding] = []
    missing = _missing_folder(directory)
    if missing is not None:
        findings.append(
            _file_finding(
                CATALOGUE_DIR,
                "catalogue-missing",
                "error",
                missing,
                "restore the folder (`git checkout -- catalogue`, or `git pull`); "
                "an empty catalogue/ would not be applied either",
            )
        )
        return None, findings
    if not directory.resolve().is_relative_to(root.resolve()):
        findings.append(
            _file_finding(
                CATALOGUE_DIR,
                "file-outside-root",
                "error",
                f"catalogue/ is a symlink to {directory.resolve()}, outside the repository",
                "keep the catalogue files in the repository",
            )
        )
        return None, findings
    try:
        entries = sorted(directory.iterdir())
    except OSError as exc:
        findings.append(
            _file_finding(CATALOGUE_DIR, "file-unreadable", "error", f"cannot list: {exc.strerror}")
        )
        return None, findings
    collections: list[CollectionSpec] = []
    yaml_files = 0
    for entry in entries:
        name = f"{CATALOGUE_DIR}/{entry.name}"
        if entry.name.startswith("."):
            continue  # .gitkeep, editor swap files
        if entry.is_dir():
            findings.append(
                _file_finding(
                    name, "file-ignored", "note", "subdirectories of catalogue/ are not read"
                )
            )
            continue
        if entry.suffix.lower() not in YAML_SUFFIXES:
            findings.append(
                _file_finding(
                    name,
                    "file-ignored",
                    "note",
                    "ignored: only *.yaml and *.yml files in catalogue/ are read",
                )
            )
            continue
        yaml_files += 1
        loaded = load_file(entry, root)
        file_findings = list(loaded.findings)
        document = loaded.document
        if document is not None:
            if file_findings or document.digest not in clean.before:
                file_findings += schema_findings(document, CATALOGUE_SCHEMA)
            if not file_findings:
                clean.now.add(document.digest)
            if not has_errors(file_findings):
                collections.append(_collection(document))
        findings += file_findings
    if yaml_files == 0:
        findings.append(
            _file_finding(
                CATALOGUE_DIR,
                "catalogue-empty",
                "warning",
                "catalogue/ holds no collection files: applied, it would delete every "
                "collection on ORDRE",
                "add one *.yaml file per collection; plan, apply and the daemon refuse an empty "
                "catalogue while ORDRE shows collections",
            )
        )
    ordered = sorted(collections, key=lambda c: (c.order is None, c.order or 0, c.file))
    spec = CatalogueSpec(tuple(replace(c, position=i) for i, c in enumerate(ordered)))
    findings += cross_file_findings(spec, catalogue_names())
    return (None if has_errors(findings) else spec), findings


def _missing_folder(directory: Path) -> str | None:
    """Why ``directory`` is not a folder that can be read, or None when it is one."""
    try:
        if directory.is_dir():
            return None
    except OSError as exc:  # e.g. a symlink loop
        return f"catalogue/ cannot be read: {exc.strerror}"
    if directory.is_symlink():
        return f"catalogue is a symlink to {directory.readlink()}, which does not exist"
    if directory.exists():
        return "catalogue is a file, not a folder"
    return "there is no catalogue/ folder"


def _file_finding(
    name: str, code: str, severity: str, message: str, hint: str | None = None
) -> Finding:
    return Finding(name, 0, 0, "", code, severity, message, hint)  # type: ignore[arg-type]


def _value(node: yaml.Node, key: str) -> yaml.Node:
    for key_node, value_node in node.value:
        if key_node.value == key:
            return value_node  # type: ignore[no-any-return]
    raise KeyError(key)  # pragma: no cover - the schema has required the key


def _collection(doc: Document) -> CollectionSpec:
    """The spec of one schema-valid collection file."""
    file = doc.file

    def at(node: yaml.Node) -> Location:
        return Location(file, node.start_mark.line + 1, node.start_mark.column + 1)

    data: dict[str, Any] = doc.data
    looks: list[LookSpec] = []
    for position, (look, look_node) in enumerate(
        zip(data["looks"], _value(doc.root, "looks").value, strict=True)
    ):
        products: list[ProductRef] = []
        styles: list[StyleRef] = []
        if "products" in look:
            entries = zip(look["products"], _value(look_node, "products").value, strict=True)
            for index, (entry, node) in enumerate(entries):
                if isinstance(entry, str):
                    # the schema has checked the STYLE/FABRIC/COLOUR form already
                    mark = node.start_mark
                    location = Location(file, mark.line + 1, mark.column + 1)
                    products.append(ProductRef(ProductId(*entry.split("/")), location, index))
                else:
                    styles.append(
                        StyleRef(
                            entry["style"],
                            entry.get("fabric"),
                            tuple(entry["colours"]),
                            at(node),
                            index,
                        )
                    )
        selectors = tuple(
            Selector(
                season=item.get("season"),
                category=item.get("category"),
                search=item.get("search"),
                exclude=tuple(ProductId.parse(text) for text in item.get("exclude", ())),
                location=at(node),
            )
            for item, node in zip(
                look.get("select", ()),
                _value(look_node, "select").value if "select" in look else (),
                strict=True,
            )
        )
        looks.append(
            LookSpec(
                name=look["name"],
                position=position,
                products=tuple(products),
                styles=tuple(styles),
                selectors=selectors,
                location=at(_value(look_node, "name")),
            )
        )
    return CollectionSpec(
        name=data["collection"],
        description=data.get("description", ""),
        position=0,
        looks=tuple(looks),
        file=file,
        location=at(_value(doc.root, "collection")),
        order=data.get("order"),
    )


def _quoted(name: str) -> str:
    """A name as a message shows it: quoted, so spaces at either end show; cut short when
    long (a name may be 200 characters)."""
    shown = name if len(name) <= 60 else name[:57] + "..."
    return json.dumps(shown, ensure_ascii=False)


def _finding(
    location: Location, path: str, code: str, message: str, hint: str, severity: str = "error"
) -> Finding:
    return Finding(
        location.file,
        location.line,
        location.column,
        path,
        code,
        severity,  # type: ignore[arg-type]
        message,
        hint,
    )


def catalogue_names() -> NameRule:
    """How names are compared for uniqueness, as the catalogue schema declares it for
    validate (offline): the way ORDRE compares them (``ORDRE_LIMITS.names`` in
    daemon.clients.ordre; tests/test_limits.py holds the two equal)."""
    declared = load_schema(CATALOGUE_SCHEMA)["properties"]["collection"]["x-name-comparison"]
    return NameRule(declared["trim"], declared["casefold"], declared["normalisation"])


def cross_file_findings(spec: CatalogueSpec, names: NameRule) -> list[Finding]:
    """Rules across looks and files: unique names (compared by ``names``), and each product
    in one place only."""
    findings: list[Finding] = []
    same = f"ORDRE ignores {names.ignoring()} when it compares names"
    seen_names: dict[str, CollectionSpec] = {}
    orders: dict[int, CollectionSpec] = {}
    # (style, colour) -> [(fabric or None, where, description)]: a missing fabric matches any
    seen: dict[tuple[str, str], list[tuple[str | None, Location, str]]] = {}
    for collection in sorted(spec.collections, key=lambda c: c.file):
        first = seen_names.setdefault(names.key(collection.name), collection)
        if first is not collection:
            findings.append(
                _finding(
                    collection.location,
                    "collection",
                    "collection-duplicate-name",
                    f"the collection name {_quoted(collection.name)} is already used at "
                    f"{first.location} ({_quoted(first.name)}): {same}",
                    "give each collection file its own `collection:` name",
                )
            )
        if collection.order is not None:
            earlier = orders.setdefault(collection.order, collection)
            if earlier is not collection:
                findings.append(
                    _finding(
                        collection.location,
                        "order",
                        "collection-order-duplicate",
                        f"`order: {collection.order}` is also given to `{earlier.name}` "
                        f"({earlier.file}); these two are shown by file name",
                        "give each collection its own order number",
                        "warning",
                    )
                )
        looks: dict[str, LookSpec] = {}
        for look in collection.looks:
            first_look = looks.setdefault(names.key(look.name), look)
            if first_look is not look:
                findings.append(
                    _finding(
                        look.location,
                        f"looks[{look.position}].name",
                        "look-duplicate-name",
                        f"the look name {_quoted(look.name)} is already used at "
                        f"{first_look.location} ({_quoted(first_look.name)}): {same}",
                        "give each look of a collection its own name",
                    )
                )
            where = f"look `{look.name}` of collection `{collection.name}`"
            entries: list[tuple[str, str | None, str, Location, int]] = [
                (ref.id.style, ref.id.fabric, ref.id.colour, ref.location, ref.position)
                for ref in look.products
            ]
            entries += [
                (ref.style, ref.fabric, colour, ref.location, ref.position)
                for ref in look.styles
                for colour in ref.colours
            ]
            for style, fabric, colour, location, index in entries:
                places = seen.get((style, colour))
                if places is None:  # the common case: first time this style and colour
                    seen[style, colour] = [(fabric, location, where)]
                    continue
                clash = next(
                    (p for p in places if p[0] is None or fabric is None or p[0] == fabric), None
                )
                if clash is None:
                    places.append((fabric, location, where))
                    continue
                product = "/".join((style, fabric or clash[0] or "*", colour))
                findings.append(
                    _finding(
                        location,
                        f"looks[{look.position}].products[{index}]",
                        "product-duplicate",
                        f"{product} is already in {clash[2]} at {clash[1]}; "
                        "a product can be in one look of one collection only",
                        "remove it from one of the two places",
                    )
                )
    return findings
