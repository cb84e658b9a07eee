"""LL304 custom-objects-missing: catalogue entry; no check is implemented yet (see rules/LL304-custom-objects-missing.md)."""

from __future__ import annotations

from losslint.findings import Pass, Severity
from losslint.rule import Rule

RULE = Rule(
    code="LL304",
    name="custom-objects-missing",
    severity=Severity.WARNING,
    passes=(Pass.STATIC,),
    summary="load_model of a model with custom objects, without custom_objects or compile=False.",
)
