"""LL208 batch-mixing-loss: sample i's loss, or its gradient, depends on other samples of the
batch (see rules/LL208-batch-mixing-loss.md). Dynamic only."""

from __future__ import annotations

from typing import TYPE_CHECKING

from losslint.dynamic.capture import and_join
from losslint.dynamic.describe import fmt
from losslint.dynamic.trace import OpInfo, Site, num_elements, shape_of
from losslint.findings import Pass, Severity
from losslint.rule import Probe, Rule, Stage

if TYPE_CHECKING:
    import numpy as np

    from losslint.dynamic.context import RunsContext, ValuesContext

MIXING_FIX = (
    "compute the loss per sample (no integer index, reshape or reduction across the batch axis); for a joint "
    "loss over several outputs give each output its own loss and combine them with loss_weights"
)
_REDUCTIONS = frozenset({"Sum", "Mean", "Max", "Min", "Prod", "EuclideanNorm"})


def mixing_evidence(ctx: ValuesContext) -> list[str] | None:
    """What the measurements say about samples mixing: permuting the batch must permute the
    gradient and the per-sample losses, and sample i's loss must depend on sample i alone.
    None when the loss fails on the permuted batch."""
    import numpy as np

    n = ctx.size
    shift = np.roll(np.arange(n), 1)
    grad, per = ctx.grad, ctx.per
    evidence: list[str] = []
    per_sample = per is not None and per.ndim >= 1 and per.shape[0] == n
    try:
        _, per_p, grad_p = ctx.evaluate(ctx.y_true[shift], ctx.y_pred[shift])  # type: ignore[index]
    except Exception:  # noqa: BLE001
        return None
    if grad is not None and grad_p is not None and not _close(grad_p, grad[shift]):
        zero = [i for i in range(n) if not np.any(grad[i])]
        live = [i for i in range(n) if np.any(grad[i])]
        if zero and live:
            evidence.append(
                f"only the prediction{'s' if len(live) > 1 else ''} of sample{'s' if len(live) > 1 else ''} "
                f"{and_join([str(i) for i in live])} of a batch of {n} get{'' if len(live) > 1 else 's'} a gradient"
            )
        evidence.append("permuting the samples of the batch does not permute the gradient: the loss depends on "
                        "the samples' positions")
    elif per_sample and per_p is not None and not _close(per_p, per[shift]):  # type: ignore[index]
        evidence.append("permuting the samples of the batch does not permute the per-sample losses: they depend "
                        "on the samples' positions")
    # A loss that returns one scalar for the batch may mix samples by design (batch Dice,
    # in-batch negatives, correlation losses): only positional evidence counts there.
    mixed = _dependence_text(ctx) if per_sample else None
    if mixed:
        evidence.append(mixed)
    return evidence


def probe(ctx: ValuesContext) -> bool:
    evidence = mixing_evidence(ctx)
    if not evidence:
        return _batch_statistics(ctx)
    mixing = batch_mixing_sites(ctx.ops, ctx.size)
    site = mixing[0] if mixing else ctx.info.def_site
    if mixing:
        evidence.append(f"`{site.text}` (line {site.line}) combines values across the batch axis")
    ctx.report(RULE, site, f"{ctx.info.label} on output '{ctx.output.name}' mixes samples: " + "; ".join(evidence),
               MIXING_FIX)
    return True


