"""LL203 loss-output-mismatch: reported by the dynamic pass (losslint/dynamic/probe.py) (see rules/LL203-loss-output-mismatch.md)."""

from __future__ import annotations

from losslint.findings import Pass, Severity
from losslint.rule import Rule

RULE = Rule(
    code="LL203",
    name="loss-output-mismatch",
    severity=Severity.ERROR,
    passes=(Pass.STATIC, Pass.DYNAMIC,),
    dynamic=True,
    summary="Losses, loss weights, targets and model outputs do not line up.",
)
