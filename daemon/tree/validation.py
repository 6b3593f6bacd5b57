"""Validate a whole tree (connector.yaml and catalogue/) in one pass, collecting every finding.

``validate_tree`` is what ``zedonk-ordre validate`` reports, and what plan, apply and the
daemon call before they touch anything: an invalid tree stops before the first write.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daemon.core.findings import Finding, has_errors, invalid, sort_findings
from daemon.core.spec import CatalogueSpec
from daemon.tree.catalogue import CleanFiles, check_catalogue
from daemon.tree.settings import Settings, check_settings

JSON_FORMAT_VERSION = 1


@dataclass(frozen=True)
class ValidationReport:
    root: Path
    findings: tuple[Finding, ...]  # sorted by file and place
    settings: Settings | None  # None when connector.yaml has an error
    catalogue: CatalogueSpec | None  # None when catalogue/ has an error

    @property
    def ok(self) -> bool:
        """No errors (warnings and notes are allowed)."""
        return not has_errors(self.findings)

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    def raise_if_invalid(self) -> None:
        """Raise ConfigError carrying every error, for commands that need a valid tree."""
        if not self.ok:
            raise invalid(
                f"the configuration in {self.root}",
                self.findings,
                hint="fix the errors above; `zedonk-ordre validate` lists them all",
            )

    def to_json(self) -> dict[str, Any]:
        """The versioned document that ``validate --format json`` prints."""
        catalogue = self.catalogue
        return {
            "format_version": JSON_FORMAT_VERSION,
            "root": str(self.root),
            "valid": self.ok,
            "summary": {
                "errors": self.count("error"),
                "warnings": self.count("warning"),
                "notes": self.count("note"),
                "collections": None if catalogue is None else len(catalogue.collections),
                "looks": None
                if catalogue is None
                else sum(len(c.looks) for c in catalogue.collections),
            },
            "findings": [f.to_json() for f in self.findings],
        }


def validate_tree(root: Path, clean: CleanFiles | None = None) -> ValidationReport:
    """Check ``root``/connector.yaml and ``root``/catalogue/ offline; never raises for bad input.

    ``clean`` skips the schema check of catalogue files it knows to be clean (see CleanFiles).
    """
    settings, settings_findings = check_settings(root)
    catalogue, catalogue_findings = check_catalogue(root, clean)
    return ValidationReport(
        root=root.resolve(),
        findings=sort_findings([*settings_findings, *catalogue_findings]),
        settings=settings,
        catalogue=catalogue,
    )
