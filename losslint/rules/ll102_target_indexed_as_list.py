"""LL102 target-indexed-as-list: `y_true[0]` in a loss takes a sample, not an output (seed 002)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst

from losslint.dynamic.capture import and_join
from losslint.dynamic.describe import shape_text
from losslint.dynamic.trace import OpInfo, Site, shape_of
from losslint.findings import Finding, Pass, Severity
from losslint.rule import Probe, Rule, Stage
from losslint.rules.ll208_batch_mixing_loss import mixing_evidence
from losslint.static.context import FileContext, code_of
from losslint.static.discovery import int_value

if TYPE_CHECKING:
    from losslint.dynamic.context import PairContext, RunsContext, ValuesContext


def check(ctx: FileContext) -> Iterator[Finding]:
    for loss in ctx.index.losses:
        keyed: list[tuple[cst.Subscript, str, str]] = []
        for node in ctx.walk(loss.node.body):
            if not isinstance(node, cst.Subscript) or not isinstance(node.value, cst.Name):
                continue
            role = loss.tracked.get(node.value.value)
            if role is None or not node.slice:
                continue
            first = node.slice[0].slice
            if not isinstance(first, cst.Index):
                continue
            key = _output_key(first.value)
            if key is not None:
                keyed.append((node, role, key))
                continue
            index = int_value(first.value)
            if index is None:
                continue
            yield ctx.finding(
                RULE,
                node,
                f"`{code_of(node)}` in {loss.what} `{loss.name}` indexes the {role} on the batch axis: "
                f"Keras calls a {loss.what} with one tensor per output, never a list of outputs, so "
                f"this silently takes sample {index}, not output {index} (and fails on a last "
                "batch that is too small)",
                "give each output its own loss (a list or dict in compile) and weigh them with "
                "`loss_weights`",
                scope=loss.node,
                related=ctx.loss_related(loss),
            )
        # Only where Keras calls the loss: one that a training loop calls itself may get dicts.
        if keyed and (loss.compile_calls or loss.external_calls):
            node, role, key = keyed[0]
            keys = list(dict.fromkeys(k for _, _, k in keyed))
            yield ctx.finding(
                RULE,
                node,
                f"`{code_of(node)}` in {loss.what} `{loss.name}` looks output{'s' if len(keys) > 1 else ''} "
                f"{and_join([repr(k) for k in keys])} up in y_true/y_pred as if they were dicts of the model's "
                "outputs: Keras calls a loss given to compile once per output with that output's tensor, and "
                f"a tensor has no key '{key}' (fit fails with 'Only integers, slices (`:`), ellipsis (`...`), "
                f"tf.newaxis (`None`) and scalar tf.int32/tf.int64 tensors are valid indices, got '{key}'')",
                "give each output its own loss, keyed by output name in compile (`loss={"
                + ", ".join(f"{k!r}: ..." for k in keys) + "}`), and weigh them with `loss_weights`",
                scope=loss.node,
                related=ctx.loss_related(loss),
            )


def _output_key(node: cst.BaseExpression) -> str | None:
    """The key of `y_true["bbox"]`: a plain string literal."""
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


# ---- dynamic: an integer index on the batch axis of y_true/y_pred -------------------------


@dataclass(frozen=True)
class BatchIndex:
    site: Site
    role: str
    from_shape: tuple[int | None, ...]
    to_shape: tuple[int | None, ...]


def batch_indexes(ops: list[OpInfo]) -> list[BatchIndex]:
    """`y_true[0]` / `y_pred[1]`: an integer index on the batch axis of y_true/y_pred."""
    found: list[BatchIndex] = []
    for info in ops:
        if info.type != "StridedSlice" or info.site is None or not info.in_direct:
            continue
        role = info.in_direct[0]
        if role is None:
            continue
        try:
            shrink = info.op.get_attr("shrink_axis_mask")
        except Exception:  # noqa: BLE001
            continue
        if not shrink & 1:
            continue
        before = shape_of(info.op.inputs[0])
        after = info.out_shape()
        if before is None or after is None:
            continue
        found.append(BatchIndex(info.site, role, before, after))
    return found


def probe_runs(ctx: RunsContext) -> bool:
    """The loss fails only on small batches, out of bounds, and indexes the batch axis."""
    if ctx.failure != "some-sizes":
        return False
    run = ctx.failed_run
    message = str(ctx.error)
    if run is None or ("out of bounds" not in message and "slice index" not in message):
        return False
    ops = ctx.analysis_ops()
    indexes = batch_indexes(ops) if ops is not None else []
    if not indexes:
        return False
    _report(ctx, indexes, f"it fails on a small batch: {ctx.error_text}")
    return True


def probe_len(ctx: RunsContext) -> bool:
    """`len(y_pred)` or `len(y_true)`: a loss written for the list of all outputs. Keras calls it
    once per output, with that output's tensor, whose len() is unknown when fit traces it."""
    if ctx.failure not in ("unknown-batch", "trace", "all-sizes") or "len is not well defined" not in str(ctx.error):
        return False
    site, at = ctx.failure_at()
    ctx.report(
        RULE, site,
        f"{ctx.info.label} takes len() of a tensor it gets{at}, as if y_true/y_pred were the list of the "
        f"model's outputs: Keras calls a loss once per output with that output's tensor (here output "
        f"'{ctx.output.name}'), whose len() is the batch size, unknown when fit traces it: {ctx.error_text}",
        "give each output its own loss (a list or dict in compile) and weigh them with `loss_weights`",
    )
    return True


