"""LL108 numpy-in-loss: catalogue entry; no check is implemented yet (see rules/LL108-numpy-in-loss.md)."""

from __future__ import annotations

from losslint.findings import Pass, Severity
from losslint.rule import Rule

RULE = Rule(
    code="LL108",
    name="numpy-in-loss",
    severity=Severity.ERROR,
    passes=(Pass.STATIC,),
    summary="NumPy calls on tensors inside a loss.",
)
