"""Which functions a rule looks at: the losses Keras minimises, the functions Keras surely
calls with tensors, the functions AutoGraph converts."""

from __future__ import annotations

import libcst as cst

from losslint.static.context import FileContext
from losslint.static.dataflow import tensor_op
from losslint.static.discovery import TensorFunction, compile_loss_arg


def trained_loss(ctx: FileContext, loss: TensorFunction) -> bool:
    """A loss Keras minimises: given to compile (directly, by a factory, as a Loss subclass),
    or a `(y_true, y_pred)` function named like a loss and not visibly used as something else.
    Functions found only by their signature are often metrics (accuracy, mean error, a
    `hamming_loss` given to a metric wrapper), and values computed in a train_step need not be
    what the step minimises."""
    if loss.kind != "loss" or loss.origin in ("train_step", "metric"):
        return False
    if loss.origin == "signature":
        short = loss.name.rsplit(".", 1)[-1]
        named = short if short != "call" else loss.name.rsplit(".", 2)[-2]  # `FocalLoss.call`
        return "loss" in named.lower() and not _used_as_a_value(ctx, loss.node, short)
    return True


def _used_as_a_value(ctx: FileContext, fn: cst.CSTNode, name: str) -> bool:
    """The function is passed somewhere by name (`Wrapper(fn)`, `self.f = self.fn`), other than
    as compile's loss: its role there is not visible."""
    loss_args = [arg for call in ctx.index.compile_calls if (arg := compile_loss_arg(call)) is not None]
    for node in ctx.nodes:
        if isinstance(node, cst.Name) and node.value == name:
            ref: cst.CSTNode = node
            parent = ctx.parent(node)
            if isinstance(parent, cst.Attribute):
                if parent.attr is not node:
                    continue
                ref, parent = parent, ctx.parent(parent)
            if isinstance(parent, (cst.FunctionDef, cst.ClassDef, cst.Param, cst.AssignTarget, cst.ImportAlias)):
                continue
            if isinstance(parent, cst.Call) and parent.func is ref:
                continue  # called: a helper of other code
            if isinstance(parent, cst.Arg) and parent.keyword is node:
                continue
            if any(ctx.is_within(ref, arg) for arg in loss_args):
                continue
            return True
    return False


def uses_tensor_ops(ctx: FileContext, function: TensorFunction) -> bool:
    """The function calls a TensorFlow or Keras function that computes tensors (`tf.reduce_sum`,
    `K.mean`, `keras.ops.abs`): it runs on tensors, not arrays. Utilities such as a backend's
    `result_type` do not count: Keras' NumPy backend calls them on arrays."""
    for node in ctx.walk(function.node.body):
        if isinstance(node, cst.Call):
            api = ctx.call_api(node)
            if api is not None and api.family in ("tf", "keras") and tensor_op(api) is not None:
                return True
    return False


def runs_on_tensors(ctx: FileContext, function: TensorFunction) -> bool:
    """Keras surely calls it with symbolic tensors: not a signature-only helper that may be
    a NumPy metric, nor a metric that may be updated eagerly outside fit."""
    if function.kind == "loss" and function.origin in ("signature", "metric"):
        return uses_tensor_ops(ctx, function)
    return True


def autographed(ctx: FileContext, function: TensorFunction) -> bool:
    """AutoGraph converts its control flow: decorated with `tf.function`, or (a loss found in a
    step or by its signature) called from a `tf.function` of the user's, as in a custom
    training loop. Functions Keras itself calls (compile's losses, layers) are never converted."""
    node = function.node
    if isinstance(node, cst.FunctionDef) and _tf_function(ctx, node):
        return True
    if function.kind != "loss" or function.origin not in ("train_step", "signature", "metric"):
        return False
    name = function.name.rsplit(".", 1)[-1]  # a metric: `m.update_state(...)` in a tf.function
    for call in ctx.nodes:
        if not isinstance(call, cst.Call):
            continue
        callee = call.func.attr if isinstance(call.func, cst.Attribute) else call.func
        if not isinstance(callee, cst.Name) or callee.value != name:
            continue
        caller = ctx.enclosing(call, (cst.FunctionDef,))
        while caller is not None:
            if _tf_function(ctx, caller):
                return True
            caller = ctx.enclosing(caller, (cst.FunctionDef,))
    return False


def _tf_function(ctx: FileContext, node: cst.FunctionDef) -> bool:
    for decorator in node.decorators:
        target = decorator.decorator
        if isinstance(target, cst.Call):
            target = target.func
        api = ctx.api(target)
        if api is not None and api.family == "tf" and api.leaf == "function":
            return True
    return False
