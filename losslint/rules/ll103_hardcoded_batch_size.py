"""LL103 hardcoded-batch-size: a fixed batch dimension inside a loss or a layer (seed 004)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import libcst as cst

from losslint.findings import Finding, Pass, Severity
from losslint.rule import Probe, Rule, Stage
from losslint.static.context import FileContext, code_of, dotted
from losslint.static.discovery import BATCH_SIZE_NAME, TensorFunction, derives, int_value, keyword
from losslint.static.names import Api
from losslint.static.tensor_functions import trained_loss

if TYPE_CHECKING:
    from losslint.dynamic.capture import FitRecord
    from losslint.dynamic.context import ModelContext, RunsContext

# op -> (index of the shape argument, its keyword names); reshape-like ops take a tensor first.
_SHAPE_ARGUMENT = {
    "reshape": (1, ("shape", "newshape")),
    "broadcast_to": (1, ("shape",)),
    "tile": (1, ("multiples", "repeats", "n")),
    "ones": (0, ("shape",)),
    "zeros": (0, ("shape",)),
    "fill": (0, ("dims", "shape")),
    "normal": (0, ("shape",)),
    "uniform": (0, ("shape",)),
}
# Ops whose first argument is the tensor they give a new shape, batch axis first.
_RESHAPES = frozenset({"reshape", "broadcast_to"})


def check(ctx: FileContext) -> Iterator[Finding]:
    for function in ctx.index.tensor_functions:
        for node in ctx.walk(function.node.body):
            if not isinstance(node, cst.Call):
                continue
            api = ctx.call_api(node)
            if api is None or api.op is None or api.leaf not in _SHAPE_ARGUMENT:
                continue
            if api.leaf in ("normal", "uniform") and "random" not in api.path:
                continue
            shape = _shape_argument(node, api)
            if not isinstance(shape, (cst.List, cst.Tuple)) or not shape.elements:
                continue
            first = shape.elements[0].value
            static = _static_batch(ctx, function, first) if _traced_loss(ctx, function) else None
            if static is not None:
                yield _static_batch_finding(ctx, function, node, api, shape, first, static)
                continue
            reason = _fixed_batch(ctx, function, node, api, first)
            if reason is None:
                continue
            where = function.what
            yield ctx.finding(
                RULE,
                node,
                f"`{_shown_call(api, shape)}` in {where} `{function.name}` fixes the batch dimension "
                f"to {reason}: the last partial batch, and `evaluate`/`predict` with another batch "
                "size, fail ('Input to reshape is a tensor with N values, but the requested shape "
                "has M' / 'Incompatible shapes')",
                "use -1 (or `tf.shape(x)[0]` / `keras.ops.shape(x)[0]`) for the batch dimension",
                scope=function.node,
            )


def _shown_call(api: Api, shape: cst.BaseExpression) -> str:
    shown = f"..., {code_of(shape)}" if _SHAPE_ARGUMENT[api.leaf][0] else code_of(shape)
    return f"{api.short()}({shown})"


# ---- the batch size read as a Python int from the static shape ---------------------------------


def _traced_loss(ctx: FileContext, function: TensorFunction) -> bool:
    """A loss Keras traces in fit (given to compile, a Loss subclass, a step's loss, or a
    function named like a loss): a helper found only by its parameter names may run eagerly on
    concrete tensors, where the static shape is the real one. Layers are left alone: Keras
    builds them on a symbolic input whose batch is None, and their authors meet that at once."""
    if function.kind != "loss":
        return False
    return function.origin != "signature" or trained_loss(ctx, function)


def _static_batch_finding(
    ctx: FileContext, function: TensorFunction, call: cst.Call, api: Api, shape: cst.BaseExpression,
    first: cst.BaseExpression, role: str,
) -> Finding:
    return ctx.finding(
        RULE,
        call,
        f"`{_shown_call(api, shape)}` in loss `{function.name}` takes the batch dimension "
        f"`{code_of(first, 40)}` as a Python int from the static shape of the {role}: fit traces "
        "the loss first at its first batch's size, where it is known, and again with an unknown "
        "batch dimension (None) when a batch of another size comes, the last partial batch or "
        "`evaluate`'s, and then fails ('Failed to convert elements of (None, 1) to Tensor' from "
        "tf.reshape, 'Expected int32, but got None' from keras.ops.ones)",
        "use the dynamic shape for the batch dimension: `tf.shape(x)[0]` / `keras.ops.shape(x)[0]`, "
        "or -1 in a reshape",
        scope=function.node,
    )


def _static_batch(ctx: FileContext, function: TensorFunction, expr: cst.BaseExpression, depth: int = 0) -> str | None:
    """The role of the tracked tensor whose static batch size `expr` is: `y_pred.shape[0]`,
    `K.int_shape(y_pred)[0]`, `y_pred.get_shape().as_list()[0]`, `int(...)` of one, or a name
    bound only to one inside the function (`batch_size = shape[0]`). None otherwise."""
    if depth > 4:
        return None
    if isinstance(expr, cst.Subscript) and len(expr.slice) == 1:
        index = expr.slice[0].slice
        if isinstance(index, cst.Index) and int_value(index.value) == 0:
            return _static_shape(ctx, function, expr.value, depth + 1)
        return None
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name) and expr.func.value == "int":
        return _static_batch(ctx, function, expr.args[0].value, depth + 1) if len(expr.args) == 1 else None
    if isinstance(expr, cst.Name):
        roles = {
            _static_batch(ctx, function, value, depth + 1) if position is None
            else _leading_slice(ctx, function, value, depth) if position == 0
            else None
            for value, position in _sources(ctx, function, expr)
        }
        return roles.pop() if len(roles) == 1 and None not in roles else None
    return None


def _static_shape(ctx: FileContext, function: TensorFunction, expr: cst.BaseExpression, depth: int) -> str | None:
    """The role of the tracked tensor `expr` is the static shape of: `x.shape`, `x.get_shape()`,
    `.as_list()` of either, `K.int_shape(x)`, `list(...)`/`tuple(...)` of one, or a local name
    bound only to one. `tf.shape(x)` / `keras.ops.shape(x)` are dynamic: never."""
    if depth > 6:
        return None
    if isinstance(expr, cst.Attribute) and expr.attr.value == "shape" and ctx.api(expr) is None:
        return derives(ctx, expr.value, function.tracked)
    if isinstance(expr, cst.Call):
        func = expr.func
        if isinstance(func, cst.Attribute) and not expr.args and ctx.api(func) is None:
            if func.attr.value == "get_shape":
                return derives(ctx, func.value, function.tracked)
            if func.attr.value == "as_list":
                return _static_shape(ctx, function, func.value, depth + 1)
        if isinstance(func, cst.Name) and func.value in ("list", "tuple") and len(expr.args) == 1:
            return _static_shape(ctx, function, expr.args[0].value, depth + 1)
        api = ctx.call_api(expr)
        named = dotted(func) or ""
        int_shape = api.leaf == "int_shape" if api is not None else named.endswith("int_shape")
        if int_shape and expr.args:
            return derives(ctx, expr.args[0].value, function.tracked)
        return None
    if isinstance(expr, cst.Name):
        roles = {
            _static_shape(ctx, function, value, depth + 1) if position is None else None
            for value, position in _sources(ctx, function, expr)
        }
        return roles.pop() if len(roles) == 1 and None not in roles else None
    return None


def _sources(ctx: FileContext, function: TensorFunction, name: cst.Name) -> list[tuple[cst.BaseExpression, int | None]]:
    """(value, position) for each binding of the name: position None for `name = value`, the
    index in the tuple for `a, name = value`. Empty when the name has a binding of another kind
    or outside the function (a parameter, a loop variable, a module constant)."""
    found: list[tuple[cst.BaseExpression, int | None]] = []
    sites = ctx.binding_sites(name)
    for site in sites:
        if not ctx.is_within(site, function.node):
            return []
        parent = ctx.parent(site)
        position = None
        if isinstance(parent, cst.Element):
            tuple_ = ctx.parent(parent)
            if not isinstance(tuple_, (cst.Tuple, cst.List)):
                return []
            position = next(i for i, e in enumerate(tuple_.elements) if e is parent)
            parent = ctx.parent(tuple_)
        assign = ctx.parent(parent) if isinstance(parent, cst.AssignTarget) else None
        if not isinstance(assign, cst.Assign):
            return []
        found.append((assign.value, position))
    return found


def _leading_slice(ctx: FileContext, function: TensorFunction, value: cst.BaseExpression, depth: int) -> str | None:
    """`y_pred.shape` or `y_pred.shape[:2]` unpacked: the static shape's role, batch first."""
    if isinstance(value, cst.Subscript) and len(value.slice) == 1 and isinstance(value.slice[0].slice, cst.Slice):
        lower = value.slice[0].slice.lower
        if lower is not None and int_value(lower) != 0:
            return None
        value = value.value
    return _static_shape(ctx, function, value, depth + 1)


