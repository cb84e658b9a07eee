"""LL104 batched-dot: `K.dot`-style products of two batched tensors (seed 002)."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from losslint.findings import Finding, Pass, Severity
from losslint.rule import Rule
from losslint.static.context import FileContext, code_of
from losslint.static.discovery import TensorFunction, infer_rank

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


RULE = Rule(
    code="LL104",
    name="batched-dot",
    severity=Severity.ERROR,
    passes=(Pass.STATIC, Pass.DYNAMIC),
    dynamic=True,
    summary="`K.dot`/`tensordot` on two rank >= 3 tensors where a per-sample matmul is meant.",
    static_check=check,
)
