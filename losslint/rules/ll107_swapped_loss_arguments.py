"""LL107 swapped-loss-arguments: a loss defined as `(y_pred, y_true)`, or a crossentropy given the
prediction as its labels and the target as its logits."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst

from losslint.findings import Finding, Pass, Severity
from losslint.rule import Rule
from losslint.static.context import FileContext, code_of, dotted
from losslint.static.dataflow import PREDICTION, TARGET, Analysis, analyse
from losslint.static.discovery import TensorFunction, classes_instantiated
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
# TF1 losses (`tf.compat.v1.losses.*`, `tf.losses.*` of TF 1): (label keyword, prediction
# keyword), both positional: `softmax_cross_entropy(onehot_labels, logits, weights=1.0, ...)`.
_TF1_LOSSES = {
    "softmax_cross_entropy": ("onehot_labels", "logits"),
    "sparse_softmax_cross_entropy": ("labels", "logits"),
    "sigmoid_cross_entropy": ("multi_class_labels", "logits"),
    "log_loss": ("labels", "predictions"),
    "hinge_loss": ("labels", "logits"),
}

# Outside a loss (a custom training loop, a train_step, TF1 graph code), what an argument holds
# is known from where it comes from, or from a name that says it.
_PREDICTION_NAME = re.compile(
    r"(?i)^(y_?pred(s|iction|ictions)?|preds?|predictions?|y_?hat|logits|.+_logits|logits_.+|y_conv|outputs?)$"
)
_DATA_NAME = re.compile(
    r"(?i)^(y_?true|y_|ys?|labels?|.+_labels?|labels?_.+|targets?|.+_targets?|onehot_labels|y_batch|batch_y|y_train)$"
)
# Names that can mean nothing else: one of them, on either side of a call, is evidence enough.
_CLEAR_PREDICTION_NAME = re.compile(r"(?i)^(logits|.+_logits|y_?pred|y_conv|predictions)$")
_CLEAR_TARGET_NAME = re.compile(r"(?i)^(labels|.+_labels|onehot_labels|y_?true|y_|targets)$")
_CASTS = frozenset({"cast", "convert_to_tensor", "identity", "one_hot", "to_float", "stop_gradient"})


def check(ctx: FileContext) -> Iterator[Finding]:
    in_losses: set[int] = set()
    for loss in ctx.index.losses:
        in_losses.update(id(n) for n in ctx.walk(loss.node))
        if _swapped_signature(loss):
            yield _signature_finding(ctx, loss)
            continue
        analysis = analyse(ctx, loss)
        for node in ctx.walk(loss.node.body):
            if isinstance(node, cst.Call):
                finding = _swapped_call(ctx, loss, analysis, node)
                if finding is not None:
                    yield finding
    for node in ctx.of_type(cst.Call):
        if id(node) not in in_losses:
            finding = _swapped_call_outside_losses(ctx, node)
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
    return _call_finding(ctx, call, slots, f" in loss `{loss.name}`", "", "", loss.node)


def _call_finding(
    ctx: FileContext,
    call: cst.Call,
    slots: tuple[tuple[str, cst.BaseExpression], tuple[str, cst.BaseExpression], str],
    where: str,
    label_why: str,
    pred_why: str,
    scope: cst.CSTNode | None,
) -> Finding:
    (label_slot, label_node), (pred_slot, pred_node), shown = slots
    fixed = call.with_changes(args=[
        arg.with_changes(value=pred_node) if arg.value is label_node
        else arg.with_changes(value=label_node) if arg.value is pred_node
        else arg
        for arg in call.args
    ])
    if "sparse" in shown.lower():
        effect = (
            "a sparse crossentropy takes integer class ids one rank below the logits as its labels, "
            "so it fails with \"ValueError: `labels.shape.rank` must equal `logits.shape.rank - 1`\" "
            "(Keras: \"Argument `output` must have rank (ndim) `target.ndim - 1`\")"
        )
    else:
        effect = (
            "the crossentropy is then linear in the model's output, a different objective that "
            "trains silently (on logits it has no minimum: the loss falls without limit, LL209)"
        )
    return ctx.finding(
        RULE,
        call,
        f"`{shown}`{where} gets the prediction `{code_of(label_node, 30)}`{label_why} as "
        f"{label_slot} and the target `{code_of(pred_node, 30)}`{pred_why} as {pred_slot}: {effect}",
        f"give the target as {label_slot} and the prediction as {pred_slot}: `{code_of(fixed, 90)}`",
        scope=scope,
    )


def _swapped_call_outside_losses(ctx: FileContext, call: cst.Call) -> Finding | None:
    """A crossentropy in a training loop, a train_step or TF1 graph code: the prediction comes
    from the model (or is named so) and the target from the data (or is named so). One of the
    two must be sure: seen to come from the model or the data, or named so that it can mean
    nothing else (`logits`, `labels`); `output` against `y` is not enough."""
    slots = _label_and_prediction_slots(ctx, call)
    if slots is None:
        return None
    (_, label_node), (_, pred_node), _ = slots
    label = _evidence(ctx, label_node)
    pred = _evidence(ctx, pred_node)
    if label is None or pred is None or label.role != PREDICTION or pred.role != TARGET:
        return None
    if not (label.sure or pred.sure):
        return None  # `output` and `y`: names that may mean something else
    return _call_finding(ctx, call, slots, "", label.why, pred.why, None)


@dataclass(frozen=True)
class Evidence:
    """What an argument holds outside a loss: PREDICTION or TARGET, and why we know."""

    role: str
    why: str  # for the message: " (the model's output, line 12)"
    sure: bool  # seen where the value comes from, or named so that it can mean nothing else


def _evidence(ctx: FileContext, expr: cst.BaseExpression, depth: int = 0) -> Evidence | None:
    if isinstance(expr, cst.Call) and depth < 3:
        api = ctx.call_api(expr)
        if api is not None and api.op is not None and api.leaf in _CASTS and expr.args:
            return _evidence(ctx, expr.args[0].value, depth + 1)
        return None
    if isinstance(expr, cst.Name):
        name = expr.value
        found = [_binding_kind(ctx, site) for site in ctx.binding_sites(expr)]
    elif isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name) and expr.value.value == "self":
        name = expr.attr.value
        found = _attribute_kinds(ctx, expr)  # TF 1 models keep their tensors in attributes
    else:
        return None
    kinds = {kind for kind, _ in found}
    if len(kinds) == 1 and found:
        kind, line = found[0]
        if kind == "model":
            return Evidence(PREDICTION, f" (the model's output, line {line})", True)
        if kind == "data":
            return Evidence(TARGET, f" (from the data, line {line})", True)
        if kind == "placeholder" and _DATA_NAME.match(name):
            return Evidence(TARGET, f" (a placeholder fed with the data, line {line})", True)
        if kind == "computed" and not _CLEAR_TARGET_NAME.match(name):
            # Computed by tensor ops (TF 1: `tf.matmul(h, W) + b`): the model's output when the
            # other argument is sure to be the data; on its own, only as sure as its name.
            return Evidence(
                PREDICTION, f" (computed in the graph, line {line})", bool(_CLEAR_PREDICTION_NAME.match(name))
            )
    if kinds & {"model", "data", "placeholder"}:
        return None  # a placeholder for the inputs, or sources that disagree: nothing to say
    if _PREDICTION_NAME.match(name):
        return Evidence(PREDICTION, "", bool(_CLEAR_PREDICTION_NAME.match(name)))
    if _DATA_NAME.match(name):
        return Evidence(TARGET, "", bool(_CLEAR_TARGET_NAME.match(name)))
    return None


def _binding_kind(ctx: FileContext, site: cst.CSTNode) -> tuple[str, int]:
    """(kind, line) for one binding of a name: see _value_kind; "data" for a loop target."""
    line = ctx.start(site)[0]
    statement = ctx.enclosing(site, (cst.For, cst.Assign, cst.FunctionDef, cst.Lambda, cst.ClassDef))
    if isinstance(statement, cst.For) and ctx.is_within(site, statement.target):
        return "data", line  # `for x, y in dataset:`
    if not isinstance(statement, cst.Assign) or not any(ctx.is_within(site, t) for t in statement.targets):
        return "other", line
    unpacked = any(isinstance(t.target, (cst.Tuple, cst.List)) for t in statement.targets)
    return _value_kind(ctx, statement.value, unpacked), line


def _attribute_kinds(ctx: FileContext, attribute: cst.Attribute) -> list[tuple[str, int]]:
    """(kind, line) for each `self.<attr> = value` of the class (`= None` placeholders skipped)."""
    cls = ctx.enclosing(attribute, (cst.ClassDef,))
    if cls is None:
        return []
    found: list[tuple[str, int]] = []
    for node in ctx.walk(cls):
        if not isinstance(node, cst.Assign) or len(node.targets) != 1:
            continue
        target = node.targets[0].target
        if (
            isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name)
            and target.value.value == "self" and target.attr.value == attribute.attr.value
            and not (isinstance(node.value, cst.Name) and node.value.value == "None")
        ):
            found.append((_value_kind(ctx, node.value, False), ctx.start(node)[0]))
    return found


def _value_kind(ctx: FileContext, value: cst.BaseExpression, unpacked: bool) -> str:
    """"model" (a call of the model), "data" (unpacked from a batch), "placeholder",
    "computed" (by tensor ops) or "other"."""
    if isinstance(value, cst.Call):
        api = ctx.call_api(value)
        if api is not None and (api.leaf == "placeholder" or api.path in ("Input", "layers.Input")):
            return "placeholder"
        if api is not None and api.leaf == "unpack_x_y_sample_weight":
            return "data"
        if api is None and _is_model(ctx, value.func):
            return "model"
        if api is None and unpacked and isinstance(value.func, cst.Name) and value.func.value == "next":
            return "data"  # `x, y = next(iterator)`
        if api is not None and api.op is not None and not unpacked:
            return "computed"
    if unpacked and isinstance(value, cst.Name) and value.value in ("data", "batch"):
        return "data"  # `x, y = data` in a train_step
    if isinstance(value, cst.BinaryOperation) and not unpacked:
        operands = (value.left, value.right)
        if any(isinstance(o, cst.Call) and _value_kind(ctx, o, False) == "computed" for o in operands):
            return "computed"
    return "other"


def _is_model(ctx: FileContext, func: cst.BaseExpression) -> bool:
    """`self(...)` in a model class, `self.model(...)`, or a name bound to a Keras model."""
    if isinstance(func, cst.Name) and func.value == "self":
        cls = ctx.enclosing(func, (cst.ClassDef,))
        return isinstance(cls, cst.ClassDef) and cls in ctx.index.model_classes
    name = dotted(func) or ""
    if name in ("self.model", "model"):
        return True
    if isinstance(func, cst.Name):
        for bound in ctx.bindings(func):
            if isinstance(bound, cst.Call):
                api = ctx.call_api(bound)
                if api is not None and api.family == "keras" and api.leaf in ("Model", "Sequential"):
                    return True
        return any(c in ctx.index.model_classes for c in classes_instantiated(ctx, func))
    return False


def _label_and_prediction_slots(
    ctx: FileContext, call: cst.Call
) -> tuple[tuple[str, cst.BaseExpression], tuple[str, cst.BaseExpression], str] | None:
    """((label keyword, its argument), (prediction keyword, its argument), shown name)."""
    api = ctx.call_api(call)
    if api is not None and api.family == "tf" and api.leaf in _WITH_LOGITS:
        positional_ok = not api.root.endswith("compat.v1")  # v1 takes a _sentinel first
        return _slots(call, ("labels",), ("logits",), positional_ok, api.short())
    if api is not None and api.family == "tf" and api.path.startswith("losses.") and api.leaf in _TF1_LOSSES:
        label, pred = _TF1_LOSSES[api.leaf]
        return _slots(call, (label,), (pred,), True, api.short())
    if api is not None and api.family == "tf" and api.path.startswith("losses.") and api.leaf in _KERAS_CROSSENTROPY:
        return _slots(call, _KERAS_LABEL_KEYWORDS, _KERAS_PRED_KEYWORDS, True, api.short())  # tf.losses is keras.losses in TF 2
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