def probe_runs(ctx: RunsContext) -> bool:
    """The loss runs only at some batch sizes, and where it runs a sample's loss depends on its
    neighbours: permuting the batch changes the loss (`reshape(y_pred, (-1, 2))` pairs samples).
    Before LL103, which would only say that it depends on the batch size."""
    if ctx.failure != "some-sizes":
        return False
    import numpy as np

    size = min(ctx.ok)
    if size < 2:
        return False
    y_true, y_pred = ctx.rows(size)
    shift = np.roll(np.arange(size), 1)
    try:
        total = ctx.evaluate(y_true, y_pred, gradient=False)[0]
        shifted = ctx.evaluate(y_true[shift], y_pred[shift], gradient=False)[0]
    except Exception:  # noqa: BLE001 - the RUNS failure is reported by LL103
        return False
    if not (np.isfinite(total) and np.isfinite(shifted)) or _close(np.array(total), np.array(shifted)):
        return False
    site, at = ctx.failure_at()
    ctx.report(
        RULE, site,
        f"{ctx.info.label} on output '{ctx.output.name}' mixes samples: at batch size {size} moving every "
        f"sample one place along the batch changes the loss ({fmt(total)} -> {fmt(shifted)}), so a sample's "
        f"loss depends on its neighbours (a reshape that groups the batch, e.g. into pairs); and it fails at "
        f"batch size {ctx.sized(ctx.bad)}{at}: {ctx.error_text}",
        MIXING_FIX,
    )
    return True


def _batch_statistics(ctx: ValuesContext) -> bool:
    """A loss that returns one value for the batch and centres or scales the targets or
    predictions by a statistic of every value of the batch (`y_pred - mean(y_pred)` with no
    axis: the Pearson correlation computed over the batch). Keras takes a loss as one value per
    sample: this one depends on which samples share the batch and on its size. Confirmed by
    measurement: the loss of a batch is not the mean of the losses of its two halves."""
    import numpy as np

    if ctx.pair.role != "loss" or ctx.y_true is None or ctx.y_pred is None:
        return False
    if ctx.per is not None and ctx.per.ndim >= 1 and ctx.per.shape[0] == ctx.size:
        return False  # per-sample values: mixing_evidence's Jacobian decides
    values = int(np.prod(ctx.output.values.shape[1:]))
    sites = batch_statistics_sites(ctx.ops, ctx.size * values)
    if not sites:
        return False
    # Halves of several samples: a correlation of one sample with one value is 0/0.
    size = 8 if values == 1 else max(2, ctx.size - ctx.size % 2)
    y_true, y_pred = ctx.rows(size)
    half = size // 2
    try:
        first = ctx.evaluate(y_true[:half], y_pred[:half], gradient=False)[0]
        second = ctx.evaluate(y_true[half:], y_pred[half:], gradient=False)[0]
        whole = ctx.evaluate(y_true, y_pred, gradient=False)[0]
    except Exception:  # noqa: BLE001 - a loss that fails at other sizes is LL103's
        return False
    parts = np.array([first, second, whole], dtype=np.float64)
    if not np.all(np.isfinite(parts)) or _close(np.array(whole), np.array((first + second) / 2)):
        return False
    site = sites[0]
    if values == 1:
        what = (f"centres or scales by one statistic of the whole batch: a correlation (or any batch statistic) "
                "is not a loss per sample, so its value depends on which samples share a batch and on the batch "
                "size (the last partial batch included), sample weights cannot apply to it, and evaluate() "
                "averages per-batch values instead of computing it over the data")
        fix = ("train on a per-sample loss (e.g. mean squared error) and follow the correlation with "
               "keras.metrics.PearsonCorrelation, or compute the statistic per sample over its own values")
    else:
        what = (f"centres or scales by one statistic of every value of the batch ({ctx.size} samples x {values} "
                f"values), where each sample has {values} values of its own: each sample's contribution depends "
                "on every other sample")
        fix = ("take the statistics of each sample over its own values, e.g. "
               "`keras.ops.mean(y_pred, axis=-1, keepdims=True)` (as keras.metrics.PearsonCorrelation does with axis=-1)")
    ctx.report(
        RULE, site,
        f"{ctx.info.label} on output '{ctx.output.name}' mixes samples: `{site.text}` (line {site.line}) {what}; "
        f"measured, the loss of {size} samples ({fmt(whole)}) is not the mean of the losses of its two halves "
        f"({fmt(first)} and {fmt(second)})",
        fix,
    )
    return True


