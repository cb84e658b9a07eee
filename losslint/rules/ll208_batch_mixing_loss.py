"""LL208 batch-mixing-loss: reported by the dynamic pass (losslint/dynamic/probe.py) (see rules/LL208-batch-mixing-loss.md)."""

from __future__ import annotations

from losslint.findings import Pass, Severity
from losslint.rule import Rule

RULE = Rule(
    code="LL208",
    name="batch-mixing-loss",
    severity=Severity.ERROR,
    passes=(Pass.DYNAMIC,),
    dynamic=True,
    summary="Sample i's loss depends on another sample's prediction or target.",
)
