"""LL203 loss-output-mismatch: losses, loss weights, targets and model outputs do not line up
(seeds 001, 002).

Static part: for a functional model built in the file, whose outputs are visible (a list,
tuple or dict of layer outputs, their names from the `name=` of the layers), the `compile`
call's `loss`/`loss_weights` dict keys that name no output, dicts that miss an output, lists
whose length is not the number of outputs, and `fit` target dicts keyed by no output; and
seed 001's one custom function loss applied to outputs of visibly different shapes while it
reshapes or indexes with constants written for one of them. The dynamic pass reports the same
code from the live model (losslint/dynamic/probe.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import libcst as cst

from losslint.dynamic.describe import loss_leaves, quoted
from losslint.findings import Finding, Pass, Severity
from losslint.rule import Probe, Rule, Stage
from losslint.static.context import FileContext, code_of
from losslint.static.discovery import compile_loss_arg
from losslint.static.models import (
    Model,
    arg,
    compile_receiver,
    is_mutated,
    literal_string,
    loss_structure,
    loss_weights_arg,
    model_of,
    receiver_text,
    resolve,
    visible_shape,
)
from losslint.static.names import op_in

if TYPE_CHECKING:
    from losslint.dynamic.context import ModelContext

_RESHAPE = frozenset({"reshape"})


def check(ctx: FileContext) -> Iterator[Finding]:
    for calls, check_call in ((ctx.index.compile_calls, _check_compile), (ctx.index.fit_calls, _check_fit)):
        for call in calls:
            receiver = compile_receiver(call)
            if receiver is None:
                continue
            model = model_of(ctx, receiver)
            if model is None or model.kind != "functional" or model.outputs is None or model.own_step:
                continue
            # The call's line is the finding's scope: the dynamic pass reports the same mismatch
            # there, and a suppression comment on it covers every key of the call.
            line = ctx.start(call)[0]
            for finding in check_call(ctx, call, model, receiver_text(receiver)):
                yield dataclasses.replace(finding, scope_line=finding.scope_line or line)


def _names(ctx: FileContext, model: Model) -> list[str] | None:
    """The output names Keras keys losses by, when every one of them is visible."""
    assert model.outputs is not None
    names = [o.name(ctx) for o in model.outputs]
    if any(n is None for n in names) or len(set(names)) != len(names):
        return None
    return names  # type: ignore[return-value]


def _outputs_text(ctx: FileContext, model: Model) -> str:
    assert model.outputs is not None
    return ", ".join(o.label(ctx) for o in model.outputs)


def _model_related(ctx: FileContext, model: Model, what: str = "model built here") -> tuple:
    return (ctx.related(model.node, what),)


def _dict_keys(expr: cst.Dict) -> list[tuple[str, cst.BaseExpression]] | None:
    keys = []
    for element in expr.elements:
        if not isinstance(element, cst.DictElement):
            return None  # **other
        key = literal_string(element.key)
        if key is None:
            return None
        keys.append((key, element.key))
    return keys


def _plain_list(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, (cst.List, cst.Tuple)) and not any(
        isinstance(e, cst.StarredElement) for e in expr.elements
    )


def _check_compile(ctx: FileContext, call: cst.Call, model: Model, name: str) -> Iterator[Finding]:
    assert model.outputs is not None
    n_out = len(model.outputs)
    names = _names(ctx, model)
    outputs = _outputs_text(ctx, model)
    built = ctx.start(model.node)[0]
    structure = loss_structure(ctx, compile_loss_arg(call))
    kind, loss = structure if structure is not None else (None, None)
    # The names the losses are keyed by, or how many losses there are, when visible and right.
    loss_keys: list[str] | None = None
    loss_count: int | None = None
    if kind == "dict":
        keys = _dict_keys(loss)
        if keys is not None and names is not None:
            unknown = [(k, node) for k, node in keys if k not in names]
            for key, node in unknown:
                yield ctx.finding(
                    RULE, node,
                    f"loss dict key '{key}' names no output of `{name}` (built line {built}); its outputs "
                    f"are {outputs}, named by the layers given as outputs: Keras 3 raises ValueError: "
                    f"Expected keys {names} in loss dict at fit",
                    f"key the loss dict by the output names ({outputs}), or give the output layer "
                    f"`name=\"{key}\"`",
                    related=_model_related(ctx, model),
                )
            missing = [n for n in names if n not in dict(keys)]
            if not unknown and missing and not model.dict_outputs:
                yield ctx.finding(
                    RULE, loss,
                    f"the loss dict has no entry for output(s) {_quoted(missing)} of `{name}` (outputs "
                    f"{outputs}): Keras 3 raises ValueError: Expected keys {names} in loss dict at fit",
                    "give every output a loss, keyed by its name (None for an output that should not be trained)",
                    related=_model_related(ctx, model),
                )
            elif not unknown:
                loss_keys = [k for k, _ in keys]
    elif kind == "list":
        elements = [e.value for e in loss.elements]  # type: ignore[union-attr]
        count = len(elements)
        if count != n_out:
            if count < n_out:
                untrained = [o.label(ctx) for o in model.outputs[count:]]
                what = (
                    f"output(s) {', '.join(untrained)} get no loss: Keras 3 trains without an error, "
                    "warns only that gradients do not exist for their weights, and never updates them"
                )
            else:
                what = "Keras 3 does not pair them with the outputs one to one"
            yield ctx.finding(
                RULE, loss,
                f"compile got {count} loss{'es' if count != 1 else ''} for the {n_out} output"
                f"{'s' if n_out != 1 else ''} of `{name}` ({outputs}): {what}",
                "give one loss per output, in output order (or a dict keyed by output name)",
                related=_model_related(ctx, model),
            )
        else:
            loss_count = count  # a None entry counts as a loss for loss_weights (measured)
    elif kind == "single" and n_out > 1:
        yield from _one_loss_for_different_shapes(ctx, call, model, name, compile_loss_arg(call))

    weights_arg = loss_weights_arg(call)
    weights_structure = loss_structure_of_weights(ctx, weights_arg)
    if weights_structure is None:
        return
    wkind, weights = weights_structure
    if wkind == "dict":
        keys = _dict_keys(weights)
        if keys is None or names is None:
            return
        unknown = [(k, node) for k, node in keys if k not in names]
        for key, node in unknown:
            yield ctx.finding(
                RULE, node,
                f"loss_weights key '{key}' names no output of `{name}` (built line {built}); its "
                f"outputs are {outputs}: Keras 3 fails at fit (KeyError, or '`loss_weights` must "
                "match the number of losses')",
                f"key loss_weights by the output names ({outputs})",
                related=_model_related(ctx, model),
            )
        if unknown:
            return
        if kind == "single" and n_out > 1 and len(keys) > 1:
            yield _single_loss_weights(ctx, weights, len(keys), model, name, outputs)
            return
        expected = loss_keys if loss_keys is not None else (names if kind == "list" and loss_count else None)
        missing = [n for n in expected or () if n not in dict(keys)]
        if missing:
            yield ctx.finding(
                RULE, weights,
                f"loss_weights has no entry for output(s) {_quoted(missing)} of `{name}` (outputs "
                f"{outputs}): Keras 3 fails at fit (KeyError: '{missing[0]}', or '`loss_weights` "
                "must match the number of losses')",
                "give every output that has a loss a weight, keyed by its name",
                related=_model_related(ctx, model),
            )
    else:
        count = len(weights.elements)  # type: ignore[union-attr]
        if kind == "single" and n_out > 1 and count > 1:
            yield _single_loss_weights(ctx, weights, count, model, name, outputs)
            return
        expected_count = loss_count if kind == "list" else (len(loss_keys) if loss_keys is not None else None)
        if expected_count is not None and count != expected_count:
            yield ctx.finding(
                RULE, weights,
                f"compile got {count} loss weight{'s' if count != 1 else ''} for {expected_count} losses "
                f"(outputs {outputs} of `{name}`): Keras 3 raises ValueError: `loss_weights` must match "
                f"the number of losses, got {expected_count} losses and {count} weights",
                "give one weight per loss, in output order (or a dict keyed by output name)",
                related=_model_related(ctx, model),
            )


def loss_structure_of_weights(ctx: FileContext, expr: cst.BaseExpression | None) -> tuple[str, cst.BaseExpression] | None:
    """("dict"|"list", literal) for a visible loss_weights literal, else None."""
    if expr is None:
        return None
    if isinstance(expr, cst.Name):
        value = resolve(ctx, expr)
        if not isinstance(value, (cst.List, cst.Tuple, cst.Dict)) or is_mutated(ctx, expr):
            return None
        expr = value
    if isinstance(expr, cst.Dict):
        return "dict", expr
    if _plain_list(expr):
        return "list", expr
    return None


def _single_loss_weights(
    ctx: FileContext, weights: cst.BaseExpression, count: int, model: Model, name: str, outputs: str
) -> Finding:
    return ctx.finding(
        RULE, weights,
        f"compile got one loss and {count} loss weights for the outputs {outputs} of `{name}`: Keras 3 "
        f"raises ValueError: `loss_weights` must match the number of losses, got 1 losses and {count} weights",
        "give the loss once per output (a list, or a dict keyed by output name) next to the weights",
        related=_model_related(ctx, model),
    )


def _one_loss_for_different_shapes(
    ctx: FileContext, call: cst.Call, model: Model, name: str, loss: cst.BaseExpression
) -> Iterator[Finding]:
    """Seed 001: one custom loss given for every output, written for one output's shape."""
    assert model.outputs is not None
    functions = [fn for fn in ctx.index.losses if call in fn.compile_calls and fn.origin != "train_step"]
    if len(functions) != 1:
        return
    fn = functions[0]
    shapes = [visible_shape(ctx, o) for o in model.outputs]
    if any(s is None for s in shapes):
        return
    if not any(a.differs(b) for i, a in enumerate(shapes) for b in shapes[i + 1:]):  # type: ignore[union-attr]
        return
    constants = list(_shape_specific(ctx, fn))
    if not constants:
        return
    first = constants[0]
    described = ", ".join(
        f"{o.label(ctx)} {s.text()}" for o, s in zip(model.outputs, shapes)  # type: ignore[union-attr]
    )
    yield ctx.finding(
        RULE, loss,
        f"one loss `{fn.name}` is given for the {len(model.outputs)} outputs of `{name}`, whose shapes "
        f"differ: {described}. Keras 3 calls it on each output separately, and "
        f"`{code_of(first, 40)}` (line {ctx.start(first)[0]}) is written for one of those shapes: it "
        "fails at fit ('must have the same shape') or silently computes the wrong thing on the others",
        "give one loss per output (a list in output order, or a dict keyed by output name), each written "
        "for its own output's shape",
        related=(
            ctx.related(first, f"shape-specific constant in `{fn.name}`"),
            ctx.related(model.node, "model built here"),
        ),
    )