def _shape_argument(call: cst.Call, api: Api) -> cst.BaseExpression | None:
    position, names = _SHAPE_ARGUMENT[api.leaf]
    for name in names:
        value = keyword(call, name)
        if value is not None:
            return value
    positional = [a.value for a in call.args if a.keyword is None and not a.star]
    return positional[position] if len(positional) > position else None


def _fixed_batch(
    ctx: FileContext, function: TensorFunction, call: cst.Call, api: Api, first: cst.BaseExpression
) -> str | None:
    """Why `first` is a fixed batch size, for the message; None when it is not one."""
    literal = int_value(first)
    if literal is not None:
        if literal in ctx.index.batch_size_literals:
            return f"{literal}, the batch size this script trains with"
        reshapes = api.leaf in _RESHAPES and call.args
        if reshapes and literal >= 2 and derives(ctx, call.args[0].value, function.tracked):
            return f"the literal {literal}"
        return None
    name = dotted(first)
    if name is None:
        return None
    leaf = name.rsplit(".", 1)[-1]
    if not BATCH_SIZE_NAME.match(leaf):
        return None
    if isinstance(first, cst.Name) and not _fixed_outside(ctx, function, first):
        return None  # e.g. `batch_size = ops.shape(x)[0]` in the function: dynamic, correct
    return f"`{name}`"


