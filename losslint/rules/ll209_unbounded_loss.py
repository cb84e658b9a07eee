"""LL209 unbounded-loss: the loss is not bounded below in y_pred (seed 001's `y_true - y_pred`).
The dynamic pass (losslint/dynamic/probe.py) measures the loss falling without limit along its
negative gradient."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from losslint.findings import Finding, Pass, Severity
from losslint.rule import Rule
from losslint.static.context import FileContext, code_of, walk
from losslint.static.dataflow import PREDICTION, TARGET, Analysis, analyse, runs_on_tensors, trained_loss
from losslint.static.discovery import TensorFunction, int_value
from losslint.static.names import linear_on_purpose
from losslint.static.models import compile_receiver, final_activation, model_of

def check(ctx: FileContext) -> Iterator[Finding]:
    for loss in ctx.index.losses:
        if not trained_loss(ctx, loss) or not runs_on_tensors(ctx, loss):
            continue
        if linear_on_purpose(loss.name):
            continue
        if _indexes_batch_axis(loss):
            continue  # LL102 reports it: the value is not what the author meant to compute
        if _bounded_outputs(ctx, loss):
            continue
        analysis = analyse(ctx, loss)
        for expr, value in analysis.returns:
            if not value.linear or not {TARGET, PREDICTION} <= value.roles:
                continue
            names = analysis.names_for({TARGET, PREDICTION})
            yield ctx.finding(
                RULE,
                expr,
                f"loss `{loss.name}` returns `{code_of(expr, 50)}`, a signed difference or product of "
                f"{names} with no square, abs, log or maximum around it: it has no minimum, so "
                "Keras 3 trains silently while the loss falls below zero without limit and the "
                "predictions drift to infinity",
                "use a loss with its minimum at y_pred == y_true: "
                f"`keras.ops.mean(keras.ops.square({_difference(analysis)}), axis=-1)` (or abs, "
                "or a crossentropy for labels)",
                scope=loss.node,
                related=tuple(ctx.related(c, "loss given to compile here") for c in loss.compile_calls),
            )


def _bounded_outputs(ctx: FileContext, loss: TensorFunction) -> bool:
    """Every model the loss is compiled for visibly ends in a softmax or sigmoid: y_pred lives in
    [0, 1], so a loss linear in it (minus the probability of the true class) is bounded."""
    if not loss.compile_calls:
        return False
    for call in loss.compile_calls:
        receiver = compile_receiver(call)
        model = model_of(ctx, receiver) if receiver is not None else None
        if model is None or not model.outputs:
            return False
        for output in model.outputs:
            activation = final_activation(ctx, output)
            if activation is None or activation.name not in ("softmax", "sigmoid"):
                return False
    return True


def _indexes_batch_axis(loss: TensorFunction) -> bool:
    """`y_true[0]`-style integer indexing of a tracked tensor (LL102) anywhere in the loss."""
    for node in walk(loss.node.body):
        if isinstance(node, cst.Subscript) and isinstance(node.value, cst.Name) and node.value.value in loss.tracked:
            first = node.slice[0].slice if node.slice else None
            if isinstance(first, cst.Index) and int_value(first.value) is not None:
                return True
    return False


def _difference(analysis: Analysis) -> str:
    by_role = {role: name for name, role in analysis.roots.items()}
    return f"{by_role.get(TARGET, 'y_true')} - {by_role.get(PREDICTION, 'y_pred')}"


RULE = Rule(
    code="LL209",
    name="unbounded-loss",
    severity=Severity.ERROR,
    passes=(Pass.STATIC, Pass.DYNAMIC,),
    dynamic=True,
    summary="The loss is not bounded below in y_pred (e.g. y_true - y_pred).",
    static_check=check,
)
