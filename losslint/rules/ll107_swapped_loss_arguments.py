"""LL107 swapped-loss-arguments: a loss defined as `(y_pred, y_true)`, or a crossentropy given the
prediction as its labels and the target as its logits."""

from __future__ import annotations

import re
from collections.abc import Iterator

import libcst as cst

from losslint.findings import Finding, Pass, Severity
from losslint.rule import Rule
from losslint.static.context import FileContext, code_of
from losslint.static.dataflow import PREDICTION, TARGET, Analysis, analyse
from losslint.static.discovery import TensorFunction
from losslint.static.names import Api

# Parameter names that say what they hold.
_PRED_NAME = re.compile(r"(?i)^(y_?pred(s|iction|ictions)?|.+_pred|preds?|predictions?|y_?hat|logits|outputs?|y_out)$")
_TARGET_NAME = re.compile(r"(?i)^(y_?true|.+_true|true|targets?|labels?|y|gt|y_gt|ground_truth|y_target)$")

# tf.nn crossentropies: labels first, logits second (TF 2 signatures).
_WITH_LOGITS = frozenset({
    "sigmoid_cross_entropy_with_logits", "softmax_cross_entropy_with_logits",
    "softmax_cross_entropy_with_logits_v2", "sparse_softmax_cross_entropy_with_logits",
    "weighted_cross_entropy_with_logits",
})
# Keras crossentropy functions: (y_true, y_pred) or (target, output).
_KERAS_CROSSENTROPY = frozenset({
    "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
    "binary_focal_crossentropy", "categorical_focal_crossentropy",
})
_KERAS_LABEL_KEYWORDS = ("y_true", "target")
_KERAS_PRED_KEYWORDS = ("y_pred", "output")


def check(ctx: FileContext) -> Iterator[Finding]:
    for loss in ctx.index.losses:
        if _swapped_signature(loss):
            yield _signature_finding(ctx, loss)
            continue
        analysis = analyse(ctx, loss)
        for node in ctx.walk(loss.node.body):
            if isinstance(node, cst.Call):
                finding = _swapped_call(ctx, loss, analysis, node)
                if finding is not None:
                    yield finding


def _swapped_signature(loss: TensorFunction) -> bool:
    if loss.origin == "signature" or len(loss.params) < 2:
        return False
    first, second = loss.params[0], loss.params[1]
    return bool(_PRED_NAME.match(first)) and bool(_TARGET_NAME.match(second))


def _signature_finding(ctx: FileContext, loss: TensorFunction) -> Finding:
    first, second = loss.params[0], loss.params[1]
    node = loss.node.params
    params = [*node.posonly_params, *node.params]
    if params and params[0].name.value in ("self", "cls") and len(params) > 2:
        params = params[1:]
    shown = f"def {loss.name.rsplit('.', 1)[-1]}(" if isinstance(loss.node, cst.FunctionDef) else "lambda "
    where = {
        "subclass": "Keras calls `Loss.call(y_true, y_pred)`",
        "train_step": "the train_step calls it with the target first and the prediction second",
    }.get(loss.origin, "Keras calls every loss as `loss(y_true, y_pred)`, positionally")
    return ctx.finding(
        RULE,
        params[0],
        f"loss `{loss.name}` is defined as `({first}, {second})` but {where}: inside it `{first}` "
        f"holds the targets and `{second}` the model's output. A symmetric loss (MSE, MAE) hides "
        "the swap; any other loss trains silently on the mirrored objective (a crossentropy "
        "with targets as logits has no minimum)",
        f"swap the parameters: `{shown}{second}, {first}`",
        scope=loss.node,
        related=tuple(ctx.related(c, "loss given to compile here") for c in loss.compile_calls),
    )


