"""LL108 numpy-in-loss: a NumPy function applied to the target or the prediction inside a loss."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from losslint.findings import Finding, Pass, Severity
from losslint.rule import Rule
from losslint.static.context import FileContext, code_of
from losslint.static.dataflow import analyse
from losslint.static.tensor_functions import runs_on_tensors

# NumPy functions with a keras.ops twin of another name.
_KERAS_NAME = {"absolute": "abs", "amax": "max", "amin": "min", "asarray": "convert_to_tensor",
               "array": "convert_to_tensor", "concatenate": "concatenate", "float32": "cast"}


def check(ctx: FileContext) -> Iterator[Finding]:
    for loss in ctx.index.losses:
        if not runs_on_tensors(ctx, loss):
            continue
        analysis = analyse(ctx, loss)
        for node in ctx.walk(loss.node.body):
            if not isinstance(node, cst.Call):
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


RULE = Rule(
    code="LL108",
    name="numpy-in-loss",
    severity=Severity.ERROR,
    passes=(Pass.STATIC,),
    summary="NumPy calls on tensors inside a loss.",
    static_check=check,
)
