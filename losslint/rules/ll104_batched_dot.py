"""LL104 batched-dot: `K.dot`-style products of two batched tensors (seed 002)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import libcst as cst

from losslint.dynamic.capture import SourceLine
from losslint.dynamic.describe import first_line_with, shape_text
from losslint.findings import Finding, Pass, Severity
from losslint.rule import Probe, Rule, Stage
from losslint.static.context import FileContext, code_of
from losslint.static.discovery import TensorFunction, derives, infer_rank, int_value
from losslint.static.names import Api

if TYPE_CHECKING:
    from losslint.dynamic.context import ModelContext

_DOTS = frozenset({"dot", "tensordot"})
# Products that can contract every axis of both operands: tensordot by its `axes`, vdot always.
_CONTRACTIONS = frozenset({"tensordot", "vdot"})
_SCALAR = "one scalar for the whole batch instead of one value per sample"


def check(ctx: FileContext) -> Iterator[Finding]:
    owners = {id(f.node): f for f in ctx.index.tensor_functions}
    for node in ctx.of_type(cst.Call):
        api = ctx.call_api(node)
        if api is None or api.op is None or api.leaf not in _DOTS | _CONTRACTIONS:
            continue
        operands = [a.value for a in node.args if a.keyword is None][:2]
        if len(operands) < 2:
            continue
        owner = _owner(ctx, node, owners)
        ranks = [_rank(ctx, operand, owner) for operand in operands]
        if api.leaf in _CONTRACTIONS:
            finding = _batch_contraction(ctx, node, api, operands, ranks, owner)
            if finding is not None:
                yield finding
            if finding is not None or api.leaf != "tensordot":
                continue  # one finding per product
        if any(rank is None or rank < 3 for rank in ranks):
            continue
        yield ctx.finding(
            RULE,
            node,
            f"`{api.short()}` of two batched tensors of rank {ranks[0]} and {ranks[1]} "
            f"(`{code_of(operands[0], 40)}`, `{code_of(operands[1], 40)}`) multiplies every "
            "sample with every other sample: Keras 3 gives (2,3,4,5)·(2,3,5,4) -> "
            "(2,3,4,2,3,4), not the per-sample (2,3,4,4), and the next layer fails with "
            "'Matrix size-incompatible'",
            "use `keras.ops.matmul(a, b)` or `tf.matmul(a, b)` for a per-sample product "
            "(`K.batch_dot` treats only axis 0 as batch and is wrong for rank 4 too)",
            scope=owner.node if owner is not None else None,
        )


def _batch_contraction(
    ctx: FileContext,
    call: cst.Call,
    api: Api,
    operands: list[cst.BaseExpression],
    ranks: list[int | None],
    owner: TensorFunction | None,
) -> Finding | None:
    """`tensordot(a, b, axes=2)`, `axes=[[0, 1], [0, 1]]` or `vdot(a, b)` on two batched tensors:
    every axis contracted, the batch axis included, so one scalar for the whole batch."""
    if not all(_batched(ctx, operand, owner) for operand in operands):
        return None
    a, b = (code_of(operand, 30) for operand in operands)
    shown = f"{api.short()}({a}, {b}"
    if api.leaf == "vdot":
        what = f"`{shown})` flattens `{a}` and `{b}`, batch axis included, and sums their product: {_SCALAR}"
    else:
        axes = next((arg.value for arg in call.args if arg.keyword is not None and arg.keyword.value == "axes"), None)
        if axes is None:
            positional = [arg.value for arg in call.args if arg.keyword is None]
            axes = positional[2] if len(positional) > 2 else None
        contracted = _all_axes(axes, ranks, _returned(ctx, call, owner)) if axes is not None else None
        if contracted is None:
            return None
        shown += f", axes={code_of(axes, 30)})"  # type: ignore[arg-type]
        what = f"`{shown}` {contracted}"
    where = "a loss" if owner is not None and owner.kind == "loss" else "a layer"
    effect = (
        "Keras gets no loss per sample to weigh or average, and the value is a sum that grows "
        "with the batch size"
        if where == "a loss"
        else "the layer's output has no batch axis left"
    )
    return ctx.finding(
        RULE,
        call,
        f"{what}; in {where}, {effect}",
        f"reduce the feature axes only, e.g. `keras.ops.sum({a} * {b}, axis=-1)` or "
        f"`keras.ops.einsum('bi,bi->b', {a}, {b})` (one value per sample)",
        scope=owner.node if owner is not None else None,
    )


def _returned(ctx: FileContext, call: cst.Call, owner: TensorFunction | None) -> bool:
    """The call is in what its loss or layer function returns (a `return`, a lambda's body)."""
    if owner is None:
        return False
    if isinstance(owner.node, cst.Lambda):
        return ctx.is_within(call, owner.node.body)
    return isinstance(ctx.enclosing(call, (cst.Return, cst.FunctionDef, cst.Lambda)), cst.Return)


def _all_axes(axes: cst.BaseExpression, ranks: list[int | None], returned: bool) -> str | None:
    """How `axes` contracts every axis of both operands, the batch axis included; else None.
    With ranks not visible (y_true/y_pred), an axes list is taken as every axis only when the
    function returns the product: `axes=[[0, 1, 2], [0, 1, 2]]` may keep a channel axis for
    per-batch statistics that the loss goes on to use (a discriminative instance loss)."""
    count = int_value(axes)
    if count is not None:
        if count < 2 or any(rank is not None and rank != count for rank in ranks):
            return None
        if all(rank == count for rank in ranks):
            return f"contracts every axis of two batched rank-{count} tensors: {_SCALAR}"
        return (
            f"contracts the last {count} axes of the first tensor with the first {count} of the second, the "
            f"second's batch axis among them: on tensors of rank {count} that is every axis, {_SCALAR} "
            "(on higher ranks it pairs the batch axis with a feature axis)"
        )
    if not isinstance(axes, (cst.List, cst.Tuple)) or len(axes.elements) != 2:
        return None
    lists: list[list[int]] = []
    for element in axes.elements:
        value = element.value
        if not isinstance(value, (cst.List, cst.Tuple)):
            return None
        given = [int_value(e.value) for e in value.elements]
        if any(g is None for g in given):
            return None
        lists.append([g for g in given if g is not None])
    if all(rank is not None for rank in ranks):
        if all({g % rank for g in given} == set(range(rank)) for given, rank in zip(lists, ranks)):  # type: ignore[operator]
            return f"contracts every axis of two batched rank-{ranks[0]} tensors: {_SCALAR}"
        return None
    count = len(lists[0])
    if returned and count >= 2 and all(sorted(given) == list(range(count)) for given in lists):
        return (
            f"contracts axes {', '.join(map(str, range(count)))} of both tensors, the batch axis among them, and "
            f"returns the product: on tensors of rank {count} that is every axis, {_SCALAR}"
        )
    return None


def _batched(ctx: FileContext, operand: cst.BaseExpression, owner: TensorFunction | None) -> bool:
    """A tensor with the batch axis first: y_true/y_pred or a layer's input (or computed from them
    keeping that axis), or a symbolic Keras tensor of visible rank."""
    if owner is not None and derives(ctx, operand, owner.tracked) is not None:
        return True
    return infer_rank(ctx, operand) is not None


def _owner(ctx: FileContext, node: cst.CSTNode, owners: dict[int, TensorFunction]) -> TensorFunction | None:
    current = ctx.enclosing(node, (cst.FunctionDef, cst.Lambda))
    while current is not None:
        if id(current) in owners:
            return owners[id(current)]
        current = ctx.enclosing(current, (cst.FunctionDef, cst.Lambda))
    return None


def _rank(ctx: FileContext, operand: cst.BaseExpression, owner: TensorFunction | None) -> int | None:
    if (
        owner is not None
        and isinstance(operand, cst.Name)
        and owner.kind == "layer"
        and owner.tracked.get(operand.value) == "input"
        and owner.params
        and operand.value == owner.params[0]
    ):
        return owner.input_rank
    return infer_rank(ctx, operand)


# ---- dynamic: a Lambda whose per-sample shape grows with the batch ------------------------


def probe(ctx: ModelContext) -> None:
    """A `K.dot` of two batched tensors ((2,3,4,5)·(2,3,5,4) -> (2,3,4,2,3,4)) in a Lambda:
    its output's per-sample shape changes with the batch size."""
    import keras
    import numpy as np
    import tensorflow as tf

    for layer in ctx.model._flatten_layers(include_self=False):
        code = getattr(getattr(layer, "function", None), "__code__", None)
        if not isinstance(layer, keras.layers.Lambda) or code is None or code.co_filename not in ctx.user:
            continue
        try:
            shape = tuple(layer.input.shape)
        except (AttributeError, ValueError):
            continue  # never called, or called on several inputs
        if len(shape) < 2 or any(d is None for d in shape[1:]):
            continue
        shapes = {}
        try:
            for batch in (2, 3):
                value = ctx.rng.normal(size=(batch, *shape[1:])).astype("float32")
                shapes[batch] = tuple(np.shape(layer.function(tf.constant(value))))
        except Exception:  # noqa: BLE001 - the layer's own failure shows in the forward pass
            continue
        if shapes[2][1:] == shapes[3][1:]:
            continue
        line = first_line_with(code, ("dot(", "tensordot(")) or code.co_firstlineno
        ctx.report(
            RULE,
            SourceLine(code.co_filename, line),
            f"the Lambda `{layer.name}` gives {shape_text(shapes[2])} for a batch of 2 and "
            f"{shape_text(shapes[3])} for a batch of 3 (input {shape_text(shape)}): its product "
            "multiplies every sample with every other sample, so the per-sample shape grows with "
            "the batch and the next layer fails (e.g. 'Matrix size-incompatible')",
            "use `keras.ops.matmul(a, b)` or `tf.matmul(a, b)` for a per-sample product",
        )


RULE = Rule(
    code="LL104",
    name="batched-dot",
    severity=Severity.ERROR,
    passes=(Pass.STATIC, Pass.DYNAMIC),
    dynamic=True,
    summary="`K.dot`/`tensordot` on two rank >= 3 tensors where a per-sample matmul is meant.",
    static_check=check,
    probes=(Probe(Stage.MODEL, probe),),
)
