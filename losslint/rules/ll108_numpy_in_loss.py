"""LL108 numpy-in-loss: a NumPy function applied to the target or the prediction inside a loss,
or `.numpy()` called on one of them."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from losslint.findings import Finding, Pass, Severity
from losslint.rule import Rule
from losslint.static.context import FileContext, code_of
from losslint.static.dataflow import STATIC, Analysis, analyse
from losslint.static.discovery import TensorFunction
from losslint.static.tensor_functions import runs_on_tensors, trained_loss

# NumPy functions with a keras.ops twin of another name.
_KERAS_NAME = {"absolute": "abs", "amax": "max", "amin": "min", "asarray": "convert_to_tensor",
               "array": "convert_to_tensor", "concatenate": "concatenate", "float32": "cast"}


def check(ctx: FileContext) -> Iterator[Finding]:
    for loss in ctx.index.losses:
        on_tensors = runs_on_tensors(ctx, loss)
        # `.numpy()` exists only on tensors (NumPy arrays have no such method), so a loss Keras
        # minimises that calls it on y_pred is given tensors even when it calls no tf/keras op
        # (a snippet whose `K` is not imported).
        if not on_tensors and not trained_loss(ctx, loss):
            continue
        analysis = analyse(ctx, loss)
        # A function found by its signature alone that takes `.numpy()` of its results is an
        # evaluation helper run eagerly (`evaluate_preds(y_true, y_pred)` after predict), unless
        # its name says it is a loss.
        eager_helper = bool(loss.unused_note) and "loss" not in loss.name.lower()
        for node in ctx.walk(loss.node.body):
            if not isinstance(node, cst.Call):
                continue
            numpy_of = None if eager_helper else _numpy_method_receiver(node, analysis)
            if numpy_of is not None:
                yield _numpy_method_finding(ctx, loss, analysis, node, numpy_of)
                continue
            if not on_tensors:
                continue
            api = ctx.call_api(node)
            if api is None or api.family != "np":
                continue
            fed = [a.value for a in node.args if (v := analysis.value(a.value)).roles and not v.numpy]
            if not fed:
                continue
            roles = analysis.value(fed[0]).roles
            twin = _KERAS_NAME.get(api.leaf, api.leaf)
            yield ctx.finding(
                RULE,
                node,
                f"`{api.short()}` in {loss.what} `{loss.name}`{loss.unused_note} is applied to `{code_of(fed[0], 40)}`, "
                f"computed from {analysis.names_for(roles)}: Keras 3 traces the {loss.what} into a graph "
                "and NumPy cannot read a symbolic tensor, so fit fails with 'Cannot convert a "
                "symbolic tf.Tensor to a numpy array' (with run_eagerly=True the result is a plain "
                "array outside the gradient tape: 'No gradients provided for any variable')",
                f"use the tensor op instead: `keras.ops.{twin}` (or its `tf.math` twin)",
                scope=loss.node,
            )


def _numpy_method_receiver(call: cst.Call, analysis: Analysis) -> cst.BaseExpression | None:
    """`t.numpy()` where `t` is computed from y_true/y_pred: the tensor it is called on."""
    func = call.func
    if call.args or not isinstance(func, cst.Attribute) or func.attr.value != "numpy":
        return None
    value = analysis.value(func.value)
    if not value.roles or value.kind == STATIC or value.numpy:
        return None
    return func.value


def _numpy_method_finding(
    ctx: FileContext, loss: TensorFunction, analysis: Analysis, call: cst.Call, receiver: cst.BaseExpression
) -> Finding:
    roles = analysis.value(receiver).roles
    return ctx.finding(
        RULE,
        call,
        f"`{code_of(call, 40)}` in loss `{loss.name}` asks for the NumPy value of a tensor computed "
        f"from {analysis.names_for(roles)}: Keras 3 traces the loss into a graph, where the tensor "
        "is symbolic and has no value, so fit fails (\"'SymbolicTensor' object has no attribute "
        "'numpy'\"); with run_eagerly=True it runs, but the array is outside the gradient tape, so "
        "nothing computed from it trains the model",
        "compute with tensor ops (`keras.ops` / `tf.math`) on the tensor itself; to run Python or "
        "external code on its values, wrap it in `tf.numpy_function` (not differentiable)",
        scope=loss.node,
    )


RULE = Rule(
    code="LL108",
    name="numpy-in-loss",
    severity=Severity.ERROR,
    passes=(Pass.STATIC,),
    summary="NumPy calls on tensors, or `.numpy()`, inside a loss.",
    static_check=check,
)
