"""LL111 tensor-python-control-flow: Python control flow on a tensor inside a loss or a layer's
`call` (keras3-facts.md case 12), a `keras.losses.Loss` subclass's `__call__` override, or a
function metric given to `compile(metrics=...)`. Keras 3 does not AutoGraph-convert them, so the
symbolic tensor meets Python's `bool()` or `iter()`. The dynamic pass (losslint/dynamic/probe.py)
reports the failure it measures at the same line."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import libcst as cst

from losslint.findings import Finding, Pass, Severity
from losslint.rule import Probe, Rule, Stage
from losslint.static.context import FileContext, code_of, walk
from losslint.static.dataflow import TENSOR, Analysis, analyse
from losslint.static.discovery import TensorFunction, function_params, keyword, track_tensors
from losslint.static.tensor_functions import autographed, runs_on_tensors

if TYPE_CHECKING:
    from losslint.dynamic.context import RunsContext

_BOOL_FIX = (
    "write the branch as a tensor operation: `keras.ops.where(cond, a, b)` / `tf.where`, or "
    "`keras.ops.cond` / `tf.cond` (`keras.ops.logical_and`/`logical_or`/`logical_not` for "
    "and/or/not)"
)
_ITER_FIX = (
    "vectorise the loop, iterate over a Python `range(...)` of a static size, or use "
    "`keras.ops.fori_loop` / `tf.while_loop` / `tf.map_fn`"
)


def check(ctx: FileContext) -> Iterator[Finding]:
    for function in [*ctx.index.tensor_functions, *_traced_elsewhere(ctx)]:
        if autographed(ctx, function) or not runs_on_tensors(ctx, function):
            continue
        loose = function.kind == "loss" and function.origin in ("train_step", "signature", "metric")
        analysis = analyse(ctx, function, loose_roots=loose)
        yield from _check_function(ctx, function, analysis)


def _check_function(ctx: FileContext, function: TensorFunction, analysis: Analysis) -> Iterator[Finding]:
    where = _where(function)
    covered: list[cst.CSTNode] = []
    tests = {id(t) for t in analysis.bool_tests}

    def is_covered(node: cst.CSTNode) -> bool:
        return any(ctx.is_within(node, c) for c in covered)

    for test in analysis.bool_tests:
        offending = _offending(analysis, test)
        if offending is None or is_covered(test):
            continue
        covered.append(test)
        statement = _statement_word(ctx, test)
        yield ctx.finding(
            RULE,
            test,
            f"Python `{statement}` on `{code_of(offending, 50)}`, a tensor computed from "
            f"{analysis.names_for(analysis.value(offending).roles)}, in {where}: "
            f"{_consequence(function, 'bool')}",
            _BOOL_FIX,
            scope=function.node,
        )
    for node in walk(function.node.body):
        if id(node) in tests or is_covered(node):
            continue
        offending = None
        word = ""
        if isinstance(node, cst.BooleanOperation):
            offending = _offending(analysis, node.left)
            word = "and" if isinstance(node.operator, cst.And) else "or"
        elif isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Not):
            offending = _offending(analysis, node.expression)
            word = "not"
        elif isinstance(node, cst.Comparison) and len(node.comparisons) > 1:
            if analysis.value(node).kind == TENSOR and analysis.value(node).roles:
                offending, word = node, "chained comparison"
        if offending is None:
            continue
        covered.append(node)
        yield ctx.finding(
            RULE,
            node,
            f"Python `{word}` on `{code_of(offending, 50)}`, a tensor computed from "
            f"{analysis.names_for(analysis.value(offending).roles)}, in {where}: "
            f"{_consequence(function, 'bool')}",
            _BOOL_FIX,
            scope=function.node,
        )
    for iterated in analysis.iterations:
        value = analysis.value(iterated)
        if value.kind != TENSOR or is_covered(iterated):
            continue
        covered.append(iterated)
        origin = f", computed from {analysis.names_for(value.roles)}" if value.roles else ""
        yield ctx.finding(
            RULE,
            iterated,
            f"Python `for` over `{code_of(iterated, 50)}`, a tensor{origin}, in {where}: "
            f"{_consequence(function, 'iter')}",
            _ITER_FIX,
            scope=function.node,
        )


def _traced_elsewhere(ctx: FileContext) -> list[TensorFunction]:
    """Functions Keras traces with (y_true, y_pred) that discovery does not list as losses: a
    Loss subclass's `__call__` override (compile calls the object itself, so the override runs
    in the traced step instead of `Loss.__call__`) and the functions given to
    `compile(metrics=...)` / `weighted_metrics=` (Keras wraps them in a metric whose
    `update_state` runs in the traced step). Kept here rather than in discovery: the other rules
    treat metrics and `__call__` differently (a metric's value is not minimised)."""
    known = {id(f.node) for f in ctx.index.tensor_functions}
    found: list[TensorFunction] = []

    def add(fn: cst.FunctionDef | cst.Lambda, name: str, origin: str) -> None:
        params = function_params(fn)
        if id(fn) in known or len(params) < 2:
            return
        known.add(id(fn))
        tracked = track_tensors(ctx, fn, {params[0]: "target", params[1]: "prediction"})
        found.append(TensorFunction(fn, name, "loss", origin, tracked, params))

    for cls in ctx.index.loss_classes:
        for stmt in cls.body.body:
            if isinstance(stmt, cst.FunctionDef) and stmt.name.value == "__call__":
                add(stmt, f"{cls.name.value}.__call__", "subclass")
    for call in ctx.index.compile_calls:
        for word in ("metrics", "weighted_metrics"):
            value = keyword(call, word)
            for fn in _metric_functions(ctx, value) if value is not None else ():
                add(fn, fn.name.value if isinstance(fn, cst.FunctionDef) else "<lambda>", "metric_fn")
    return found


def _metric_functions(ctx: FileContext, expr: cst.BaseExpression, depth: int = 0) -> Iterator[cst.FunctionDef | cst.Lambda]:
    """The user's functions in a `metrics=` value: names of functions of this file and lambdas,
    in lists, tuples and dicts (per output). Strings and metric objects are Keras' own."""
    if depth > 4:
        return
    if isinstance(expr, cst.Lambda):
        yield expr
    elif isinstance(expr, (cst.List, cst.Tuple)):
        for element in expr.elements:
            yield from _metric_functions(ctx, element.value, depth + 1)
    elif isinstance(expr, cst.Dict):
        for element in expr.elements:
            if isinstance(element, cst.DictElement):
                yield from _metric_functions(ctx, element.value, depth + 1)
    elif isinstance(expr, cst.Name):
        for bound in ctx.bindings(expr):
            if isinstance(bound, cst.FunctionDef):
                yield bound
            elif isinstance(bound, (cst.List, cst.Tuple, cst.Dict, cst.Lambda)):
                yield from _metric_functions(ctx, bound, depth + 1)


def _offending(analysis: Analysis, expr: cst.BaseExpression) -> cst.BaseExpression | None:
    """The part of a truth-tested expression that is a tensor computed from a tracked value."""
    if isinstance(expr, cst.BooleanOperation):
        return _offending(analysis, expr.left) or _offending(analysis, expr.right)
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Not):
        return _offending(analysis, expr.expression)
    value = analysis.value(expr)
    if value.kind == TENSOR and value.roles:
        return expr
    return None


