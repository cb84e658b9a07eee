"""The model around the loss, as far as the source shows it: which Keras model a `compile`,
`fit` or `add_loss` call is on, that model's outputs (the names Keras keys losses by, the
layers that produce them, their visible shapes) and the activation each output ends in.

Everything here answers "not visible" (None) rather than guess: a name bound in an `if` or a
loop, a list of outputs that is appended to, a layer built by a helper function, a subclassed
model's `call`. The rules built on it (LL203, LL204, LL303, LL304) only report what they see.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst

from losslint.static.context import FileContext, code_of, dotted
from losslint.static.names import NOT_PROBABILITIES, Api

_DEPTH = 12
# Compound statements that make a binding inside them conditional for code after them.
_CONDITIONAL = (cst.If, cst.For, cst.While, cst.Try, cst.TryStar, cst.Match)
_SCOPE_NODES = (cst.FunctionDef, cst.Lambda, cst.ClassDef, cst.Module)
_STEP_METHODS = frozenset({"train_step", "test_step", "compute_loss", "call"})
_MUTATORS = frozenset({"append", "extend", "insert", "pop", "remove", "update", "setdefault", "clear"})

# Layers whose `activation` defaults to linear (None).
_LINEAR_DEFAULT = frozenset(
    {
        "Dense", "EinsumDense", "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose",
        "Conv3DTranspose", "SeparableConv1D", "SeparableConv2D", "DepthwiseConv1D", "DepthwiseConv2D",
        "Convolution1D", "Convolution2D", "Convolution3D",
    }
)
# Where `activation` may be given positionally: Dense(units, activation), EinsumDense(eq, shape, activation).
_ACTIVATION_POSITION = {"Dense": 1, "EinsumDense": 2}
_OTHER_ACTIVATION_LAYERS = frozenset({"ReLU", "LeakyReLU", "ELU", "PReLU", "ThresholdedReLU"})
# Layers that change only the layout of their input: the activation before them still holds,
# but Keras no longer sees that the tensor came out of a softmax/sigmoid.
THROUGH_LAYERS = frozenset({"Reshape", "Flatten", "Permute", "Lambda"})
_THROUGH_OPS = frozenset({"reshape", "squeeze", "expand_dims", "transpose", "permute_dimensions"})
# Lambda bodies that only move values around.
_SHAPE_ONLY_OPS = _THROUGH_OPS | frozenset({"identity", "flatten", "ensure_shape"})
# Layers that may return several tensors.
_MULTI_OUTPUT = frozenset(
    {
        "LSTM", "GRU", "SimpleRNN", "RNN", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D", "Bidirectional",
        "MultiHeadAttention", "GroupedQueryAttention", "Attention", "AdditiveAttention", "Lambda",
        "TFSMLayer", "Wrapper",
    }
)
_SINGLE_OUTPUT_OPS = _THROUGH_OPS | frozenset({"softmax", "sigmoid", "log_softmax", "linear"})
# Layers whose output has their input's shape.
_SHAPE_PRESERVING = frozenset({"Activation", "Softmax", "Dropout", "ReLU", "LeakyReLU", "ELU", "PReLU"})

_KERAS_ACTIVATIONS = frozenset({"softmax", "sigmoid", "linear", "log_softmax"})
_TF_ACTIVATIONS = {
    "nn.softmax": "softmax", "math.softmax": "softmax", "softmax": "softmax",
    "nn.sigmoid": "sigmoid", "math.sigmoid": "sigmoid", "sigmoid": "sigmoid",
    "nn.log_softmax": "log_softmax", "math.log_softmax": "log_softmax",
}


# Name resolution ----------------------------------------------------------------------------------


def _statement(ctx: FileContext, node: cst.CSTNode) -> cst.CSTNode | None:
    return ctx.enclosing(node, (cst.BaseSmallStatement, cst.BaseCompoundStatement))


def _conditional(ctx: FileContext, site: cst.CSTNode, use: cst.CSTNode) -> bool:
    """True when `site` sits in an if/loop/try of its scope that does not also hold `use`."""
    current = ctx.parent(site)
    while current is not None and not isinstance(current, _SCOPE_NODES):
        if isinstance(current, _CONDITIONAL) and not ctx.is_within(use, current):
            return True
        current = ctx.parent(current)
    return False


def _bindings(ctx: FileContext, name: cst.Name) -> tuple[list, bool]:
    """The bindings the name refers to, and whether they are in the use's own scope."""
    bindings = ctx.names.lookup(name)
    scope = ctx.names.scope_of.get(name)
    local = scope is not None and scope.names.get(name.value) is bindings
    return bindings, local


