"""LL207 non-finite-loss: catalogue entry; no check is implemented yet (see rules/LL207-non-finite-loss.md)."""

from __future__ import annotations

from losslint.findings import Pass, Severity
from losslint.rule import Rule

RULE = Rule(
    code="LL207",
    name="non-finite-loss",
    severity=Severity.WARNING,
    passes=(Pass.DYNAMIC,),
    summary="The loss is NaN/Inf on ordinary inputs.",
)
