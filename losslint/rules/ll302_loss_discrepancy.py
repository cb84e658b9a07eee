"""LL302 loss-discrepancy: reported by the dynamic pass (see rules/LL302-loss-discrepancy.md)."""

from __future__ import annotations

from losslint.findings import Pass, Severity
from losslint.rule import Rule

RULE = Rule(
    code="LL302",
    name="loss-discrepancy",
    severity=Severity.ERROR,
    passes=(Pass.DYNAMIC,),
    dynamic=True,
    summary="Measured: the loss train_step reports differs from the compiled loss.",
)
