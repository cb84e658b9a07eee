"""LL208 batch-mixing-loss: sample i's loss, or its gradient, depends on other samples of the
batch (see rules/LL208-batch-mixing-loss.md). Dynamic only."""

from __future__ import annotations

from typing import TYPE_CHECKING

from losslint.dynamic.capture import and_join
from losslint.dynamic.describe import fmt
from losslint.dynamic.trace import OpInfo, Site, shape_of
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
        return False
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