def _shape_specific(ctx: FileContext, fn) -> Iterator[cst.CSTNode]:
    """Reshapes to literal shapes, and constant indexes/slices past the batch axis, of y_true/y_pred."""
    for node in ctx.walk(fn.node.body):
        if isinstance(node, cst.Call) and len(node.args) > 1:
            if not op_in(ctx.call_api(node), _RESHAPE):
                continue
            first = node.args[0].value
            if not (isinstance(first, cst.Name) and first.value in fn.tracked):
                continue
            shape = arg(node, "shape", 1)
            if isinstance(shape, (cst.Tuple, cst.List)):
                dims = [_int(e.value) for e in shape.elements]
                if any(d is not None and d > 1 for d in dims):
                    yield node
        elif isinstance(node, cst.Subscript) and isinstance(node.value, cst.Name) and node.value.value in fn.tracked:
            for element in node.slice[1:]:
                index = element.slice
                if isinstance(index, cst.Index) and _int(index.value) is not None:
                    yield node
                    break
                if isinstance(index, cst.Slice) and any(
                    _int(b) not in (None, 0) for b in (index.lower, index.upper) if b is not None
                ):
                    yield node
                    break


def _int(node: cst.BaseExpression | None) -> int | None:
    if isinstance(node, cst.Integer):
        return int(node.evaluated_value)
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus) and isinstance(node.expression, cst.Integer):
        return -int(node.expression.evaluated_value)
    return None


