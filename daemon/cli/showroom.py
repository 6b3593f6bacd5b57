"""Commands: dump and products, for adopting a showroom (docs/configuration.md describes them).

Both read Zedonk (and ``dump`` ORDRE too) and write nothing to either.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from daemon.cli.root import JSON_VERSION, OutputFormat, RootOption, app, print_json, repository_root
from daemon.core import products as listing
from daemon.core.planfmt import summary_line
from daemon.core.words import plural
from daemon.gcpause import cyclic_gc_paused
from daemon.reconcile.adopt import DumpReport, ProductFinder, dump_showroom, find_products
from daemon.tree.settings import load_settings

# --------------------------------------------------------------------------- dump


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root.absolute()).as_posix()
    except ValueError:
        return str(path)


def _dump_json(report: DumpReport, root: Path) -> dict[str, object]:
    plan = report.plan
    return {
        "format_version": JSON_VERSION,
        "target": str(report.target),
        "files": [
            {
                "file": _relative(path, root),
                "collection": item.collection,
                "looks": item.looks,
                "products": item.products,
            }
            for path, item in zip(report.written, report.dump.files, strict=True)
        ],
        "summary": {
            "collections": len(report.dump.files),
            "looks": report.dump.looks,
            "products": report.dump.products,
            "left_out": len(report.dump.left_out),
        },
        "findings": [f.to_json() for f in report.dump.findings],
        "other_files": [_relative(path, root) for path in report.others],
        "plan": None if plan is None else {"changes": plan.has_changes, "summary": plan.counts()},
        "plan_errors": [f.to_json() for f in report.plan_errors],
    }


SHOWN_ACTIONS = 10


def _dump_text(report: DumpReport, root: Path) -> None:
    dump = report.dump
    for finding in dump.findings:
        typer.echo(str(finding), err=True)
    where = _relative(report.target, root) + "/"
    typer.echo(
        f"Wrote {plural(len(dump.files), 'collection')} with {plural(dump.looks, 'look')} and "
        f"{plural(dump.products, 'product')} to {where}"
    )
    width = max((len(_relative(p, root)) for p in report.written), default=0)
    for path, item in zip(report.written, dump.files, strict=True):
        typer.echo(
            f"  {_relative(path, root).ljust(width)}  {item.collection}: "
            f"{plural(item.looks, 'look')}, {plural(item.products, 'product')}"
        )
    if dump.left_out:
        typer.echo(
            f"{plural(len(dump.left_out), 'thing')} on ORDRE could not be written (listed "
            "above); the plan below includes what apply would do about them."
        )
    for path in report.others:
        typer.echo(
            f"warning: {_relative(path, root)} was already there and is not from this dump: "
            "remove it, or its collections will be planned too",
            err=True,
        )
    if report.plan is None:
        for finding in report.plan_errors:
            typer.echo(str(finding), err=True)
        typer.echo("Plan after this dump: it does not resolve against Zedonk (see above).")
        return
    typer.echo(f"Plan after this dump: {summary_line(report.plan)}")
    for action in report.plan.actions[:SHOWN_ACTIONS]:
        typer.echo(f"  {action.label}")
    if len(report.plan.actions) > SHOWN_ACTIONS:
        typer.echo(f"  ... `zedonk-ordre plan` shows all {len(report.plan.actions)}")


@app.command()
def dump(
    root: RootOption = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write the collection files to DIR instead of the repository's catalogue/.",
            file_okay=False,
        ),
    ] = None,
    group_colours: Annotated[
        bool,
        typer.Option(
            "--group-colours",
            help="Write neighbouring colours of one style as one {style, fabric, colours} entry.",
        ),
    ] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace collection files of the same names in the folder."),
    ] = False,
    output: Annotated[
        OutputFormat, typer.Option("--format", help="text for people, json for scripts.")
    ] = OutputFormat.text,
) -> None:
    """Write ORDRE's collections, looks and listings as catalogue/*.yaml. Reads only.

    One file per collection, looks in ORDRE's order, products by their Zedonk ids. What the
    catalogue cannot hold is reported, and the files are planned against the same reads, so
    the last line says what `plan` will show (nothing, for a showroom the connector keeps).
    """
    repository = repository_root(root)
    settings = load_settings(repository)
    report = dump_showroom(settings, out, group_colours=group_colours, force=force)
    if output is OutputFormat.json:
        print_json(_dump_json(report, repository))
    else:
        _dump_text(report, repository)


# --------------------------------------------------------------------------- products


class ProductsFormat(StrEnum):
    text = "text"
    yaml = "yaml"
    json = "json"


@app.command()
def products(
    root: RootOption = None,
    season: Annotated[
        str | None, typer.Option("--season", help="Only products visible in this season.")
    ] = None,
    category: Annotated[
        str | None,
        typer.Option("--category", help="Only products of this category (any case)."),
    ] = None,
    search: Annotated[
        str | None,
        typer.Option(
            "--search",
            help="Only products with this text in style, description or colour (any case).",
        ),
    ] = None,
    unplaced: Annotated[
        bool, typer.Option("--unplaced", help="Only products the catalogue puts in no look.")
    ] = False,
    output: Annotated[
        ProductsFormat,
        typer.Option(
            "--format",
            help="text for people, yaml for entries to paste into a look, json for scripts.",
            case_sensitive=False,
        ),
    ] = ProductsFormat.text,
) -> None:
    """List Zedonk's products as the "+ Add Product" screen does; the filters are a selector's.

    For each product: description, category, seasons, whether it has a main image, the
    barcode of every size, its prices in the price seasons, and the look it is already in.
    """
    filters = listing.Filters(season, category, search, unplaced)
    settings = load_settings(repository_root(root))
    found = find_products(settings, filters)
    for note in found.notes:
        typer.echo(f"note: {note}", err=True)
    with cyclic_gc_paused():  # a large brand's rows stay alive while they are written out
        _print_products(found, filters, settings.price_seasons, output)


def _print_products(
    found: ProductFinder,
    filters: listing.Filters,
    price_seasons: tuple[str, ...],
    output: ProductsFormat,
) -> None:
    if output is ProductsFormat.json:
        print_json(
            {
                "format_version": JSON_VERSION,
                "filters": {
                    "season": filters.season,
                    "category": filters.category,
                    "search": filters.search,
                    "unplaced": filters.unplaced,
                },
                "price_seasons": list(price_seasons),
                "count": len(found.rows),
                "products": [listing.row_json(row) for row in found.rows],
            }
        )
    elif output is ProductsFormat.yaml:
        heading = (
            f"{plural(len(found.rows), 'product')}: {filters.describe()}. "
            "Paste under a look's `products:`; commented ones would not be exported here."
        )
        typer.echo(listing.render_yaml(found.rows, heading))
    else:
        typer.echo(listing.render_text(found.rows, found.starts))
