"""LL301 train-step-ignores-compiled-loss: catalogue entry; no check is implemented yet (see rules/LL301-train-step-ignores-compiled-loss.md)."""

from __future__ import annotations

from losslint.findings import Pass, Severity
from losslint.rule import Rule

RULE = Rule(
    code="LL301",
    name="train-step-ignores-compiled-loss",
    severity=Severity.WARNING,
    passes=(Pass.STATIC,),
    summary="A custom train_step computes its own loss while compile(loss=...) is also given.",
)
