"""LL206 loss-probe-failed: the loss raises on tensors of the right shapes, and no other rule
explains why (see rules/LL206-loss-probe-failed.md). Dynamic only."""

from __future__ import annotations

from typing import TYPE_CHECKING

from losslint.dynamic.describe import shape_text, spec_shape
from losslint.findings import Pass, Severity
from losslint.rule import Probe, Rule, Stage
from losslint.rules.ll205_label_encoding_mismatch import label_out_of_range

if TYPE_CHECKING:
    from losslint.dynamic.context import RunsContext


def probe_failure(ctx: RunsContext) -> bool:
    """What no other rule explains: Keras cannot resolve the loss, or it raises at every batch
    size (with a shape error only when the real targets have the output's shape, so that it
    is the loss's own ops that fail)."""
    if ctx.failure == "resolve":
        ctx.report(
            RULE, ctx.model.reporter.compile_site(),
            f"cannot resolve loss {ctx.pair.identifier!r}: {ctx.error_text}",
            "pass a loss function, a loss name or a keras.losses.Loss",
        )
        return True
    if ctx.failure not in ("trace", "all-sizes") or ctx.pair.guessed:
        return False
    if label_out_of_range(ctx.error):
        return False  # LL205's, or a wrong guess of the targets
    target = ctx.pair.target
    if ctx.shape_error and (target is None or target.shape[1:] != ctx.output.values.shape[1:]):
        return False  # a wrong guess of the targets, or LL201's
    site, at = ctx.failure_at()
    pred_shape = shape_text(spec_shape(ctx.output.values))
    target_shape = shape_text(spec_shape(target)) if target is not None else None
    ctx.report(
        RULE, site,
        f"{ctx.info.label} raises on output '{ctx.output.name}' with y_true {target_shape or pred_shape} and y_pred "
        f"{pred_shape}{at}{ctx.assumed_targets()}: {ctx.error_text}",
        "make the loss run on tensors of these shapes (see the exception)",
    )
    return True


RULE = Rule(
    code="LL206",
    name="loss-probe-failed",
    severity=Severity.ERROR,
    passes=(Pass.DYNAMIC,),
    dynamic=True,
    summary="The loss raises on dummy tensors of the right shapes.",
    # The generic failure, after every rule that explains one.
    probes=(Probe(Stage.RUNS, probe_failure, rank=5),),
    shape_dependent=True,
)
