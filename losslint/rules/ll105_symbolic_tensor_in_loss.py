"""LL105 symbolic-tensor-in-loss: a loss captures a symbolic Keras tensor (seed 004)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import libcst as cst

from losslint.dynamic.capture import and_join
from losslint.dynamic.describe import first_use, shape_text
from losslint.findings import Finding, Pass, Severity
from losslint.rule import Probe, Rule, Stage
from losslint.static.context import FileContext, code_of, dotted
from losslint.static.discovery import classes_instantiated
from losslint.static.names import is_keras_path

if TYPE_CHECKING:
    from losslint.dynamic.context import RunsContext

_SYMBOLIC_ATTRIBUTES = frozenset({"input", "inputs", "output", "outputs"})
_FAILURE = (
    "Keras 3 builds and compiles, then fails at fit with 'A KerasTensor cannot be used as "
    "input to a TensorFlow function'"
)
_FIX = (
    "compute the input-dependent term with `self.add_loss(...)` inside a layer's `call`, or "
    "in a custom `train_step` with `self.compute_loss`"
)


def check(ctx: FileContext) -> Iterator[Finding]:
    if not ctx.index.loss_constructions and not ctx.index.losses:
        return  # most files (libraries) have no loss: no need to look for model constructors
    model_inputs = _model_inputs(ctx)
    seen: set[int] = set()
    for call in ctx.index.loss_constructions:
        if id(call) in seen:
            continue
        seen.add(id(call))
        for arg in call.args:
            what = symbolic_origin(ctx, arg.value, model_inputs)
            if what is None:
                continue
            yield ctx.finding(
                RULE,
                arg.value,
                f"`{code_of(call.func)}(...)` is given `{code_of(arg.value, 40)}`, {what}, "
                f"and the loss uses it: {_FAILURE}",
                _FIX,
            )
    for loss in ctx.index.losses:
        for node in ctx.walk(loss.node.body):
            if not isinstance(node, cst.Name) or not _is_load(ctx, node):
                continue
            if node.value in loss.params or node.value in loss.tracked:
                continue
            what = None
            for bound in ctx.bindings(node):
                if not isinstance(bound, cst.BaseExpression):
                    continue
                if ctx.enclosing(bound, (cst.FunctionDef, cst.Lambda)) is loss.node:
                    continue  # a local of the loss itself
                what = symbolic_origin(ctx, bound, model_inputs)
                if what is not None:
                    break
            if what is None and not any(ctx.is_within(b, loss.node) for b in ctx.binding_sites(node)):
                what = _given_to_model(ctx, node, model_inputs)
            if what is not None:
                yield ctx.finding(
                    RULE,
                    node,
                    f"loss `{loss.name}` captures `{node.value}`, {what}: {_FAILURE}",
                    _FIX,
                    scope=loss.node,
                )


def _is_load(ctx: FileContext, name: cst.Name) -> bool:
    parent = ctx.parent(name)
    if isinstance(parent, cst.Attribute) and parent.attr is name:
        return False
    if isinstance(parent, (cst.Arg, cst.Param)) and getattr(parent, "keyword", None) is name:
        return False
    if isinstance(parent, (cst.Param, cst.AssignTarget, cst.FunctionDef, cst.ClassDef)):
        return False
    return True


def symbolic_origin(
    ctx: FileContext, expr: cst.BaseExpression, model_inputs: list[ModelInput], depth: int = 0
) -> str | None:
    """How `expr` is visibly a symbolic Keras tensor ("a keras.Input(...)"), else None."""
    if depth > 8:
        return None
    if isinstance(expr, cst.Name):
        values = [b for b in ctx.bindings(expr) if isinstance(b, cst.BaseExpression)]
        if len(values) == 1:
            origin = symbolic_origin(ctx, values[0], model_inputs, depth + 1)
            if origin is not None:
                line = ctx.start(values[0])[0]
                return f"{origin} (line {line})"
        return _given_to_model(ctx, expr, model_inputs)
    if isinstance(expr, cst.Subscript):
        return symbolic_origin(ctx, expr.value, model_inputs, depth + 1)
    if isinstance(expr, cst.Attribute):
        if expr.attr.value in _SYMBOLIC_ATTRIBUTES and _is_model_or_layer(ctx, expr.value):
            return f"the symbolic tensor `{code_of(expr, 40)}`"
        return None
    if isinstance(expr, cst.Call):
        api = ctx.call_api(expr)
        if is_keras_path(api, "Input", "layers.Input"):
            return "a symbolic `keras.Input`"
        if isinstance(expr.func, cst.Call):
            layer = ctx.call_api(expr.func)
            if layer is not None and layer.family == "keras" and layer.path.startswith("layers."):
                return "the symbolic output of a layer call"
        return None
    return None


@dataclass(frozen=True)
class ModelInput:
    """A name given as the inputs of a functional model: `keras.Model(inputs=x, ...)`."""

    name: cst.Name
    model: cst.Call


def _model_inputs(ctx: FileContext) -> list[ModelInput]:
    """The names given as `inputs` to a functional model's constructor: `keras.Model(inputs,
    outputs)`, `keras.Model(inputs=[a, b], ...)`, or a Model subclass's `inputs=` (positionally
    only when the subclass keeps keras.Model's own constructor). Keras requires these to be
    symbolic tensors, whatever the script does to build them."""
    found: list[ModelInput] = []
    for call in ctx.of_type(cst.Call):
        api = ctx.call_api(call)
        if api is not None:
            if api.family != "keras" or api.leaf not in ("Model", "Functional"):
                continue
            positional = True
        elif isinstance(call.func, cst.Name) and ctx.index.model_classes:
            classes = [c for c in ctx.bindings(call.func) if isinstance(c, cst.ClassDef)]
            if not classes or any(c not in ctx.index.model_classes for c in classes):
                continue
            positional = not any(
                isinstance(s, cst.FunctionDef) and s.name.value == "__init__" for c in classes for s in c.body.body
            )
        else:
            continue
        given = next((a.value for a in call.args if a.keyword is not None and a.keyword.value == "inputs"), None)
        if given is None and positional and call.args and call.args[0].keyword is None and not call.args[0].star:
            given = call.args[0].value
        if isinstance(given, (cst.List, cst.Tuple)):
            values = [e.value for e in given.elements]
        elif isinstance(given, cst.Dict):
            values = [e.value for e in given.elements if isinstance(e, cst.DictElement)]
        else:
            values = [given] if given is not None else []
        found.extend(ModelInput(v, call) for v in values if isinstance(v, cst.Name))
    return found


def _given_to_model(ctx: FileContext, name: cst.Name, model_inputs: list[ModelInput]) -> str | None:
    """`name` is what a model constructor receives as its inputs: the same name, bound by the
    same single assignment, parameter or import (or by none visible, as in a snippet that leaves
    "# build the model..." out)."""
    bindings = ctx.names.lookup(name)
    if len(bindings) > 1:
        return None  # rebound: which value the loss gets is not visible
    for given in model_inputs:
        if given.name.value != name.value or given.name is name:
            continue
        other = ctx.names.lookup(given.name)
        if (bindings and other is bindings) or (not bindings and not other):
            line = ctx.start(given.model)[0]
            return f"the model's symbolic input (given to `{code_of(given.model.func, 30)}(...)` at line {line})"
    return None


def _is_model_or_layer(ctx: FileContext, receiver: cst.BaseExpression) -> bool:
    name = (dotted(receiver) or "").rsplit(".", 1)[-1].lower()
    if "model" in name or "layer" in name:
        return True
    if any(c in ctx.index.model_classes for c in classes_instantiated(ctx, receiver)):
        return True
    if isinstance(receiver, cst.Name):
        for bound in ctx.bindings(receiver):
            if isinstance(bound, cst.Call):
                api = ctx.call_api(bound)
                if api is not None and api.family == "keras" and (
                    api.leaf in ("Model", "Sequential") or api.path.startswith("layers.")
                ):
                    return True
    return False


# ---- dynamic: the loss fails on a symbolic tensor it holds --------------------------------


def probe(ctx: RunsContext) -> bool:
    if ctx.failure not in ("unknown-batch", "trace", "all-sizes"):
        return False
    message = str(ctx.error)
    captured = symbolic_captures(ctx.pair.identifier)
    # Only Keras' symbolic tensors: "len is not well defined for a symbolic Tensor" is TF's
    # own graph tensor, the loss's y_pred (LL102).
    if not ("KerasTensor" in message or "Keras symbolic" in message or captured):
        return False
    info = ctx.info
    site, at = ctx.failure_at()
    if captured and site == info.def_site and info.def_site is not None:
        use = first_use(info.def_site, [name for name, _ in captured])
        if use is not None:
            site, at = use, f" (line {use.line})"
    held = (
        f"holds {and_join([f'`{name}`, a symbolic KerasTensor {shape_text(tuple(t.shape))}' for name, t in captured[:2]])}"
        " and fails"
        if captured else "uses a symbolic Keras tensor (a keras.Input, model.input or a layer output)"
    )
    ctx.report(
        RULE, site,
        f"{info.label} {held} when Keras calls it for output '{ctx.output.name}'{at}: {ctx.error_text}",
        "compute the input-dependent term with `self.add_loss(...)` inside a layer's `call`, "
        "or in a custom `train_step` with `self.compute_loss`",
    )
    return True


def symbolic_captures(identifier: Any) -> list[tuple[str, Any]]:
    """KerasTensors a loss holds: attributes of a Loss object, closure cells and globals of
    a function (keras.Input, model.input, a layer output)."""
    import functools
    import inspect

    import keras
    from keras.src.losses.losses import LossFunctionWrapper

    found: list[tuple[str, Any]] = []

    def add(name: str, value: Any) -> None:
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            if isinstance(v, keras.KerasTensor):
                found.append((name, v))

    target = identifier
    if isinstance(target, functools.partial):
        for i, arg in enumerate(target.args):
            add(f"argument {i}", arg)
        for key, arg in target.keywords.items():
            add(key, arg)
        target = target.func
    if isinstance(target, LossFunctionWrapper):
        for key, arg in target._fn_kwargs.items():
            add(key, arg)
        target = target.fn
    if isinstance(target, keras.losses.Loss):
        for key, value in vars(target).items():
            add(f"self.{key}", value)
        return found
    fn = target if inspect.isfunction(target) else None
    if fn is None:
        return found
    code = fn.__code__
    for name, cell in zip(code.co_freevars, fn.__closure__ or ()):
        try:
            add(name, cell.cell_contents)
        except ValueError:
            pass
    for name in code.co_names:
        if name in fn.__globals__:
            add(name, fn.__globals__[name])
    return found


RULE = Rule(
    code="LL105",
    name="symbolic-tensor-in-loss",
    severity=Severity.ERROR,
    passes=(Pass.STATIC, Pass.DYNAMIC),
    dynamic=True,
    summary="A loss captures a symbolic Keras tensor (keras.Input, model.input, a layer output).",
    static_check=check,
    probes=(Probe(Stage.RUNS, probe, rank=1),),
)
