"""LL201 target-shape-mismatch: reported by the dynamic pass (losslint/dynamic/probe.py) (see rules/LL201-target-shape-mismatch.md)."""

from __future__ import annotations

from losslint.findings import Pass, Severity
from losslint.rule import Rule

RULE = Rule(
    code="LL201",
    name="target-shape-mismatch",
    severity=Severity.ERROR,
    passes=(Pass.DYNAMIC,),
    dynamic=True,
    summary="With the real targets and outputs, the loss raises or the shapes are incompatible.",
)