_PASS_THROUGH = frozenset({"Identity", "Cast", "Reshape", "Squeeze", "ExpandDims"})


def batch_statistics_sites(ops: list[OpInfo], batch_values: int) -> list[Site]:
    """User-code ops that subtract from (or divide) a tensor of every value of the batch a
    single number reduced from a tensor of as many values: `y_pred - mean(y_pred)`."""
    found: list[Site] = []
    for info in ops:
        if info.site is None or info.type not in ("Sub", "RealDiv", "Div") or len(info.op.inputs) != 2:
            continue
        whole, stat = info.op.inputs
        if not info.in_roles[0] or num_elements(shape_of(whole)) != batch_values:
            continue
        if num_elements(shape_of(stat)) != 1:
            continue
        producer = stat.op
        while producer.type in _PASS_THROUGH and len(producer.inputs):
            producer = producer.inputs[0].op
        if producer.type in _REDUCTIONS and num_elements(shape_of(producer.inputs[0])) == batch_values:
            found.append(info.site)
    return found


def _dependence_text(ctx: ValuesContext) -> str | None:
    links = ctx.dependence()
    if links is None:
        return None
    n = ctx.size
    parts = []
    for found, what in zip(links, ("predictions", "targets")):
        pairs = {i: js for i, js in found.items() if js}
        if not pairs:
            continue
        if len(pairs) == n and all(len(js) == n - 1 for js in pairs.values()):
            parts.append(f"every sample's loss depends on the {what} of every other sample (batch of {n})")
        else:
            shown = ", ".join(f"sample {i} on {and_join([str(j) for j in sorted(js)])}" for i, js in sorted(pairs.items())[:4])
            parts.append(f"the loss depends on other samples' {what}: {shown}")
    return "; ".join(parts) or None


def batch_mixing_sites(ops: list[OpInfo], batch: int) -> list[Site]:
    """User-code ops that combine samples without reducing to the final scalar: a reduction
    over the batch axis that keeps other axes (`reduce_mean(y_pred, axis=0)`), a product
    whose result is batch x batch (`y_pred @ transpose(y_pred)`), a reshape that moves the
    batch axis."""
    found: list[Site] = []
    for info in ops:
        if info.site is None or not info.out_roles:
            continue
        before = shape_of(info.op.inputs[0]) if len(info.op.inputs) else None
        after = info.out_shape()
        if info.type in ("Softmax", "LogSoftmax") and before and len(before) >= 2 and before[-1] == batch:
            found.append(info.site)  # softmax(axis=0): TF moves the batch axis last, then normalises over it
            continue
        if before is None or after is None or not before or before[0] != batch:
            continue
        if info.type in _REDUCTIONS and after and after[0] != batch:
            found.append(info.site)
        elif info.type in ("MatMul", "BatchMatMulV2", "BatchMatMulV3", "Einsum") and list(after).count(batch) >= 2:
            found.append(info.site)
        elif info.type == "Reshape" and after and after[0] != batch:
            found.append(info.site)
    return found


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    import numpy as np

    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return False
    scale = max(float(np.max(np.abs(a))) if a.size else 0.0, float(np.max(np.abs(b))) if b.size else 0.0, 1e-12)
    return bool(np.all(np.abs(a - b) <= 1e-4 * scale + 1e-7))


RULE = Rule(
    code="LL208",
    name="batch-mixing-loss",
    severity=Severity.ERROR,
    passes=(Pass.DYNAMIC,),
    dynamic=True,
    summary="Sample i's loss depends on another sample's prediction or target.",
    # After LL109 (no gradient at all) and LL102 (an integer index on the batch axis, which
    # the same measurements confirm); before LL110/LL209, which a mixing loss would confuse.
    probes=(
        # After LL102's batch-index failure, before LL103's batch-size dependence.
        Probe(Stage.RUNS, probe_runs, rank=2),
        Probe(Stage.VALUES, probe, rank=1),
    ),
)
