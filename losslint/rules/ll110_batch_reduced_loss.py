"""LL110 batch-reduced-loss: a loss reduces over the batch axis itself (seed 000): statically
from the reductions it returns, dynamically by doubling the batch."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import libcst as cst

from losslint.dynamic.describe import fmt
from losslint.dynamic.trace import OpInfo, Site, shape_of
from losslint.findings import Finding, Pass, Severity
from losslint.rule import Probe, Rule, Stage
from losslint.static.context import FileContext, code_of
from losslint.static.dataflow import analyse
from losslint.static.discovery import keyword
from losslint.static.tensor_functions import runs_on_tensors, trained_loss

if TYPE_CHECKING:
    from losslint.dynamic.context import ValuesContext

_WEIGHT_KEYWORDS = ("sample_weight", "class_weight")


def check(ctx: FileContext) -> Iterator[Finding]:
    for loss in ctx.index.losses:
        if not trained_loss(ctx, loss) or not runs_on_tensors(ctx, loss):
            continue
        weighted = _weighted_fit(ctx, loss.compile_calls)
        analysis = analyse(ctx, loss)
        reported: set[int] = set()
        for _expr, value in analysis.returns:
            if value.batch_sum is not None and id(value.batch_sum) not in reported:
                reported.add(id(value.batch_sum))
                call = value.batch_sum
                through = "" if _expr is call else f", and the loss returns a function of it, `{code_of(_expr, 40)}`"
                yield ctx.finding(
                    RULE,
                    call,
                    f"`{code_of(call, 50)}` in loss `{loss.name}`{loss.unused_note} sums over the batch axis too "
                    f"({_axis_text(call)}){through}: Keras expects one value "
                    "per sample and averages them, so the loss and its gradient grow with the batch "
                    "size (the effective learning rate with it), the last partial batch weighs less, "
                    "and sample weights only scale the sum",
                    "reduce over the feature axes only (`axis=-1`) and let Keras average over the "
                    "batch, or divide by the batch size",
                    scope=loss.node,
                )
            elif value.batch_mean is not None and weighted is not None and id(value.batch_mean) not in reported:
                reported.add(id(value.batch_mean))
                call = value.batch_mean
                line = ctx.start(weighted[0])[0]
                yield ctx.finding(
                    RULE,
                    call,
                    f"`{code_of(call, 50)}` in loss `{loss.name}` averages over the batch axis too "
                    f"({_axis_text(call)}), but fit gets `{weighted[1]}=` (line {line}): Keras can "
                    "only scale the returned scalar by the weights, not weigh the samples, so the "
                    "weights are silently ignored",
                    "reduce over the feature axes only (`axis=-1`), return one value per sample, and "
                    "let Keras apply the weights and average",
                    scope=loss.node,
                    related=(ctx.related(weighted[0], f"fit with {weighted[1]}= here"),),
                )


def _weighted_fit(ctx: FileContext, compiles: tuple[cst.Call, ...]) -> tuple[cst.Call, str] | None:
    """A fit with sample or class weights of a model the loss may be compiled into: after one of
    the loss's compile calls, on the same model name where both are plain names (a notebook fits
    other models, with other losses, before and after)."""
    for call in ctx.index.fit_calls:
        if compiles and not any(_same_model(ctx, compile_call, call) for compile_call in compiles):
            continue
        for name in _WEIGHT_KEYWORDS:
            value = keyword(call, name)
            if value is not None and not (isinstance(value, cst.Name) and value.value == "None"):
                return call, name
    return None


def _same_model(ctx: FileContext, compile_call: cst.Call, fit: cst.Call) -> bool:
    """The fit may train what the compile call compiled: in another function, always (a model
    built and compiled in one function is fit in another); in the same scope, when it comes
    after it, on the same name."""
    scope = (cst.FunctionDef,)
    if ctx.enclosing(compile_call, scope) is not ctx.enclosing(fit, scope):
        return True
    if ctx.order(compile_call) > ctx.order(fit):
        return False
    a, b = compile_call.func, fit.func
    if isinstance(a, cst.Attribute) and isinstance(b, cst.Attribute):
        if isinstance(a.value, cst.Name) and isinstance(b.value, cst.Name):
            return a.value.value == b.value.value
    return True


def _axis_text(call: cst.Call) -> str:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value in ("axis", "reduction_indices"):
            return f"axis={code_of(arg.value, 20)}"
    positional = [a.value for a in call.args if a.keyword is None]
    if len(positional) > 1:
        return f"axis {code_of(positional[1], 20)}"
    return "no axis"


# ---- dynamic: a scalar loss that grows with the batch, or cannot weigh samples ------------


def batch_sum_sites(ops: list[OpInfo], batch: int) -> list[Site]:
    """User-code `Sum` reductions over a tensor whose first axis is the batch."""
    found: list[Site] = []
    for info in ops:
        if info.type != "Sum" or info.site is None or not info.out_roles:
            continue
        shape = shape_of(info.op.inputs[0])
        if not shape or shape[0] != batch:
            continue
        out = info.out_shape()
        if out is not None and (len(out) == 0 or out[0] != batch):
            found.append(info.site)
    return found


def probe(ctx: ValuesContext) -> bool:
    """A loss that returns one value for the batch (a scalar, or values with the batch axis
    reduced away, as `sum(..., axis=0)` leaves them): doubling the batch with the same rows
    must leave a per-sample average unchanged."""
    import math

    import numpy as np

    from losslint.dynamic.context import tile

    per, total, size = ctx.per, ctx.total, ctx.size
    if per is None or (per.ndim >= 1 and per.shape[0] == size):
        return False  # one value per sample: Keras averages them
    double = 2 * size
    try:
        total2, _, _ = ctx.evaluate(
            # the same `size` rows twice: only the batch size changes
            tile(ctx.y_true, double),
            tile(ctx.y_pred, double),
            gradient=False,
        )
    except Exception:  # noqa: BLE001 - e.g. a fixed batch size: reported elsewhere
        return False
    if not np.isfinite(total2) or abs(total) < 1e-6:
        return False
    ratio = total2 / total
    name = ctx.output.name
    doubled = f"with the batch doubled ({size} -> {double} samples, the same rows twice) the loss went from " \
              f"{fmt(total)} to {fmt(total2)}"
    if abs(ratio - 2.0) < 0.05 or abs(ratio - math.sqrt(2.0)) < 0.03:
        sums = batch_sum_sites(ctx.ops, size)
        how = "sums over the batch" if abs(ratio - 2.0) < 0.05 else \
            "grows with the square root of the batch size (a norm or RMSE over the batch)"
        ctx.report(
            RULE, sums[-1] if sums else ctx.info.def_site,
            f"{ctx.info.label} on output '{name}' {how}: {doubled}, so the "
            "effective learning rate scales with batch_size and the last partial batch weighs less",
            "reduce over the batch with a mean (or return per-sample losses and let Keras reduce them)",
        )
    elif abs(ratio - 1.0) < 0.05 and ctx.model.sample_weighted:
        ctx.report(
            RULE, ctx.info.def_site,
            f"{ctx.info.label} on output '{name}' returns one scalar for the whole batch, but fit gets "
            "sample_weight/class_weight: Keras can only scale that scalar, not weigh the samples",
            "return per-sample losses (reduce over the non-batch axes only) and let Keras apply the weights",
        )
    return False

RULE = Rule(
    code="LL110",
    name="batch-reduced-loss",
    severity=Severity.WARNING,
    passes=(Pass.STATIC, Pass.DYNAMIC,),
    dynamic=True,
    summary="A function loss reduces over the batch axis itself (reduce_sum with no axis).",
    static_check=check,
    probes=(Probe(Stage.VALUES, probe, rank=2),),
)
