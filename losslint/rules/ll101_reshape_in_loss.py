"""LL101 reshape-in-loss: the loss reshapes the target or the prediction (seed 000)."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from losslint.findings import Finding, Pass, Severity
from losslint.rule import Rule
from losslint.static.context import FileContext, code_of
from losslint.static.names import op_in

_RESHAPE = frozenset({"reshape"})
_SHAPE = frozenset({"shape"})


def check(ctx: FileContext) -> Iterator[Finding]:
    for loss in ctx.index.losses:
        for node in ctx.walk(loss.node.body):
            if not isinstance(node, cst.Call) or not node.args:
                continue
            api = ctx.call_api(node)
            if api is None or not op_in(api, _RESHAPE):
                continue
            role = loss.tracked.get(_name(node.args[0].value) or "")
            if role is None:
                continue
            reshaped = _name(node.args[0].value)
            if len(node.args) > 1 and _aligns_only(ctx, node.args[1].value, loss.tracked):
                continue
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


def _aligns_only(ctx: FileContext, shape: cst.BaseExpression, tracked: dict[str, str]) -> bool:
    """Reshapes that keep each sample's values and give the tensors no new layout, as the
    dynamic pass measures too: flattening (`[-1]`), adding or dropping a size-1 axis
    (`[-1, 1]`), or taking the other tensor's shape (`ops.shape(y_pred)`, `y_pred.shape`)."""
    if isinstance(shape, (cst.List, cst.Tuple)):
        elements = [e.value for e in shape.elements if isinstance(e, cst.Element)]
        if len(elements) == 2 and _int(elements[0]) == -1 and _last_dim(ctx, elements[1], tracked):
            return True  # `[-1, y_pred.shape[-1]]`: the leading axes flattened, each row kept
        values = [_int(e) for e in elements]
        return len(values) == len(shape.elements) and bool(values) and values[0] == -1 and set(values[1:]) <= {1}
    if _int(shape) == -1:
        return True
    if isinstance(shape, cst.Attribute) and shape.attr.value == "shape":
        return _name(shape.value) in tracked
    if isinstance(shape, cst.Call) and len(shape.args) == 1 and _name(shape.args[0].value) in tracked:
        api = ctx.call_api(shape)
        return api is not None and op_in(api, _SHAPE)
    return False


def _last_dim(ctx: FileContext, node: cst.BaseExpression, tracked: dict[str, str]) -> bool:
    """`y_pred.shape[-1]` or `ops.shape(y_pred)[-1]` of the target or prediction."""
    if not isinstance(node, cst.Subscript) or len(node.slice) != 1:
        return False
    index = node.slice[0].slice
    if not isinstance(index, cst.Index) or _int(index.value) != -1:
        return False
    return _aligns_only(ctx, node.value, tracked)


def _int(node: cst.BaseExpression) -> int | None:
    if isinstance(node, cst.Integer):
        return int(node.value)
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus) and isinstance(node.expression, cst.Integer):
        return -int(node.expression.value)
    return None


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
