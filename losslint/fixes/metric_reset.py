"""LL305 fix: rename `reset_states` to `reset_state` in a Keras Metric subclass.

Keras 3 calls `reset_state` at the start of every epoch and of evaluate(), never
`reset_states`; tf_keras (Keras 2) calls `reset_state` too and forwards its deprecated
`reset_states` to it. Renaming the definition makes Keras call the user's reset.

LL305 has no static check yet, so the finding is made here (on the method's name). Refused:
a class Keras does not see as a Metric (only `keras.metrics.*` subclasses, also through a class
of the same file); a class that also binds `reset_state`, or binds `reset_states` more than
once or otherwise than by one `def`; any `.reset_states` inside a Metric class of the file
(`super().reset_states()` would recurse after the rename); and `m.reset_states()` on an
instance of the class in this file (it would no longer exist under Keras 3). Calls from other
files cannot be seen.
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from losslint.fixes.base import Fix
from losslint.rules import ll305_metric_reset_states as ll305
from losslint.static.context import FileContext
from losslint.static.discovery import classes_instantiated

CODE = ll305.RULE.code
OLD, NEW = "reset_states", "reset_state"


def fixes(ctx: FileContext) -> Iterator[Fix]:
    metrics = ctx.index.metric_classes
    if not metrics:
        return
    references = [n for n in ctx.nodes if isinstance(n, cst.Attribute) and n.attr.value == OLD]
    if any(_inside_any(ctx, ref, metrics) for ref in references):
        return
    called_on = {cls for ref in references for cls in classes_instantiated(ctx, ref.value)}
    for cls in sorted(metrics, key=lambda c: ctx.start(c)):
        if cls in called_on:
            continue
        method = _only_definition(ctx, cls)
        if method is None:
            continue
        finding = ctx.finding(
            ll305.RULE, method.name,
            f"`{cls.name.value}.reset_states` overrides a method Keras 3 never calls: the metric "
            "is reset by the base `reset_state` (every variable to zero) instead",
            "rename the method to `reset_state`",
            scope=method,
        )
        yield Fix(finding, method.name, lambda updated: updated.with_changes(value=NEW))


def _inside_any(ctx: FileContext, node: cst.CSTNode, classes: set[cst.ClassDef]) -> bool:
    return any(ctx.is_within(node, cls) for cls in classes)


def _only_definition(ctx: FileContext, cls: cst.ClassDef) -> cst.FunctionDef | None:
    """The class's one `def reset_states` (directly in its body), when nothing else in the
    class body binds `reset_states` or `reset_state`."""
    defs = [s for s in cls.body.body if isinstance(s, cst.FunctionDef) and s.name.value == OLD]
    if len(defs) != 1:
        return None
    method = defs[0]
    scope = ctx.names.scope_of.get(method.name)
    if scope is None or scope.owner is not cls:
        return None
    bound = scope.names.get(OLD, [])
    if scope.names.get(NEW) or len(bound) != 1 or bound[0].node is not method:
        return None
    return method
