"""Adopting an existing showroom: dump it as a catalogue, find products, check init's answers.

These read Zedonk and ORDRE and never write to either. ``dump_showroom`` writes the catalogue
files only after checking them the way ``plan`` will: the files are validated and planned
against the very reads they were made from, so the report says what ``plan`` will show.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from daemon.clients.http import NO_RETRY
from daemon.clients.ordre import ORDRE_LIMITS, OrdreClient
from daemon.clients.zedonk import ZedonkClient
from daemon.core.dump import CATALOGUE_SCHEMA_FILE, Dump, dump_catalogue
from daemon.core.findings import Finding
from daemon.core.plan import Plan, make_plan
from daemon.core.products import Filters, ProductRow, placement, product_rows
from daemon.core.resolve import resolve
from daemon.core.words import plural
from daemon.errors import ConfigError, RemoteError, ZedonkOrdreError
from daemon.gcpause import cyclic_gc_paused
from daemon.remotes import open_clients, open_zedonk
from daemon.tree.catalogue import CATALOGUE_DIR, YAML_SUFFIXES, check_catalogue
from daemon.tree.secrets import TokenRef
from daemon.tree.settings import Settings

SCHEMAS_DIR = "schemas"  # where `init` and `schemas --write` put the JSON Schemas

# --------------------------------------------------------------------------- dump


@dataclass(frozen=True)
class DumpReport:
    target: Path  # the folder the files went to
    dump: Dump
    written: tuple[Path, ...]
    others: tuple[Path, ...]  # YAML files already in the folder that this dump did not write
    plan: Plan | None  # the dumped catalogue planned against the same reads; None if it failed
    plan_errors: tuple[Finding, ...] = ()  # why it could not be planned


def collection_files(folder: Path) -> list[Path]:
    """The files in ``folder`` that the catalogue reads (``*.yaml``, ``*.yml``, not hidden)."""
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.iterdir()
        if p.suffix.lower() in YAML_SUFFIXES and not p.name.startswith(".") and p.is_file()
    )


def dump_showroom(
    settings: Settings,
    target: Path | None = None,
    *,
    group_colours: bool = False,
    force: bool = False,
) -> DumpReport:
    """Write ORDRE's collections, looks and listings as catalogue files into ``target``
    (default: the repository's catalogue/). Reads Zedonk and ORDRE; writes neither.

    Raises ZedonkOrdreError when ``target`` already holds collection files and ``force`` is
    not given (nothing is written then), and the clients' errors when a remote fails.
    """
    folder = (target if target is not None else settings.catalogue_dir).absolute()
    present = collection_files(folder)
    if present and not force:
        names = ", ".join(p.name for p in present[:5]) + (", ..." if len(present) > 5 else "")
        raise ZedonkOrdreError(
            f"{folder} already holds {plural(len(present), 'collection file')} ({names}); "
            "dump writes nothing over them",
            hint="dump into an empty folder with --out DIR, or pass --force to replace the "
            "files that have the same names",
        )
    from daemon.reconcile.gather import (
        gather,  # here: products starts without the history's modules
    )

    with open_clients(settings) as (zedonk_client, ordre_client):
        zedonk, ordre = gather(zedonk_client, ordre_client)
    schema = settings.root.absolute() / SCHEMAS_DIR / CATALOGUE_SCHEMA_FILE
    dump = dump_catalogue(
        ordre,
        {str(p.id): p for p in zedonk.products},
        schema_path=Path(os.path.relpath(schema, folder)).as_posix(),
        group_colours=group_colours,
    )

    # Check the files as plan will read them, before any is written.
    with tempfile.TemporaryDirectory(prefix="zedonk-ordre-dump-") as tmp:
        staged = Path(tmp) / CATALOGUE_DIR
        staged.mkdir()
        for item in dump.files:
            (staged / item.name).write_text(item.text, encoding="utf-8")
        spec, findings = check_catalogue(Path(tmp))
    errors = [f for f in findings if f.is_error]
    if spec is None or errors:
        raise ConfigError(
            "the files dump made do not validate; nothing was written",
            list(errors),
            hint="this is a bug in zedonk-ordre: please report it with the errors above",
        )
    resolution = resolve(spec, zedonk, settings.price_seasons, limits=ORDRE_LIMITS)
    plan: Plan | None = None
    plan_errors = tuple(f for f in resolution.findings if f.is_error)
    if not plan_errors:
        plan = make_plan(
            resolution.desired,
            ordre,
            prune=settings.catalogue.prune,
            names=ORDRE_LIMITS.names,
            findings=resolution.findings,
        )

    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for item in dump.files:
        path = folder / item.name
        path.write_text(item.text, encoding="utf-8")
        written.append(path)
    others = tuple(p for p in collection_files(folder) if p not in written)
    return DumpReport(folder, dump, tuple(written), others, plan, plan_errors)


# --------------------------------------------------------------------------- products


@dataclass(frozen=True)
class ProductFinder:
    rows: list[ProductRow]
    starts: dict[str, date]  # season code -> its start, which ranks the price seasons
    notes: tuple[str, ...] = ()  # why the look column may be incomplete


def find_products(settings: Settings, filters: Filters) -> ProductFinder:
    """Zedonk's products that ``filters`` pick, each with the look the catalogue puts it in.

    Reads Zedonk only. The catalogue is read offline; when it has errors the look column is
    left empty and a note says why. A product the catalogue names twice is placed where it is
    first named (``plan`` reports the clash).
    """
    with cyclic_gc_paused():  # tens of thousands of objects that live until the end
        # The catalogue is read while Zedonk's pages arrive: the fetch mostly waits.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="catalogue") as pool:
            reading = pool.submit(check_catalogue, settings.root)
            with open_zedonk(settings) as zedonk:
                products = tuple(zedonk.products())
                seasons = tuple(zedonk.seasons())
            catalogue, findings = reading.result()
        notes: list[str] = []
        placed: dict[str, tuple[str, str]] = {}
        if catalogue is None:
            errors = sum(1 for f in findings if f.is_error)
            notes.append(
                f"catalogue/ has {plural(errors, 'error')}, so the LOOK column is empty; "
                "`zedonk-ordre validate` lists them"
            )
        else:
            placed = placement(catalogue, products)
        rows = product_rows(products, filters, settings.price_seasons, placed, limits=ORDRE_LIMITS)
    return ProductFinder(rows, {s.code: s.starts_on for s in seasons}, tuple(notes))


# --------------------------------------------------------------------------- init


@dataclass
class RemoteCheck:
    """What ``init`` learnt from Zedonk and ORDRE about the answers it was given."""

    notes: list[str] = field(default_factory=list)  # what was checked, or why not
    problems: list[str] = field(default_factory=list)  # answers Zedonk says are wrong
    seasons: tuple[str, ...] = ()  # Zedonk's season codes (empty when not read)
    users: tuple[str, ...] = ()  # Zedonk's active usernames (empty when not read)

    @property
    def checked(self) -> bool:
        return bool(self.seasons or self.users)


def check_answers(
    zedonk_url: str,
    ordre_url: str,
    tokens: tuple[TokenRef, TokenRef],
    *,
    season: str,
    order_owner: str,
    price_seasons: Sequence[str] = (),
    timeout: float = 5.0,
) -> RemoteCheck:
    """Ask Zedonk whether ``season`` and ``order_owner`` exist (an active user), and ORDRE
    whether its token is taken. A remote that cannot be reached, or whose token is not set,
    is noted and not checked; never raises for that."""
    check = RemoteCheck()
    zedonk_token, ordre_token = tokens
    try:
        token = zedonk_token.resolve()
    except ConfigError as exc:
        check.notes.append(f"Zedonk not checked: {exc.message}")
    else:
        try:
            with ZedonkClient(
                zedonk_url, token, timeout=timeout, deadline=timeout, retry=NO_RETRY
            ) as zedonk:
                check.seasons = tuple(s.code for s in zedonk.seasons())
                check.users = tuple(u.username for u in zedonk.users() if u.active)
        except RemoteError as exc:
            check.notes.append(f"Zedonk not checked: {exc.message}")
        else:
            check.notes.append(f"Zedonk at {zedonk_url} answered")
            for code in dict.fromkeys([season, *price_seasons]):
                if code not in check.seasons:
                    check.problems.append(
                        f"Zedonk has no season {code!r} (it has {', '.join(check.seasons)})"
                    )
            if order_owner not in check.users:
                check.problems.append(
                    f"Zedonk has no active user {order_owner!r} (active users: "
                    f"{', '.join(check.users)})"
                )
    try:
        token = ordre_token.resolve()
    except ConfigError as exc:
        check.notes.append(f"ORDRE not checked: {exc.message}")
    else:
        try:
            with OrdreClient(
                ordre_url, token, timeout=timeout, deadline=timeout, retry=NO_RETRY, page_size=1
            ) as ordre:
                next(ordre.collections(), None)
        except RemoteError as exc:
            check.notes.append(f"ORDRE not checked: {exc.message}")
        else:
            check.notes.append(f"ORDRE at {ordre_url} answered")
    return check
