"""Value flow inside one loss or layer function, for the rules that need more than names.

`analyse(ctx, function)` runs a small abstract interpreter over the function's body, in
statement order (so `y_pred = K.round(y_pred)` is seen as a rebinding), joining the branches
of `if`/`for`/`while`/`try`. Every expression it evaluates gets a `Val`:

* `roles`: the tracked tensors ("target", "prediction", or a layer's "input") the value is
  computed from. Shapes, ranks and dtypes (`x.shape`, `len(x)`, `ops.shape(x)`, `K.int_shape`)
  are static Python values and break the dependence;
* `grad`: whether it still depends *differentiably* on the prediction, and `cut`, the
  expression where that dependence was lost (`argmax`, `round`, a comparison, an int cast,
  `stop_gradient`); `tf.where`'s condition and a boolean mask carry no gradient but do not cut
  the other operand's;
* `kind`: TENSOR (surely a tensor: a tf/keras op result, a loss's y_true/y_pred), INPUT (a
  layer's raw input, which may also be a list or dict), STATIC (Python values) or UNKNOWN;
* `linear`: a signed, unbounded function of the prediction: the prediction itself, sums,
  differences, negations, products with prediction-free factors and means of those, with no
  square/abs/log/exp/maximum/clip/activation on the way;
* `batch_sum` / `batch_mean`: a scalar made by `reduce_sum`/`reduce_mean` over the batch axis
  (no axis, or axis 0) of a prediction-derived value, and still the scalar (not divided by
  anything but a literal).

The join of two branches is conservative for every rule: a name is differentiable if either
branch makes it so, a tensor only if both do, linear/batch-reduced only if both are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import libcst as cst

from losslint.static.context import FileContext, dotted
from losslint.static.discovery import TensorFunction
from losslint.static.names import Api

TENSOR, SEQUENCE, INPUT, STATIC, UNKNOWN = "tensor", "sequence", "input", "static", "unknown"
TARGET, PREDICTION = "target", "prediction"

# Ops whose result is a Python value known when the graph is traced (or treated as one).
_STATIC_OPS = frozenset({
    "shape", "int_shape", "ndim", "rank", "size", "dtype", "is_tensor", "is_keras_tensor",
    "executing_eagerly", "get_static_value", "floatx", "epsilon", "image_data_format",
    "standardize_dtype", "result_type", "is_float_dtype", "is_int_dtype", "dimension_value",
    "is_symbolic_tensor", "count_params", "backend", "is_sparse", "is_ragged", "as_dtype",
    "is_nested", "flatten_up_to", "is_tensor_like", "shape_v2", "get_shape", "zeros_like_shape",
})
# Results with no gradient whatever their input (the input is used only for its shape or to
# pick positions).
_NO_GRADIENT_OPS = frozenset({
    "argmax", "argmin", "round", "rint", "floor", "ceil", "sign", "equal", "not_equal",
    "greater", "greater_equal", "less", "less_equal", "logical_and", "logical_or",
    "logical_not", "logical_xor", "stop_gradient", "is_nan", "is_inf", "is_finite", "isnan",
    "isinf", "isfinite", "in_top_k", "one_hot", "argsort", "searchsorted", "bucketize",
    "digitize", "unique", "histogram", "count_nonzero", "nonzero", "floor_divide", "floordiv",
    "zeros_like", "ones_like", "top_k_indices",
})
_NO_GRADIENT_KIND = {
    "argmax": "argmax", "argmin": "argmin", "round": "rounding", "rint": "rounding",
    "floor": "rounding", "ceil": "rounding", "sign": "sign", "stop_gradient": "stop_gradient",
    "one_hot": "one_hot", "floor_divide": "floor division", "floordiv": "floor division",
}
# The gradient flows through the first argument only (the others are indices or masks).
_FIRST_ARGUMENT_GRADIENT = frozenset({
    "boolean_mask", "gather", "gather_nd", "take", "take_along_axis", "slice",
    "strided_slice", "dynamic_partition", "segment_sum", "segment_mean", "unsorted_segment_sum",
    "unsorted_segment_mean", "tensor_scatter_nd_update", "scatter_nd",
})
# Ops that keep a value linear in the prediction (and its batch-wide scalar).
_LINEAR_UNARY = frozenset({
    "reduce_sum", "reduce_mean", "sum", "mean", "negative", "identity", "reshape",
    "expand_dims", "squeeze", "transpose", "convert_to_tensor", "flatten", "batch_flatten",
    "cast", "ensure_shape",
})
_SUMS = frozenset({"reduce_sum", "sum"})
# Ops that keep a batch-wide sum growing with the batch size: `sqrt(sum(square(d), axis=0))`.
_GROWING_UNARY = frozenset({"sqrt", "square"})
# Ops that return a Python tuple/list of tensors: unpacking or iterating them is fine.
_SEQUENCE_OPS = frozenset({
    "unstack", "split", "array_split", "meshgrid", "shape_n", "dynamic_partition", "top_k",
    "moments", "weighted_moments", "unique", "unique_with_counts", "svd", "qr", "eigh", "eig",
    "lu", "while_loop", "cond", "map_fn", "vectorized_map", "py_function", "numpy_function",
    "case", "switch_case", "fori_loop", "scan", "gradients", "ctc_beam_search_decoder",
    "ctc_greedy_decoder", "broadcast_arrays", "slogdet", "sufficient_statistics",
    "normalize_moments", "nms", "non_max_suppression_padded", "associative_scan", "unzip",
})
_MEANS = frozenset({"reduce_mean", "mean"})
# tf namespaces whose functions compute tensors (others: config, io, data, debugging, ...).
_TF_COMPUTE = frozenset({"", "math", "nn", "linalg", "image", "signal", "random", "bitwise", "sparse", "ragged", "experimental.numpy"})
# Helper modules under keras.src.ops that hold no tensor functions.
_KERAS_OPS_UTILITIES = frozenset({"operation_utils", "operation", "node", "symbolic_arguments", "function"})
_INT_DTYPE = re.compile(r"^(u?int(8|16|32|64)?|bool)$")
_FLOAT_DTYPE = re.compile(r"^(b?float(16|32|64)?|half|double|complex\d*)$")
_STATIC_ATTRIBUTES = frozenset({"shape", "ndim", "dtype", "name", "device", "rank", "graph", "op"})
_PYTHON_STATIC_CALLS = frozenset({
    "len", "isinstance", "type", "hasattr", "callable", "range", "print", "id", "repr",
    "str", "issubclass",
})
_TENSOR_METHODS_STATIC = frozenset({"numpy", "get_shape", "as_list", "set_shape"})
_TO_NUMPY_OPS = frozenset({"convert_to_numpy", "make_ndarray", "get_value", "eval"})
_GROWING_METHODS = frozenset({"append", "extend", "insert", "add"})


@dataclass(frozen=True)
class Val:
    roles: frozenset[str] = frozenset()
    grad: bool = False
    cut: cst.CSTNode | None = None
    kind: str = UNKNOWN
    linear: bool = False
    const: bool = False  # a numeric literal (or arithmetic on them)
    numpy: bool = False  # a NumPy result
    batch_sum: cst.Call | None = None
    batch_mean: cst.Call | None = None
    # Divided element-wise by something computed (a count, a per-level normaliser): a batch
    # sum of it is a normalised mean, not a sum that grows with the batch.
    normalized: bool = False


_STATIC = Val(kind=STATIC)
_CONST = Val(kind=STATIC, const=True)


def join(a: Val | None, b: Val | None) -> Val:
    if a is None:
        return b if b is not None else Val()
    if b is None or a is b:
        return a
    grad = a.grad or b.grad
    return Val(
        roles=a.roles | b.roles,
        grad=grad,
        cut=None if grad else (a.cut or b.cut),
        kind=a.kind if a.kind == b.kind else (INPUT if {a.kind, b.kind} == {INPUT, TENSOR} else UNKNOWN),
        linear=a.linear and b.linear,
        const=a.const and b.const,
        numpy=a.numpy and b.numpy,
        batch_sum=a.batch_sum if (a.batch_sum is not None and b.batch_sum is not None) else None,
        batch_mean=a.batch_mean if (a.batch_mean is not None and b.batch_mean is not None) else None,
        normalized=a.normalized or b.normalized,
    )


def _union(values: Iterable[Val]) -> tuple[frozenset[str], bool, cst.CSTNode | None]:
    roles: frozenset[str] = frozenset()
    grad = False
    cut = None
    for v in values:
        roles |= v.roles
        grad = grad or v.grad
        cut = cut or v.cut
    return roles, grad, (None if grad else cut)


Env = dict[str, Val]


@dataclass
class Analysis:
    """The result for one function: a Val for each evaluated expression, and the returns."""

    function: TensorFunction
    values: dict[cst.CSTNode, Val] = field(default_factory=dict)
    # returned expression -> its value: `return` statements and a lambda's body.
    returned: dict[cst.BaseExpression, Val] = field(default_factory=dict)
    # Statements and expressions whose truth value or iteration Python asks for.
    bool_tests: list[cst.BaseExpression] = field(default_factory=list)
    iterations: list[cst.BaseExpression] = field(default_factory=list)
    roots: dict[str, str] = field(default_factory=dict)  # param name -> role

    def value(self, node: cst.CSTNode) -> Val:
        return self.values.get(node, Val())

    @property
    def returns(self) -> list[tuple[cst.BaseExpression, Val]]:
        return list(self.returned.items())

    def names_for(self, roles: Iterable[str]) -> str:
        """`the prediction `y_pred`` for messages."""
        by_role = {role: name for name, role in self.roots.items()}
        parts = [f"the {role} `{by_role[role]}`" for role in (TARGET, PREDICTION, "input") if role in roles and role in by_role]
        return " and ".join(parts) or "a tracked tensor"


def analyse(ctx: FileContext, function: TensorFunction, *, loose_roots: bool = False) -> Analysis:
    """Run the interpreter over `function` (cached per context)."""
    cache = ctx.__dict__.setdefault("_losslint_dataflow", {})
    key = (id(function.node), function.kind, loose_roots)
    found = cache.get(key)
    if found is None:
        found = cache[key] = _Interpreter(ctx, function, loose_roots).run()
    return found


def root_values(function: TensorFunction, loose: bool) -> dict[str, Val]:
    roots: dict[str, Val] = {}
    if function.kind == "loss":
        kind = INPUT if loose else TENSOR
        if function.params:
            roots[function.params[0]] = Val(roles=frozenset({TARGET}), kind=kind)
        if len(function.params) > 1:
            roots[function.params[1]] = Val(roles=frozenset({PREDICTION}), grad=True, kind=kind, linear=True)
    elif function.params:
        roots[function.params[0]] = Val(roles=frozenset({"input"}), kind=INPUT)
    return roots


class _Interpreter:
    def __init__(self, ctx: FileContext, function: TensorFunction, loose: bool) -> None:
        self.ctx = ctx
        self.function = function
        self.analysis = Analysis(function)
        self.roots = root_values(function, loose)
        self.loop_depth = 0
        self.analysis.roots = {
            name: next(iter(v.roles)) for name, v in self.roots.items()
        }

    def run(self) -> Analysis:
        node = self.function.node
        env: Env = dict(self.roots)
        if isinstance(node, cst.Lambda):
            self.analysis.returned[node.body] = self.ev(node.body, env)
        else:
            self.block(node.body, env)
        return self.analysis

    # Statements ---------------------------------------------------------------------------

    def block(self, body: cst.BaseSuite | Iterable[cst.CSTNode], env: Env) -> Env:
        statements = body.body if isinstance(body, (cst.IndentedBlock, cst.SimpleStatementSuite)) else body
        for stmt in statements:
            env = self.stmt(stmt, env)
        return env

    def stmt(self, stmt: cst.CSTNode, env: Env) -> Env:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                env = self.small(small, env)
            return env
        if isinstance(stmt, cst.If):
            self.test(stmt.test, env)
            then = self.block(stmt.body, dict(env))
            other = self.stmt(stmt.orelse, dict(env)) if stmt.orelse is not None else env
            return _join_env(then, other)
        if isinstance(stmt, cst.Else):
            return self.block(stmt.body, env)
        if isinstance(stmt, (cst.For, cst.While)):
            return self.loop(stmt, env)
        if isinstance(stmt, cst.Try):
            after_body = self.block(stmt.body, dict(env))
            outs = [after_body]
            for handler in stmt.handlers:
                outs.append(self.block(handler.body, _join_env(env, after_body)))
            if stmt.orelse is not None:
                outs[0] = self.block(stmt.orelse.body, after_body)
            merged = outs[0]
            for other in outs[1:]:
                merged = _join_env(merged, other)
            if stmt.finalbody is not None:
                merged = self.block(stmt.finalbody.body, merged)
            return merged
        if isinstance(stmt, cst.With):
            for item in stmt.items:
                value = self.ev(item.item, env)
                if item.asname is not None:
                    self.bind(item.asname.name, Val(roles=value.roles), env)
            return self.block(stmt.body, env)
        if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            env = dict(env)
            env[stmt.name.value] = Val()
            return env
        return env  # match, async constructs: not followed

    def loop(self, stmt: cst.For | cst.While, env: Env) -> Env:
        """The body twice (a second pass sees what the first bound), once when deeply nested."""
        if isinstance(stmt, cst.For):
            iterated = self.ev(stmt.iter, env)
            self.analysis.iterations.append(stmt.iter)
        current = env
        self.loop_depth += 1
        for _ in range(2 if self.loop_depth <= 3 else 1):
            inner = dict(current)
            if isinstance(stmt, cst.For):
                self.bind(stmt.target, _element(iterated), inner)
            else:
                self.test(stmt.test, inner)
            current = _join_env(env, self.block(stmt.body, inner))
        self.loop_depth -= 1
        if stmt.orelse is not None:
            current = self.block(stmt.orelse.body, current)
        return current

    def small(self, stmt: cst.CSTNode, env: Env) -> Env:
        if isinstance(stmt, cst.Assign):
            value = self.ev(stmt.value, env)
            env = dict(env)
            for target in stmt.targets:
                self.bind(target.target, value, env, stmt.value)
            return env
        if isinstance(stmt, cst.AnnAssign):
            if stmt.value is not None:
                value = self.ev(stmt.value, env)
                env = dict(env)
                self.bind(stmt.target, value, env, stmt.value)
            return env
        if isinstance(stmt, cst.AugAssign):
            right = self.ev(stmt.value, env)
            left = self.ev(stmt.target, env)
            value = self.binary(stmt, left, _aug_operator(stmt.operator), right, stmt.value)
            env = dict(env)
            self.bind(stmt.target, value, env)
            return env
        if isinstance(stmt, cst.Return):
            if stmt.value is not None:
                self.analysis.returned[stmt.value] = self.ev(stmt.value, env)
            return env
        if isinstance(stmt, cst.Expr):
            self.ev(stmt.value, env)
            return self.grown(stmt.value, env)
        if isinstance(stmt, cst.Assert):
            self.test(stmt.test, env)
            if stmt.msg is not None:
                self.ev(stmt.msg, env)
            return env
        if isinstance(stmt, cst.Raise) and stmt.exc is not None:
            self.ev(stmt.exc, env)
        return env

    def grown(self, expr: cst.BaseExpression, env: Env) -> Env:
        """`items.append(x)` (extend, insert, add): the list now holds what `x` is computed from,
        so a loop over it later yields values computed from the same tensors."""
        func = expr.func if isinstance(expr, cst.Call) and expr.args else None
        if not (isinstance(func, cst.Attribute) and func.attr.value in _GROWING_METHODS
                and isinstance(func.value, cst.Name) and func.value.value in env):
            return env
        held, added = env[func.value.value], self.analysis.value(expr.args[-1].value)
        grad = held.grad or added.grad
        return {**env, func.value.value: replace(
            held, roles=held.roles | added.roles, grad=grad, cut=None if grad else (held.cut or added.cut),
            kind=UNKNOWN if held.kind == STATIC and added.roles else held.kind, const=held.const and not added.roles)}

    def bind(self, target: cst.BaseExpression, value: Val, env: Env, source: cst.BaseExpression | None = None) -> None:
        if isinstance(target, cst.Name):
            env[target.value] = value
        elif isinstance(target, (cst.Tuple, cst.List)):
            elements = target.elements
            if isinstance(source, (cst.Tuple, cst.List)) and len(source.elements) == len(elements) and not any(
                isinstance(e, cst.StarredElement) for e in (*elements, *source.elements)
            ):
                for element, item in zip(elements, source.elements):
                    self.bind(element.value, self.analysis.value(item.value), env)
                return
            for element in elements:
                self.bind(element.value, _element(value), env)
        elif isinstance(target, cst.StarredElement):
            self.bind(target.value, Val(roles=value.roles, grad=value.grad, cut=value.cut), env)

    def test(self, expr: cst.BaseExpression, env: Env) -> Val:
        self.analysis.bool_tests.append(expr)
        return self.ev(expr, env)

    # Expressions --------------------------------------------------------------------------

    def ev(self, expr: cst.CSTNode, env: Env) -> Val:
        value = self._ev(expr, env)
        self.analysis.values[expr] = value
        return value

    def _ev(self, expr: cst.CSTNode, env: Env) -> Val:  # noqa: C901 - one case per node type
        if isinstance(expr, cst.Name):
            if expr.value in env:
                return env[expr.value]
            if expr.value in ("True", "False", "None"):
                return _STATIC
            return Val()
        if isinstance(expr, (cst.Integer, cst.Float, cst.Imaginary)):
            return _CONST
        if isinstance(expr, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)):
            return _STATIC
        if isinstance(expr, cst.Attribute):
            return self.attribute(expr, env)
        if isinstance(expr, cst.Subscript):
            base = self.ev(expr.value, env)
            index_roles: frozenset[str] = frozenset()
            for element in expr.slice:
                inner = element.slice
                if isinstance(inner, cst.Index):
                    index_roles |= self.ev(inner.value, env).roles
                elif isinstance(inner, cst.Slice):
                    for part in (inner.lower, inner.upper, inner.step):
                        if part is not None:
                            index_roles |= self.ev(part, env).roles
            if base.kind == STATIC:
                return _STATIC
            kind = TENSOR if base.kind in (TENSOR, SEQUENCE) else (INPUT if base.kind == INPUT else UNKNOWN)
            return Val(roles=base.roles | index_roles, grad=base.grad, cut=base.cut, kind=kind,
                       linear=base.linear, numpy=base.numpy)
        if isinstance(expr, cst.Call):
            return self.call(expr, env)
        if isinstance(expr, cst.BinaryOperation):
            left = self.ev(expr.left, env)
            right = self.ev(expr.right, env)
            return self.binary(expr, left, expr.operator, right, expr.right)
        if isinstance(expr, cst.UnaryOperation):
            operand = self.ev(expr.expression, env)
            if isinstance(expr.operator, cst.Not):
                return Val(roles=operand.roles, cut=operand.cut or (expr if operand.grad else None),
                           kind=STATIC if operand.kind == STATIC else UNKNOWN)
            if isinstance(expr.operator, cst.BitInvert):
                return Val(roles=operand.roles, cut=operand.cut or (expr if operand.grad else None), kind=operand.kind)
            return operand  # -x, +x
        if isinstance(expr, cst.Comparison):
            return self.comparison(expr, env)
        if isinstance(expr, cst.BooleanOperation):
            left = self.ev(expr.left, env)
            right = self.ev(expr.right, env)
            roles, grad, cut = _union((left, right))
            kind = left.kind if left.kind == right.kind else UNKNOWN
            return Val(roles=roles, cut=cut or (expr if grad else None), kind=kind)
        if isinstance(expr, cst.IfExp):
            self.test(expr.test, env)
            return join(self.ev(expr.body, env), self.ev(expr.orelse, env))
        if isinstance(expr, (cst.Tuple, cst.List, cst.Set)):
            items = [self.ev(e.value, env) for e in expr.elements]
            roles, grad, cut = _union(items)
            return Val(roles=roles, grad=grad, cut=cut)
        if isinstance(expr, cst.Dict):
            items = []
            for element in expr.elements:
                if isinstance(element, cst.DictElement):
                    self.ev(element.key, env)
                    items.append(self.ev(element.value, env))
                elif isinstance(element, cst.StarredDictElement):
                    items.append(self.ev(element.value, env))
            roles, grad, cut = _union(items)
            return Val(roles=roles, grad=grad, cut=cut)
        if isinstance(expr, (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)):
            return self.comprehension(expr, env)
        if isinstance(expr, cst.NamedExpr):
            value = self.ev(expr.value, env)
            self.bind(expr.target, value, env)
            return value
        if isinstance(expr, cst.StarredElement):
            return self.ev(expr.value, env)
        if isinstance(expr, cst.Lambda):
            return Val()
        return Val()

    def comprehension(self, expr: cst.BaseExpression, env: Env) -> Val:
        inner = dict(env)
        clause: cst.CompFor | None = expr.for_in  # type: ignore[attr-defined]
        roles: frozenset[str] = frozenset()
        while clause is not None:
            iterated = self.ev(clause.iter, inner)
            self.analysis.iterations.append(clause.iter)
            roles |= iterated.roles
            self.bind(clause.target, _element(iterated), inner)
            for condition in clause.ifs:
                self.test(condition.test, inner)
            clause = clause.inner_for_in
        if isinstance(expr, cst.DictComp):
            self.ev(expr.key, inner)
            element = self.ev(expr.value, inner)
        else:
            element = self.ev(expr.elt, inner)  # type: ignore[attr-defined]
        return Val(roles=roles | element.roles, grad=element.grad, cut=element.cut)

    def attribute(self, expr: cst.Attribute, env: Env) -> Val:
        api = self.ctx.api(expr)
        if api is not None:
            return _STATIC  # tf.float32, np.pi, keras.ops (a module): not computed from tensors
        base = self.ev(expr.value, env)
        attr = expr.attr.value
        if attr in _STATIC_ATTRIBUTES:
            return _STATIC
        if base.kind == STATIC:
            return _STATIC
        if attr in ("T", "values", "real", "imag") and base.kind in (TENSOR, SEQUENCE):
            return replace(base, kind=TENSOR, batch_sum=None, batch_mean=None)
        if attr == "indices" and base.kind in (TENSOR, SEQUENCE):
            return Val(roles=base.roles, cut=base.cut or (expr if base.grad else None), kind=TENSOR)
        return Val(roles=base.roles, grad=base.grad, cut=base.cut)

    def comparison(self, expr: cst.Comparison, env: Env) -> Val:
        operands = [self.ev(expr.left, env)] + [self.ev(c.comparator, env) for c in expr.comparisons]
        roles, grad, cut = _union(operands)
        identity = any(
            isinstance(c.operator, (cst.Is, cst.IsNot, cst.In, cst.NotIn)) for c in expr.comparisons
        )
        if identity:
            return _STATIC
        kinds = {v.kind for v in operands}
        if TENSOR in kinds:
            others = [operand for operand in (expr.left, *(c.comparator for c in expr.comparisons))]
            if any(_is_none_or_string(o) for o in others):
                kind = STATIC
            else:
                kind = TENSOR
        elif INPUT in kinds and all(v.kind in (INPUT, TENSOR) or v.const for v in operands) and any(
            isinstance(c.operator, (cst.LessThan, cst.GreaterThan, cst.LessThanEqual, cst.GreaterThanEqual))
            for c in expr.comparisons
        ):
            kind = TENSOR  # a list or dict cannot be ordered against a number: a tensor
        elif kinds == {STATIC}:
            kind = STATIC
        else:
            kind = UNKNOWN
        return Val(roles=roles, cut=cut or (expr if grad else None), kind=kind)

    def binary(self, node: cst.CSTNode, left: Val, operator: cst.BaseBinaryOp, right: Val, right_node: cst.CSTNode) -> Val:
        roles = left.roles | right.roles
        if isinstance(operator, cst.FloorDivide):
            grad, cut = False, left.cut or right.cut or (node if (left.grad or right.grad) else None)
        elif isinstance(operator, cst.Modulo):
            grad, cut = left.grad, (None if left.grad else (left.cut or right.cut or (node if right.grad else None)))
        else:
            grad = left.grad or right.grad
            cut = None if grad else (left.cut or right.cut)
        kinds = {left.kind, right.kind}
        if TENSOR in kinds:
            kind = TENSOR
        elif INPUT in kinds and isinstance(operator, (cst.Subtract, cst.Divide, cst.Power, cst.MatrixMultiply, cst.FloorDivide)):
            kind = TENSOR
        elif INPUT in kinds:
            kind = INPUT
        elif kinds == {STATIC}:
            kind = STATIC
        else:
            kind = UNKNOWN
        linear = False
        if isinstance(operator, (cst.Add, cst.Subtract)):
            linear = (left.linear and (right.linear or PREDICTION not in right.roles)) or (
                right.linear and PREDICTION not in left.roles
            )
        elif isinstance(operator, cst.Multiply):
            linear = (left.linear and PREDICTION not in right.roles and not _zero(right_node)) or (
                right.linear and PREDICTION not in left.roles
            )
        elif isinstance(operator, cst.Divide):
            linear = left.linear and PREDICTION not in right.roles
        batch_sum = batch_mean = None
        if isinstance(operator, (cst.Add, cst.Subtract)):
            batch_sum = left.batch_sum or right.batch_sum
            batch_mean = left.batch_mean or right.batch_mean
        elif isinstance(operator, cst.Multiply):  # `sum * (1.0 / n)` is normalised too
            batch_sum = (None if right.normalized else left.batch_sum) or (None if left.normalized else right.batch_sum)
            batch_mean = left.batch_mean or right.batch_mean
        elif isinstance(operator, cst.Divide) and right.const:
            batch_sum, batch_mean = left.batch_sum, left.batch_mean
        normalized = left.normalized or right.normalized or (isinstance(operator, cst.Divide) and not right.const)
        return Val(
            roles=roles, grad=grad, cut=cut, kind=kind, linear=linear,
            const=left.const and right.const, numpy=_numpy_of(left, right),
            batch_sum=batch_sum, batch_mean=batch_mean if batch_sum is None else None,
            normalized=normalized,
        )

    def call(self, call: cst.Call, env: Env) -> Val:
        api = self.ctx.call_api(call)
        receiver = None
        if api is None:
            if isinstance(call.func, cst.Attribute):
                receiver = self.ev(call.func.value, env)
            elif not isinstance(call.func, cst.Name):
                self.ev(call.func, env)
        args = [self.ev(a.value, env) for a in call.args]
        if api is None:
            return self.plain_call(call, receiver, args)
        if api.family == "np":
            roles, grad, cut = _union(args)
            if not roles:
                return _STATIC
            return Val(roles=roles, grad=grad, cut=cut, numpy=True)
        op = tensor_op(api)
        if op is None:
            roles, grad, cut = _union(args)
            return Val(roles=roles, grad=grad, cut=cut)
        leaf = op.rsplit(".", 1)[-1]
        if leaf in _STATIC_OPS:
            return _STATIC
        roles, grad, cut = _union(args)
        if leaf in _SEQUENCE_OPS:
            return Val(roles=roles, grad=grad, cut=cut, kind=SEQUENCE)
        if leaf in _TO_NUMPY_OPS:
            # An array from here on: NumPy on it is what the user meant (eager code, or a
            # failure at this conversion, not at the NumPy call).
            return Val(roles=roles, grad=grad, cut=cut, numpy=True)
        positional = [v for a, v in zip(call.args, args) if a.keyword is None and not a.star]
        first = positional[0] if positional else (args[0] if args else Val())
        result = Val(roles=roles, grad=grad, cut=cut, kind=TENSOR)
        if leaf in _NO_GRADIENT_OPS or (leaf == "cast" and _int_cast(self.ctx, call)) or (
            leaf == "where" and len(positional) == 1 and len(call.args) == 1
        ):
            return Val(roles=roles, cut=cut or (call if grad else None), kind=TENSOR)
        if leaf in _FIRST_ARGUMENT_GRADIENT:
            return Val(roles=roles, grad=first.grad, cut=None if first.grad else (first.cut or cut or (call if grad else None)), kind=TENSOR)
        if leaf == "where" and len(args) >= 3:
            branches = positional[1:3] + [
                v for a, v in zip(call.args, args) if a.keyword is not None and a.keyword.value in ("x", "y", "x1", "x2")
            ]
            _, b_grad, b_cut = _union(branches)
            return Val(roles=roles, grad=b_grad, cut=None if b_grad else (b_cut or cut or (call if grad else None)), kind=TENSOR)
        if leaf in _LINEAR_UNARY:
            reduce_batch = _reduces_batch(call)
            batch_sum = first.batch_sum
            batch_mean = first.batch_mean
            fresh = PREDICTION in first.roles and batch_sum is None and batch_mean is None
            if leaf in _SUMS and reduce_batch and fresh and not first.normalized:
                batch_sum = call
            elif leaf in _MEANS and reduce_batch and fresh:
                batch_mean = call
            return replace(result, linear=first.linear, batch_sum=batch_sum, batch_mean=batch_mean,
                           normalized=first.normalized)
        if leaf in _GROWING_UNARY and first.batch_sum is not None and len(positional) == 1:
            return replace(result, batch_sum=first.batch_sum)
        if leaf in ("add", "subtract", "multiply", "divide", "truediv", "true_divide") and len(positional) == 2:
            operator = {"add": cst.Add(), "subtract": cst.Subtract(), "multiply": cst.Multiply()}.get(leaf, cst.Divide())
            return self.binary(call, positional[0], operator, positional[1], _positional(call)[1])
        return result

    def plain_call(self, call: cst.Call, receiver: Val | None, args: list[Val]) -> Val:
        func = call.func
        if isinstance(func, cst.Name):
            name = func.value
            if name in _PYTHON_STATIC_CALLS:
                return _STATIC
            if name in ("int", "float", "bool"):
                roles, _, _ = _union(args)
                return Val(roles=roles, kind=STATIC if not roles else UNKNOWN, const=not roles)
            if name == "abs" and args:
                return replace(args[0], linear=False, batch_sum=None, batch_mean=None)
        if receiver is not None and receiver.kind == TENSOR and isinstance(func, cst.Attribute) and (
            func.attr.value in _TENSOR_METHODS_STATIC
        ):
            return _STATIC
        everything = list(args) + ([receiver] if receiver is not None else [])
        roles, grad, cut = _union(everything)
        return Val(roles=roles, grad=grad, cut=cut)


def _join_env(a: Env, b: Env) -> Env:
    if a is b:
        return a
    out: Env = {}
    for name in a.keys() | b.keys():
        out[name] = join(a.get(name), b.get(name))
    return out


def _element(value: Val) -> Val:
    """An element of an iterated or unpacked value."""
    if value.kind == STATIC:
        return _STATIC
    return Val(roles=value.roles, grad=value.grad, cut=value.cut,
               kind=TENSOR if value.kind in (TENSOR, SEQUENCE) else UNKNOWN, linear=value.linear)


def _numpy_of(left: Val, right: Val) -> bool:
    with_roles = [v for v in (left, right) if v.roles]
    return bool(with_roles) and all(v.numpy for v in with_roles)


def _aug_operator(op: cst.BaseAugOp) -> cst.BaseBinaryOp:
    table = {
        cst.AddAssign: cst.Add, cst.SubtractAssign: cst.Subtract, cst.MultiplyAssign: cst.Multiply,
        cst.DivideAssign: cst.Divide, cst.FloorDivideAssign: cst.FloorDivide, cst.ModuloAssign: cst.Modulo,
        cst.PowerAssign: cst.Power, cst.MatrixMultiplyAssign: cst.MatrixMultiply,
    }
    return table.get(type(op), cst.BitOr)()


def _zero(node: cst.CSTNode) -> bool:
    return isinstance(node, (cst.Integer, cst.Float)) and float(node.value.replace("_", "") or 0) == 0.0


def _is_none_or_string(node: cst.CSTNode) -> bool:
    return (isinstance(node, cst.Name) and node.value == "None") or isinstance(
        node, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)
    )


def tensor_op(api: Api) -> str | None:
    """The op name when `api` is a function computing tensors, else None."""
    if api.family == "tf":
        namespace, _, leaf = api.path.rpartition(".")
        if not leaf or leaf[0].isupper() or namespace not in _TF_COMPUTE:
            return None
        return api.path
    if api.family == "keras":
        op = api.op
        if op is not None:
            head, _, leaf = op.rpartition(".")
            if not leaf or leaf[0].isupper() or head.split(".")[0] in _KERAS_OPS_UTILITIES:
                return None  # keras.src.ops.operation_utils.*, ops.Operation: not tensor functions
            return op
        namespace, _, leaf = api.path.rpartition(".")
        if namespace in ("activations", "losses", "metrics") and leaf and leaf[0].islower():
            return leaf
    return None


def _keyword(call: cst.Call, *names: str) -> cst.Arg | None:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value in names:
            return arg
    return None


def _positional(call: cst.Call) -> list[cst.BaseExpression]:
    return [a.value for a in call.args if a.keyword is None and not a.star]


def _reduces_batch(call: cst.Call) -> bool:
    """A reduction with no axis, `axis=None`, or an axis list that includes 0."""
    arg = _keyword(call, "axis", "reduction_indices")
    positional = _positional(call)
    if arg is not None:
        axis: cst.BaseExpression | None = arg.value
    elif len(positional) > 1:
        axis = positional[1]
    else:
        return not any(a.star for a in call.args)
    if isinstance(axis, cst.Name) and axis.value == "None":
        return True
    if isinstance(axis, cst.Integer):
        return int(axis.value) == 0
    if isinstance(axis, (cst.List, cst.Tuple)):
        return any(isinstance(e.value, cst.Integer) and int(e.value.value) == 0 for e in axis.elements)
    return False


def dtype_name(ctx: FileContext, node: cst.BaseExpression) -> str | None:
    """`int32` for "int32", tf.int32, np.int32, `int`; None when not visibly a dtype."""
    if isinstance(node, cst.SimpleString):
        return node.evaluated_value if isinstance(node.evaluated_value, str) else None
    if isinstance(node, cst.Name) and node.value in ("int", "bool", "float"):
        return node.value
    if isinstance(node, (cst.Name, cst.Attribute)):
        api = ctx.api(node)
        if api is not None:
            return api.leaf
        name = dotted(node)
        if name is not None:
            return name.rsplit(".", 1)[-1]
    return None


def _int_cast(ctx: FileContext, call: cst.Call) -> bool:
    arg = _keyword(call, "dtype", "DstT")
    positional = _positional(call)
    node = arg.value if arg is not None else (positional[1] if len(positional) > 1 else None)
    if node is None:
        return False
    name = dtype_name(ctx, node)
    return bool(name) and bool(_INT_DTYPE.match(name)) and not _FLOAT_DTYPE.match(name)


def no_gradient_kind(ctx: FileContext, node: cst.CSTNode) -> str:
    """How the gradient is cut at `node`, for messages: "argmax", "a comparison", ..."""
    if isinstance(node, cst.Comparison):
        return "a comparison"
    if isinstance(node, cst.BooleanOperation) or (
        isinstance(node, cst.UnaryOperation) and isinstance(node.operator, (cst.Not, cst.BitInvert))
    ):
        return "a boolean operation"
    if isinstance(node, cst.BinaryOperation):
        return "floor division"
    if isinstance(node, cst.Attribute):
        return "top-k indices"
    if isinstance(node, cst.Call):
        api = ctx.call_api(node)
        if api is not None:
            leaf = api.leaf
            if leaf == "cast":
                positional = _positional(node)
                arg = _keyword(node, "dtype")
                dtype = arg.value if arg is not None else (positional[1] if len(positional) > 1 else None)
                return f"a cast to {dtype_name(ctx, dtype) if dtype is not None else 'an integer type'}"
            if leaf in ("equal", "not_equal", "greater", "greater_equal", "less", "less_equal"):
                return "a comparison"
            if leaf.startswith("logical_"):
                return "a boolean operation"
            if leaf in ("where", "boolean_mask"):
                return "a mask"
            return _NO_GRADIENT_KIND.get(leaf, leaf)
    return "an operation with no gradient"
