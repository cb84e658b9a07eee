"""LL305 metric-reset-states: a custom Metric overrides `reset_states`, which Keras 3 never calls
(seed 004; keras3-facts.md case 7').

`keras.metrics.Metric` has no `reset_states` in Keras 3 (and tf.keras 2.5+ only kept it as a
deprecated alias): fit and evaluate call `reset_state`, whose base version sets every metric
variable to zero. A class that also defines `reset_state` (itself or through a base class of
the file) is not reported: it is a compatibility alias.
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from losslint.findings import Finding, Pass, Severity
from losslint.rule import Rule
from losslint.static.context import FileContext, walk
from losslint.static.models import in_file_class


def check(ctx: FileContext) -> Iterator[Finding]:
    if "reset_states" not in ctx.source:
        return
    for cls in ctx.index.metric_classes:
        method = _method(cls, "reset_states")
        if method is None or _defines_reset_state(ctx, cls, set()):
            continue
        if _only_zeroes(method):
            consequence = (
                "here it only zeroes the variables, which the base `reset_state` also does, so the "
                "override is dead code that any non-zero reset added later will silently miss"
            )
        else:
            consequence = (
                "so a metric whose reset value is not zero (a running minimum, a product, a count "
                "started at 1) is silently wrong from the second epoch and in evaluate()"
            )
        yield ctx.finding(
            RULE, method.name,
            f"`{cls.name.value}.reset_states` overrides a method Keras 3's `Metric` does not have: fit "
            "and evaluate never call it, they call the base `reset_state` instead, which sets every "
            f"metric variable to zero; {consequence}",
            "rename the method to `reset_state` (singular)",
        )


def _method(cls: cst.ClassDef, name: str) -> cst.FunctionDef | None:
    for stmt in cls.body.body:
        if isinstance(stmt, cst.FunctionDef) and stmt.name.value == name:
            return stmt
    return None


def _defines_reset_state(ctx: FileContext, cls: cst.ClassDef, seen: set[int]) -> bool:
    if id(cls) in seen:
        return False
    seen.add(id(cls))
    if _method(cls, "reset_state") is not None:
        return True
    for base in cls.bases:
        parent = in_file_class(ctx, base.value)
        if parent is not None and _defines_reset_state(ctx, parent, seen):
            return True
    return False


def _only_zeroes(method: cst.FunctionDef) -> bool:
    """Every call in the body is `<variable>.assign(0)` (or of zeros/zeros_like)."""
    calls = [n for n in walk(method.body) if isinstance(n, cst.Call)]
    assigns = {id(c) for c in calls if isinstance(c.func, cst.Attribute) and c.func.attr.value == "assign"}
    if not assigns:
        return False
    for call in calls:
        if id(call) not in assigns:
            if _leaf(call.func) not in ("zeros", "zeros_like"):
                return False
            continue
        value = call.args[0].value if len(call.args) == 1 else None
        if isinstance(value, (cst.Integer, cst.Float)) and float(value.evaluated_value) == 0.0:
            continue
        if isinstance(value, cst.Call) and _leaf(value.func) in ("zeros", "zeros_like"):
            continue
        return False
    return True


def _leaf(func: cst.BaseExpression) -> str | None:
    if isinstance(func, cst.Name):
        return func.value
    if isinstance(func, cst.Attribute):
        return func.attr.value
    return None


RULE = Rule(
    code="LL305",
    name="metric-reset-states",
    severity=Severity.WARNING,
    passes=(Pass.STATIC,),
    summary="A custom Metric overrides reset_states, which Keras 3 never calls.",
    static_check=check,
)
