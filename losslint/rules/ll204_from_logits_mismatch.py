"""LL204 from-logits-mismatch: the output activation and the loss disagree on logits vs
probabilities (keras3-facts.md cases 8a, 8a', 8e).

Static part: for a model built in the file (functional or Sequential) whose output visibly ends
in an activation, paired with its loss the way Keras pairs them (one loss for every output, a
list by position, a dict by output name):

* error: a softmax/sigmoid output that reaches a crossentropy with `from_logits=True` through
  a Reshape/Flatten/Permute/layout-only Lambda (no warning, a real double softmax), or that goes
  into a loss calling `tf.nn.*_with_logits` on y_pred;
* error: a softmax output (Keras' own softmax) with a binary crossentropy: Keras 3 computes
  sigmoid BCE on the pre-softmax logits;
* error: a linear output (a Dense/Conv with no activation) with a built-in crossentropy given
  `from_logits=False`; a warning when from_logits is left to its default (the dynamic pass
  confirms it from the output's values);
* warning: a softmax/sigmoid output straight into a built-in crossentropy with
  `from_logits=True`: Keras 3's TensorFlow backend recovers the logits (with a UserWarning),
  other backends and any later wrapper do not.

The dynamic pass reports the same code from the live model (losslint/dynamic/probe.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst

from losslint.dynamic.capture import and_join
from losslint.dynamic.describe import crossentropy_kind, fmt, output_activation
from losslint.findings import Finding, Pass, Severity
from losslint.rule import Probe, Rule, Stage
from losslint.static.context import FileContext, code_of
from losslint.static.discovery import TensorFunction, compile_loss_arg, derives
from losslint.static.models import (
    Activation,
    Model,
    Output,
    arg,
    arg_node,
    compile_receiver,
    final_activation,
    in_file_class,
    in_file_function,
    keras_path,
    literal_string,
    loss_structure,
    model_of,
    receiver_text,
    resolve,
)
from losslint.static.names import NOT_PROBABILITIES

if TYPE_CHECKING:
    from losslint.dynamic.context import PairContext

# Built-in crossentropies: name (function, class or string) -> family.
_CROSSENTROPY = {
    "categorical_crossentropy": "categorical",
    "sparse_categorical_crossentropy": "sparse",
    "binary_crossentropy": "binary",
    "bce": "binary",
    "binary_focal_crossentropy": "binary",
    "categorical_focal_crossentropy": "categorical",
    "categoricalcrossentropy": "categorical",
    "sparsecategoricalcrossentropy": "sparse",
    "binarycrossentropy": "binary",
    "binaryfocalcrossentropy": "binary",
    "categoricalfocalcrossentropy": "categorical",
}
# Classes whose first positional argument is from_logits.
_FROM_LOGITS_FIRST = frozenset({"CategoricalCrossentropy", "SparseCategoricalCrossentropy", "BinaryCrossentropy"})
# tf.nn losses on logits -> the activation they apply themselves.
_TF_WITH_LOGITS = {
    "nn.softmax_cross_entropy_with_logits": "softmax",
    "nn.softmax_cross_entropy_with_logits_v2": "softmax",
    "nn.sparse_softmax_cross_entropy_with_logits": "softmax",
    "nn.sigmoid_cross_entropy_with_logits": "sigmoid",
    "nn.weighted_cross_entropy_with_logits": "sigmoid",
}
_FAMILY_ACTIVATION = {"categorical": "softmax", "sparse": "softmax", "binary": "sigmoid"}


@dataclass(frozen=True)
class _Loss:
    """What the source shows of one loss."""

    kind: str  # "builtin" (a Keras crossentropy) or "with_logits" (tf.nn.*_with_logits on y_pred)
    node: cst.CSTNode  # where to report
    label: str  # for messages
    family: str | None = None  # builtin: "categorical", "sparse" or "binary"
    from_logits: bool | None = None  # builtin: None when not visible
    explicit: bool = False  # from_logits written out
    applies: str | None = None  # with_logits: the activation the tf.nn op applies
    function: TensorFunction | None = None


def check(ctx: FileContext) -> Iterator[Finding]:
    seen: set[tuple[int, int]] = set()
    for call in ctx.index.compile_calls:
        receiver = compile_receiver(call)
        if receiver is None:
            continue
        model = model_of(ctx, receiver)
        if model is None or model.outputs is None or model.own_step:
            continue
        for output, loss_expr in _pairs(ctx, call, model):
            loss = _describe(ctx, loss_expr)
            if loss is None:
                continue
            activation = final_activation(ctx, output)
            if activation is None:
                continue
            finding = _mismatch(ctx, call, receiver_text(receiver), output, activation, loss)
            if finding is not None and (finding.line, finding.column) not in seen:
                seen.add((finding.line, finding.column))
                yield finding


def _pairs(ctx: FileContext, call: cst.Call, model: Model) -> Iterator[tuple[Output, cst.BaseExpression]]:
    """(output, loss expression) the way Keras 3 pairs them; nothing where they do not line up."""
    assert model.outputs is not None
    structure = loss_structure(ctx, compile_loss_arg(call))
    if structure is None:
        return
    kind, loss = structure
    if kind == "single":
        for output in model.outputs:
            yield output, loss
    elif kind == "list" and not model.dict_outputs:  # a dict of outputs flattens in key order
        elements = [e.value for e in loss.elements]  # type: ignore[union-attr]
        if len(elements) == len(model.outputs):
            yield from zip(model.outputs, elements)
    elif kind == "dict":
        by_key: dict[str, cst.BaseExpression] = {}
        for element in loss.elements:  # type: ignore[union-attr]
            if not isinstance(element, cst.DictElement):
                return
            key = literal_string(element.key)
            if key is None:
                return
            by_key[key] = element.value
        for output in model.outputs:
            name = output.name(ctx)
            if name is not None and name in by_key:
                yield output, by_key[name]


def _describe(ctx: FileContext, expr: cst.BaseExpression, depth: int = 0) -> _Loss | None:
    if depth > 6:
        return None
    if isinstance(expr, cst.Name):
        value = resolve(ctx, expr)
        if value is not None:
            return _describe(ctx, value, depth + 1)
        fn = in_file_function(ctx, expr)
        if fn is not None:
            return _custom(ctx, fn)
        cls = in_file_class(ctx, expr)
        if cls is not None:
            return None
    text = literal_string(expr)
    if text is not None:
        family = _CROSSENTROPY.get(text.lower())
        if family is None:
            return None
        return _Loss("builtin", expr, f"the loss `{code_of(expr)}`", family, False)
    if isinstance(expr, (cst.Name, cst.Attribute)):
        api = ctx.api(expr)
        if api is None:
            return None
        if keras_path(api).startswith("losses."):
            family = _CROSSENTROPY.get(api.leaf.lower())
            if family is not None and api.leaf[0].islower():  # the function, not the class
                return _Loss("builtin", expr, f"`{code_of(expr)}`", family, False)
        if api.family == "tf" and api.path in _TF_WITH_LOGITS:
            return _Loss("with_logits", expr, f"`{code_of(expr)}`", applies=_TF_WITH_LOGITS[api.path])
        return None
    if isinstance(expr, cst.Call):
        api = ctx.call_api(expr)
        if api is not None:
            if keras_path(api).startswith("losses.") and api.leaf[0].isupper():
                family = _CROSSENTROPY.get(api.leaf.lower())
                if family is None:
                    return None
                return _builtin_call(expr, api.leaf, family)
            return None
        if "functools.partial" in ctx.qualified_names(expr.func) and expr.args:
            inner = ctx.api(expr.args[0].value)
            if keras_path(inner).startswith("losses."):
                family = _CROSSENTROPY.get(inner.leaf.lower())
                if family is not None:
                    return _builtin_call(expr, None, family)
            return None
        cls = in_file_class(ctx, expr.func)
        if cls is not None and cls in ctx.index.loss_classes:
            return _custom_class(ctx, cls)
        return None
    if isinstance(expr, cst.Lambda):
        loss = next((l for l in ctx.index.losses if l.node is expr), None)
        return _with_logits_in(ctx, loss) if loss is not None else None
    return None


def _builtin_call(call: cst.Call, leaf: str | None, family: str) -> _Loss | None:
    if any(a.star for a in call.args):
        return None
    node = arg_node(call, "from_logits")
    value: cst.BaseExpression | None = node.value if node is not None else None
    if node is None and leaf in _FROM_LOGITS_FIRST:
        value = arg(call, "from_logits", 0)
    elif node is None and any(a.keyword is None for a in call.args[1 if leaf is None else 0:]):
        return None  # some other argument positionally: from_logits may be among them
    label = f"`{code_of(call)}`"
    if value is None:
        return _Loss("builtin", call, label, family, False, explicit=False)
    if isinstance(value, cst.Name) and value.value in ("True", "False"):
        return _Loss("builtin", node if node is not None else call, label, family, value.value == "True", explicit=True)
    return None  # from_logits computed: not visible


def _custom(ctx: FileContext, fn: cst.FunctionDef) -> _Loss | None:
    loss = next((l for l in ctx.index.losses if l.node is fn), None)
    return _with_logits_in(ctx, loss) if loss is not None else None


def _custom_class(ctx: FileContext, cls: cst.ClassDef) -> _Loss | None:
    loss = next((l for l in ctx.index.losses if l.origin == "subclass" and ctx.is_within(l.node, cls)), None)
    return _with_logits_in(ctx, loss) if loss is not None else None


def _with_logits_in(ctx: FileContext, loss: TensorFunction) -> _Loss | None:
    """A custom loss that hands y_pred (or a reshape of it) to tf.nn.*_with_logits as logits."""
    for node in ctx.walk(loss.node.body):
        if not isinstance(node, cst.Call):
            continue
        api = ctx.call_api(node)
        if api is None or api.family != "tf" or api.path not in _TF_WITH_LOGITS:
            continue
        logits = arg(node, "logits", 1)
        if logits is None or derives(ctx, logits, loss.tracked) != "prediction":
            continue
        return _Loss(
            "with_logits", node, f"loss `{loss.name}`", applies=_TF_WITH_LOGITS[api.path], function=loss,
        )
    return None


def _mismatch(
    ctx: FileContext, call: cst.Call, name: str, output: Output, activation: Activation, loss: _Loss
) -> Finding | None:
    out = output.label(ctx)
    where = f"output {out} of `{name}`" if out != "the output" else f"the output of `{name}`"
    seen = activation.describe(ctx)
    related = [ctx.related(activation.node, f"the layer that produces {where}")]
    if loss.node is not None and not ctx.is_within(loss.node, call):
        related.append(ctx.related(call, "loss given to compile here"))
    through = " and ".join(f"`{s.text()}` (line {ctx.start(s.node)[0]})" for s in activation.through)
    scope = loss.function.node if loss.function is not None else call

    if loss.kind == "with_logits":
        if activation.name not in ("softmax", "sigmoid"):
            return None
        api_text = code_of(loss.node.func) if isinstance(loss.node, cst.Call) else code_of(loss.node)
        return ctx.finding(
            RULE, loss.node,
            f"{loss.label} gives y_pred to `{api_text}` as logits, but {where} is already a "
            f"{activation.name} ({seen}{'; then through ' + through if through else ''}): the op applies a "
            f"{loss.applies} again and Keras 3 cannot recover the logits for a tf.nn op: a double "
            f"activation, with no error or warning (the loss stalls far above its minimum)",
            "remove the activation from the output layer (keep the `_with_logits` loss), or use "
            "`keras.losses.CategoricalCrossentropy()`/`BinaryCrossentropy()` on the probabilities",
            scope=scope, related=tuple(related),
        )
    family = loss.family
    assert family is not None
    if activation.name == "softmax" and family == "binary" and not activation.through and activation.keras_own:
        return ctx.finding(
            RULE, loss.node,
            f"{where} ends in a softmax ({seen}), but {loss.label} is a binary crossentropy: Keras 3 "
            "computes the sigmoid crossentropy of the pre-softmax logits, not of the softmax "
            "probabilities, with no warning",
            "use a sigmoid output for binary/multi-label targets, or CategoricalCrossentropy for a softmax output",
            scope=scope, related=tuple(related),
        )
    expected = _FAMILY_ACTIVATION[family]
    if activation.name == expected and loss.from_logits:
        if activation.through:
            return ctx.finding(
                RULE, loss.node,
                f"{where} is a {activation.name} ({seen}) passed through {through}, and "
                f"{loss.label} has from_logits=True: Keras 3 cannot see the {activation.name} behind that "
                f"layer, treats the probabilities as logits and applies a second {activation.name}, with "
                "no warning (the loss stalls far above its minimum)",
                f"drop `from_logits=True`, or remove the {activation.name} from the output layer and keep "
                "`from_logits=True`",
                scope=scope, related=tuple(related),
            )
        finding = ctx.finding(
            RULE, loss.node,
            f"{where} ends in a {activation.name} ({seen}) and {loss.label} has from_logits=True: "
            f"Keras 3's TensorFlow backend recovers the pre-{activation.name} logits, with a UserWarning "
            "('does not represent logits'), but other backends, and any layer later put after the "
            f"{activation.name}, apply a second {activation.name}",
            f"drop `from_logits=True`, or remove the {activation.name} from the output layer and keep "
            "`from_logits=True`",
            scope=scope, related=tuple(related),
        )
        return dataclasses.replace(finding, severity=Severity.WARNING)
    if activation.name == "linear" and loss.from_logits is False:
        default = "" if loss.explicit else " (the default)"
        finding = ctx.finding(
            RULE, loss.node,
            f"{where} is linear ({seen}), so it produces logits, but {loss.label} has "
            f"from_logits=False{default} and treats them as probabilities: Keras 3 clips them to "
            "[1e-7, 1 - 1e-7] before the log and trains badly, with no error or warning",
            f"pass `from_logits=True` to the loss, or give the output layer `activation=\"{expected}\"`",
            scope=scope, related=tuple(related),
        )
        # Left to its default, from_logits=False is a warning here: the dynamic pass confirms it
        # from the output's values (an error there).
        return finding if loss.explicit else dataclasses.replace(finding, severity=Severity.WARNING)
    if activation.name in NOT_PROBABILITIES and loss.from_logits is False:
        default = "" if loss.explicit else " (the default)"
        return ctx.finding(
            RULE, loss.node,
            f"{where} ends in a {activation.name} ({seen}), whose values are not probabilities, but "
            f"{loss.label} has from_logits=False{default} and treats them as probabilities: Keras 3 clips "
            "them to [1e-7, 1 - 1e-7] before the log (a categorical crossentropy first divides them by "
            "their sum) and trains badly, with no error or warning",
            f"give the output layer `activation=\"{expected}\"`, or no activation and `from_logits=True` in the loss",
            scope=scope, related=tuple(related),
        )
    return None


# ---- dynamic: the live output's final activation against a built-in crossentropy ----------


def probe(ctx: PairContext) -> None:
    kind = crossentropy_kind(ctx.info)
    if kind is None:
        return
    activation, through = output_activation(ctx.output.layer)
    if activation is None:
        return
    from_logits = bool(getattr(ctx.resolved, "_fn_kwargs", {}).get("from_logits", False))
    out, label, site = ctx.output.name, ctx.info.label, ctx.fallback_site()
    if activation == "linear" and not from_logits:
        values = ctx.output.values
        if ((values >= 0) & (values <= 1)).all():
            return
        ctx.report(RULE, site,
                   f"output '{out}' has no final activation (its values are logits, seen in "
                   f"[{fmt(float(values.min()))}, {fmt(float(values.max()))}]) but {label} expects "
                   "probabilities (from_logits=False): Keras clips them to [eps, 1 - eps] and trains badly",
                   "pass `from_logits=True` to the loss, or add a softmax/sigmoid activation to the output layer")
    elif activation in NOT_PROBABILITIES and not from_logits:
        values = ctx.output.values
        ctx.report(RULE, site,
                   f"output '{out}' ends in a {activation} (values seen in [{fmt(float(values.min()))}, "
                   f"{fmt(float(values.max()))}]), which are not probabilities, but {label} expects "
                   "probabilities (from_logits=False): Keras clips them to [eps, 1 - eps] and trains badly",
                   f"give the output layer a {'sigmoid' if kind == 'binary' else 'softmax'} activation, or no "
                   "activation and `from_logits=True` in the loss")
    elif activation == "softmax" and kind == "binary":
        ctx.report(RULE, site,
                   f"output '{out}' ends in a softmax but {label} is a binary crossentropy: Keras 3 "
                   "computes sigmoid BCE on the pre-softmax logits, not on the softmax probabilities",
                   "use a sigmoid output for binary/multi-label targets, or CategoricalCrossentropy for a softmax")
    elif activation in ("softmax", "sigmoid") and from_logits:
        if through:
            ctx.report(RULE, site,
                       f"output '{out}' is a {activation} passed through {and_join(through)}, and {label} has "
                       "from_logits=True: the probabilities are treated as logits (a double "
                       f"{activation}, with no warning)",
                       "drop `from_logits=True`, or remove the activation from the output layer")
        else:
            ctx.report(RULE, site,
                       f"output '{out}' ends in a {activation} and {label} has from_logits=True: Keras 3's "
                       "TensorFlow backend recovers the logits with a warning, other backends and any "
                       "wrapped output do not",
                       "drop `from_logits=True`, or remove the activation and keep from_logits=True",
                       severity=Severity.WARNING)


RULE = Rule(
    code="LL204",
    name="from-logits-mismatch",
    severity=Severity.ERROR,
    passes=(Pass.STATIC, Pass.DYNAMIC,),
    dynamic=True,
    summary="Output activation and loss disagree on logits vs probabilities.",
    static_check=check,
    probes=(Probe(Stage.BUILTIN, probe),),
)
