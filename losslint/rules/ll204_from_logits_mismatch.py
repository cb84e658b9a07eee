"""LL204 from-logits-mismatch: catalogue entry; no check is implemented yet (see rules/LL204-from-logits-mismatch.md)."""

from __future__ import annotations

from losslint.findings import Pass, Severity
from losslint.rule import Rule

RULE = Rule(
    code="LL204",
    name="from-logits-mismatch",
    severity=Severity.ERROR,
    passes=(Pass.STATIC, Pass.DYNAMIC,),
    summary="Output activation and loss disagree on logits vs probabilities.",
)
