"""LL207 non-finite-loss: the loss is NaN/Inf on ordinary inputs (see
rules/LL207-non-finite-loss.md). Dynamic only."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from losslint.dynamic.describe import fmt
from losslint.findings import Pass, Severity
from losslint.rule import Probe, Rule, Stage

if TYPE_CHECKING:
    from losslint.dynamic.context import RunsContext


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


RULE = Rule(
    code="LL207",
    name="non-finite-loss",
    severity=Severity.WARNING,
    passes=(Pass.DYNAMIC,),
    dynamic=True,
    summary="The loss is NaN/Inf on ordinary inputs.",
    probes=(Probe(Stage.RUNS, probe),),
)
