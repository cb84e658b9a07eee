"""LL206 loss-probe-failed: reported by the dynamic pass (losslint/dynamic/probe.py) (see rules/LL206-loss-probe-failed.md)."""

from __future__ import annotations

from losslint.findings import Pass, Severity
from losslint.rule import Rule

RULE = Rule(
    code="LL206",
    name="loss-probe-failed",
    severity=Severity.ERROR,
    passes=(Pass.DYNAMIC,),
    dynamic=True,
    summary="The loss raises on dummy tensors of the right shapes.",
)
