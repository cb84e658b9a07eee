"""LL209 unbounded-loss: reported by the dynamic pass (losslint/dynamic/probe.py) (see rules/LL209-unbounded-loss.md)."""

from __future__ import annotations

from losslint.findings import Pass, Severity
from losslint.rule import Rule

RULE = Rule(
    code="LL209",
    name="unbounded-loss",
    severity=Severity.ERROR,
    passes=(Pass.STATIC, Pass.DYNAMIC,),
    dynamic=True,
    summary="The loss is not bounded below in y_pred (e.g. y_true - y_pred).",
)
