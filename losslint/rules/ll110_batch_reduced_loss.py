"""LL110 batch-reduced-loss: reported by the dynamic pass (losslint/dynamic/probe.py) (see rules/LL110-batch-reduced-loss.md)."""

from __future__ import annotations

from losslint.findings import Pass, Severity
from losslint.rule import Rule

RULE = Rule(
    code="LL110",
    name="batch-reduced-loss",
    severity=Severity.WARNING,
    passes=(Pass.STATIC, Pass.DYNAMIC,),
    dynamic=True,
    summary="A function loss reduces over the batch axis itself (reduce_sum with no axis).",
)
