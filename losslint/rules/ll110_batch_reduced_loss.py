"""LL110 batch-reduced-loss: a loss reduces over the batch axis itself (seed 000). The dynamic pass
(losslint/dynamic/probe.py) measures the batch-size scaling."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from losslint.findings import Finding, Pass, Severity
from losslint.rule import Rule
from losslint.static.context import FileContext, code_of
from losslint.static.dataflow import analyse, runs_on_tensors, trained_loss
from losslint.static.discovery import keyword

_WEIGHT_KEYWORDS = ("sample_weight", "class_weight")


def check(ctx: FileContext) -> Iterator[Finding]:
    weighted = _weighted_fit(ctx)
    for loss in ctx.index.losses:
        if not trained_loss(ctx, loss) or not runs_on_tensors(ctx, loss):
            continue
        analysis = analyse(ctx, loss)
        reported: set[int] = set()
        for _expr, value in analysis.returns:
            if value.batch_sum is not None and id(value.batch_sum) not in reported:
                reported.add(id(value.batch_sum))
                call = value.batch_sum
                yield ctx.finding(
                    RULE,
                    call,
                    f"`{code_of(call, 50)}` in loss `{loss.name}` sums over the batch axis too "
                    f"({_axis_text(call)}) and the loss returns that scalar: Keras expects one value "
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


def _weighted_fit(ctx: FileContext) -> tuple[cst.Call, str] | None:
    for call in ctx.index.fit_calls:
        for name in _WEIGHT_KEYWORDS:
            value = keyword(call, name)
            if value is not None and not (isinstance(value, cst.Name) and value.value == "None"):
                return call, name
    return None


def _axis_text(call: cst.Call) -> str:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value in ("axis", "reduction_indices"):
            return f"axis={code_of(arg.value, 20)}"
    positional = [a.value for a in call.args if a.keyword is None]
    if len(positional) > 1:
        return f"axis {code_of(positional[1], 20)}"
    return "no axis"


RULE = Rule(
    code="LL110",
    name="batch-reduced-loss",
    severity=Severity.WARNING,
    passes=(Pass.STATIC, Pass.DYNAMIC,),
    dynamic=True,
    summary="A function loss reduces over the batch axis itself (reduce_sum with no axis).",
    static_check=check,
)
