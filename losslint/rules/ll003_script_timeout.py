"""LL003 script-timeout: reported by the dynamic pass (see rules/LL003-script-timeout.md)."""

from __future__ import annotations

from losslint.findings import Pass, Severity
from losslint.rule import Rule

RULE = Rule(
    code="LL003",
    name="script-timeout",
    severity=Severity.ERROR,
    passes=(Pass.DYNAMIC,),
    dynamic=True,
    summary="The script did not reach `fit` within the time limit.",
)
