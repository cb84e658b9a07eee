"""LL206 loss-probe-failed: the loss raises on tensors of the right shapes, or only when
traced with an unknown batch dimension as fit traces it (see rules/LL206-loss-probe-failed.md).
Dynamic only."""

from __future__ import annotations

from typing import TYPE_CHECKING

from losslint.dynamic.describe import shape_text, spec_shape
from losslint.findings import Pass, Severity
from losslint.rule import Probe, Rule, Stage
from losslint.rules.ll103_hardcoded_batch_size import static_batch_note
from losslint.rules.ll205_label_encoding_mismatch import label_out_of_range

if TYPE_CHECKING:
    from losslint.dynamic.context import RunsContext


def probe_unknown_batch(ctx: RunsContext) -> bool:
    """Runs at every fixed batch size, fails traced with a batch dimension of None."""
    if ctx.failure != "unknown-batch":
        return False
    site, at = ctx.failure_at()
    ctx.report(
        RULE, site,
        f"{ctx.info.label} fails on output '{ctx.output.name}' when traced with an unknown batch "
        f"dimension (None), as Keras traces it in fit{at}, although it runs at fixed batch "
        f"sizes{_assumed(ctx)}: {ctx.error_text}{static_batch_note(ctx.fit)}",
        "use dynamic shapes (`tf.shape(x)`/`keras.ops.shape(x)`) instead of Python ints from `x.shape`",
    )
    return True


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
        f"{pred_shape}{at}{_assumed(ctx)}: {ctx.error_text}",
        "make the loss run on tensors of these shapes (see the exception)",
    )
    return True


def _assumed(ctx: RunsContext) -> str:
    if ctx.pair.target is not None:
        return ""
    return (
        f" (the script never called fit, so targets shaped like the output "
        f"{shape_text(spec_shape(ctx.output.values))} were assumed)"
    )


RULE = Rule(
    code="LL206",
    name="loss-probe-failed",
    severity=Severity.ERROR,
    passes=(Pass.DYNAMIC,),
    dynamic=True,
    summary="The loss raises on dummy tensors of the right shapes.",
    # After LL111/LL105 (what fails is a tensor used as a bool, or a symbolic tensor); the
    # generic failure last of all.
    probes=(Probe(Stage.RUNS, probe_unknown_batch, rank=2), Probe(Stage.RUNS, probe_failure, rank=5)),
    shape_dependent=True,
)
