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
            reason = _fixed_batch(ctx, function, node, api, first)
            if reason is None:
                continue
            where = function.what
            shown = f"..., {code_of(shape)}" if _SHAPE_ARGUMENT[api.leaf][0] else code_of(shape)
            yield ctx.finding(
                RULE,
                node,
                f"`{api.short()}({shown})` in {where} `{function.name}` fixes the batch dimension "
                f"to {reason}: the last partial batch, and `evaluate`/`predict` with another batch "
                "size, fail ('Input to reshape is a tensor with N values, but the requested shape "
                "has M' / 'Incompatible shapes')",
                "use -1 (or `tf.shape(x)[0]` / `keras.ops.shape(x)[0]`) for the batch dimension",
                scope=function.node,
            )


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
    import traceback

    from losslint.dynamic.capture import SourceLine
    from losslint.dynamic.context import exception_text

    where = next(
        (SourceLine(frame.filename, frame.lineno or 1) for frame in reversed(traceback.extract_tb(failure.error.__traceback__))
         if frame.filename in ctx.user),
        None,
    )
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
