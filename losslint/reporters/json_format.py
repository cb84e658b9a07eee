"""JSON: an array of finding objects with a fixed set of keys (see Finding.to_json)."""

from __future__ import annotations

import json

from losslint.findings import Finding


def render(findings: list[Finding]) -> str:
    return json.dumps([f.to_json() for f in findings], indent=2, ensure_ascii=False) + "\n"