def _fixed_outside(ctx: FileContext, function: TensorFunction, name: cst.Name) -> bool:
    """True when `name` is bound only outside the function: a module constant, a factory's
    parameter. Any binding inside it (`batch_size, n = ops.shape(x)[:2]`) makes it dynamic."""
    sites = ctx.binding_sites(name)
    return bool(sites) and not any(ctx.is_within(site, function.node) for site in sites)


# ---- dynamic: the loss works at some batch sizes and fails at others ----------------------


def probe(ctx: RunsContext) -> bool:
    """The loss works at some batch sizes and fails at others, or works only traced at fixed
    sizes (a Python int from `y_pred.shape` is None when fit traces), or works only at the
    number of samples fit gets (it holds an array with one row per training sample)."""
    site, at = ctx.failure_at()
    label, name = ctx.info.label, ctx.output.name
    fix = "use -1 (or `tf.shape(y_pred)[0]` / `keras.ops.shape(y_pred)[0]`) for the batch dimension, never a fixed size"
    if ctx.failure == "some-sizes":
        message = (
            f"{label} on output '{name}' depends on the batch size: it works at batch size {ctx.sized(ctx.ok)} "
            f"but fails at {ctx.sized(ctx.bad)}: {ctx.error_text}"
        )
    elif ctx.failure == "unknown-batch":
        message = (
            f"{label} on output '{name}' fails when traced with an unknown batch dimension (None), as "
            f"Keras traces it in fit{at}, although it runs at fixed batch sizes{ctx.assumed_targets()}: {ctx.error_text}"
        )
        fix = "use dynamic shapes (`tf.shape(x)`/`keras.ops.shape(x)`) instead of Python ints from `x.shape`"
    elif ctx.at_data_size is not None and ctx.at_data_size.error is None and ctx.at_data_size.total is not None:
        data_size = ctx.at_data_size.size
        message = (
            f"{label} on output '{name}' runs only at batch size {data_size}, the number of samples fit gets: "
            f"it fails at {ctx.sized(ctx.bad)}{at}: {ctx.error_text}; it holds an array (or a shape) with one "
            "row per training sample, which a batch never has"
        )
        fix = ("give per-sample values to the loss through the data (`sample_weight=` in fit, or an extra "
               "target column), not an array of the whole training set")
    else:
        return False
    ctx.report(RULE, site, message + static_batch_note(ctx.fit), fix)
    return True


def probe_forward(ctx: ModelContext) -> bool:
    """The model itself fails on a few rows of the batch and runs on the whole batch: a layer
    built for a fixed batch size (`reshape(x, (self.batch_size, -1))`), which fit's last partial
    batch, evaluate and predict break."""
    failure = ctx.forward_failure
    if failure is None:
        return False
    from losslint.dynamic.capture import SourceLine
    from losslint.dynamic.context import exception_site, exception_text

    site = exception_site(failure.error, ctx.user)
    where = SourceLine(site.path, site.line) if site is not None else None
    fit = ctx.fit
    last = ""
    if fit is not None and fit.data_size and fit.batch_size and fit.data_size % fit.batch_size:
        last = (f"; fit's last partial batch ({fit.data_size} samples, batch_size {fit.batch_size}: "
                f"{fit.data_size % fit.batch_size} left) fails the same way, as do evaluate and predict on other sizes")
    at = f" (line {where.line})" if where is not None else ""
    ctx.report(
        RULE, where or ctx.compile.where,
        f"model `{getattr(ctx.model, 'name', '?')}` depends on the batch size: it runs on a batch of {failure.ran_rows} "
        f"(the batch size fit uses) but fails on {failure.failed_rows} rows{at}: {exception_text(failure.error)}{last}",
        "use -1 (or `keras.ops.shape(x)[0]`) for the batch dimension in the layer, never a batch size given "
        "to its constructor",
    )
    return False  # the losses are still probed, on the batch's outputs


def static_batch_note(fit: FitRecord | None) -> str:
    """keras3-facts case 4: a dataset batched with drop_remainder=True has a static batch
    size, fit traces the loss with it and trains, and evaluate/predict fail later."""
    static = fit.extra.get("static_batch") if fit is not None else None
    if not static:
        return ""
    return (
        f" (fit's dataset is batched with drop_remainder=True, so training only ever sees batch size "
        f"{static} and runs; evaluate, predict and any other data fail)"
    )


RULE = Rule(
    code="LL103",
    name="hardcoded-batch-size",
    severity=Severity.ERROR,
    passes=(Pass.STATIC, Pass.DYNAMIC),
    dynamic=True,
    summary="A loss or layer reshapes/tiles with a fixed batch dimension.",
    static_check=check,
    # After LL111/LL105 (a tensor used as a bool, a symbolic tensor), which fail at any size, and
    # after LL102/LL208 (an index on the batch axis, samples grouped), which explain the sizes.
    probes=(Probe(Stage.RUNS, probe, rank=3), Probe(Stage.FORWARD, probe_forward)),
    shape_dependent=True,
)
