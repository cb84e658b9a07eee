"""LL202 silent-broadcast: catalogue entry; no check is implemented yet (see rules/LL202-silent-broadcast.md)."""

from __future__ import annotations

from losslint.findings import Pass, Severity
from losslint.rule import Rule

RULE = Rule(
    code="LL202",
    name="silent-broadcast",
    severity=Severity.ERROR,
    passes=(Pass.DYNAMIC,),
    summary="An elementwise op broadcasts y_true against y_pred into a larger tensor.",
)
