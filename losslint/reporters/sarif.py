"""SARIF 2.1.0, as GitHub code scanning and other SARIF viewers read it."""

from __future__ import annotations

import json
from pathlib import PurePath

from losslint import __version__, registry
from losslint.findings import Finding, RelatedLocation, Severity
from losslint.rule import PROJECT_URL

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = PROJECT_URL
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _uri(path: str) -> str:
    return PurePath(path).as_posix()


def _region(line: int, column: int, end_line: int | None = None, end_column: int | None = None) -> dict:
    region = {"startLine": line, "startColumn": column}
    if end_line is not None and end_column is not None:
        region.update(endLine=end_line, endColumn=end_column)
    return region


def _finding_region(f: Finding) -> dict:
    """In a notebook, the line of the .ipynb file that holds the source line (no columns: they
    count in the cell's text, not in the JSON file)."""
    if f.cell is not None:
        return _region(f.file_line or 1, 1)
    return _region(f.line, f.column, f.end_line, f.end_column)


def _related(index: int, related: RelatedLocation) -> dict:
    return {
        "id": index,
        "physicalLocation": {
            "artifactLocation": {"uri": _uri(related.path)},
            "region": _region(related.line, related.column),
        },
        "message": {"text": related.message},
    }


def render(findings: list[Finding]) -> str:
    rules = list(registry.ALL_RULES)
    rule_index = {rule.code: i for i, rule in enumerate(rules)}
    results = []
    for f in findings:
        result = {
            "ruleId": f.code,
            "ruleIndex": rule_index[f.code],
            "level": _LEVEL[f.severity],
            "message": {"text": f"{'cell %d, line %d: ' % (f.cell, f.line) if f.cell else ''}{f.message}\nfix: {f.fix}"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": _uri(f.path)},
                        "region": _finding_region(f),
                    }
                }
            ],
            "properties": {"pass": f.pass_.value, "fix": f.fix, **({"cell": f.cell} if f.cell else {})},
        }
        if f.related:
            result["relatedLocations"] = [_related(i, r) for i, r in enumerate(f.related)]
        results.append(result)
    log = {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "losslint",
                        "version": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": [
                            {
                                "id": rule.code,
                                "name": rule.name,
                                "shortDescription": {"text": rule.summary},
                                "helpUri": rule.page_url,
                                "defaultConfiguration": {"level": _LEVEL[rule.severity]},
                                "properties": {"passes": [p.value for p in rule.passes]},
                            }
                            for rule in rules
                        ],
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"