def _check_fit(ctx: FileContext, call: cst.Call, model: Model, name: str) -> Iterator[Finding]:
    """Target dicts with a key that names no output."""
    assert model.outputs is not None
    y = arg(call, "y", 1)
    if y is None:
        return
    if isinstance(y, cst.Name):
        value = resolve(ctx, y)
        y = value if isinstance(value, cst.Dict) and not is_mutated(ctx, y) else None
    names = _names(ctx, model)
    outputs = _outputs_text(ctx, model)
    if isinstance(y, cst.Dict) and names is not None:
        keys = _dict_keys(y)
        for key, node in keys or ():
            if key not in names:
                yield ctx.finding(
                    RULE, node,
                    f"target dict key '{key}' names no output of `{name}`; its outputs are {outputs}: "
                    "Keras 3 fails at fit (TypeError: Expected float32, but got ... of type 'str', or "
                    "'can't be found in the model's output')",
                    f"key the targets by the output names ({outputs})",
                    related=_model_related(ctx, model),
                )


def _quoted(names: list[str]) -> str:
    return ", ".join(f"'{n}'" for n in names)


# ---- dynamic: the losses, loss weights and targets against the live model's outputs -------


def probe(ctx: ModelContext) -> bool:
    """The mismatches Keras accepts silently or explains badly, then what Keras' own pairing
    said; True when one was found. Not with a custom train_step: what the compiled loss gets
    there is the step's business."""
    if ctx.custom_step:
        return False
    if _structure(ctx, ctx.loss, ctx.loss_weights):
        return True
    if ctx.pairing_error is None:
        return False
    ctx.report(
        RULE, ctx.compile.where,
        f"Keras cannot pair the losses with the model's outputs {ctx.outputs_text} "
        f"and the targets: {ctx.pairing_error}",
        "give one loss (and one loss weight) per output, as a list in output order or a "
        "dict keyed by output name, and one target per output",
    )
    return True