def reaching_binding(ctx: FileContext, name: cst.Name):
    """The binding (scopes.Binding) that visibly reaches this use of the name, or None.

    Flow-sensitive in straight-line code: with `x = Dense(64)(inp); x = Dense(3)(x)` a later use
    of `x` gets the second binding and the `x` inside the second's right-hand side the first. A
    binding inside an if/loop/try that does not also hold the use: None.
    """
    bindings, local = _bindings(ctx, name)
    if not bindings:
        return None
    if not local:  # bound in an enclosing scope (a global read in a function): only if bound once
        return bindings[0] if len(bindings) == 1 else None
    use = ctx.order(name)
    before = []
    for binding in bindings:
        site = binding.node
        statement = _statement(ctx, site)
        if statement is not None and ctx.is_within(name, statement):
            if isinstance(statement, (cst.Assign, cst.AnnAssign)):
                continue  # `x = f(x)`: the right-hand side reads the previous binding
            return None
        if ctx.order(site) < use:
            before.append(binding)
    if not before:
        return None
    latest = max(before, key=lambda b: ctx.order(b.node))
    if _conditional(ctx, latest.node, name):
        return None
    return latest


def reaching_value(ctx: FileContext, name: cst.Name) -> cst.BaseExpression | None:
    """The value of the plain `name = value` assignment that visibly reaches this use, or None
    (see `reaching_binding`; unpacking, `for`, `with`, imports and parameters give None)."""
    binding = reaching_binding(ctx, name)
    return None if binding is None else binding.value


def resolve(ctx: FileContext, expr: cst.BaseExpression, depth: int = 0) -> cst.BaseExpression | None:
    """`expr` with plain names replaced by the value that reaches them (a few steps deep)."""
    while isinstance(expr, cst.Name) and depth < _DEPTH:
        value = reaching_value(ctx, expr)
        if value is None:
            return None
        expr, depth = value, depth + 1
    return expr


def name_uses(ctx: FileContext, name: cst.Name) -> list[cst.Name]:
    """Every use of the name that refers to the same bindings as `name` (same scope chain)."""
    cache = ctx.__dict__.setdefault("_models_name_nodes", None)
    if cache is None:
        cache = {}
        for node in ctx.names.scope_of:
            cache.setdefault(node.value, []).append(node)
        ctx.__dict__["_models_name_nodes"] = cache
    bindings = ctx.names.lookup(name)
    if not bindings:
        return []
    return [n for n in cache.get(name.value, ()) if ctx.names.lookup(n) is bindings]


def is_mutated(ctx: FileContext, name: cst.Name) -> bool:
    """True when the container bound to `name` is changed in place anywhere in its scope."""
    for use in name_uses(ctx, name):
        parent = ctx.parent(use)
        if isinstance(parent, cst.Attribute) and parent.value is use and parent.attr.value in _MUTATORS:
            return True
        if isinstance(parent, cst.Subscript) and parent.value is use:
            grand = ctx.parent(parent)
            if isinstance(grand, (cst.AssignTarget, cst.Del)) or (
                isinstance(grand, cst.AugAssign) and grand.target is parent
            ):
                return True
        if isinstance(parent, cst.AugAssign) and parent.target is use:
            return True
    return False


def literal_string(node: cst.BaseExpression | None) -> str | None:
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


