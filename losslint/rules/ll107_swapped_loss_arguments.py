"""LL107 swapped-loss-arguments: catalogue entry; no check is implemented yet (see rules/LL107-swapped-loss-arguments.md)."""

from __future__ import annotations

from losslint.findings import Pass, Severity
from losslint.rule import Rule

RULE = Rule(
    code="LL107",
    name="swapped-loss-arguments",
    severity=Severity.ERROR,
    passes=(Pass.STATIC,),
    summary="A loss defined as (y_pred, y_true), or labels=/logits= swapped.",
)
