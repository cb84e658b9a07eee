"""LL109 non-differentiable-loss: catalogue entry; no check is implemented yet (see rules/LL109-non-differentiable-loss.md)."""

from __future__ import annotations

from losslint.findings import Pass, Severity
from losslint.rule import Rule

RULE = Rule(
    code="LL109",
    name="non-differentiable-loss",
    severity=Severity.ERROR,
    passes=(Pass.STATIC, Pass.DYNAMIC,),
    summary="The loss does not depend differentiably on y_pred (argmax, round, int casts).",
)
