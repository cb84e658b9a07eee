"""LL207 non-finite-loss: reported by the dynamic pass (losslint/dynamic/probe.py) (see rules/LL207-non-finite-loss.md)."""

from __future__ import annotations

from losslint.findings import Pass, Severity
from losslint.rule import Rule

RULE = Rule(
    code="LL207",
    name="non-finite-loss",
    severity=Severity.WARNING,
    passes=(Pass.DYNAMIC,),
    dynamic=True,
    summary="The loss is NaN/Inf on ordinary inputs.",
)