def arg(call: cst.Call, name: str, position: int | None = None) -> cst.BaseExpression | None:
    """A call's argument by keyword, or by position when given."""
    for a in call.args:
        if a.keyword is not None and a.keyword.value == name:
            return a.value
    if position is not None:
        positional = [a for a in call.args if a.keyword is None]
        if any(a.star for a in positional[: position + 1]):
            return None
        if len(positional) > position:
            return positional[position].value
    return None


def arg_node(call: cst.Call, name: str) -> cst.Arg | None:
    for a in call.args:
        if a.keyword is not None and a.keyword.value == name:
            return a
    return None


def has_star_args(call: cst.Call) -> bool:
    return any(a.star for a in call.args)


def keras_path(api: Api | None) -> str:
    """The path of a Keras object below its root, `keras.src.` internals included ("" if not Keras)."""
    if api is None or api.family != "keras":
        return ""
    return api.path[4:] if api.path.startswith("src.") else api.path


def is_layer_api(api: Api | None) -> bool:
    return keras_path(api).startswith("layers.")


def in_file_class(ctx: FileContext, func: cst.BaseExpression) -> cst.ClassDef | None:
    if isinstance(func, cst.Name):
        bound = [b for b in ctx.bindings(func) if isinstance(b, cst.ClassDef)]
        if len(bound) == 1:
            return bound[0]
    return None


def in_file_function(ctx: FileContext, func: cst.BaseExpression) -> cst.FunctionDef | None:
    if isinstance(func, cst.Name):
        bound = ctx.bindings(func)
        if len(bound) == 1 and isinstance(bound[0], cst.FunctionDef):
            return bound[0]
    return None


def single_return(ctx: FileContext, fn: cst.FunctionDef) -> cst.BaseExpression | None:
    """The value of the function's only `return` (nested functions aside), else None."""
    found = [
        node for node in ctx.walk(fn.body)
        if isinstance(node, cst.Return) and ctx.enclosing(node, (cst.FunctionDef, cst.Lambda)) is fn
    ]
    if len(found) != 1 or found[0].value is None:
        return None
    return found[0].value


# Layers and the steps from an output back to its inputs ------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One layer (or op) on the way from a model output back towards its inputs."""

    node: cst.CSTNode  # where it is applied (functional) or listed (Sequential)
    kind: str  # the Keras layer class ("Dense"), an in-file class name, or "op:softmax"
    builtin: bool  # a Keras layer/op, not a class of this file
    ctor: cst.Call | None = None  # the layer's constructor call
    input: cst.BaseExpression | None = None  # the tensor it was applied to (functional)

    @property
    def name(self) -> str | None:
        """The layer's literal `name=`, the name Keras gives the output it produces."""
        return literal_string(arg(self.ctor, "name")) if self.ctor is not None else None

    def text(self) -> str:
        return code_of(self.ctor if self.ctor is not None else self.node, 50)


def layer_constructor(ctx: FileContext, expr: cst.BaseExpression) -> tuple[cst.Call, str, bool] | None:
    """(constructor call, layer kind, builtin) for `Dense(3)` or a name bound to it."""
    call = resolve(ctx, expr)
    if not isinstance(call, cst.Call):
        return None
    api = ctx.call_api(call)
    if is_layer_api(api):
        return call, api.leaf, True
    cls = in_file_class(ctx, call.func)
    if cls is not None and cls in ctx.index.layer_classes:
        return call, cls.name.value, False
    return None


def producer(ctx: FileContext, expr: cst.BaseExpression, depth: int = 0) -> Step | None:
    """The layer or op whose output `expr` is: `Dense(3)(h)`, `head(h)`, `keras.ops.softmax(h)`."""
    if depth > _DEPTH:
        return None
    if isinstance(expr, cst.Name):
        value = reaching_value(ctx, expr)
        return None if value is None else producer(ctx, value, depth + 1)
    if not isinstance(expr, cst.Call):
        return None
    applied = arg(expr, "inputs", 0)
    if isinstance(expr.func, (cst.Call, cst.Name)):
        layer = layer_constructor(ctx, expr.func)
        if layer is not None:
            ctor, kind, builtin = layer
            return Step(expr, kind, builtin, ctor, applied)
    api = ctx.call_api(expr)
    if api is not None and expr.args:
        op = _activation_op(api) or (api.op or "").rsplit(".", 1)[-1]
        if op:
            return Step(expr, f"op:{op}", True, None, expr.args[0].value)
    return None


