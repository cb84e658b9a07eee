"""LL209 unbounded-loss: the loss is not bounded below in y_pred (seed 001's `y_true - y_pred`).
The dynamic pass (losslint/dynamic/probe.py) measures the loss falling without limit along its
negative gradient."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import libcst as cst

from losslint.dynamic.describe import BOUNDED_ACTIVATIONS, fmt, output_activation
from losslint.findings import Finding, Pass, Severity
from losslint.rule import Probe, Rule, Stage
from losslint.static.context import FileContext, code_of, walk
from losslint.static.dataflow import PREDICTION, TARGET, Analysis, analyse
from losslint.static.discovery import TensorFunction, int_value
from losslint.static.models import compile_receiver, final_activation, model_of
from losslint.static.names import linear_on_purpose
from losslint.static.tensor_functions import runs_on_tensors, trained_loss

if TYPE_CHECKING:
    from losslint.dynamic.context import ValuesContext

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
                f"loss `{loss.name}`{loss.unused_note} returns `{code_of(expr, 50)}`, a signed difference or product of "
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


# ---- dynamic: the loss keeps falling, without limit, along its negative gradient ----------


def probe(ctx: ValuesContext) -> bool:
    """Not where the output is squashed into a bounded range (softmax, sigmoid, tanh: the
    model cannot follow y_pred to infinity), nor for a loss that ignores y_true (`lambda
    y_true, y_pred: y_pred`: the model's output is itself the loss, and a dummy target is
    passed)."""
    import numpy as np

    grad, total = ctx.grad, ctx.total
    if grad is None or not np.any(grad) or linear_on_purpose(ctx.info.name):
        return False  # a Wasserstein critic or a policy loss is linear by design, as the static check knows
    if output_activation(ctx.output.layer)[0] in BOUNDED_ACTIVATIONS:
        return False
    y_true, y_pred = ctx.y_true, ctx.y_pred
    try:
        other, _, _ = ctx.evaluate(y_true[::-1] * 0.5 + 1.0, y_pred, gradient=False)
    except Exception:  # noqa: BLE001
        other = None
    if other is not None and np.isfinite(other) and np.isclose(other, total, rtol=1e-6, atol=1e-9):
        return False
    direction = grad / float(np.max(np.abs(grad)))
    values = [total]
    for step in (10.0, 100.0, 1000.0):
        try:
            value, _, _ = ctx.evaluate(y_true, y_pred - step * direction, gradient=False)
        except Exception:  # noqa: BLE001
            return False
        if not np.isfinite(value):
            return False
        values.append(value)
    d1 = values[1] - values[2]
    d2 = values[2] - values[3]
    if values[1] < values[0] and d1 > 0 and d2 >= 5 * d1 and d2 > 1e-3 * (1 + abs(values[0])):
        shown = " -> ".join(fmt(v) for v in values)
        ctx.report(
            RULE, ctx.info.def_site,
            f"{ctx.info.label} on output '{ctx.output.name}' is not bounded below in y_pred: moving y_pred along the "
            f"negative gradient by 0, 10, 100, 1000 takes the loss {shown}, so minimising it drives the "
            "predictions to infinity",
            "use a loss with its minimum at y_pred == y_true (square, abs, or a log-likelihood)",
        )
    return False


RULE = Rule(
    code="LL209",
    name="unbounded-loss",
    severity=Severity.ERROR,
    passes=(Pass.STATIC, Pass.DYNAMIC,),
    dynamic=True,
    summary="The loss is not bounded below in y_pred (e.g. y_true - y_pred).",
    static_check=check,
    probes=(Probe(Stage.VALUES, probe, rank=2),),
)
