"""LL109 non-differentiable-loss: reported by the dynamic pass (losslint/dynamic/probe.py) (see rules/LL109-non-differentiable-loss.md)."""

from __future__ import annotations

from losslint.findings import Pass, Severity
from losslint.rule import Rule

RULE = Rule(
    code="LL109",
    name="non-differentiable-loss",
    severity=Severity.ERROR,
    passes=(Pass.STATIC, Pass.DYNAMIC,),
    dynamic=True,
    summary="The loss does not depend differentiably on y_pred (argmax, round, int casts).",
)