def _activation_op(api: Api) -> str | None:
    """softmax/sigmoid/linear for keras.activations.X, keras.ops.X, tf.nn.X; else None."""
    if api.family == "keras":
        if keras_path(api).startswith(("activations.", "ops.", "backend.")) and api.leaf in _KERAS_ACTIVATIONS:
            return api.leaf
        return None
    if api.family == "tf":
        return _TF_ACTIVATIONS.get(api.path)
    return None


# Models ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Output:
    """One model output: the tensor expression, the name losses are keyed by, its steps."""

    expr: cst.BaseExpression
    index: int
    key: str | None = None  # the dict key, for a model built with a dict of outputs
    steps: tuple[Step, ...] | None = None  # Sequential: its layers, last first

    def label(self, ctx: FileContext) -> str:
        name = self.name(ctx)
        if name is not None:
            return f"'{name}'"
        if self.steps is not None:
            return "the output"  # a Sequential's only output
        return f"`{code_of(self.expr, 40)}`"

    def name(self, ctx: FileContext) -> str | None:
        if self.key is not None:
            return self.key
        first = next(iter(backwards(ctx, self)), None)
        return first.name if first is not None else None


@dataclass(frozen=True)
class Model:
    kind: str  # "functional", "sequential" or "subclassed"
    node: cst.Call  # the constructor call
    outputs: tuple[Output, ...] | None = None  # None: not visible
    dict_outputs: bool = False
    inputs: tuple[cst.BaseExpression, ...] | None = None
    cls: cst.ClassDef | None = None  # the in-file class, for subclasses

    @property
    def own_step(self) -> bool:
        """A model class of the file with its own train_step/test_step/compute_loss: how the
        compiled loss meets the outputs is up to that code."""
        if self.cls is None:
            return False
        return any(
            isinstance(s, cst.FunctionDef) and s.name.value in _STEP_METHODS for s in self.cls.body.body
        )


def model_of(ctx: FileContext, receiver: cst.BaseExpression, depth: int = 0) -> Model | None:
    """The model a name holds, where it is visibly built: `keras.Model(inputs, outputs)`,
    `keras.Sequential([...])` (plus its `.add` calls), an instance of a model class of this file,
    or the single return value of a builder function of this file."""
    if depth > 4 or not isinstance(receiver, cst.Name):
        return None
    model = _model_of(ctx, receiver, depth)
    if model is not None and model.kind == "sequential" and depth == 0 and model.outputs is not None:
        # Layers added or popped through another name than the one bound to Sequential(...).
        if _changed_elsewhere(ctx, receiver, model.node):
            return Model("sequential", model.node)
    return model


def _changed_elsewhere(ctx: FileContext, receiver: cst.Name, call: cst.Call) -> bool:
    """True when the Sequential may be changed where `_added_layers` does not look: a `.pop()`,
    or an `.add(...)` on a name that does not visibly hold the `Sequential(...)` call (the
    caller's name for a model a builder function returned)."""
    for use in name_uses(ctx, receiver):
        parent = ctx.parent(use)
        if not (isinstance(parent, cst.Attribute) and parent.value is use and parent.attr.value in ("add", "pop")):
            continue
        if parent.attr.value == "pop" or resolve(ctx, use) is not call:
            return True
    return False


