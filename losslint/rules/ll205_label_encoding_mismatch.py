"""LL205 label-encoding-mismatch: the real targets are not what a crossentropy expects
(one-hot rows to a sparse loss, integer labels to a categorical one, labels out of range)
(see rules/LL205-label-encoding-mismatch.md). Dynamic only."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from losslint.dynamic.describe import LossInfo, crossentropy_kind, fmt, shape_text, spec_shape
from losslint.findings import Pass, Severity
from losslint.rule import Probe, Rule, Stage

if TYPE_CHECKING:
    import numpy as np

    from losslint.dynamic.context import PairContext, RunsContext

_LABEL_RANGE = re.compile(r"label value of (-?\d+) which is outside the valid range of \[0, (\d+)\)")


def probe_targets(ctx: PairContext) -> bool:
    """A built-in crossentropy against the real targets, before it runs."""
    if ctx.info.kind != "builtin" or ctx.pair.guessed or ctx.pair.target is None:
        return False
    kind = crossentropy_kind(ctx.info)
    out = ctx.output.values
    classes = out.shape[-1] if out.ndim > 1 else None
    # The labels of every sample fit gets, where they are arrays: a rare label out of range
    # need not be in the batch the probe took.
    y = all_targets(ctx)
    label, name = ctx.info.label, ctx.output.name
    site = ctx.fallback_site()
    if kind == "sparse" and classes:
        if y.ndim == out.ndim and y.shape[-1] == classes and classes > 1 and _indicator_rows(y):
            what = "one-hot" if _at_most_one(y) else "multi-hot"
            ctx.report(RULE, site,
                       f"{label} on output '{name}' expects integer class labels, but the "
                       f"targets are {what} rows {shape_text(spec_shape(y))} for y_pred "
                       f"{shape_text(spec_shape(out))} (Keras 3 raises 'Argument `output` must have rank "
                       "(ndim) `target.ndim - 1`' at fit)",
                       "use CategoricalCrossentropy for one-hot targets, or pass `np.argmax(y, axis=-1)` as targets")
            return True
        import numpy as np

        if y.dtype.kind == "f" and y.size and not np.all(np.mod(y, 1) == 0):
            fractional = y[np.mod(y, 1) != 0]
            ctx.report(RULE, site,
                       f"{label} on output '{name}' gets fractional label values ({fmt(float(fractional[0]))} "
                       f"among them, labels in [{fmt(float(np.min(y)))}, {fmt(float(np.max(y)))}]): a sparse "
                       "crossentropy casts its labels to integers, truncating them "
                       f"({fmt(float(fractional[0]))} -> {int(fractional[0])}), so samples silently train "
                       "on the wrong class, with no error",
                       "pass integer class ids (do not scale or smooth the labels, e.g. no `y / 255`), or "
                       "one-hot (or soft) targets with CategoricalCrossentropy")
            return True
        if y.dtype.kind in "iuf" and y.size and np.all(np.mod(y, 1) == 0):
            low, high = float(np.min(y)), float(np.max(y))
            if low < 0 or high >= classes:
                outside = int(np.count_nonzero((y < 0) | (y >= classes)))
                ctx.report(RULE, site,
                           f"{label} on output '{name}' gets label values in "
                           f"[{int(low)}, {int(high)}] ({outside} of {y.size} outside [0, {classes})) for an output "
                           f"with {classes} classes (fit fails with 'Received a label value of ... outside the "
                           "valid range' at the first batch that holds one)",
                           f"map the labels to 0..{classes - 1}, or give the output layer as many units as classes")
                return True
    if kind == "categorical" and classes and classes > 1:
        if y.ndim == out.ndim - 1 or (y.ndim == out.ndim and y.shape[-1] == 1):
            ctx.report(RULE, site,
                       f"{label} on output '{name}' expects one-hot targets of shape "
                       f"{shape_text(spec_shape(out))}, but the targets are integer labels "
                       f"{shape_text(spec_shape(y))} (Keras 3 raises 'Arguments `target` and `output` must "
                       "have the same rank/shape' at fit)",
                       "use SparseCategoricalCrossentropy for integer labels, or one-hot encode the targets")
            return True
    return False


def probe_runs(ctx: RunsContext) -> bool:
    """The loss fails on a label out of range (a user-written sparse crossentropy included)."""
    if ctx.failure not in ("trace", "all-sizes") or ctx.pair.guessed:
        return False
    if ctx.pair.target is None or not label_out_of_range(ctx.error):
        return False
    site, _ = ctx.failure_at()
    target = ctx.pair.target
    ctx.report(
        RULE, site,
        f"{ctx.info.label} on output '{ctx.output.name}' does not accept the targets: y_true "
        f"{shape_text(spec_shape(target))} (dtype {target.dtype}) vs y_pred "
        f"{shape_text(spec_shape(ctx.output.values))}: {ctx.error_text}",
        _encoding_fix(ctx.info),
    )
    return True


def label_out_of_range(error: BaseException | None) -> bool:
    """TF's sparse crossentropy refused a label outside [0, classes)."""
    return error is not None and bool(_LABEL_RANGE.search(str(error)))


def _encoding_fix(info: LossInfo) -> str:
    kind = crossentropy_kind(info)
    if kind == "sparse":
        return "use CategoricalCrossentropy for one-hot targets, or pass integer labels (np.argmax(y, -1))"
    if kind == "categorical":
        return "use SparseCategoricalCrossentropy for integer labels, or one-hot encode the targets"
    return "give the targets the encoding and range the loss expects"


def all_targets(ctx: PairContext) -> np.ndarray:
    """The pair's targets for every sample fit gets when they are arrays (fit's `y` itself, or
    its entry for this output), else the captured batch's."""
    import numpy as np

    batch = ctx.pair.target
    assert batch is not None
    fit = ctx.model.fit
    y = fit.y if fit is not None else None
    if isinstance(y, dict):
        y = y.get(ctx.pair.target_name) if ctx.pair.target_name is not None else None
    elif isinstance(y, (list, tuple)):
        y = y[ctx.output.index] if len(y) == len(ctx.model.outputs) else None
    elif len(ctx.model.outputs) != 1:
        y = None
    if not isinstance(y, np.ndarray) or y.shape[1:] != batch.shape[1:] or y.dtype.kind not in "biuf":
        return batch
    return y


def _indicator_rows(y: np.ndarray) -> bool:
    """Rows of 0s and 1s with at least one 1 somewhere: class indicators, not class ids (a row
    of zeros, a sample of no class, included)."""
    import numpy as np

    flat = y.reshape(-1, y.shape[-1])
    return bool(np.all((flat == 0) | (flat == 1)) and np.any(flat == 1))


def _at_most_one(y: np.ndarray) -> bool:
    return bool((y.reshape(-1, y.shape[-1]).sum(axis=1) <= 1).all())


RULE = Rule(
    code="LL205",
    name="label-encoding-mismatch",
    severity=Severity.ERROR,
    passes=(Pass.DYNAMIC,),
    dynamic=True,
    summary="Sparse vs categorical encoding of the targets, or labels out of range.",
    # In RUNS before LL201 and LL206: the range error is a TF InvalidArgumentError.
    probes=(Probe(Stage.TARGETS, probe_targets), Probe(Stage.RUNS, probe_runs, rank=3)),
    shape_dependent=True,
)