def _structure(ctx: ModelContext, loss: Any, loss_weights: Any) -> bool:
    names = [o.name for o in ctx.outputs]
    n_out = len(names)
    outputs_text = ctx.outputs_text
    where = ctx.compile.where

    def report(at: Any, message: str, fix: str) -> bool:
        ctx.report(RULE, at, message, fix)
        return True

    if isinstance(loss, dict):
        unknown = [k for k in loss if k not in names]
        missing = [n for n in names if n not in loss]
        if unknown:
            return report(
                where,
                f"the loss dict has key(s) {quoted(unknown)} that name no model output; "
                f"the outputs are {outputs_text} (Keras 3 raises 'Expected keys ... in loss dict' at fit)",
                f"key the loss dict by the output names ({outputs_text}), or name the output layers "
                "after the keys",
            )
        if missing and not isinstance(ctx.y_pred, dict):
            return report(
                where,
                f"the loss dict has no entry for output(s) {quoted(missing)} of {outputs_text}: "
                "Keras 3 raises 'Expected keys ... in loss dict' at fit",
                "give every output a loss (use None for an output that should not be trained)",
            )
    elif isinstance(loss, (list, tuple)):
        if n_out == 1 and len(loss) > 1:
            return report(
                where,
                f"compile got {len(loss)} losses for the model's single output {outputs_text}: "
                "Keras 3 applies all of them to that output and adds them up",
                "pass one loss for a single-output model (combine terms in one loss function)",
            )
        if n_out > 1 and len(loss) < n_out:
            return report(
                where,
                f"compile got {len(loss)} losses for {n_out} outputs ({outputs_text}): output(s) "
                f"{quoted(names[len(loss):])} get no loss and are silently not trained",
                "give one loss per output, in output order (None for an output that should not be trained)",
            )
        if n_out > 1 and len(loss) > n_out:
            return report(
                where,
                f"compile got {len(loss)} losses for {n_out} outputs ({outputs_text})",
                "give one loss per output, in output order",
            )
    if loss_weights is not None:
        n_losses = len(loss) if isinstance(loss, (list, tuple, dict)) else 1
        if isinstance(loss_weights, dict):
            unknown = [k for k in loss_weights if k not in names]
            if unknown:
                return report(
                    where,
                    f"loss_weights has key(s) {quoted(unknown)} that name no model output; the "
                    f"outputs are {outputs_text} (Keras 3 then pairs the weights by position "
                    "or raises)",
                    f"key loss_weights by the output names ({outputs_text})",
                )
        if isinstance(loss_weights, (list, tuple, dict)) and n_losses == 1 and n_out > 1:
            return report(
                where,
                f"compile got one loss and {len(loss_weights)} loss weights for outputs {outputs_text}: "
                "Keras 3 raises '`loss_weights` must match the number of losses' at fit",
                "pass the loss once per output (a list or a dict keyed by output name) with the weights",
            )
        if isinstance(loss_weights, (list, tuple)) and len(loss_weights) != n_losses:
            return report(
                where,
                f"compile got {len(loss_weights)} loss weights for {n_losses} losses "
                f"(outputs {outputs_text})",
                "give one loss weight per loss, in the same order",
            )
    y = ctx.y
    if y is None:
        return False
    fit_where = ctx.fit.where if ctx.fit is not None and ctx.fit.where else where
    if isinstance(y, dict):
        unknown = [k for k in y if k not in names]
        if unknown:
            return report(
                fit_where,
                f"the targets dict has key(s) {quoted(unknown)} that name no model output; "
                f"the outputs are {outputs_text}",
                f"key the targets by the output names ({outputs_text})",
            )
        return False
    n_targets = len(y) if isinstance(y, (list, tuple)) else 1
    if n_targets != n_out and n_targets != _non_none_losses(loss, n_out):
        return report(
            fit_where,
            f"fit got {n_targets} target{'s' if n_targets != 1 else ''} for {n_out} model "
            f"output{'s' if n_out != 1 else ''} ({outputs_text})",
            "pass one target array per output, in output order (or a dict keyed by output name)",
        )
    return False


def _non_none_losses(loss: Any, n_out: int) -> int:
    return len(loss_leaves(loss)) if isinstance(loss, (list, tuple, dict)) else n_out


RULE = Rule(
    code="LL203",
    name="loss-output-mismatch",
    severity=Severity.ERROR,
    passes=(Pass.STATIC, Pass.DYNAMIC,),
    dynamic=True,
    summary="Losses, loss weights, targets and model outputs do not line up.",
    static_check=check,
    probes=(Probe(Stage.STRUCTURE, probe),),
    shape_dependent=True,
)

