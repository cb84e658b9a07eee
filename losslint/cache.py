"""Results of the static pass per file, keyed by the file's content, the losslint version and the
active configuration, like ruff's cache: `.losslint_cache/` (with its own .gitignore) in the
project folder, `--no-cache` to bypass it. A changed file misses the cache; the others are not
parsed again."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from pathlib import Path

from losslint import __version__
from losslint.config import Config
from losslint.findings import Finding, Pass, RelatedLocation, Severity
from losslint.static.linter import FileReport

CACHE_DIR = ".losslint_cache"


def _code_stamp() -> float:
    """The newest modification time of losslint's own modules: a changed losslint (also an
    unreleased one) never reads results of another."""
    package = Path(__file__).resolve().parent
    return max(p.stat().st_mtime for p in package.rglob("*.py"))


def _fingerprint(config: Config) -> str:
    settings = {
        "version": __version__,
        "code": _code_stamp(),
        "enabled": sorted(config.enabled_codes()),
        "per_file_ignores": {k: list(v) for k, v in sorted(config.per_file_ignores.items())},
        "conventional_names": sorted(config.conventional_names().items()),
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def _report_to_json(report: FileReport) -> dict:
    return {
        "findings": [dataclasses.asdict(f) for f in report.findings],
        "errors": report.errors,
        "notes": report.notes,
        "compiles_model": report.compiles_model,
        "imported_losses": report.imported_losses,
    }


def _report_from_json(path: str, data: dict) -> FileReport:
    findings = [
        Finding(**dict(
            f, severity=Severity(f["severity"]), pass_=Pass(f["pass_"]),
            related=tuple(RelatedLocation(**r) for r in f["related"]),
        ))
        for f in data["findings"]
    ]
    return FileReport(
        path, findings, list(data["errors"]), list(data["notes"]), compiles_model=data["compiles_model"],
        imported_losses=[tuple(i) for i in data.get("imported_losses", [])],
    )


class Cache:
    def __init__(self, root: Path, config: Config) -> None:
        self.folder = root / CACHE_DIR
        self.file = self.folder / f"{_fingerprint(config)}.json"
        self.entries: dict[str, dict] = {}
        self.dirty = False
        try:
            self.entries = json.loads(self.file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.entries = {}

    @staticmethod
    def key(display: str, data: bytes, context: str = "") -> str:
        # The displayed path is part of the key (findings carry it), and so is what other files
        # say about this one (the losses they import from it).
        return hashlib.sha256(display.encode() + b"\0" + context.encode() + b"\0" + data).hexdigest()

    def get(self, key: str, display: str) -> FileReport | None:
        entry = self.entries.get(key)
        return None if entry is None else _report_from_json(display, entry)

    def put(self, key: str, report: FileReport) -> None:
        if report.errors:
            return  # internal errors are not remembered: a fixed losslint must look again
        self.entries[key] = _report_to_json(report)
        self.dirty = True

    def save(self, keep: set[str]) -> None:
        """Write the entries of this run's files (stale ones go), atomically."""
        if not self.dirty and set(self.entries) <= keep:
            return
        entries = {k: v for k, v in self.entries.items() if k in keep}
        try:
            self.folder.mkdir(exist_ok=True)
            ignore = self.folder / ".gitignore"
            if not ignore.exists():
                ignore.write_text("# Automatically created by losslint.\n*\n", encoding="utf-8")
            handle, temporary = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(entries, out)
            os.replace(temporary, self.file)
        except OSError:
            pass  # a read-only project still lints, only without a cache