def _swapped_call(ctx: FileContext, loss: TensorFunction, analysis: Analysis, call: cst.Call) -> Finding | None:
    slots = _label_and_prediction_slots(ctx, call)
    if slots is None:
        return None
    (label_slot, label_node), (pred_slot, pred_node), shown = slots
    label_roles = analysis.value(label_node).roles
    pred_roles = analysis.value(pred_node).roles
    if label_roles != {PREDICTION} or pred_roles != {TARGET}:
        return None
    fixed = call.with_changes(args=[
        arg.with_changes(value=pred_node) if arg.value is label_node
        else arg.with_changes(value=label_node) if arg.value is pred_node
        else arg
        for arg in call.args
    ])
    return ctx.finding(
        RULE,
        call,
        f"`{shown}` in loss `{loss.name}` gets the prediction `{code_of(label_node, 30)}` as "
        f"{label_slot} and the target `{code_of(pred_node, 30)}` as {pred_slot}: the "
        "crossentropy is then linear in the model's output and has no minimum, so Keras 3 "
        "trains silently while the loss falls without limit (LL209)",
        f"give the target as {label_slot} and the prediction as {pred_slot}: `{code_of(fixed, 90)}`",
        scope=loss.node,
    )


def _label_and_prediction_slots(
    ctx: FileContext, call: cst.Call
) -> tuple[tuple[str, cst.BaseExpression], tuple[str, cst.BaseExpression], str] | None:
    """((label keyword, its argument), (prediction keyword, its argument), shown name)."""
    api = ctx.call_api(call)
    if api is not None and api.family == "tf" and api.leaf in _WITH_LOGITS:
        positional_ok = not api.root.endswith("compat.v1")  # v1 takes a _sentinel first
        return _slots(call, ("labels",), ("logits",), positional_ok, api.short())
    if api is not None and api.family == "keras" and api.leaf in _KERAS_CROSSENTROPY and not api.leaf[0].isupper():
        return _slots(call, _KERAS_LABEL_KEYWORDS, _KERAS_PRED_KEYWORDS, True, api.short())
    loss_class = _crossentropy_instance(ctx, call.func)
    if loss_class is not None:
        return _slots(call, ("y_true",), ("y_pred",), True, f"{loss_class.short()}(...)")
    return None


def _slots(
    call: cst.Call, label_keys: tuple[str, ...], pred_keys: tuple[str, ...], positional_ok: bool, shown: str
) -> tuple[tuple[str, cst.BaseExpression], tuple[str, cst.BaseExpression], str] | None:
    """The label and prediction arguments, each with how to name its slot in a message."""
    positional = [a.value for a in call.args if a.keyword is None and not a.star] if positional_ok else []
    label = pred = None
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value in label_keys:
            label = (f"`{arg.keyword.value}=`", arg.value)
        elif arg.keyword is not None and arg.keyword.value in pred_keys:
            pred = (f"`{arg.keyword.value}=`", arg.value)
    if label is None and positional:
        label = (f"its first argument (`{label_keys[0]}`)", positional.pop(0))
    if pred is None and positional:
        pred = (f"its second argument (`{pred_keys[0]}`)", positional.pop(0))
    if label is None or pred is None:
        return None
    return label, pred, shown


def _crossentropy_instance(ctx: FileContext, func: cst.BaseExpression, depth: int = 0) -> Api | None:
    """The keras crossentropy Loss class `func` is an instance of: `BinaryCrossentropy(...)`,
    a name bound to one, or `self.attr` assigned one in the class."""
    if depth > 3:
        return None
    if isinstance(func, cst.Call):
        api = ctx.call_api(func)
        if api is not None and api.family == "keras" and api.leaf.endswith("Crossentropy"):
            return api
        return None
    if isinstance(func, cst.Name):
        values = [b for b in ctx.bindings(func) if isinstance(b, cst.BaseExpression)]
        if len(values) == 1:
            return _crossentropy_instance(ctx, values[0], depth + 1)
        return None
    if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value == "self":
        cls = ctx.enclosing(func, (cst.ClassDef,))
        if cls is None:
            return None
        found: list[Api] = []
        for node in ctx.walk(cls):
            if isinstance(node, cst.Assign) and len(node.targets) == 1:
                target = node.targets[0].target
                if (
                    isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name)
                    and target.value.value == "self" and target.attr.value == func.attr.value
                ):
                    api = _crossentropy_instance(ctx, node.value, depth + 1)
                    if api is None:
                        return None
                    found.append(api)
        return found[0] if found else None
    return None


RULE = Rule(
    code="LL107",
    name="swapped-loss-arguments",
    severity=Severity.ERROR,
    passes=(Pass.STATIC,),
    summary="A loss defined as (y_pred, y_true), or labels=/logits= swapped.",
    static_check=check,
)
