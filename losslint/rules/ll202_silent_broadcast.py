"""LL202 silent-broadcast: reported by the dynamic pass (losslint/dynamic/probe.py) (see rules/LL202-silent-broadcast.md)."""

from __future__ import annotations

from losslint.findings import Pass, Severity
from losslint.rule import Rule

RULE = Rule(
    code="LL202",
    name="silent-broadcast",
    severity=Severity.ERROR,
    passes=(Pass.DYNAMIC,),
    dynamic=True,
    summary="An elementwise op broadcasts y_true against y_pred into a larger tensor.",
)