def _model_of(ctx: FileContext, receiver: cst.Name, depth: int) -> Model | None:
    value = reaching_value(ctx, receiver)
    if isinstance(value, cst.Name):
        return model_of(ctx, value, depth + 1)
    if not isinstance(value, cst.Call):
        return None
    api = ctx.call_api(value)
    if api is not None:
        if api.family != "keras":
            return None
        if api.leaf == "Model" and keras_path(api) in ("Model", "models.Model", "models.model.Model"):
            return _functional(ctx, value, None)
        if api.leaf == "Sequential" and keras_path(api) in ("Sequential", "models.Sequential", "models.sequential.Sequential"):
            return _sequential(ctx, value, receiver)
        return None
    cls = in_file_class(ctx, value.func)
    if cls is not None:
        if cls not in ctx.index.model_classes:
            return None
        if arg(value, "outputs") is not None and arg(value, "inputs") is not None:
            return _functional(ctx, value, cls)
        return Model("subclassed", value, cls=cls)
    fn = in_file_function(ctx, value.func)
    if fn is not None:
        returned = single_return(ctx, fn)
        if isinstance(returned, cst.Name):
            return model_of(ctx, returned, depth + 1)
        if isinstance(returned, cst.Call):
            inner = ctx.call_api(returned)
            if inner is not None and inner.family == "keras" and inner.leaf == "Model":
                return _functional(ctx, returned, None)
    return None


def _functional(ctx: FileContext, call: cst.Call, cls: cst.ClassDef | None) -> Model | None:
    outputs_expr = arg(call, "outputs", 1)
    inputs_expr = arg(call, "inputs", 0)
    if outputs_expr is None or inputs_expr is None or has_star_args(call):
        return None
    outputs, is_dict = _outputs(ctx, outputs_expr)
    inputs = _elements(ctx, inputs_expr)
    return Model("functional", call, outputs, is_dict, inputs, cls)


def _container(ctx: FileContext, expr: cst.BaseExpression) -> cst.BaseExpression | None:
    """A list/tuple/dict literal, through a name that is never changed in place."""
    if isinstance(expr, cst.Name):
        value = reaching_value(ctx, expr)
        if isinstance(value, (cst.List, cst.Tuple, cst.Dict)):
            return None if is_mutated(ctx, expr) else value
        return expr
    return expr


def _elements(ctx: FileContext, expr: cst.BaseExpression) -> tuple[cst.BaseExpression, ...] | None:
    expr = _container(ctx, expr)
    if expr is None:
        return None
    if isinstance(expr, (cst.List, cst.Tuple)):
        if any(isinstance(e, cst.StarredElement) for e in expr.elements):
            return None
        return tuple(e.value for e in expr.elements)
    if isinstance(expr, cst.Dict):
        return None
    return (expr,)


def _outputs(ctx: FileContext, expr: cst.BaseExpression) -> tuple[tuple[Output, ...] | None, bool]:
    expr = _container(ctx, expr)
    if expr is None:
        return None, False
    if isinstance(expr, cst.Dict):
        outputs = []
        for i, element in enumerate(expr.elements):
            key = literal_string(element.key) if isinstance(element, cst.DictElement) else None
            if key is None:
                return None, True
            outputs.append(Output(element.value, i, key))
        return tuple(outputs), True
    if isinstance(expr, (cst.List, cst.Tuple)):
        if any(isinstance(e, cst.StarredElement) for e in expr.elements):
            return None, False
        return tuple(Output(e.value, i) for i, e in enumerate(expr.elements)), False
    step = producer(ctx, expr)
    if step is None or not step.builtin:
        return None, False  # may be a list of tensors (a helper's result, a custom layer...)
    if step.kind in _MULTI_OUTPUT and not (
        step.kind == "Lambda" and step.ctor is not None and _layout_only_lambda(ctx, step.ctor)
    ):
        return None, False  # an RNN with states, attention with scores, a Lambda returning a list
    if step.kind.startswith("op:") and step.kind[3:] not in _SINGLE_OUTPUT_OPS:
        return None, False
    return (Output(expr, 0),), False


