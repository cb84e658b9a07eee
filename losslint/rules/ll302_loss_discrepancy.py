"""LL302 loss-discrepancy: measured on the same weights and batch, the loss a custom
`train_step` logs, the compiled loss and what evaluate() reports disagree, or the step's
bookkeeping makes fit log the wrong value (see rules/LL302-loss-discrepancy.md). The
measurement is losslint/dynamic/discrepancy.py's; this module says what it means."""

from __future__ import annotations

from typing import TYPE_CHECKING

from losslint.findings import Pass, Severity
from losslint.rule import Probe, Rule, Stage

if TYPE_CHECKING:
    from losslint.dynamic.discrepancy import Measurement, StepContext

RELATIVE_TOLERANCE = 1e-3


def probe(ctx: StepContext) -> bool:
    m = ctx.measurement
    causes = diagnose(m)
    if not causes:
        return False
    values = [f"train_step logs loss {m.reported:.6g}"]
    if m.compiled is not None:
        ratio = f" (ratio {m.reported / m.compiled:.4g})" if m.compiled else ""  # type: ignore[operator]
        values.append(f"the compiled loss is {m.compiled:.6g}{ratio}")
    if m.evaluated is not None:
        values.append(f"evaluate()/val_loss report {m.evaluated:.6g}")
    ctx.report(
        RULE,
        f"measured on the same weights and batch of {m.batch_size}: {', '.join(values)}. "
        f"Likely cause: {'; '.join(causes)}",
        _fix(causes),
    )
    return True


def diagnose(m: Measurement) -> list[str]:
    """The likely causes, most specific first; empty when the step is consistent."""
    causes: list[str] = []
    if m.reported is None:
        return causes
    if m.compiled is not None and not _close(m.reported, m.compiled):
        if _close(m.reported, m.mean_prediction, 1e-4) and not _close(m.compiled, m.mean_prediction):
            causes.append(
                "the logged `loss` is the mean of y_pred: the deprecated `self.compiled_loss`/"
                "`self.compiled_metrics` shim sends y_pred to every Mean metric, the `loss` tracker included"
            )
        ratio = m.reported / m.compiled if m.compiled else None
        if ratio is not None and m.batch_size > 1 and abs(ratio - m.batch_size) <= 0.01 * m.batch_size:
            causes.append(
                f"sum vs mean: the ratio is the batch size ({m.batch_size}): the step sums the "
                "per-sample losses where the compiled loss averages them"
            )
        if m.regularization > 0 and _close(m.reported, m.compiled - m.regularization):
            causes.append(
                f"regularisation ignored: the difference is the sum of model.losses "
                f"({m.regularization:.6g}), which the compiled loss includes"
            )
        if m.compiled_unweighted is not None and _close(m.reported, m.compiled_unweighted):
            causes.append("sample weights ignored: the step's loss equals the compiled loss without them")
        if causes:
            pass
        elif m.gradient_cosine is not None and m.gradient_cosine > 0.999 and abs((m.gradient_ratio or 0) - 1) < 1e-2:
            causes.append(
                "the step differentiates the compiled loss but logs another value: the update "
                "and the logged `loss` come from different losses"
            )
        elif m.compute_loss_calls == 0:
            causes.append(
                "the compiled loss is never used by the step: training optimises the step's own "
                "loss, while evaluate() and val_loss report the compiled one"
            )
    if m.epoch_end_crash:
        causes.append(
            "the step never updates the compiled metrics: fit crashes at the end of epoch 1 with "
            "'Cannot get result() since the metric has not yet been built'"
        )
    elif m.epoch_end_zero:
        causes.append(
            "the step returns `loss` without updating Keras' built-in loss tracker: fit logs "
            "`loss: 0.0` at every epoch end"
        )
    if m.unreset_trackers:
        names = ", ".join(f"`{name}`" for name in m.unreset_trackers)
        causes.append(
            f"a loss tracker is never reset: the step updates {names}, not listed in the "
            "model's `metrics`, so Keras never resets them and the logged values are running means "
            "over all epochs so far"
        )
    if (
        m.evaluated is not None
        and not _close(m.reported, m.evaluated)
        and not causes
    ):
        causes.append("evaluate() uses a different loss than fit: test_step reports another value than train_step")
    return causes




def _fix(causes: list[str]) -> str:
    text = " ".join(causes)
    if "compiled_loss" in text:
        return "use `loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sw)` and `return self.compute_metrics(x, y, y_pred, sw)`"
    if "tracker" in text and "never reset" in text:
        return "return your trackers from a `metrics` property so that Keras resets them at each epoch"
    if "built-in loss tracker" in text:
        return "update the tracker: `for m in self.metrics: m.update_state(loss) if m.name == 'loss' ...`, or use compute_loss/compute_metrics"
    return "compute the loss with `self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sw)` in train_step (and test_step), so fit, evaluate and the gradient agree"


def _close(a: float | None, b: float | None, tolerance: float = RELATIVE_TOLERANCE) -> bool:
    if a is None or b is None:
        return False
    return abs(a - b) <= tolerance * max(abs(a), abs(b), 1e-6)


RULE = Rule(
    code="LL302",
    name="loss-discrepancy",
    severity=Severity.ERROR,
    passes=(Pass.DYNAMIC,),
    dynamic=True,
    summary="Measured: the loss train_step reports differs from the compiled loss.",
    probes=(Probe(Stage.STEP, probe),),
)
