"""Static loss discovery: where Keras gets its loss functions from, in one file.

The catalogue's definition of a loss function: a callable given to `compile(loss=...)` (or
compile's second positional argument) directly, in a list/tuple/dict, through
`functools.partial`, or returned by a factory call; a `keras.losses.Loss` subclass's `call`;
a function called on `(y, y_pred)` inside a `train_step`/`compute_loss` override; and a
function whose first two parameters are named like `(y_true, y_pred)` that is not visibly
used as something else (a metric). Layer functions (`Lambda` functions, `Layer.call`) are
collected too: several rules look inside them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import libcst as cst

from losslint.static.context import FileContext, dotted, walk
from losslint.findings import RelatedLocation
from losslint.static.names import Api, is_keras_path, op_in, parse_api

Function = cst.FunctionDef | cst.Lambda

_TARGET_NAME = re.compile(r"(?i)^(.*true.*|targets?|labels?|gt|y_gt|ground_truth|y)$")
_PRED_NAME = re.compile(r"(?i)^(.*pred.*|logits|y_hat|yhat|outputs?)$")
# A signature alone makes a loss only with these unmistakable names (`yTrue`, `y_actual`,
# `gt` included: the spellings of posted code).
_SIGNATURE_TARGET = re.compile(r"(?i)^(y_?true|.*_true|true|y_?actual|y_?gt|gt|ground_?truth)$")
_SIGNATURE_PRED = re.compile(r"(?i)^(y_?pred|.*_pred|pred|preds|predictions?|y_hat|yhat)$")
# With a loss name besides (`dice_loss`, `loss_fn`, `FocalLoss.call`), these count too:
# `(labels, logits)`, `(target, output)`, `(y, y_pred)` are common, and common in helpers.
_NAMED_TARGET = re.compile(r"(?i)^(y|targets?|labels?|y_?labels?|y_?targets?|truth|actual)$")
_NAMED_PRED = re.compile(r"(?i)^(logits|.*_logits|outputs?|y_?out|y_?output)$")
_LOSS_NAME = re.compile(r"(?i)loss")
# Named like a loss but not one: Keras' step method (x, y, y_pred), layer/model plumbing (a
# trainer's `loss(self, y, y_pred)` and `compiled_loss` methods).
_LOSS_NAMED_PLUMBING = frozenset({"compute_loss", "compiled_loss", "add_loss", "get_loss", "losses", "__call__"})
_PLUMBING_METHODS = frozenset({"loss"})
_NOT_LOSS_METHODS = frozenset({"update_state", "result", "reset_state", "reset_states"})
_STEP_METHODS = frozenset({"train_step", "test_step", "compute_loss"})
BATCH_SIZE_NAME = re.compile(r"(?i)^(.*_)?(batch_?size|bs)$")

# Ops whose result keeps the batch axis of their first argument where it was.
_BATCH_PRESERVING_OPS = frozenset(
    {
        "reshape", "cast", "convert_to_tensor", "identity", "squeeze", "expand_dims",
        "sigmoid", "softmax", "log_softmax", "log", "log1p", "exp", "clip_by_value", "clip",
        "abs", "absolute", "square", "sqrt", "stop_gradient", "one_hot", "relu", "tanh",
        "softplus", "negative", "maximum", "minimum", "multiply", "add", "subtract",
        "divide", "divide_no_nan", "pow", "power", "round", "sign", "floor", "ceil",
        "l2_normalize", "normalize", "nan_to_num", "where", "ensure_shape", "sigmoid_cross_entropy_with_logits",
    }
)

_KERAS_LOSS_BASES = frozenset({"losses.Loss", "losses.loss.Loss", "Loss", "losses.LossFunctionWrapper"})
_KERAS_LAYER_BASES = frozenset({"layers.Layer", "Layer", "layers.core.Layer", "engine.base_layer.Layer"})
_KERAS_MODEL_BASES = frozenset(
    {"Model", "models.Model", "Sequential", "models.Sequential", "engine.training.Model"}
)
_KERAS_METRIC_BASES = frozenset({"metrics.Metric", "Metric", "metrics.Mean", "metrics.MeanMetricWrapper"})


@dataclass(frozen=True)
class TensorFunction:
    """A loss function or a layer function, with the tensor names tracked in its body."""

    node: Function
    name: str  # for messages: "l_1", "LocLoss.call", "<lambda>"
    kind: str  # "loss" or "layer"
    # loss: compile/subclass/factory/train_step/imported/signature (found by its parameters
    # or name, no compile seen), metric (a Metric's update_state), metric_fn (a function given to
    # compile(metrics=...), which LL111 alone looks at); layer: lambda/call
    origin: str
    # name -> role: "target"/"prediction" in a loss, "input" in a layer function
    tracked: dict[str, str]
    params: tuple[str, ...]
    compile_calls: tuple[cst.Call, ...] = ()
    input_rank: int | None = None  # a Lambda applied to a tensor of visibly known rank
    # compile calls in other files that use this loss (cross-module resolution)
    external_calls: tuple[RelatedLocation, ...] = ()

    @property
    def target(self) -> str | None:
        return self.params[0] if self.kind == "loss" and self.params else None

    @property
    def prediction(self) -> str | None:
        return self.params[1] if self.kind == "loss" and len(self.params) > 1 else None

    @property
    def scope(self) -> Function:
        return self.node

    @property
    def unused_note(self) -> str:
        """For messages about what Keras does with the loss: how a loss that no compile call of
        the linted files uses was recognised, or ""."""
        if self.origin == "signature" and not self.compile_calls and not self.external_calls:
            return " (recognised by its signature: no compile call of the linted files uses it)"
        return ""

    @property
    def what(self) -> str:
        """What messages call it: "loss", "metric" (update_state) or "layer function"."""
        if self.kind != "loss":
            return "layer function"
        return "metric" if self.origin in ("metric", "metric_fn") else "loss"


@dataclass
class ProgramIndex:
    losses: list[TensorFunction] = field(default_factory=list)
    layer_functions: list[TensorFunction] = field(default_factory=list)
    compile_calls: list[cst.Call] = field(default_factory=list)
    fit_calls: list[cst.Call] = field(default_factory=list)
    loss_classes: set[cst.ClassDef] = field(default_factory=set)
    layer_classes: set[cst.ClassDef] = field(default_factory=set)
    model_classes: set[cst.ClassDef] = field(default_factory=set)
    metric_classes: set[cst.ClassDef] = field(default_factory=set)
    # Literal batch sizes the script trains with: fit(batch_size=32), ds.batch(32).
    batch_size_literals: set[int] = field(default_factory=set)
    # Factory calls and Loss constructors in loss position: their args reach the loss.
    loss_constructions: list[cst.Call] = field(default_factory=list)
    # Losses this file imports from other modules: (dotted module, name, is a factory, compile call).
    imported_losses: list[tuple[str, str, bool, cst.Call]] = field(default_factory=list)

    @property
    def tensor_functions(self) -> list[TensorFunction]:
        return self.losses + self.layer_functions


def function_params(node: Function) -> tuple[str, ...]:
    params = [p.name.value for p in (*node.params.posonly_params, *node.params.params)]
    if isinstance(node, cst.FunctionDef) and params and params[0] in ("self", "cls"):
        params = params[1:]
    return tuple(params)


def compile_loss_arg(call: cst.Call) -> cst.BaseExpression | None:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == "loss":
            return arg.value
    positional = [a for a in call.args if a.keyword is None and not a.star]
    if len(positional) >= 2:
        return positional[1].value
    return None


def keyword(call: cst.Call, name: str) -> cst.BaseExpression | None:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg.value
    return None


def int_value(node: cst.BaseExpression) -> int | None:
    if isinstance(node, cst.Integer):
        return int(node.evaluated_value)
    if (
        isinstance(node, cst.UnaryOperation)
        and isinstance(node.operator, cst.Minus)
        and isinstance(node.expression, cst.Integer)
    ):
        return -int(node.expression.evaluated_value)
    return None


class _Builder:
    def __init__(self, ctx: FileContext, external: Mapping[str, Sequence[ExternalUse]] | None = None) -> None:
        self.ctx = ctx
        self.external = external or {}
        self._compile: cst.Call | None = None  # the compile call whose loss is being resolved
        self.index = ProgramIndex()
        self._class_kinds: dict[cst.ClassDef, str | None] = {}
        self._losses: dict[Function, TensorFunction] = {}
        self._metric_refs: set[Function] = set()

    # Classes ------------------------------------------------------------------------------

    def class_kind(self, node: cst.ClassDef, _seen: frozenset = frozenset()) -> str | None:
        """"loss", "layer", "model", "metric" or None, following bases defined in the file."""
        if node in self._class_kinds:
            return self._class_kinds[node]
        kind = None
        for base in node.bases:
            api = self.ctx.api(base.value)
            if api is not None and api.family == "keras":
                if api.path in _KERAS_LOSS_BASES:
                    kind = "loss"
                elif api.path in _KERAS_LAYER_BASES:
                    kind = "layer"
                elif api.path in _KERAS_MODEL_BASES:
                    kind = "model"
                elif api.path in _KERAS_METRIC_BASES or api.path.startswith("metrics."):
                    kind = "metric"
            elif isinstance(base.value, cst.Name) and node not in _seen:
                for bound in self.ctx.bindings(base.value):
                    if isinstance(bound, cst.ClassDef):
                        kind = self.class_kind(bound, _seen | {node})
            if kind is not None:
                break
        self._class_kinds[node] = kind
        return kind

    @staticmethod
    def method(node: cst.ClassDef, name: str) -> cst.FunctionDef | None:
        for stmt in node.body.body:
            if isinstance(stmt, cst.FunctionDef) and stmt.name.value == name:
                return stmt
        return None

    # Resolving loss expressions -------------------------------------------------------------

    def resolve_loss(self, expr: cst.BaseExpression, depth: int = 0) -> Iterator[tuple[Function, str, str, cst.Call | None]]:
        """(function, display name, origin, construction call) for each loss `expr` yields."""
        if depth > 6:
            return
        if isinstance(expr, cst.Lambda):
            yield expr, "<lambda>", "compile", None
        elif isinstance(expr, (cst.List, cst.Tuple)):
            for element in expr.elements:
                yield from self.resolve_loss(element.value, depth + 1)
        elif isinstance(expr, cst.Dict):
            for element in expr.elements:
                if isinstance(element, cst.DictElement):
                    yield from self.resolve_loss(element.value, depth + 1)
        elif isinstance(expr, cst.Name):
            self._note_import(expr, factory=False)
            for bound in self.ctx.bindings(expr):
                if isinstance(bound, cst.FunctionDef):
                    yield bound, bound.name.value, "compile", None
                elif isinstance(bound, cst.ClassDef) and self.class_kind(bound) == "loss":
                    call = self.method(bound, "call")
                    if call is not None:
                        yield call, f"{bound.name.value}.call", "subclass", None
                elif isinstance(bound, cst.BaseExpression):
                    yield from self.resolve_loss(bound, depth + 1)
        elif isinstance(expr, cst.Call):
            yield from self._resolve_call(expr, depth)
        elif isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name) and expr.value.value == "self":
            # `compile(loss=self.my_loss)` in a class that defines `my_loss`
            cls = self.ctx.enclosing(expr, (cst.ClassDef,))
            method = self.method(cls, expr.attr.value) if isinstance(cls, cst.ClassDef) else None
            if method is not None:
                yield method, f"{cls.name.value}.{method.name.value}", "compile", None

    def _resolve_call(self, call: cst.Call, depth: int) -> Iterator[tuple[Function, str, str, cst.Call | None]]:
        api = self.ctx.call_api(call)
        qualified = self.ctx.qualified_names(call.func)
        if "functools.partial" in qualified and call.args:
            yield from self.resolve_loss(call.args[0].value, depth + 1)
            return
        if api is not None or not isinstance(call.func, cst.Name):
            return  # a built-in loss (keras.losses.X()) or something we cannot see
        self._note_import(call.func, factory=True)
        for bound in self.ctx.bindings(call.func):
            if isinstance(bound, cst.ClassDef) and self.class_kind(bound) == "loss":
                method = self.method(bound, "call")
                if method is not None:
                    yield method, f"{bound.name.value}.call", "subclass", call
            elif isinstance(bound, cst.FunctionDef):
                for returned in self._returns(bound):
                    for fn, name, _origin, _inner in self.resolve_loss(returned, depth + 1):
                        yield fn, name, "factory", call

    def _returns(self, fn: cst.FunctionDef) -> Iterator[cst.BaseExpression]:
        for node in self.ctx.walk(fn.body):
            if isinstance(node, cst.Return) and node.value is not None:
                if self.ctx.enclosing(node, (cst.FunctionDef,)) is fn:
                    yield node.value

    def _note_import(self, name: cst.Name, factory: bool) -> None:
        """A loss given to compile that comes from another module of the project."""
        if self._compile is None:
            return
        bindings = self.ctx.names.lookup(name)
        for binding in bindings:
            if isinstance(binding.node, cst.ImportAlias) and binding.qualified and "." in binding.qualified:
                module, _, imported = binding.qualified.rpartition(".")
                if parse_api(binding.qualified) is None and not binding.qualified.startswith(("functools.", "numpy.")):
                    self.index.imported_losses.append((module, imported, factory, self._compile))
        if not bindings:  # maybe from a `from module import *`
            for module in self.ctx.names.star_imports:
                self.index.imported_losses.append((module, name.value, factory, self._compile))

    def _add_external(self) -> None:
        """Losses other files import from this one: `name` is a module-level function, a Loss
        subclass, or a factory that returns the loss."""
        for name, uses in self.external.items():
            node = next(
                (n for n in self.ctx.module.body if isinstance(n, (cst.FunctionDef, cst.ClassDef)) and n.name.value == name),
                None,
            )
            if isinstance(node, cst.ClassDef):
                method = self.method(node, "call") if self.class_kind(node) == "loss" else None
                found = [(method, f"{name}.call")] if method is not None else []
            elif isinstance(node, cst.FunctionDef) and any(use.factory for use in uses):
                found = [(fn, shown) for r in self._returns(node) for fn, shown, _o, _c in self.resolve_loss(r)]
            elif isinstance(node, cst.FunctionDef):
                found = [(node, name)]
            else:
                found = []
            for fn, shown in found:
                self.add_loss(fn, shown, "imported", None)
                existing = self._losses.get(fn)
                if existing is not None:
                    calls = tuple(u.where for u in uses if u.where not in existing.external_calls)
                    self._losses[fn] = dataclasses.replace(existing, external_calls=existing.external_calls + calls)

    def add_loss(self, fn: Function, name: str, origin: str, compile_call: cst.Call | None) -> None:
        existing = self._losses.get(fn)
        calls = () if compile_call is None else (compile_call,)
        if existing is not None:
            if compile_call is not None and compile_call not in existing.compile_calls:
                self._losses[fn] = TensorFunction(
                    existing.node, existing.name, "loss", existing.origin, existing.tracked,
                    existing.params, existing.compile_calls + calls,
                )
            return
        params = function_params(fn)
        if len(params) < 2:
            return
        tracked = track_tensors(self.ctx, fn, {params[0]: "target", params[1]: "prediction"})
        self._losses[fn] = TensorFunction(fn, name, "loss", origin, tracked, params, calls)

    # The passes over the file -------------------------------------------------------------------

    def build(self) -> ProgramIndex:
        ctx, index = self.ctx, self.index
        functions: list[cst.FunctionDef] = []
        for node in ctx.nodes:
            kind = type(node)  # exact classes: isinstance on libcst's ABCs is slow here
            if kind is cst.ClassDef:
                role = self.class_kind(node)
                {"loss": index.loss_classes, "layer": index.layer_classes,
                 "model": index.model_classes, "metric": index.metric_classes}.get(role, set()).add(node)
            elif kind is cst.FunctionDef:
                functions.append(node)
            elif kind is cst.Call:
                self._visit_call(node)

        for cls in index.loss_classes:
            method = self.method(cls, "call")
            if method is not None:
                self.add_loss(method, f"{cls.name.value}.call", "subclass", None)
        for cls in index.layer_classes:
            method = self.method(cls, "call")
            if method is not None:
                self._add_layer_function(method, f"{cls.name.value}.call", "call", None)
        for fn in functions:
            if fn.name.value in _STEP_METHODS:
                self._visit_step(fn)
        self._add_external()
        for fn in functions:
            self._maybe_signature_loss(fn)
        for cls in index.metric_classes:
            self._add_metric(cls)
        index.losses = list(self._losses.values())
        return index

    def _visit_call(self, call: cst.Call) -> None:
        index, ctx = self.index, self.ctx
        func = call.func
        if isinstance(func, cst.Attribute) and ctx.api(func) is None:
            method = func.attr.value
            if method == "compile":
                index.compile_calls.append(call)
                loss = compile_loss_arg(call)
                if loss is not None:
                    self._compile = call
                    for fn, name, origin, construction in self.resolve_loss(loss):
                        self.add_loss(fn, name, origin, call)
                        if construction is not None:
                            index.loss_constructions.append(construction)
                    self._compile = None
                metrics = keyword(call, "metrics")
                if metrics is not None:
                    for fn, *_ in self.resolve_loss(metrics):
                        self._metric_refs.add(fn)
            elif method == "fit":
                index.fit_calls.append(call)
                size = keyword(call, "batch_size")
                if size is not None and int_value(size) is not None:
                    index.batch_size_literals.add(int_value(size))
            elif method == "batch" and call.args and int_value(call.args[0].value) is not None:
                index.batch_size_literals.add(int_value(call.args[0].value))
        api = ctx.call_api(call)
        if is_keras_path(api, "layers.Lambda", "layers.core.Lambda") and call.args:
            self._visit_lambda_layer(call)
        elif isinstance(func, cst.Name) and api is None:
            # A Loss subclass constructed anywhere: its arguments reach the loss.
            for bound in ctx.bindings(func):
                if isinstance(bound, cst.ClassDef) and self.class_kind(bound) == "loss":
                    index.loss_constructions.append(call)

    def _visit_lambda_layer(self, call: cst.Call) -> None:
        target = call.args[0].value
        rank = None
        parent = self.ctx.parent(call)
        if isinstance(parent, cst.Call) and parent.func is call and parent.args:
            rank = infer_rank(self.ctx, parent.args[0].value)
        if isinstance(target, cst.Lambda):
            self._add_layer_function(target, "<lambda>", "lambda", rank)
        elif isinstance(target, cst.Name):
            for bound in self.ctx.bindings(target):
                if isinstance(bound, cst.FunctionDef):
                    self._add_layer_function(bound, bound.name.value, "lambda", rank)

    def _add_layer_function(self, fn: Function, name: str, origin: str, rank: int | None) -> None:
        params = function_params(fn)
        if not params:
            return
        if any(existing.node is fn for existing in self.index.layer_functions):
            return
        tracked = track_tensors(self.ctx, fn, {params[0]: "input"})
        self.index.layer_functions.append(
            TensorFunction(fn, name, "layer", origin, tracked, params, (), rank)
        )

    def _visit_step(self, step: cst.FunctionDef) -> None:
        """Losses called on (y, y_pred) inside train_step/test_step/compute_loss."""
        predictions = _names_bound_to_self_calls(step)
        for node in self.ctx.walk(step.body):
            if not isinstance(node, cst.Call) or not isinstance(node.func, cst.Name):
                continue
            positional = [a.value for a in node.args if a.keyword is None and not a.star]
            if len(positional) < 2:
                continue
            second = positional[1]
            looks_like_prediction = isinstance(second, cst.Name) and (
                second.value in predictions or _PRED_NAME.match(second.value)
            )
            if not looks_like_prediction:
                continue
            for fn, name, origin, construction in self.resolve_loss(node.func):
                self.add_loss(fn, name, "train_step" if origin == "compile" else origin, None)

    def _maybe_signature_loss(self, fn: cst.FunctionDef) -> None:
        """A function no compile call of the tree visibly uses, taken for a loss by its
        parameters: unmistakable target/prediction names, or common ones and a loss name."""
        if fn in self._losses or fn in self._metric_refs or fn.name.value in _NOT_LOSS_METHODS:
            return
        params = function_params(fn)
        if len(params) < 2:
            return
        cls = self.ctx.enclosing(fn, (cst.ClassDef, cst.FunctionDef))
        if isinstance(cls, cst.ClassDef) and self.class_kind(cls) == "metric":
            return
        target, prediction = params[0], params[1]
        if _SIGNATURE_TARGET.match(target) and _SIGNATURE_PRED.match(prediction):
            self.add_loss(fn, _qualified_function_name(self.ctx, fn), "signature", None)
            return
        name = fn.name.value
        if isinstance(cls, cst.ClassDef) and name in _PLUMBING_METHODS:
            return
        if name == "call" and isinstance(cls, cst.ClassDef):
            name = cls.name.value  # `FocalLoss.call`
        if name in _LOSS_NAMED_PLUMBING or not _LOSS_NAME.search(name):
            return
        if (_SIGNATURE_TARGET.match(target) or _NAMED_TARGET.match(target)) and (
            _SIGNATURE_PRED.match(prediction) or _NAMED_PRED.match(prediction)
        ):
            self.add_loss(fn, _qualified_function_name(self.ctx, fn), "signature", None)

    def _add_metric(self, cls: cst.ClassDef) -> None:
        """A Metric subclass's `update_state(y_true, y_pred, ...)`: Keras calls it on one output's
        tensors inside the traced train step, as it calls a loss."""
        method = self.method(cls, "update_state")
        if method is None:
            return
        params = function_params(method)
        if len(params) < 2 or "sample_weight" in params[:2]:
            return  # `update_state(values, sample_weight)`: a tracker fed other values
        names = [_SIGNATURE_TARGET, _NAMED_TARGET, _SIGNATURE_PRED, _NAMED_PRED]
        if not all(any(p.match(param) for p in names) for param in params[:2]):
            return  # only where the parameters say target and prediction (in either order)
        self.add_loss(method, f"{cls.name.value}.update_state", "metric", None)


def _qualified_function_name(ctx: FileContext, fn: cst.FunctionDef) -> str:
    owner = ctx.enclosing(fn, (cst.ClassDef,))
    if isinstance(owner, cst.ClassDef) and ctx.enclosing(fn, (cst.ClassDef, cst.FunctionDef)) is owner:
        return f"{owner.name.value}.{fn.name.value}"
    return fn.name.value


def _names_bound_to_self_calls(fn: cst.FunctionDef) -> set[str]:
    """Names assigned from `self(...)` or `self.model(...)`: the predictions of a step."""
    names: set[str] = set()
    for node in walk(fn.body):
        if isinstance(node, cst.Assign) and isinstance(node.value, cst.Call):
            callee = dotted(node.value.func) or ""
            if callee == "self" or callee.startswith("self."):
                for target in node.targets:
                    if isinstance(target.target, cst.Name):
                        names.add(target.target.value)
    return names


def derives(ctx: FileContext, expr: cst.BaseExpression, tracked: dict[str, str]) -> str | None:
    """The role of the tracked tensor `expr` is computed from, keeping its batch axis; or None."""
    if isinstance(expr, cst.Name):
        return tracked.get(expr.value)
    if isinstance(expr, cst.Call):
        api = ctx.call_api(expr)
        if api is not None and op_in(api, _BATCH_PRESERVING_OPS) and expr.args:
            return derives(ctx, expr.args[0].value, tracked)
        return None
    if isinstance(expr, cst.BinaryOperation):
        return derives(ctx, expr.left, tracked) or derives(ctx, expr.right, tracked)
    if isinstance(expr, cst.UnaryOperation):
        return derives(ctx, expr.expression, tracked)
    if isinstance(expr, cst.Subscript) and expr.slice:
        first = expr.slice[0].slice
        keeps_batch = isinstance(first, cst.Slice) or (
            isinstance(first, cst.Index) and isinstance(first.value, cst.Ellipsis)
        )
        return derives(ctx, expr.value, tracked) if keeps_batch else None
    return None


def track_tensors(ctx: FileContext, fn: Function, roots: dict[str, str]) -> dict[str, str]:
    """Names in `fn` that hold the root tensors or values computed from them batch-wise.

    Flow-insensitive on purpose: a name is tracked when every assignment to it in the
    function derives from a tracked tensor (`pred = tf.reshape(pred, ...)`, `t = y_true`).
    """
    assignments: dict[str, list[cst.BaseExpression]] = {}
    body = fn.body
    for node in ctx.walk(body):
        if isinstance(node, cst.Assign):
            for target in node.targets:
                if isinstance(target.target, cst.Name):
                    assignments.setdefault(target.target.value, []).append(node.value)
        elif isinstance(node, (cst.AnnAssign, cst.AugAssign)) and isinstance(node.target, cst.Name):
            value = node.value
            if value is not None:
                assignments.setdefault(node.target.value, []).append(
                    node.target if isinstance(node, cst.AugAssign) else value
                )
    tracked = dict(roots)
    for _ in range(4):  # a short fixpoint: chains of aliases are short
        updated = dict(roots)
        for name, values in assignments.items():
            roles = [derives(ctx, value, tracked) for value in values]
            if all(role is not None for role in roles):
                updated[name] = roles[0]
            else:
                updated.pop(name, None)  # (re)bound to something unrelated
        if updated == tracked:
            break
        tracked = updated
    return tracked


def classes_instantiated(ctx: FileContext, receiver: cst.BaseExpression) -> list[cst.ClassDef]:
    """The classes of this file a name was constructed from: `model = MyModel(...)` -> [MyModel]."""
    found: list[cst.ClassDef] = []
    if isinstance(receiver, cst.Name):
        for bound in ctx.bindings(receiver):
            if isinstance(bound, cst.Call) and isinstance(bound.func, cst.Name):
                found.extend(c for c in ctx.bindings(bound.func) if isinstance(c, cst.ClassDef))
    return found


def infer_rank(ctx: FileContext, expr: cst.BaseExpression, depth: int = 0) -> int | None:
    """The visible rank of a symbolic tensor expression, batch axis included, or None."""
    if depth > 8:
        return None
    if isinstance(expr, cst.Name):
        values = [b for b in ctx.bindings(expr) if isinstance(b, cst.BaseExpression)]
        if len(values) == 1:
            return infer_rank(ctx, values[0], depth + 1)
        return None
    if not isinstance(expr, cst.Call):
        return None
    api = ctx.call_api(expr)
    if is_keras_path(api, "Input", "layers.Input", "layers.InputLayer"):
        shape = keyword(expr, "shape")
        if shape is None and expr.args and expr.args[0].keyword is None:
            shape = expr.args[0].value
        if isinstance(shape, (cst.Tuple, cst.List)):
            return len(shape.elements) + 1
        return None
    if op_in(api, frozenset({"permute_dimensions", "transpose"})):
        perm = keyword(expr, "pattern") or keyword(expr, "perm") or keyword(expr, "axes")
        if perm is None and len(expr.args) > 1:
            perm = expr.args[1].value
        if isinstance(perm, (cst.Tuple, cst.List)):
            return len(perm.elements)
        return None
    # A layer call: Layer(...)(x)
    if isinstance(expr.func, cst.Call):
        layer_api: Api | None = ctx.call_api(expr.func)
        inner = expr.func
        if layer_api is None or layer_api.family != "keras":
            return None
        leaf = layer_api.leaf
        argument = inner.args[0].value if inner.args else None
        if leaf == "Reshape" and isinstance(argument, (cst.Tuple, cst.List)):
            return len(argument.elements) + 1
        if leaf == "Permute" and isinstance(argument, (cst.Tuple, cst.List)):
            return len(argument.elements) + 1
        if leaf == "Flatten":
            return 2
        if leaf in ("Dense", "Activation", "Dropout", "LeakyReLU", "ReLU", "BatchNormalization", "LayerNormalization") and expr.args:
            return infer_rank(ctx, expr.args[0].value, depth + 1)
    return None


@dataclass(frozen=True)
class ExternalUse:
    """Another file gives this file's `name` to compile (directly, or calls it as a factory)."""

    factory: bool
    where: RelatedLocation


def build_index(ctx: FileContext, external: Mapping[str, Sequence[ExternalUse]] | None = None) -> ProgramIndex:
    return _Builder(ctx, external).build()


def file_context(
    path: str,
    source: str,
    module: cst.Module,
    external: Mapping[str, Sequence[ExternalUse]] | None = None,
    conventional: Mapping[str, str] | None = None,
) -> FileContext:
    """The context the rules' static checks receive, with its index built (once: the rules share
    it). `conventional`: the names read as their conventional imports where the file binds
    them nowhere (Config.conventional_names())."""
    ctx = FileContext.from_module(path, source, module, conventional)
    ctx.index = build_index(ctx, external)
    return ctx
