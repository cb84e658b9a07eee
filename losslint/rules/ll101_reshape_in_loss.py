"""LL101 reshape-in-loss: the loss reshapes the target or the prediction (seed 000)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst

from losslint.dynamic.describe import shape_text
from losslint.dynamic.trace import PRED, OpInfo, Site, shape_of
from losslint.findings import Finding, Pass, Severity
from losslint.rule import Probe, Rule, Stage
from losslint.static.context import FileContext, code_of
from losslint.static.names import op_in

if TYPE_CHECKING:
    from losslint.dynamic.context import GraphContext

_RESHAPE = frozenset({"reshape"})
_SHAPE = frozenset({"shape"})


def check(ctx: FileContext) -> Iterator[Finding]:
    for loss in ctx.index.losses:
        if loss.origin == "metric":
            continue  # a metric may reshape what it is given: the model's outputs are not in question
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


# ---- dynamic: the traced loss reshapes y_true or y_pred themselves ------------------------


@dataclass(frozen=True)
class Reshape:
    site: Site
    role: str
    from_shape: tuple[int | None, ...]
    to_shape: tuple[int | None, ...]


def reshapes(ops: list[OpInfo]) -> list[Reshape]:
    """`reshape` of y_true/y_pred themselves, in user code, that changes more than size-1 axes."""
    found: list[Reshape] = []
    for info in ops:
        if info.type != "Reshape" or info.site is None or not info.in_direct:
            continue
        role = info.in_direct[0]
        if role is None:
            continue
        before = shape_of(info.op.inputs[0])
        after = info.out_shape()
        if before is None or after is None:
            continue
        if not before or not after or before[0] != after[0]:
            continue  # flattens the batch into other axes ((N, H, W, C) -> (N*H*W, C)): not a per-sample shape
        if _squeezed(before[1:]) == _squeezed(after[1:]):
            continue  # (N,) -> (N, 1) and the like: aligns ranks, keeps each sample's values
        found.append(Reshape(info.site, role, before, after))
    return found


def _squeezed(shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
    return tuple(d for d in shape if d != 1)


def probe(ctx: GraphContext) -> bool:
    if ctx.metric:
        return False  # a metric's shapes are LL202's
    for rs in reshapes(ctx.ops):
        if rs.role == PRED:
            target_shape = tuple(ctx.pair.target.shape[1:]) if ctx.pair.target is not None else None
            layer = f"keras.layers.Reshape({tuple(rs.to_shape[1:])})"
            extra = f" (targets {shape_text((ctx.size, *target_shape))})" if target_shape is not None else ""
            message = (
                f"{ctx.info.label} reshapes y_pred of output '{ctx.output.name}' from "
                f"{shape_text(rs.from_shape)} to {shape_text(rs.to_shape)}{extra} (line {rs.site.line}): the "
                "model's output does not have the targets' shape, so predict(), metrics and other losses "
                "see the unreshaped tensor"
            )
            fix = f"put a `{layer}` layer at the model output and drop the reshape from the loss"
        else:
            message = (
                f"{ctx.info.label} reshapes y_true for output '{ctx.output.name}' from "
                f"{shape_text(rs.from_shape)} to {shape_text(rs.to_shape)} (line {rs.site.line}): the "
                "targets do not have the model output's shape, so metrics and other losses see mismatched shapes"
            )
            fix = "give the targets the output's shape in the data pipeline and drop the reshape from the loss"
        ctx.report(RULE, rs.site, message, fix)
    return False


RULE = Rule(
    code="LL101",
    name="reshape-in-loss",
    severity=Severity.WARNING,
    passes=(Pass.STATIC, Pass.DYNAMIC),
    dynamic=True,
    summary="A loss reshapes y_pred/y_true: the model's outputs do not have the targets' shape.",
    static_check=check,
    probes=(Probe(Stage.GRAPH, probe),),
)