def _statement_word(ctx: FileContext, test: cst.CSTNode) -> str:
    parent = ctx.parent(test)
    if isinstance(parent, cst.If):
        return "if"
    if isinstance(parent, cst.While):
        return "while"
    if isinstance(parent, cst.IfExp):
        return "... if ... else"
    if isinstance(parent, cst.CompIf):
        return "if (in a comprehension)"
    if isinstance(parent, cst.Assert):
        return "assert"
    return "if"


def _where(function: TensorFunction) -> str:
    if function.origin in ("metric", "metric_fn"):
        return f"metric `{function.name}`"
    if function.kind == "loss":
        return f"{function.what} `{function.name}`"
    if function.origin == "lambda":
        return f"Lambda layer function `{function.name}`"
    return f"layer `{function.name}`"


def _consequence(function: TensorFunction, what: str) -> str:
    error = (
        "'Using a symbolic `tf.Tensor` as a Python `bool` is not allowed'" if what == "bool"
        else "'Iterating over a symbolic `tf.Tensor` is not allowed'"
    )
    if function.kind == "loss":
        converted = {"loss": "losses", "metric_fn": "metrics"}.get(
            "metric_fn" if function.origin == "metric_fn" else function.what, "a metric's update_state"
        )
        when = f"Keras 3 does not AutoGraph-convert {converted}, so fit fails while tracing the step"
    else:
        when = (
            "Keras 3 does not AutoGraph-convert layers, so building the model (the first call "
            "on a symbolic input) fails"
        )
    return f"{when} with OperatorNotAllowedInGraphError {error} (tf.keras 2 converted it and trained)"


# ---- dynamic: the trace fails on a tensor used as a Python bool or iterable ---------------


def probe(ctx: RunsContext) -> bool:
    if ctx.failure not in ("unknown-batch", "trace", "all-sizes"):
        return False
    import tensorflow as tf

    error = ctx.error
    message = str(error)
    if not (isinstance(error, tf.errors.OperatorNotAllowedInGraphError) or (
        "symbolic `tf.Tensor`" in message and "not allowed" in message
    )):
        return False
    site, at = ctx.failure_at()
    ctx.report(
        RULE, site,
        f"{ctx.info.label} uses a tensor as a Python bool/iterable{at}: Keras 3 traces losses "
        f"in graph mode without autograph, so fit fails with {ctx.error_text}",
        "use `tf.cond`/`keras.ops.where`/`keras.ops.cond` (or tf.while_loop) instead of Python control flow on tensors",
    )
    return True


RULE = Rule(
    code="LL111",
    name="tensor-python-control-flow",
    severity=Severity.ERROR,
    passes=(Pass.STATIC, Pass.DYNAMIC,),
    dynamic=True,
    summary="A Python if/while/for/and/or/not on a tensor inside a loss, a metric or a layer's call.",
    static_check=check,
    probes=(Probe(Stage.RUNS, probe, rank=0),),
)
