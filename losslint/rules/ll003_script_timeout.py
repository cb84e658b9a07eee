"""LL003 script-timeout: catalogue entry; no check is implemented yet (see rules/LL003-script-timeout.md)."""

from __future__ import annotations

from losslint.findings import Pass, Severity
from losslint.rule import Rule

RULE = Rule(
    code="LL003",
    name="script-timeout",
    severity=Severity.ERROR,
    passes=(Pass.DYNAMIC,),
    summary="The script did not reach `fit` within the time limit.",
)
