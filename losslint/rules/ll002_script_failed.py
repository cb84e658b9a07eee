"""LL002 script-failed: reported by the dynamic pass (see rules/LL002-script-failed.md)."""

from __future__ import annotations

from losslint.findings import Pass, Severity
from losslint.rule import Rule

RULE = Rule(
    code="LL002",
    name="script-failed",
    severity=Severity.ERROR,
    passes=(Pass.DYNAMIC,),
    dynamic=True,
    summary="The script raised before reaching `fit` (or never called compile/fit).",
)
