"""LL205 label-encoding-mismatch: reported by the dynamic pass (losslint/dynamic/probe.py) (see rules/LL205-label-encoding-mismatch.md)."""

from __future__ import annotations

from losslint.findings import Pass, Severity
from losslint.rule import Rule

RULE = Rule(
    code="LL205",
    name="label-encoding-mismatch",
    severity=Severity.ERROR,
    passes=(Pass.DYNAMIC,),
    dynamic=True,
    summary="Sparse vs categorical encoding of the targets, or labels out of range.",
)