def _sequential(ctx: FileContext, call: cst.Call, receiver: cst.Name) -> Model:
    """A Sequential model with its layers in order, when every one of them is visible."""
    listed = arg(call, "layers", 0)
    entries: list[cst.BaseExpression] = []
    if listed is not None:
        listed = _container(ctx, listed)
        if not isinstance(listed, (cst.List, cst.Tuple)) or any(
            isinstance(e, cst.StarredElement) for e in listed.elements
        ):
            return Model("sequential", call)
        entries.extend(e.value for e in listed.elements)
    added = _added_layers(ctx, call, receiver)
    if added is None:
        return Model("sequential", call)
    entries.extend(added)
    steps: list[Step | None] = []
    for entry in entries:
        resolved = resolve(ctx, entry)
        if isinstance(resolved, cst.Call):
            api = ctx.call_api(resolved)
            if api is not None and api.family == "keras" and api.leaf in ("Input", "InputLayer"):
                continue
        layer = layer_constructor(ctx, entry)
        steps.append(None if layer is None else Step(entry, layer[1], layer[2], layer[0]))
    if not steps or steps[-1] is None:
        return Model("sequential", call)
    last = tuple(s for s in reversed(steps))
    visible = tuple(_take_while_known(last))
    return Model("sequential", call, (Output(call, 0, None, visible),))


def _take_while_known(steps: tuple[Step | None, ...]) -> Iterator[Step]:
    for step in steps:
        if step is None:
            return
        yield step


def _added_layers(ctx: FileContext, call: cst.Call, receiver: cst.Name) -> list[cst.BaseExpression] | None:
    """The `model.add(layer)` calls on the Sequential built by `call` before the use `receiver`,
    in order; None when one of them is conditional or not a plain call."""
    assign = ctx.parent(call)
    if not isinstance(assign, cst.Assign) or len(assign.targets) != 1 or not isinstance(assign.targets[0].target, cst.Name):
        return []  # not bound to a name: nothing can be added to it later
    target = assign.targets[0].target
    use = ctx.order(receiver)
    added: list[tuple[int, cst.BaseExpression]] = []
    for access in name_uses(ctx, target):
        parent = ctx.parent(access)
        if not (isinstance(parent, cst.Attribute) and parent.value is access and parent.attr.value in ("add", "pop")):
            continue
        add_call = ctx.parent(parent)
        if not isinstance(add_call, cst.Call) or add_call.func is not parent:
            continue
        position = ctx.order(add_call)
        if position > use:
            return None  # changed after the use: the model fit sees is not the one compiled here
        if parent.attr.value == "pop" or resolve(ctx, access) is not call:
            return None
        if len(add_call.args) != 1 or add_call.args[0].keyword is not None or _conditional(ctx, add_call, receiver):
            return None
        added.append((position, add_call.args[0].value))
    return [layer for _, layer in sorted(added, key=lambda item: item[0])]


def backwards(ctx: FileContext, output: Output) -> Iterator[Step]:
    """The steps that produce an output, last first, as far as they are visible."""
    if output.steps is not None:
        yield from output.steps
        return
    expr: cst.BaseExpression | None = output.expr
    for _ in range(_DEPTH):
        if expr is None:
            return
        step = producer(ctx, expr)
        if step is None:
            return
        yield step
        expr = step.input


# Activations -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Activation:
    """The activation an output ends in, and what lies between it and the output."""

    name: str  # "softmax", "sigmoid", "linear", "log_softmax", one of NOT_PROBABILITIES, or "other"
    step: Step  # the layer/op that applies it
    node: cst.CSTNode  # where it is written (the `activation=` argument, `Softmax()`, ...)
    through: tuple[Step, ...] = ()  # layout-only layers between the activation and the output
    keras_own: bool = True  # Keras' own softmax/sigmoid (marks its result with the logits)

    def describe(self, ctx: FileContext) -> str:
        """`activation="softmax"`, line 7 / `layers.Dense(3)` has no activation, line 9."""
        line = ctx.start(self.node)[0]
        if isinstance(self.node, cst.Arg) and self.node.keyword is not None:
            return f"`{self.node.keyword.value}={code_of(self.node.value, 40)}`, line {line}"
        if self.name == "linear":
            return f"`{self.step.text()}` has no activation, line {line}"
        return f"`{code_of(self.node, 50)}`, line {line}"


