"""LL204 from-logits-mismatch: reported by the dynamic pass (losslint/dynamic/probe.py) (see rules/LL204-from-logits-mismatch.md)."""

from __future__ import annotations

from losslint.findings import Pass, Severity
from losslint.rule import Rule

RULE = Rule(
    code="LL204",
    name="from-logits-mismatch",
    severity=Severity.ERROR,
    passes=(Pass.STATIC, Pass.DYNAMIC,),
    dynamic=True,
    summary="Output activation and loss disagree on logits vs probabilities.",
)
