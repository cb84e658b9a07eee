"""LL202 silent-broadcast: an elementwise op of the traced loss (or function metric), or of the
loss a custom train_step computes by hand, combines y_true and y_pred into a larger tensor (see
rules/LL202-silent-broadcast.md). Dynamic only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from losslint.dynamic.describe import shape_text
from losslint.dynamic.trace import PRED, TRUE, OpInfo, Site, num_elements
from losslint.findings import Pass, Severity
from losslint.rule import Probe, Rule, Stage

if TYPE_CHECKING:
    from losslint.dynamic.context import GraphContext
    from losslint.dynamic.discrepancy import StepContext

# Element-wise ops that broadcast their inputs (numpy rules).
BROADCASTING_OPS = frozenset({
    "Add", "AddV2", "Sub", "Mul", "MulNoNan", "RealDiv", "Div", "DivNoNan", "FloorDiv",
    "FloorMod", "TruncateDiv", "Maximum", "Minimum", "Pow", "SquaredDifference", "Greater",
    "GreaterEqual", "Less", "LessEqual", "Equal", "NotEqual", "LogicalAnd", "LogicalOr",
    "Atan2", "Xlogy", "Xdivy", "Xlog1py", "SelectV2", "BitwiseAnd", "BitwiseOr",
})
_OP_SYMBOL = {
    "Sub": "-", "Add": "+", "AddV2": "+", "Mul": "*", "RealDiv": "/", "Div": "/",
    "FloorDiv": "//", "Pow": "**", "Greater": ">", "Less": "<", "GreaterEqual": ">=",
    "LessEqual": "<=", "Equal": "==", "NotEqual": "!=",
}


@dataclass(frozen=True)
class Broadcast:
    site: Site
    op_type: str
    in_shapes: tuple[tuple[int, ...], ...]
    out_shape: tuple[int, ...]


def broadcasts(ops: list[OpInfo]) -> list[Broadcast]:
    """Element-wise ops in user code that combine a y_true-derived and a y_pred-derived tensor
    into a tensor with more elements than any input: (3,) - (3, 1) -> (3, 3)."""
    found: list[Broadcast] = []
    for info in ops:
        if info.type not in BROADCASTING_OPS or info.site is None or len(info.op.inputs) < 2:
            continue
        if not all(info.in_roles) or not {TRUE, PRED} <= info.out_roles:
            continue
        shapes = info.in_shapes()
        out = info.out_shape()
        sizes = [num_elements(s) for s in shapes]
        n_out = num_elements(out)
        if n_out is None or any(n is None for n in sizes):
            continue
        if n_out > max(sizes):  # type: ignore[type-var]
            found.append(Broadcast(info.site, info.type, tuple(shapes), out))  # type: ignore[arg-type]
    return found


def _combined(bc: Broadcast) -> str:
    """`(3,) - (3, 1)`, or `Op((3,), (3, 1))` for an op without a symbol."""
    symbol = _OP_SYMBOL.get(bc.op_type)
    shapes = [shape_text(s) for s in bc.in_shapes]
    return f" {symbol} ".join(shapes) if symbol else f"{bc.op_type}({', '.join(shapes)})"


def probe(ctx: GraphContext) -> bool:
    """A broadcast explains any odd value of the loss: the VALUES checks would only echo it."""
    found = broadcasts(ctx.ops)
    what = "metric" if ctx.metric else "loss"
    for bc in found:
        combined = _combined(bc)
        why = (
            "Keras 3 aligns the target's rank only for a loss *function* given to compile, not "
            + ("for a function metric" if ctx.metric else "for a keras.losses.Loss subclass's `call`")
        )
        target = ctx.shape_at_size(ctx.pair.target) if ctx.pair.target is not None else "?"
        ctx.report(
            RULE, bc.site,
            f"`{bc.site.text}` in {ctx.info.label} broadcasts {combined} -> {shape_text(bc.out_shape)} on output "
            f"'{ctx.output.name}' (batch size {ctx.size}: y_true {target}, y_pred "
            f"{ctx.shape_at_size(ctx.output.values)}): every target is compared with every "
            f"prediction and the {what} trains/reports a wrong value without an error; {why}",
            "give y_true and y_pred the same shape: reshape the targets to the output's shape "
            f"(e.g. `y[:, None]`), or `y_true = keras.ops.reshape(y_true, keras.ops.shape(y_pred))` in the {what}",
        )
    return bool(found)


def step_probe(ctx: StepContext) -> bool:
    """The same broadcast in a loss that a custom train_step computes by hand: it explains the
    step's odd loss, so LL302's measurement would only echo it."""
    found = broadcasts(ctx.ops)
    for bc in found:
        ctx.report(
            RULE,
            f"`{bc.site.text}` in `{bc.site.function}` broadcasts the targets against the model's output: "
            f"{_combined(bc)} -> {shape_text(bc.out_shape)} on the real batch of {ctx.measurement.batch_size}: "
            "every target is compared with every prediction, and the step trains on that value without an "
            "error (Keras aligns the target's rank only for a loss given to compile)",
            "give the targets the output's shape before the loss: `y = keras.ops.reshape(y, keras.ops.shape(y_pred))` "
            "(or targets of shape (N, 1) in fit), or compute the loss with `self.compute_loss(x, y, y_pred)`",
            site=bc.site,
        )
    return bool(found)


RULE = Rule(
    code="LL202",
    name="silent-broadcast",
    severity=Severity.ERROR,
    passes=(Pass.DYNAMIC,),
    dynamic=True,
    summary="An elementwise op broadcasts y_true against y_pred into a larger tensor.",
    probes=(Probe(Stage.GRAPH, probe), Probe(Stage.STEP, step_probe)),
)