_KEY_INDEX = re.compile(r"are valid indices, got '([^']*)'")


def probe_key(ctx: RunsContext) -> bool:
    """`y_true["bbox"]`: a loss written for the dict of all outputs, looking one up by name;
    Keras hands it one output's tensor, which TF refuses to index by a string."""
    match = _KEY_INDEX.search(str(ctx.error)) if ctx.error is not None else None
    if ctx.failure not in ("unknown-batch", "trace", "all-sizes") or match is None:
        return False
    site, at = ctx.failure_at()
    ctx.report(
        RULE, site,
        f"{ctx.info.label} looks the output '{match[1]}' up in a tensor it gets{at}, as if y_true/y_pred were "
        f"the dict of the model's outputs: Keras calls a loss given to compile once per output with that "
        f"output's tensor (here output '{ctx.output.name}'): {ctx.error_text}",
        "give each output its own loss, keyed by output name in compile, and weigh them with `loss_weights`",
    )
    return True


def probe_values(ctx: ValuesContext) -> bool:
    """The trace indexes the batch axis; the measurements of LL208 say what it does."""
    indexes = batch_indexes(ctx.ops)
    if not indexes:
        return False
    evidence = mixing_evidence(ctx)
    if evidence is None:
        return False
    _report(ctx, indexes, "measured: " + "; ".join(evidence) if evidence else "")
    return True


def _report(ctx: PairContext, indexes: list[BatchIndex], evidence: str) -> None:
    site = indexes[0].site
    roles = and_join(sorted({
        f"{i.role} {shape_text(i.from_shape)} -> {shape_text(i.to_shape)}" for i in indexes if i.site == site
    }))
    message = (
        f"`{site.text}` in {ctx.info.label} indexes the batch axis ({roles}) on output '{ctx.output.name}': Keras "
        "calls a loss once per output with one tensor each, never a list of outputs, so an integer index "
        "takes one sample, not one output"
    )
    if evidence:
        message += f"; {evidence}"
    ctx.report(RULE, site, message,
               "give each output its own loss (a list or dict in compile) and weigh them with `loss_weights`")


RULE = Rule(
    code="LL102",
    name="target-indexed-as-list",
    severity=Severity.ERROR,
    passes=(Pass.STATIC, Pass.DYNAMIC),
    dynamic=True,
    summary="`y_true[0]`/`y_pred[1]` in a loss takes a sample, not an output.",
    static_check=check,
    probes=(
        # Before LL105: TF calls y_pred a "symbolic Tensor" when len() fails on it.
        Probe(Stage.RUNS, probe_len, rank=0),
        Probe(Stage.RUNS, probe_key, rank=0),
        # Before LL103: a failure on small batches out of bounds is this index's.
        Probe(Stage.RUNS, probe_runs, rank=2),
        # After LL109 (no gradient at all), before LL208, whose measurements it reports.
        Probe(Stage.VALUES, probe_values, rank=1),
    ),
)
