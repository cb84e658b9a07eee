"""LL305 metric-reset-states: catalogue entry; no check is implemented yet (see rules/LL305-metric-reset-states.md)."""

from __future__ import annotations

from losslint.findings import Pass, Severity
from losslint.rule import Rule

RULE = Rule(
    code="LL305",
    name="metric-reset-states",
    severity=Severity.WARNING,
    passes=(Pass.STATIC,),
    summary="A custom Metric overrides reset_states, which Keras 3 never calls.",
)
