"""LL201 target-shape-mismatch: with the real targets and outputs, the loss fails on their
shapes (see rules/LL201-target-shape-mismatch.md). Dynamic only."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from losslint.dynamic.describe import crossentropy_kind, shape_text, spec_shape
from losslint.findings import Pass, Severity
from losslint.rule import Probe, Rule, Stage

if TYPE_CHECKING:
    from losslint.dynamic.context import PairContext, RunsContext


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


def probe_builtin(ctx: PairContext) -> bool:
    """A Keras built-in loss ran on the real targets, but on more predictions per sample than
    targets, or fewer: Keras aligned the ranks and broadcast, as with `(N, T, 1)` from
    `return_sequences=True` against `(N, 1)` targets, or `(N, 1)` against `(N, 18, 1)`. A sparse crossentropy has one label per
    row of class scores; a CTC loss pairs sequences of other lengths by design."""
    target = ctx.pair.target
    if target is None or ctx.pair.guessed:
        return False
    name = (getattr(ctx.info.builtin_fn, "__name__", "") or ctx.info.name).lower()
    if "ctc" in name:
        return False
    per_target = math.prod(target.shape[1:])
    outputs = ctx.output.values.shape[1:]
    per_output = math.prod(outputs)
    if crossentropy_kind(ctx.info) == "sparse":
        per_output = math.prod(outputs[:-1]) if outputs else 1
    if per_target == 0 or per_output == 0 or per_output == per_target:
        return False
    target_shape = shape_text(spec_shape(target))
    if per_output > per_target and not per_output % per_target:
        what = (f"each target is compared with {per_output // per_target} predictions (every step of a sequence "
                "output trained towards the same value)")
        fix = (f"make output '{ctx.output.name}' produce the targets' shape {target_shape} (e.g. "
               "`return_sequences=False` on the last recurrent layer, or a Flatten/pooling before the last "
               "Dense), or give targets of the output's shape")
    elif per_target > per_output and not per_target % per_output:
        what = (f"each prediction is compared with {per_target // per_output} targets: the model predicts "
                f"{per_output} value{'s' if per_output > 1 else ''} per sample where the data has {per_target}, "
                "and learns their mean")
        fix = (f"make output '{ctx.output.name}' produce the targets' shape {target_shape} (e.g. Dense({per_target}) "
               "and a Reshape, or `return_sequences=True` with a TimeDistributed head), or give targets of the "
               "output's shape")
    else:
        return False
    ctx.report(
        RULE, ctx.fallback_site(),
        f"{ctx.info.label} on output '{ctx.output.name}' gets y_true {target_shape} against y_pred "
        f"{shape_text(spec_shape(ctx.output.values))}: Keras 3 aligns the ranks and broadcasts without an "
        f"error, so {what}",
        fix,
    )
    return False  # the output's activation is another question (LL204)


RULE = Rule(
    code="LL201",
    name="target-shape-mismatch",
    severity=Severity.ERROR,
    passes=(Pass.DYNAMIC,),
    dynamic=True,
    summary="With the real targets and outputs, the loss raises or the shapes are incompatible.",
    # After LL205: a label out of range is a TF InvalidArgumentError too.
    probes=(Probe(Stage.RUNS, probe, rank=4), Probe(Stage.BUILTIN, probe_builtin)),
    shape_dependent=True,
)
