"""LL303 symbolic-add-loss: catalogue entry; no check is implemented yet (see rules/LL303-symbolic-add-loss.md)."""

from __future__ import annotations

from losslint.findings import Pass, Severity
from losslint.rule import Rule

RULE = Rule(
    code="LL303",
    name="symbolic-add-loss",
    severity=Severity.ERROR,
    passes=(Pass.STATIC, Pass.DYNAMIC,),
    summary="model.add_loss on a functional model, or labels fed as Inputs for add_loss.",
)
