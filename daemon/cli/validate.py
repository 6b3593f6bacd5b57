"""Command: validate. Checks connector.yaml and catalogue/ offline and reports every finding."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from daemon.cli.root import app, echo, print_json, repository_root
from daemon.core.findings import Finding
from daemon.core.spec import CatalogueSpec
from daemon.core.words import plural
from daemon.errors import ConfigError, ExitCode
from daemon.tree.gitinfo import path_prefix
from daemon.tree.settings import Settings
from daemon.tree.validation import ValidationReport, validate_tree


class OutputFormat(StrEnum):
    text = "text"
    json = "json"
    github = "github"


def resolve_root(root: Path | None) -> Path:
    """``--root`` as given, else the nearest directory upwards that holds connector.yaml."""
    if root is not None:
        return repository_root(root)
    try:
        return repository_root(None)
    except ConfigError:
        return Path.cwd()  # validate then reports the missing connector.yaml as a finding


@app.command()
def validate(
    root: Annotated[
        Path | None,
        typer.Option(
            "--root",
            help="Repository to validate. Default: the current directory, or the nearest "
            "parent that holds connector.yaml.",
            file_okay=False,
        ),
    ] = None,
    output: Annotated[
        OutputFormat,
        typer.Option(
            "--format",
            help="text for people, json for scripts, github for workflow annotations.",
            case_sensitive=False,
        ),
    ] = OutputFormat.text,
    show: Annotated[
        bool,
        typer.Option("--show", help="Also print the settings and the catalogue as they were read."),
    ] = False,
) -> None:
    """Check connector.yaml and catalogue/ offline; report every problem with its place.

    Exit code 0 when valid (warnings allowed), 1 when there is an error.
    """
    where = resolve_root(root)
    report = validate_tree(where)
    if output is OutputFormat.json:
        print_json(report.to_json())
    elif output is OutputFormat.github:
        for line in github_lines(report.findings, path_prefix(where)):
            echo(line)
        echo(summary(report))
    else:
        for finding in report.findings:
            echo(str(finding))
        if show and report.settings is not None:
            echo(describe_settings(report.settings))
        if show and report.catalogue is not None:
            echo(describe_catalogue(report.catalogue))
        echo(summary(report))
    if not report.ok:
        raise typer.Exit(int(ExitCode.ERROR))


def summary(report: ValidationReport) -> str:
    counts = ", ".join(
        plural(n, word)
        for n, word in (
            (report.count("error"), "error"),
            (report.count("warning"), "warning"),
            (report.count("note"), "note"),
        )
        if n
    )
    if not report.ok:
        return f"invalid: {counts}"
    catalogue = report.catalogue
    assert catalogue is not None
    looks = sum(len(c.looks) for c in catalogue.collections)
    collections = len(catalogue.collections)
    text = (
        f"valid: connector.yaml and {plural(collections, 'collection')}"
        f" with {plural(looks, 'look')}"
    )
    return f"{text} ({counts})" if counts else text


_GITHUB_LEVEL = {"error": "error", "warning": "warning", "note": "notice"}
GITHUB_SHOWN = 10  # annotations of each level GitHub shows for one step; it drops the rest


def github_lines(findings: Sequence[Finding], prefix: str = "") -> list[str]:
    """Workflow commands for the first ``GITHUB_SHOWN`` findings of each level, then a line
    saying GitHub shows no more and every other finding as plain text, for the log.
    ``prefix`` makes the files relative to the git top level (``path_prefix``)."""
    lines: list[str] = []
    rest: list[Finding] = []
    shown: dict[str, int] = {}
    for finding in findings:
        level = _GITHUB_LEVEL[finding.severity]
        if shown.get(level, 0) < GITHUB_SHOWN:
            shown[level] = shown.get(level, 0) + 1
            lines.append(github_command(finding, prefix))
        else:
            rest.append(finding)
    if rest:
        lines.append(
            f"GitHub shows at most {GITHUB_SHOWN} annotations of each kind (error, warning, "
            f"notice) for a step; the other {plural(len(rest), 'finding')} follow, here in "
            "the log:"
        )
        lines += [str(replace(f, file=prefix + f.file)) for f in rest]
    return lines


def github_command(finding: Finding, prefix: str = "") -> str:
    """A GitHub Actions workflow command, so the pull request shows the finding inline.
    ``prefix`` goes before the file, to make it relative to the git top level."""
    props = [f"file={_escape_property(prefix + finding.file)}"]
    if finding.line > 0:
        props += [f"line={finding.line}", f"col={finding.column}"]
    props.append(f"title={_escape_property(finding.code)}")
    text = f"{finding.path}: {finding.message}" if finding.path else finding.message
    if finding.hint:
        text += f"\nhint: {finding.hint}"
    return f"::{_GITHUB_LEVEL[finding.severity]} {','.join(props)}::{_escape_data(text)}"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def describe_settings(settings: Settings) -> str:
    imp = settings.import_
    lines = [
        "settings:",
        f"  Zedonk  {settings.zedonk.url}  (token from {settings.zedonk.token})",
        f"  ORDRE   {settings.ordre.url}  (token from {settings.ordre.token})",
        f"  orders  {', '.join(imp.statuses)} orders become "
        f"{'approved' if imp.approved else 'unapproved'} Zedonk orders in {imp.season}, "
        f"owned by {imp.order_owner}",
        f"  prices  from {', '.join(settings.price_seasons)} (the most recent season wins)",
    ]
    return "\n".join(lines)


def describe_catalogue(catalogue: CatalogueSpec) -> str:
    """The catalogue as ORDRE will group it: collections, looks, and what each look holds."""
    lines = ["catalogue:"]
    for collection in catalogue.collections:
        lines.append(f"  {collection.name}  ({collection.file})")
        for look in collection.looks:
            lines.append(f"    {look.name}")
            entries: list[tuple[int, str]] = [(p.position, str(p.id)) for p in look.products]
            entries += [
                (s.position, f"{s.style}/{s.fabric or '*'} in {', '.join(s.colours)}")
                for s in look.styles
            ]
            lines += [f"      {text}" for _, text in sorted(entries)]
            for selector in look.selectors:
                filters = [
                    f"{name} {value!r}"
                    for name, value in (
                        ("season", selector.season),
                        ("category", selector.category),
                        ("search", selector.search),
                    )
                    if value
                ]
                text = "      + every product with " + ", ".join(filters)
                if selector.exclude:
                    text += f", except {', '.join(str(p) for p in selector.exclude)}"
                lines.append(text)
    if catalogue.is_empty:
        lines.append("  (no collections)")
    return "\n".join(lines)
