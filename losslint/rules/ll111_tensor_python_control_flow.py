"""LL111 tensor-python-control-flow: reported by the dynamic pass (losslint/dynamic/probe.py) (see rules/LL111-tensor-python-control-flow.md)."""

from __future__ import annotations

from losslint.findings import Pass, Severity
from losslint.rule import Rule

RULE = Rule(
    code="LL111",
    name="tensor-python-control-flow",
    severity=Severity.ERROR,
    passes=(Pass.STATIC, Pass.DYNAMIC,),
    dynamic=True,
    summary="A Python if/while/for/and/or/not on a tensor inside a loss or a layer's call.",
)