def final_activation(ctx: FileContext, output: Output) -> Activation | None:
    """The activation that visibly produces the output, looking back through Reshape, Flatten,
    Permute and layout-only Lambda layers; None when it cannot be seen."""
    through: list[Step] = []
    for step in backwards(ctx, output):
        if step.kind.startswith("op:"):
            op = step.kind[3:]
            api = ctx.call_api(step.node) if isinstance(step.node, cst.Call) else None
            activation = _activation_op(api) if api is not None else None
            if activation is not None:
                return Activation(activation, step, step.node, tuple(through), api.family == "keras")
            if op in _THROUGH_OPS:
                through.append(step)
                continue
            return None
        if not step.builtin or step.ctor is None:
            return None
        kind, ctor = step.kind, step.ctor
        if kind in THROUGH_LAYERS:
            if kind == "Lambda" and not _layout_only_lambda(ctx, ctor):
                return None
            through.append(step)
            continue
        if kind == "Softmax":
            return Activation("softmax", step, ctor, tuple(through))
        if kind in _OTHER_ACTIVATION_LAYERS:
            return Activation("other", step, ctor, tuple(through))
        if kind == "Activation":
            value = arg(ctor, "activation", 0)
            found = _classified(ctx, value, step, tuple(through), default=None)
            if found is not None and found.name == "linear":
                continue  # identity (a float32 cast under mixed precision): Keras still sees what is before
            return found
        if kind in _LINEAR_DEFAULT:
            position = _ACTIVATION_POSITION.get(kind)
            if position is None and len([a for a in ctor.args if a.keyword is None]) > 2:
                return None  # a convolution with activation possibly given positionally
            value = arg(ctor, "activation", position)
            return _classified(ctx, value, step, tuple(through), default="linear")
        return None
    return None


def _classified(
    ctx: FileContext, value: cst.BaseExpression | None, step: Step, through: tuple[Step, ...], default: str | None
) -> Activation | None:
    if value is None:
        return None if default is None else Activation(default, step, step.ctor or step.node, through)
    node: cst.CSTNode = ctx.parent(value) or value
    if not isinstance(node, cst.Arg) or node.keyword is None:
        node = step.ctor or value  # `Activation("softmax")`: the layer says it best
    text = literal_string(value)
    if text is not None:
        name = text.lower()
        known = name in _KERAS_ACTIVATIONS or name in NOT_PROBABILITIES
        return Activation(name if known else "other", step, node, through)
    if isinstance(value, cst.Name) and value.value == "None":
        return Activation("linear", step, node, through)
    api = ctx.api(value)
    if api is not None:
        activation = _activation_op(api)
        if activation is not None:
            return Activation(activation, step, node, through, api.family == "keras")
        if keras_path(api).startswith("activations."):
            leaf = keras_path(api).rsplit(".", 1)[-1]
            return Activation(leaf if leaf in NOT_PROBABILITIES else "other", step, node, through)
    return None


def _layout_only_lambda(ctx: FileContext, ctor: cst.Call) -> bool:
    """A `Lambda` whose function only reshapes, squeezes, transposes or slices its input."""
    fn = arg(ctor, "function", 0)
    if not isinstance(fn, cst.Lambda):
        return False
    params = [p.name.value for p in fn.params.params]
    if not params:
        return False
    return _layout_of(ctx, fn.body, params[0])


def _layout_of(ctx: FileContext, expr: cst.BaseExpression, param: str) -> bool:
    if isinstance(expr, cst.Name):
        return expr.value == param
    if isinstance(expr, cst.Subscript):
        return _layout_of(ctx, expr.value, param)
    if isinstance(expr, cst.Call) and expr.args:
        api = ctx.call_api(expr)
        op = (api.op or "") if api is not None else ""
        return op.rsplit(".", 1)[-1] in _SHAPE_ONLY_OPS and _layout_of(ctx, expr.args[0].value, param)
    return False


# Shapes ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """What the source shows of an output's per-sample shape: all of it, or its last axis."""

    dims: tuple[int, ...] | None = None  # the full per-sample shape (a Reshape target)
    last: int | None = None  # the last axis (a Dense's units)
    where: cst.CSTNode | None = None

    def text(self) -> str:
        if self.dims is not None:
            return "(batch, " + ", ".join(str(d) for d in self.dims) + ")"
        return f"(batch, ..., {self.last})"

    def differs(self, other: Shape) -> bool:
        if self.dims is not None and other.dims is not None:
            return self.dims != other.dims
        mine = self.dims[-1] if self.dims else self.last
        theirs = other.dims[-1] if other.dims else other.last
        return mine is not None and theirs is not None and mine != theirs


