"""LL301 train-step-ignores-compiled-loss: a custom train_step computes its own loss while
compile(loss=...) is also given (seed 003). The dynamic pass measures the two (LL302) and drops
this warning for a model whose step it measured consistent."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from losslint.findings import Finding, Pass, Severity
from losslint.rule import Rule
from losslint.static.context import FileContext, dotted, walk
from losslint.static.discovery import classes_instantiated, compile_loss_arg

# Methods that make a step use the compiled loss, whatever names the model: `self.compute_loss`,
# `model.compute_loss` after `model = self`, a wrapper's `self.model.compute_loss`,
# `super().compute_loss`. Only a Keras model has these (a plain object has no compute_loss).
_USES_COMPILED = frozenset({"compute_loss", "_compute_loss", "compiled_loss"})
# `self.loss(...)` is the compiled loss only on the model itself: `self.loss` of a wrapper or
# `loss(...)` of any other object is the user's own.
_SELF_LOSS = "self.loss"


def check(ctx: FileContext) -> Iterator[Finding]:
    compiles = [c for c in ctx.index.compile_calls if compile_loss_arg(c) is not None]
    if not compiles:
        return
    for cls in ctx.index.model_classes:
        step = next(
            (s for s in cls.body.body if isinstance(s, cst.FunctionDef) and s.name.value == "train_step"),
            None,
        )
        methods = {s.name.value: s for s in cls.body.body if isinstance(s, cst.FunctionDef)}
        if step is None or _uses_compiled_loss(step, methods, set()):
            continue
        compile_call = _compile_for(ctx, cls, compiles)
        if compile_call is None:
            continue
        line = ctx.start(compile_call)[0]
        yield ctx.finding(
            RULE,
            step.name,
            f"`{cls.name.value}.train_step` computes its own loss while `compile(loss=...)` "
            f"(line {line}) is also given: the compiled loss is dead code for training but "
            "evaluate() and val_loss use it, so `loss` and `val_loss` can mean different things",
            "compute the loss with `self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sw)` "
            "in train_step, or drop `loss=` from compile and write a matching test_step",
            related=(ctx.related(compile_call, "compile call with loss="),),
        )


def _uses_compiled_loss(function: cst.FunctionDef, methods: dict[str, cst.FunctionDef], seen: set[str]) -> bool:
    """True when the step calls compute_loss & co., itself or through its class's own helpers."""
    seen.add(function.name.value)
    for node in walk(function.body):
        if not isinstance(node, cst.Call):
            continue
        if isinstance(node.func, cst.Attribute) and node.func.attr.value in _USES_COMPILED:
            return True
        callee = dotted(node.func) or ""
        if callee == _SELF_LOSS:
            return True
        helper = callee[len("self."):] if callee.startswith("self.") else None
        if helper in methods and helper not in seen and _uses_compiled_loss(methods[helper], methods, seen):
            return True
    return False


def _compile_for(ctx: FileContext, cls: cst.ClassDef, compiles: list[cst.Call]) -> cst.Call | None:
    """The compile call on an instance of `cls` (`model = Cls(...); model.compile(loss=...)`)."""
    for call in compiles:
        receiver = call.func.value if isinstance(call.func, cst.Attribute) else None
        if receiver is not None and any(c is cls for c in classes_instantiated(ctx, receiver)):
            return call
    return None


RULE = Rule(
    code="LL301",
    name="train-step-ignores-compiled-loss",
    severity=Severity.WARNING,
    passes=(Pass.STATIC,),
    summary="A custom train_step computes its own loss while compile(loss=...) is also given.",
    static_check=check,
)
