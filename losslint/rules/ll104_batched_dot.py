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
from losslint.static.discovery import TensorFunction, infer_rank

if TYPE_CHECKING:
    from losslint.dynamic.context import ModelContext

_DOTS = frozenset({"dot", "tensordot"})


def check(ctx: FileContext) -> Iterator[Finding]:
    owners = {id(f.node): f for f in ctx.index.tensor_functions}
    for node in ctx.of_type(cst.Call):
        api = ctx.call_api(node)
        if api is None or api.op is None or api.leaf not in _DOTS:
            continue
        operands = [a.value for a in node.args if a.keyword is None][:2]
        if len(operands) < 2:
            continue
        owner = _owner(ctx, node, owners)
        ranks = [_rank(ctx, operand, owner) for operand in operands]
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
