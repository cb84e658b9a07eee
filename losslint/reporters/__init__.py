"""Output formats. Each reporter turns the sorted findings of a run into text."""

from __future__ import annotations

from losslint.reporters import github, json_format, sarif, text

FORMATS = ("text", "json", "sarif", "github")

__all__ = ["FORMATS", "github", "json_format", "sarif", "text"]
