"""LL109 non-differentiable-loss: the loss's value reaches the prediction only through operations
with no gradient (argmax, rounding, integer casts, comparisons, stop_gradient). The dynamic pass
(losslint/dynamic/probe.py) confirms it: the gradient w.r.t. y_pred is None or zero."""

from __future__ import annotations

from collections.abc import Iterator

from losslint.findings import Finding, Pass, Severity
from losslint.rule import Rule
from losslint.static.context import FileContext, code_of
from losslint.static.dataflow import PREDICTION, analyse, no_gradient_kind, runs_on_tensors, trained_loss


def check(ctx: FileContext) -> Iterator[Finding]:
    for loss in ctx.index.losses:
        if not trained_loss(ctx, loss) or not runs_on_tensors(ctx, loss):
            continue
        analysis = analyse(ctx, loss)
        dependent = [(expr, v) for expr, v in analysis.returns if PREDICTION in v.roles]
        if not dependent or any(v.grad for _, v in dependent):
            continue  # some returned value carries a gradient to y_pred
        reported: set[int] = set()
        for expr, value in dependent:
            cut = value.cut
            if cut is None or id(cut) in reported:
                continue
            reported.add(id(cut))
            prediction = analysis.names_for({PREDICTION})
            yield ctx.finding(
                RULE,
                cut,
                f"loss `{loss.name}` depends on {prediction} only through `{code_of(cut, 50)}` "
                f"({no_gradient_kind(ctx, cut)}), which has no gradient: the returned "
                f"`{code_of(expr, 40)}` gives the model nothing to learn from. As the only loss, "
                "Keras 3 fails at the first step with 'No gradients provided for any variable'; "
                "next to other losses, it is logged but the weights only it depends on never train",
                "train on a differentiable surrogate of it (crossentropy for an accuracy, a "
                "sigmoid/softmax instead of a threshold or argmax) and keep this quantity as a metric",
                scope=loss.node,
                related=tuple(ctx.related(c, "loss given to compile here") for c in loss.compile_calls),
            )


RULE = Rule(
    code="LL109",
    name="non-differentiable-loss",
    severity=Severity.ERROR,
    passes=(Pass.STATIC, Pass.DYNAMIC,),
    dynamic=True,
    summary="The loss does not depend differentiably on y_pred (argmax, round, int casts).",
    static_check=check,
)