def visible_shape(ctx: FileContext, output: Output) -> Shape | None:
    for step in backwards(ctx, output):
        if not step.builtin or step.ctor is None:
            return None
        kind, ctor = step.kind, step.ctor
        if kind == "Reshape":
            target = arg(ctor, "target_shape", 0)
            if isinstance(target, (cst.Tuple, cst.List)):
                dims = [_int(e.value) for e in target.elements]
                if all(d is not None and d > 0 for d in dims):
                    return Shape(dims=tuple(dims), where=ctor)  # type: ignore[arg-type]
            return None
        if kind == "Dense":
            units = _int(arg(ctor, "units", 0))
            return Shape(last=units, where=ctor) if units is not None else None
        if kind in _SHAPE_PRESERVING:
            continue
        return None
    return None


def _int(node: cst.BaseExpression | None) -> int | None:
    if isinstance(node, cst.Integer):
        return int(node.evaluated_value)
    return None


# Compile arguments -----------------------------------------------------------------------------------


def compile_receiver(call: cst.Call) -> cst.BaseExpression | None:
    return call.func.value if isinstance(call.func, cst.Attribute) else None


def loss_weights_arg(call: cst.Call) -> cst.BaseExpression | None:
    return arg(call, "loss_weights", 2)


def receiver_text(node: cst.BaseExpression) -> str:
    return dotted(node) or code_of(node, 30)


def loss_structure(ctx: FileContext, expr: cst.BaseExpression | None, depth: int = 0) -> tuple[str, cst.BaseExpression] | None:
    """("dict"|"list"|"single", the literal or the loss) for a compile `loss=` value, or None when
    it is not visible whether it is one loss or several (a parameter, a helper's result)."""
    if expr is None or depth > _DEPTH:
        return None
    if isinstance(expr, cst.Dict):
        return "dict", expr
    if isinstance(expr, (cst.List, cst.Tuple)):
        if any(isinstance(e, cst.StarredElement) for e in expr.elements):
            return None
        return "list", expr
    if isinstance(expr, (cst.SimpleString, cst.Lambda)):
        return "single", expr
    if isinstance(expr, cst.Name):
        if expr.value == "None":
            return None
        value = reaching_value(ctx, expr)
        if value is not None:
            if isinstance(value, (cst.List, cst.Tuple, cst.Dict)) and is_mutated(ctx, expr):
                return None
            return loss_structure(ctx, value, depth + 1)
        bound = ctx.bindings(expr)
        if len(bound) == 1 and isinstance(bound[0], (cst.FunctionDef, cst.ClassDef)):
            return "single", expr
        api = ctx.api(expr)
        if api is not None and api.family in ("keras", "tf"):
            return "single", expr
        return None
    if isinstance(expr, cst.Attribute):
        api = ctx.api(expr)
        return ("single", expr) if api is not None and api.family in ("keras", "tf") else None
    if isinstance(expr, cst.Call):
        api = ctx.call_api(expr)
        if api is not None:
            if keras_path(api).startswith("losses."):
                return "single", expr
            return None
        if "functools.partial" in ctx.qualified_names(expr.func):
            return "single", expr
        cls = in_file_class(ctx, expr.func)
        if cls is not None:
            return ("single", expr) if cls in ctx.index.loss_classes else None
        fn = in_file_function(ctx, expr.func)
        if fn is not None:
            returned = single_return(ctx, fn)
            if isinstance(returned, cst.Name):
                bound = ctx.bindings(returned)
                if len(bound) == 1 and isinstance(bound[0], cst.FunctionDef):
                    return "single", expr  # a factory returning its inner loss function
            if isinstance(returned, cst.Lambda):
                return "single", expr
        return None
    return None
