"""LL101 reshape-in-loss: the loss reshapes the target or the prediction (seed 000)."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from losslint.findings import Finding, Pass, Severity
from losslint.rule import Rule
from losslint.static.context import FileContext, code_of, walk
from losslint.static.names import op_in

_RESHAPE = frozenset({"reshape"})


def check(ctx: FileContext) -> Iterator[Finding]:
    for loss in ctx.index.losses:
        for node in walk(loss.node.body):
            if not isinstance(node, cst.Call) or not node.args:
                continue
            api = ctx.call_api(node)
            if api is None or not op_in(api, _RESHAPE):
                continue
            role = loss.tracked.get(_name(node.args[0].value) or "")
            if role is None:
                continue
            reshaped = _name(node.args[0].value)
            shape = code_of(node.args[1].value) if len(node.args) > 1 else "?"
            yield ctx.finding(
                RULE,
                node,
                f"`{api.short()}` reshapes the {role} `{reshaped}` to {shape} inside loss "
                f"`{loss.name}`: the model's output does not have the targets' shape, so "
                "predict(), metrics and other losses see the unreshaped tensor (Keras 3 "
                "trains silently; tf.keras 2 failed with 'logits and labels must have the same shape')",
                f"put a `keras.layers.Reshape(...)` layer at the model output and drop the "
                f"reshape from `{loss.name}`",
                scope=loss.node,
                related=ctx.loss_related(loss),
            )


def _name(node: cst.BaseExpression) -> str | None:
    return node.value if isinstance(node, cst.Name) else None


RULE = Rule(
    code="LL101",
    name="reshape-in-loss",
    severity=Severity.WARNING,
    passes=(Pass.STATIC, Pass.DYNAMIC),
    dynamic=True,
    summary="A loss reshapes y_pred/y_true: the model's outputs do not have the targets' shape.",
    static_check=check,
)
