"""LL207 non-finite-loss: the loss is NaN/Inf on ordinary inputs (see
rules/LL207-non-finite-loss.md). Dynamic only."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from losslint.dynamic.describe import fmt, output_activation
from losslint.dynamic.trace import PRED
from losslint.findings import Pass, Severity
from losslint.rule import Probe, Rule, Stage

if TYPE_CHECKING:
    from losslint.dynamic.context import RunsContext, ValuesContext


def probe(ctx: RunsContext) -> bool:
    """The loss ran at every batch size; one of the values is NaN or Inf."""
    if ctx.failure is not None:
        return False
    for size in ctx.sizes:
        total = ctx.runs[size].total
        if total is None or math.isfinite(total):
            continue
        site = ctx.numerics_site(size) or ctx.info.def_site
        out, target = ctx.output.values, ctx.target
        ctx.report(
            RULE, site,
            f"{ctx.info.label} is {fmt(total)} on output '{ctx.output.name}' for ordinary inputs "
            f"(y_pred in [{fmt(float(out.min()))}, {fmt(float(out.max()))}], y_true in "
            f"[{fmt(float(target.min()))}, {fmt(float(target.max()))}], batch size {size})"
            + (f"; the first non-finite value comes from line {site.line}" if site is not None and site != ctx.info.def_site else ""),
            "clip the argument of log/sqrt/division (e.g. `keras.ops.clip(y_pred, eps, 1 - eps)`) or add an epsilon",
        )
        return True
    return False


# Ops whose gradient is infinite or NaN at the edge of their domain (sqrt at 0, log at 0, x/0).
_EDGE_OPS = frozenset({"Sqrt", "Rsqrt", "Log", "Log1p", "Pow", "RealDiv", "Div", "Xlogy", "Xdivy", "Reciprocal"})
# The values an output's final activation can take: where y_pred == y_true is a possible prediction.
_RANGES = {"sigmoid": (0.0, 1.0), "softmax": (0.0, 1.0), "tanh": (-1.0, 1.0), "relu": (0.0, math.inf),
           "linear": (-math.inf, math.inf)}


def probe_edges(ctx: ValuesContext) -> bool:
    """Finite on ordinary inputs, NaN/Inf at the edges the model reaches in training: a perfect
    prediction (y_pred == y_true: `sqrt(mean(square(e)))` has an infinite gradient at e = 0, a
    crossentropy without clipping is 0 * log(0) at a one-hot target) and, for a probability
    output, the confident wrong one (y_pred == 1 - y_true: an unclipped log(0))."""
    import numpy as np

    y_true, y_pred = ctx.y_true, ctx.y_pred
    if y_true is None or y_pred is None or y_true.shape != y_pred.shape or not y_true.size:
        return False
    activation = output_activation(ctx.output.layer)[0]
    low, high = _RANGES.get(activation or "", (None, None))
    if low is None or float(y_true.min()) < low or float(y_true.max()) > high:
        return False  # y_pred == y_true is no prediction this output can make
    points = [("y_pred == y_true (a perfect prediction)", y_true.copy())]
    if activation in ("sigmoid", "softmax"):
        points.append(("y_pred == 1 - y_true (a saturated, confidently wrong prediction)", (1.0 - y_true).astype(np.float32)))
    for what, point in points:
        try:
            total, _, grad = ctx.evaluate(y_true, point)
        except Exception:  # noqa: BLE001 - the RUNS checks report failures
            continue
        if not math.isfinite(total):
            site = ctx.non_finite_site(y_true, point) or ctx.info.def_site
            found = f"is {fmt(total)} at {what}"
        elif grad is not None and not np.all(np.isfinite(grad)):
            edges = [op.site for op in ctx.ops if op.type in _EDGE_OPS and op.site is not None and PRED in op.out_roles]
            site = edges[0] if edges else ctx.info.def_site
            found = f"has a NaN/Inf gradient w.r.t. y_pred at {what}"
        else:
            continue
        line = f"; `{site.text}` (line {site.line})" if site is not None and site != ctx.info.def_site else ""
        ctx.report(
            RULE, site,
            f"{ctx.info.label} on output '{ctx.output.name}' is finite on ordinary inputs but {found}{line}: "
            "training reaches such outputs, and one NaN gradient makes every weight NaN",
            "clip the argument of log/sqrt/division (e.g. `keras.ops.clip(y_pred, eps, 1 - eps)`), or add an "
            "epsilon (`sqrt(x + eps)`)",
        )
        return True
    return False


RULE = Rule(
    code="LL207",
    name="non-finite-loss",
    severity=Severity.WARNING,
    passes=(Pass.DYNAMIC,),
    dynamic=True,
    summary="The loss is NaN/Inf on ordinary inputs.",
    # VALUES: after LL109 and LL208, whose findings explain odd values better.
    probes=(Probe(Stage.RUNS, probe), Probe(Stage.VALUES, probe_edges, rank=2)),
)
