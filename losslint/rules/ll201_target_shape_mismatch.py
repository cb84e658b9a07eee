"""LL201 target-shape-mismatch: with the real targets and outputs, the loss fails on their
shapes (see rules/LL201-target-shape-mismatch.md). Dynamic only."""

from __future__ import annotations

from typing import TYPE_CHECKING

from losslint.dynamic.describe import shape_text, spec_shape
from losslint.findings import Pass, Severity
from losslint.rule import Probe, Rule, Stage

if TYPE_CHECKING:
    from losslint.dynamic.context import RunsContext


def probe(ctx: RunsContext) -> bool:
    """The loss fails at every batch size with a shape error, and the real targets' shape is
    not the output's (the same shapes make it the loss's own failure: LL206)."""
    if ctx.failure not in ("trace", "all-sizes") or ctx.pair.guessed or ctx.pair.target is None:
        return False
    if not ctx.shape_error or ctx.pair.target.shape[1:] == ctx.output.values.shape[1:]:
        return False
    site, at = ctx.failure_at()
    out = ctx.output.name
    target_shape = shape_text(spec_shape(ctx.pair.target))
    ctx.report(
        RULE, site,
        f"{ctx.info.label} fails on output '{out}' with the real targets: y_true {target_shape} vs y_pred "
        f"{shape_text(spec_shape(ctx.output.values))}{at}: {ctx.error_text}",
        f"make output '{out}' produce the targets' shape {target_shape} (e.g. a Reshape layer) "
        "or give it a loss written for its shape",
    )
    return True


RULE = Rule(
    code="LL201",
    name="target-shape-mismatch",
    severity=Severity.ERROR,
    passes=(Pass.DYNAMIC,),
    dynamic=True,
    summary="With the real targets and outputs, the loss raises or the shapes are incompatible.",
    # After LL205: a label out of range is a TF InvalidArgumentError too.
    probes=(Probe(Stage.RUNS, probe, rank=4),),
    shape_dependent=True,
)
