"""LL109 non-differentiable-loss: the loss's value reaches the prediction only through operations
with no gradient (argmax, rounding, integer casts, comparisons, stop_gradient). The dynamic pass
(losslint/dynamic/probe.py) confirms it: the gradient w.r.t. y_pred is None or zero."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from losslint.dynamic.trace import PRED, OpInfo, Site
from losslint.findings import Finding, Pass, Severity
from losslint.rule import Probe, Rule, Stage
from losslint.static.context import FileContext, code_of
from losslint.static.dataflow import PREDICTION, analyse, no_gradient_kind
from losslint.static.tensor_functions import runs_on_tensors, trained_loss

if TYPE_CHECKING:
    from losslint.dynamic.context import ValuesContext


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
                f"loss `{loss.name}`{loss.unused_note} depends on {prediction} only through `{code_of(cut, 50)}` "
                f"({no_gradient_kind(ctx, cut)}), which has no gradient: the returned "
                f"`{code_of(expr, 40)}` gives the model nothing to learn from. As the only loss, "
                "Keras 3 fails at the first step with 'No gradients provided for any variable'; "
                "next to other losses, it is logged but the weights only it depends on never train",
                "train on a differentiable surrogate of it (crossentropy for an accuracy, a "
                "sigmoid/softmax instead of a threshold or argmax) and keep this quantity as a metric",
                scope=loss.node,
                related=tuple(ctx.related(c, "loss given to compile here") for c in loss.compile_calls),
            )


# ---- dynamic: the gradient w.r.t. y_pred is None or zero everywhere probed ----------------

# Ops with no useful gradient: the loss stops depending differentiably on their input.
NON_DIFFERENTIABLE_OPS = frozenset({
    "ArgMax", "ArgMin", "Round", "Floor", "Ceil", "Sign", "Rint", "Equal", "NotEqual",
    "Greater", "GreaterEqual", "Less", "LessEqual", "TopKV2", "Unique",
})
_INT_DTYPES = ("int", "uint", "bool")


def non_differentiable(ops: list[OpInfo]) -> list[tuple[Site, str]]:
    """Ops in user code on the y_pred path whose gradient is None or zero."""
    found: list[tuple[Site, str]] = []
    for info in ops:
        if info.site is None or PRED not in info.out_roles:
            continue
        kind = info.type
        if kind == "Cast":
            try:
                dst = info.op.get_attr("DstT").name
            except Exception:  # noqa: BLE001
                continue
            if not dst.startswith(_INT_DTYPES):
                continue
            kind = f"Cast to {dst}"
        elif kind not in NON_DIFFERENTIABLE_OPS:
            continue
        found.append((info.site, kind))
    return found


def probe(ctx: ValuesContext) -> bool:
    import numpy as np

    grad = ctx.grad
    if grad is not None and np.any(grad != 0):
        return False
    if grad is not None:
        y_pred = ctx.y_pred
        noise = ctx.rng.standard_normal(y_pred.shape).astype(np.float32) * (float(np.std(y_pred)) * 0.5 + 0.1)
        try:
            _, _, other = ctx.evaluate(ctx.y_true, y_pred + noise)
        except Exception:  # noqa: BLE001
            return False
        if other is None or not np.all(np.isfinite(other)) or np.any(other != 0):
            return False
    cuts = non_differentiable(ctx.ops)
    what = "is None: the loss does not depend on y_pred at all" if grad is None else "is zero at every point probed"
    if cuts:
        site, kind = cuts[0]
        what += f"; `{site.text}` (line {site.line}, {kind}) has no gradient"
    else:
        site = ctx.info.def_site
    ctx.report(RULE, site, f"the gradient of {ctx.info.label} w.r.t. y_pred of output '{ctx.output.name}' {what}, "
               "so fit cannot train the model through it",
               "compute the loss from y_pred with differentiable ops (no argmax/round/casts to int/comparisons "
               "on the gradient path); use a smooth surrogate such as crossentropy")
    return True


RULE = Rule(
    code="LL109",
    name="non-differentiable-loss",
    severity=Severity.ERROR,
    passes=(Pass.STATIC, Pass.DYNAMIC,),
    dynamic=True,
    summary="The loss does not depend differentiably on y_pred (argmax, round, int casts).",
    static_check=check,
    probes=(Probe(Stage.VALUES, probe, rank=0),),
)
