"""The dynamic probes: call every loss of a live compiled Keras model with tensors of the real
shapes, the way Keras 3 calls it, and report what goes wrong as losslint Findings.

Entry point: `probe_model(compile, fit, user_files)`. For every (output, loss) pair, resolved
with Keras' own `CompileLoss` so lists, dicts, loss weights and targets pair up exactly as in
`fit`, the probe

1. traces the loss like `fit` does (graph mode, no autograph, unknown batch dimension) and runs
   it at the real batch size, at two small batch sizes and at the last partial batch size:
   LL111, LL105, LL201, LL205, LL206 for failures, LL103 when only some batch sizes work;
2. walks the graph of the trace (`trace.py`): LL202 silent broadcasts, LL101 reshapes of
   y_true/y_pred;
3. differentiates it (user-written losses only): LL109 no gradient, LL102 (confirmed) an
   integer index on the batch axis, LL208 other ways samples mix, LL110 sums over the batch,
   LL209 unbounded below, LL207 NaN/Inf;
4. checks built-in crossentropies against the real targets and the output activation: LL205,
   LL204.

Custom *function metrics* are probed for failures and silent broadcasts (LL202) too, because
Keras 3 does not align their target rank (keras3-facts.md case 3).
"""

from __future__ import annotations

import functools
import inspect
import linecache
import os
import re
import traceback
import warnings
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import tensorflow as tf

import keras
from keras.src.losses.loss import reduce_weighted_values
from keras.src.losses.losses import LossFunctionWrapper
from keras.src.trainers.compile_utils import CompileLoss, get_loss
from losslint import registry
from losslint.dynamic import trace
from losslint.dynamic.capture import CompileRecord, FitRecord, SourceLine, and_join
from losslint.dynamic.trace import PRED, TRUE, Site, UserFiles
from losslint.findings import Finding, Pass, RelatedLocation, Severity, sort_findings
from losslint.static.names import linear_on_purpose

# Batch sizes tried besides the real one, in order of preference; the first two that are no
# dimension of the targets or outputs are used (so a broadcast or a reshape cannot hide
# behind a coincidence of sizes).
_SMALL_SIZES = (3, 5, 7, 4, 6, 11, 13, 17)
_MAX_ROWS = 8  # rows of the real batch fed through the model
_DEFAULT_BATCH = 32  # Keras' default batch size
_MAX_ELEMENTS = 4_000_000  # larger probe tensors are traced but not run
# Inputs tried on a model that was never built when its data is not there, in order.
_GUESSED_INPUTS = (
    ((4, 32), "float32"), ((4, 32, 32, 3), "float32"), ((4, 32, 32, 1), "float32"),
    ((4, 32, 32), "float32"), ((4, 32), "int32"),
)

_SHAPE_ERROR = re.compile(
    r"shape|Shapes|Dimensions must be equal|rank|size-incompatible|Cannot reshape|"
    r"Input to reshape|must have the same|not compatible|broadcast",
    re.IGNORECASE,
)
_LABEL_RANGE = re.compile(r"label value of (-?\d+) which is outside the valid range of \[0, (\d+)\)")
_FILE_LINE = re.compile(r'File "([^"]+)", line (\d+)')
_OP_SYMBOL = {
    "Sub": "-", "Add": "+", "AddV2": "+", "Mul": "*", "RealDiv": "/", "Div": "/",
    "FloorDiv": "//", "Pow": "**", "Greater": ">", "Less": "<", "GreaterEqual": ">=",
    "LessEqual": "<=", "Equal": "==", "NotEqual": "!=",
}


@dataclass
class Coverage:
    """How far the probe of one model got: the forward pass ran, these losses were called,
    on the real targets or on targets made from the outputs' shapes."""

    forward: bool = False
    losses: list[str] = field(default_factory=list)
    real_targets: bool = False
    # Set by the caller: the data was not there, so a model that was never built may be called
    # on inputs of a guessed shape; the probe says whether it did.
    guess_inputs: bool = False
    guessed_inputs: bool = False
    step_measured: bool = False  # set by the caller: the model's own train_step ran on the real batch


def probe_model(
    compile: CompileRecord, fit: FitRecord | None, user_files: frozenset[str], coverage: Coverage | None = None,
) -> list[Finding]:
    """Dynamic findings for one compiled model and what the script passed to fit; `coverage`,
    when given, is filled with how far the probe got."""
    probe = _ModelProbe(compile, fit, UserFiles(user_files))
    probe.guess_inputs = coverage is not None and coverage.guess_inputs
    findings = probe.run()
    if coverage is not None:
        coverage.guessed_inputs = probe.guessed_inputs
        coverage.forward = probe.forward_ok
        coverage.losses = list(probe.probed)
        coverage.real_targets = probe.targets_known
    return findings


def run_probes(compile: CompileRecord, fit: FitRecord | None, user: Container[str]) -> list[Finding]:
    """`probe_model` with any container of user paths (the in-process API passes one that
    holds every file outside the libraries)."""
    return _ModelProbe(compile, fit, user).run()


# ---- data ------------------------------------------------------------------------------


def _flatten(struct: Any) -> list[tuple[Any, Any]]:
    """(key, leaf) pairs of a dict/list/tuple/single structure, one level deep."""
    if isinstance(struct, dict):
        return list(struct.items())
    if isinstance(struct, (list, tuple)):
        return list(enumerate(struct))
    return [(None, struct)]


def _map(struct: Any, fn: Callable[[Any], Any]) -> Any:
    if isinstance(struct, dict):
        return {k: _map(v, fn) for k, v in struct.items()}
    if isinstance(struct, (list, tuple)):
        return type(struct)(_map(v, fn) for v in struct) if type(struct) in (list, tuple) else [_map(v, fn) for v in struct]
    return fn(struct)


def _leaves(struct: Any) -> list[Any]:
    if isinstance(struct, dict):
        return [leaf for v in struct.values() for leaf in _leaves(v)]
    if isinstance(struct, (list, tuple)):
        return [leaf for v in struct for leaf in _leaves(v)]
    return [struct]


def _as_array(value: Any) -> np.ndarray:
    if hasattr(value, "numpy"):
        value = value.numpy()
    return np.asarray(value)


def _rows(struct: Any, index: np.ndarray) -> Any:
    return _map(struct, lambda a: _as_array(a)[index])


def _n_rows(struct: Any) -> int | None:
    for leaf in _leaves(struct):
        if leaf is None:
            continue
        array = _as_array(leaf)
        if array.ndim:
            return int(array.shape[0])
    return None


def _adapter_dtype(array: np.ndarray) -> np.dtype:
    """The dtype Keras' data adapters give a target: floats become float32, ints stay."""
    if array.dtype.kind == "f" or array.dtype.kind == "c":
        return np.dtype("float32")
    if array.dtype.kind in "iu":
        return array.dtype
    if array.dtype.kind == "b":
        return array.dtype
    return np.dtype("float32")


def _tile(array: np.ndarray, size: int) -> np.ndarray:
    return array[np.arange(size) % array.shape[0]]


def _shape_text(shape: Iterable[int | None]) -> str:
    return trace.format_shape(tuple(shape))


def _spec_shape(array: np.ndarray) -> tuple[int | None, ...]:
    return (None, *array.shape[1:])


# ---- where things are ------------------------------------------------------------------


@dataclass(frozen=True)
class _Callable:
    """The user's code behind a loss or metric: its label, def site and kind."""

    label: str  # "loss `l_1`", "metric `my_metric`"
    name: str
    def_site: Site | None  # the def line in the user's file; None for Keras built-ins
    kind: str  # "function", "loss-subclass", "builtin"
    builtin_fn: Any = None  # the keras function behind a built-in LossFunctionWrapper


def _def_site(fn: Any, user: UserFiles) -> Site | None:
    try:
        fn = inspect.unwrap(fn)
        code = fn.__code__
    except (AttributeError, ValueError):
        return None
    path = code.co_filename
    if path not in user:
        return None
    line = code.co_firstlineno
    for offset in range(30):  # skip decorators down to the `def`
        text = linecache.getline(path, line + offset)
        if re.match(r"\s*(async\s+)?def\b", text):
            line += offset
            break
    return Site(os.path.abspath(path), line, getattr(fn, "__name__", "?"))


def _describe(identifier: Any, resolved: Any, user: UserFiles, role: str = "loss") -> _Callable:
    """What a loss identifier is, for messages and locations."""
    target = identifier
    if isinstance(target, functools.partial):
        target = target.func
    if isinstance(target, str):
        return _Callable(f"{role} `{target}`", target, None, "builtin", getattr(resolved, "fn", None))
    if isinstance(target, keras.losses.Loss) and not isinstance(target, LossFunctionWrapper):
        call = type(target).call
        site = _def_site(call, user)
        name = type(target).__name__
        kind = "loss-subclass" if site is not None else "builtin"
        return _Callable(f"{role} `{name}`", name, site, kind)
    if isinstance(target, LossFunctionWrapper):
        fn = target.fn
        site = _def_site(fn, user)
        name = getattr(fn, "__name__", type(target).__name__)
        if site is None:
            return _Callable(f"{role} `{type(target).__name__}`", type(target).__name__, None, "builtin", fn)
        return _Callable(f"{role} `{name}`", name, site, "function")
    fn = target if inspect.isfunction(target) or inspect.ismethod(target) else getattr(type(target), "__call__", None)
    site = _def_site(fn, user) if fn is not None else None
    name = getattr(target, "__name__", type(target).__name__)
    if site is None:
        return _Callable(f"{role} `{name}`", name, None, "builtin", target)
    return _Callable(f"{role} `{name}`", name, site, "function")


def _line_span(path: str, line: int) -> tuple[int, int]:
    """(column, end_column) covering the statement's text on the line."""
    text = linecache.getline(path, line).rstrip("\n")
    stripped = text.lstrip()
    if not stripped:
        return 1, 2
    column = len(text) - len(stripped) + 1
    return column, column + len(trace._without_comment(stripped))


def _frame_site(frame: traceback.FrameSummary) -> Site:
    return Site(os.path.abspath(frame.filename), int(frame.lineno or 1), frame.name)


def _exception_site(exc: BaseException, user: UserFiles, concrete: Any = None) -> Site | None:
    """The user's line an exception comes from: the innermost user frame of the Python
    traceback (also of the exceptions it wraps), else a user `File "...", line N` in the
    message, else the creation site of the graph node the TF runtime error names."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = [f for f in traceback.extract_tb(current.__traceback__) if f.filename in user]
        if frames:
            return _frame_site(frames[-1])
        current = current.__cause__ or current.__context__
    message = str(exc)
    hits = [(p, int(n)) for p, n in _FILE_LINE.findall(message) if p in user]
    if hits:
        path, line = hits[-1]
        return Site(os.path.abspath(path), line, "")
    if concrete is not None:
        for name in reversed(trace.node_names(message)):
            op = trace.find_op(concrete, name)
            site = trace.op_site(op, user) if op is not None else None
            if site is not None:
                return site
    return None


def _exception_text(exc: BaseException) -> str:
    """`Type: message`, cleaned of TF's node/function decorations, on one line."""
    message = str(exc)
    message = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", message)
    lines = []
    for raw in message.splitlines():
        line = raw.strip()
        if not line or line.startswith("[[") or line.startswith("[Op:"):
            continue
        if line.startswith(("Traceback", "File ", "Detected at node", "defined at")):
            break
        lines.append(re.sub(r"\s*\[Op:[^\]]*\]", "", line))
        if len(" ".join(lines)) > 160:
            break
    text = " ".join(lines) or type(exc).__name__
    text = re.split(r" for '\{\{node ", text)[0]
    if len(text) > 120:  # keep whole sentences
        kept = ""
        for sentence in re.split(r"(?<=\.) ", text):
            kept = f"{kept} {sentence}".strip()
            if len(kept) >= 40:
                break
        text = kept
    if len(text) > 300:
        text = text[:297] + "..."
    return f"{type(exc).__name__}: {text}"


# ---- the pairing of outputs, targets and losses ----------------------------------------


@dataclass
class _Output:
    index: int
    name: str
    values: np.ndarray  # the model's output for the probe rows
    layer: Any = None


@dataclass
class _Pair:
    """One loss (or metric) applied to one output and one target."""

    identifier: Any
    output: _Output
    target: np.ndarray | None  # real target rows (tiled like the outputs); None if unknown
    target_name: str | None
    role: str = "loss"
    # The model overrides train_step/test_step/compute_loss: what it hands the loss as y_pred
    # is unknown, so y_pred is guessed to have the targets' shape and only failures that do
    # not depend on shapes (LL111, LL105) are reported.
    guessed: bool = False


class _StructureError(Exception):
    """Raised by Keras' own CompileLoss on the structures: LL203."""


def _keras_pairing(
    loss: Any,
    loss_weights: Any,
    output_names: list[str] | None,
    y_pred: Any,
    y_true: Any,
) -> list[tuple[int, int, int]]:
    """[(loss leaf index, output index, target index)], exactly as Keras' CompileLoss pairs
    them in fit: each loss is replaced by a marker and called on marked tensors."""
    calls: list[tuple[int, int, int]] = []

    def replace(spec: Any) -> Any:
        if spec is None:
            return None
        if isinstance(spec, dict):
            return {k: replace(v) for k, v in spec.items()}
        if isinstance(spec, (list, tuple)):
            return type(spec)(replace(v) for v in spec)
        index = len(leaves)
        leaves.append(spec)

        def marker(y_t: Any, y_p: Any, _i: int = index) -> Any:
            t = int(round(float(tf.reshape(tf.cast(y_t, tf.float32), [-1])[0])))
            p = int(round(float(tf.reshape(tf.cast(y_p, tf.float32), [-1])[0])))
            calls.append((_i, p - 1, t - 1))
            return tf.reduce_mean(tf.cast(y_p, tf.float32)) * 0.0

        marker.__name__ = f"losslint_marker_{index}"
        return marker

    leaves: list[Any] = []
    markers = replace(loss)
    counter = iter(range(1, 10_000))
    pred_marks = _map(y_pred, lambda a: tf.fill((2, *_as_array(a).shape[1:]), float(next(counter))))
    counter = iter(range(1, 10_000))

    def true_mark(a: Any) -> Any:
        array = _as_array(a)
        dtype = _adapter_dtype(array)
        if dtype.kind == "b" or dtype.itemsize < 2:
            dtype = np.dtype("float32")  # the marker must survive the cast
        return tf.cast(tf.fill((2, *array.shape[1:]), float(next(counter))), tf.as_dtype(dtype))

    true_marks = _map(y_true, true_mark)
    if isinstance(true_marks, list):
        true_marks = tuple(true_marks)  # what Keras' data adapters give
    try:
        compile_loss = CompileLoss(markers, loss_weights, output_names=output_names)
        compile_loss(true_marks, pred_marks)
    except Exception as exc:  # noqa: BLE001 - any Keras complaint about the structures
        raise _StructureError(_exception_text(exc)) from exc
    return calls


# ---- one probe -------------------------------------------------------------------------


@dataclass
class _RunResult:
    size: int | None  # None: the trace with an unknown batch dimension, like fit's
    error: BaseException | None = None
    site: Site | None = None
    concrete: Any = None
    total: float | None = None
    per_shape: tuple[int, ...] | None = None


@dataclass
class _Note:
    """A finding under construction, merged across outputs that share the same loss."""

    code: str
    site: Site
    message: str
    fix: str
    scope: Site | None
    outputs: list[str] = field(default_factory=list)
    severity: Severity | None = None


class _ModelProbe:
    def __init__(self, compile: CompileRecord, fit: FitRecord | None, user: Container[str]) -> None:
        self.compile = compile
        self.fit = fit
        self.user = user
        self.model = compile.model
        self.notes: dict[tuple[str, str, int], _Note] = {}
        self.model_findings: list[Finding] = []
        self.rng = np.random.default_rng(0)
        self.forward_ok = False
        self.guess_inputs = False
        self.guessed_inputs = False
        self.targets_known = False
        self.probed: list[str] = []

    # -- entry ---------------------------------------------------------------------------

    def run(self) -> list[Finding]:
        kwargs = dict(self.compile.kwargs or {})
        config = getattr(getattr(self.model, "_compile_config", None), "config", None) or {}
        loss = kwargs.get("loss", config.get("loss", getattr(self.model, "loss", None)))
        loss_weights = kwargs.get("loss_weights", config.get("loss_weights"))
        metrics = [kwargs.get(key, config.get(key)) for key in ("metrics", "weighted_metrics")]
        self._batch_dependent_lambdas()
        x, y, sample_weight = self._batch()
        forward = self._forward(x)
        if forward is None:
            return self._finish()
        y_pred_struct, outputs = forward
        self.forward_ok = True
        self.outputs = outputs
        self.targets_known = y is not None
        self.sample_weighted = sample_weight is not None or bool(
            self.fit is not None and (self.fit.sample_weight is not None or self.fit.class_weight is not None)
        )
        target_struct = y if y is not None else _map(y_pred_struct, lambda a: a)
        targets = [(_key_name(k), _as_array(v)) for k, v in _flatten(target_struct)]
        self.custom_step = _custom_step(self.model)
        if self.custom_step:
            if y is None:
                return self._finish()  # neither the predictions nor the targets are known
            y_pred_struct = _map(y, lambda a: self._guess_prediction(_as_array(a)))
            outputs = [
                _Output(i, name or (self.outputs[i].name if i < len(self.outputs) else f"output_{i}"),
                        _as_array(values))
                for i, (name, values) in enumerate(
                    (_key_name(k), v) for k, v in _flatten(y_pred_struct)
                )
            ]
            self.outputs = outputs
        pairs: list[_Pair] = []
        if loss is not None:
            if not self.custom_step and self._structure_checks(loss, loss_weights, y_pred_struct, y):
                return self._finish()
            try:
                pairing = _keras_pairing(loss, loss_weights, self._output_names(), y_pred_struct, target_struct)
            except _StructureError as exc:
                if self.custom_step:
                    return self._finish()
                self._model_finding(
                    "LL203",
                    self.compile.where,
                    f"Keras cannot pair the losses with the model's outputs {self._names_text()} "
                    f"and the targets: {exc}",
                    "give one loss (and one loss weight) per output, as a list in output order or a "
                    "dict keyed by output name, and one target per output",
                )
                return self._finish()
            leaves = _loss_leaves(loss)
            for leaf_index, out_index, target_index in pairing:
                if not (0 <= out_index < len(outputs)) or not (0 <= target_index < len(targets)):
                    continue
                name, values = targets[target_index]
                pairs.append(_Pair(
                    leaves[leaf_index], outputs[out_index],
                    values if self.targets_known else None, name, guessed=self.custom_step,
                ))
        for pair in pairs:
            self.probed.append(_loss_name(pair.identifier))
            try:
                self._probe_pair(pair)
            except Exception as exc:  # noqa: BLE001 - one pair's probe bug must not lose the others
                warnings.warn(
                    f"losslint: internal error while probing loss {_loss_name(pair.identifier)!r} on output "
                    f"'{pair.output.name}': {type(exc).__name__}: {exc}",
                    RuntimeWarning, stacklevel=2,
                )
        for spec in metrics:
            self._probe_metrics(spec, pairs, targets)
        return self._finish()

    def _batch_dependent_lambdas(self) -> None:
        """LL104 confirmed: a Lambda whose output's per-sample shape changes with the batch size,
        as a `K.dot` of two batched tensors does ((2,3,4,5)·(2,3,5,4) -> (2,3,4,2,3,4))."""
        import keras
        import tensorflow as tf

        for layer in self.model._flatten_layers(include_self=False):
            code = getattr(getattr(layer, "function", None), "__code__", None)
            if not isinstance(layer, keras.layers.Lambda) or code is None or code.co_filename not in self.user:
                continue
            try:
                shape = tuple(layer.input.shape)
            except (AttributeError, ValueError):
                continue  # never called, or called on several inputs
            if len(shape) < 2 or any(d is None for d in shape[1:]):
                continue
            shapes = {}
            try:
                for batch in (2, 3):
                    value = self.rng.normal(size=(batch, *shape[1:])).astype("float32")
                    shapes[batch] = tuple(np.shape(layer.function(tf.constant(value))))
            except Exception:  # noqa: BLE001 - the layer's own failure shows in the forward pass
                continue
            if shapes[2][1:] == shapes[3][1:]:
                continue
            line = _first_line_with(code, ("dot(", "tensordot(")) or code.co_firstlineno
            self._model_finding(
                "LL104",
                SourceLine(code.co_filename, line),
                f"the Lambda `{layer.name}` gives {_shape_text(shapes[2])} for a batch of 2 and "
                f"{_shape_text(shapes[3])} for a batch of 3 (input {_shape_text(shape)}): its product "
                "multiplies every sample with every other sample, so the per-sample shape grows with "
                "the batch and the next layer fails (e.g. 'Matrix size-incompatible')",
                "use `keras.ops.matmul(a, b)` or `tf.matmul(a, b)` for a per-sample product",
            )

    # -- inputs and outputs --------------------------------------------------------------

    def _batch(self) -> tuple[Any, Any, Any]:
        fit = self.fit
        if fit is not None and fit.batch:
            batch = tuple(fit.batch)
            x = batch[0]
            y = batch[1] if len(batch) > 1 else None
            sw = batch[2] if len(batch) > 2 else None
            return x, y, sw
        if fit is not None and fit.x is not None and _n_rows(fit.x) != 0:  # no rows: nothing to go on
            limit = fit.batch_size or _DEFAULT_BATCH
            try:
                x = _rows(fit.x, np.arange(min(limit, _n_rows(fit.x) or limit)))
                y = _rows(fit.y, np.arange(min(limit, _n_rows(fit.y) or limit))) if fit.y is not None else None
                return x, y, fit.sample_weight
            except Exception:  # noqa: BLE001 - not array-like (a generator the child did not unpack)
                pass
        return None, None, None

    def _forward(self, x: Any) -> tuple[Any, list[_Output]] | None:
        """The model's outputs on up to 8 real input rows (or dummy inputs shaped like the
        model's inputs): the y_pred values every probe uses."""
        model = self.model
        rows = _n_rows(x) if x is not None else None
        if x is not None and rows:
            k = min(rows, _MAX_ROWS)
            x_rows = _rows(x, np.arange(k))
        else:
            try:
                inputs = getattr(model, "inputs", None)
            except (AttributeError, ValueError):
                inputs = None
            if not inputs:
                return self._forward_guessed() if self.guess_inputs else None
            # An unknown length of 4 first; a convolution stack needs more (`Input((None, 128, 1))`).
            for length in (4, 64):
                x_rows = [self._dummy_input(t, length) for t in inputs]
                try:
                    return self._outputs(model(x_rows[0] if len(x_rows) == 1 else x_rows, training=False))
                except Exception:  # noqa: BLE001 - the model itself fails: not a loss problem
                    continue
            return None
        try:
            y_pred = model(x_rows, training=False)
        except Exception:  # noqa: BLE001 - the model itself fails: not a loss problem
            return None
        return self._outputs(y_pred)

    def _forward_guessed(self) -> tuple[Any, list[_Output]] | None:
        """A model built by `fit` from data that is not there (a Sequential with no Input):
        the first input shape it accepts, a table, an image or a sequence of token ids."""
        for shape, dtype in _GUESSED_INPUTS:
            x = np.zeros(shape, dtype) if dtype == "int32" else self.rng.standard_normal(shape).astype(dtype)
            try:
                y_pred = self.model(x, training=False)
            except Exception:  # noqa: BLE001 - not this shape
                continue
            self.guessed_inputs = True
            return self._outputs(y_pred)
        return None

    def _outputs(self, y_pred: Any) -> tuple[Any, list[_Output]]:
        y_pred = _map(y_pred, lambda t: _as_array(t).astype(np.float32))
        names = self._output_names() or []
        flat = _flatten(y_pred)
        layers = self._output_layers()
        outputs = []
        for i, (key, values) in enumerate(flat):
            if isinstance(key, str):
                name = key
            elif i < len(names):
                name = names[i]
            else:
                name = f"output_{i}"
            outputs.append(_Output(i, name, values, layers[i] if i < len(layers) else None))
        return y_pred, outputs

    def _guess_prediction(self, target: np.ndarray) -> np.ndarray:
        k = min(len(target), _MAX_ROWS) if target.ndim else 1
        shape = (k, *target.shape[1:])
        return self.rng.uniform(0.05, 0.95, size=shape).astype(np.float32)

    def _dummy_input(self, tensor: Any, length: int = 4) -> np.ndarray:
        shape = [length if d is None else d for d in tuple(tensor.shape)]
        shape[0] = 4
        dtype = np.dtype(keras.backend.standardize_dtype(tensor.dtype))
        if dtype.kind in "iub":
            return np.zeros(shape, dtype=dtype)
        return self.rng.standard_normal(shape).astype(dtype)

    def _output_names(self) -> list[str] | None:
        names = getattr(self.model, "output_names", None)
        return list(names) if names else None

    def _output_layers(self) -> list[Any]:
        try:
            return [t._keras_history.operation for t in self.model.outputs]
        except Exception:  # noqa: BLE001 - subclassed models have no symbolic outputs
            return []

    def _names_text(self) -> str:
        return ", ".join(f"'{o.name}'" for o in self.outputs)

    # -- LL203 ---------------------------------------------------------------------------

    def _structure_checks(self, loss: Any, loss_weights: Any, y_pred: Any, y: Any) -> bool:
        """The mismatches Keras accepts silently or explains badly; True when one was found."""
        names = [o.name for o in self.outputs]
        n_out = len(names)
        outputs_text = self._names_text()
        where = self.compile.where
        found = False
        if isinstance(loss, dict):
            unknown = [k for k in loss if k not in names]
            missing = [n for n in names if n not in loss]
            if unknown:
                self._model_finding(
                    "LL203", where,
                    f"the loss dict has key(s) {_quoted(unknown)} that name no model output; "
                    f"the outputs are {outputs_text} (Keras 3 raises 'Expected keys ... in loss dict' at fit)",
                    f"key the loss dict by the output names ({outputs_text}), or name the output layers "
                    "after the keys",
                )
                found = True
            elif missing and not isinstance(y_pred, dict):
                self._model_finding(
                    "LL203", where,
                    f"the loss dict has no entry for output(s) {_quoted(missing)} of {outputs_text}: "
                    "Keras 3 raises 'Expected keys ... in loss dict' at fit",
                    "give every output a loss (use None for an output that should not be trained)",
                )
                found = True
        elif isinstance(loss, (list, tuple)):
            if n_out == 1 and len(loss) > 1:
                self._model_finding(
                    "LL203", where,
                    f"compile got {len(loss)} losses for the model's single output {outputs_text}: "
                    "Keras 3 applies all of them to that output and adds them up",
                    "pass one loss for a single-output model (combine terms in one loss function)",
                )
                found = True
            elif n_out > 1 and len(loss) < n_out:
                untrained = names[len(loss):]
                self._model_finding(
                    "LL203", where,
                    f"compile got {len(loss)} losses for {n_out} outputs ({outputs_text}): output(s) "
                    f"{_quoted(untrained)} get no loss and are silently not trained",
                    "give one loss per output, in output order (None for an output that should not be trained)",
                )
                found = True
            elif n_out > 1 and len(loss) > n_out:
                self._model_finding(
                    "LL203", where,
                    f"compile got {len(loss)} losses for {n_out} outputs ({outputs_text})",
                    "give one loss per output, in output order",
                )
                found = True
        if loss_weights is not None and not found:
            n_losses = len(loss) if isinstance(loss, (list, tuple, dict)) else 1
            if isinstance(loss_weights, dict):
                unknown = [k for k in loss_weights if k not in names]
                if unknown:
                    self._model_finding(
                        "LL203", where,
                        f"loss_weights has key(s) {_quoted(unknown)} that name no model output; the "
                        f"outputs are {outputs_text} (Keras 3 then pairs the weights by position "
                        "or raises)",
                        f"key loss_weights by the output names ({outputs_text})",
                    )
                    found = True
            if not found and isinstance(loss_weights, (list, tuple, dict)) and n_losses == 1 and n_out > 1:
                self._model_finding(
                    "LL203", where,
                    f"compile got one loss and {len(loss_weights)} loss weights for outputs {outputs_text}: "
                    "Keras 3 raises '`loss_weights` must match the number of losses' at fit",
                    "pass the loss once per output (a list or a dict keyed by output name) with the weights",
                )
                found = True
            elif not found and isinstance(loss_weights, (list, tuple)) and len(loss_weights) != n_losses:
                self._model_finding(
                    "LL203", where,
                    f"compile got {len(loss_weights)} loss weights for {n_losses} losses "
                    f"(outputs {outputs_text})",
                    "give one loss weight per loss, in the same order",
                )
                found = True
        if y is not None and not found:
            fit_where = self.fit.where if self.fit is not None and self.fit.where else where
            non_none = _non_none_losses(loss, n_out)
            if isinstance(y, dict):
                unknown = [k for k in y if k not in names]
                if unknown:
                    self._model_finding(
                        "LL203", fit_where,
                        f"the targets dict has key(s) {_quoted(unknown)} that name no model output; "
                        f"the outputs are {outputs_text}",
                        f"key the targets by the output names ({outputs_text})",
                    )
                    found = True
            else:
                n_targets = len(y) if isinstance(y, (list, tuple)) else 1
                if n_targets != n_out and n_targets != non_none:
                    self._model_finding(
                        "LL203", fit_where,
                        f"fit got {n_targets} target{'s' if n_targets != 1 else ''} for {n_out} model "
                        f"output{'s' if n_out != 1 else ''} ({outputs_text})",
                        "pass one target array per output, in output order (or a dict keyed by output name)",
                    )
                    found = True
        return found

    # -- one (output, loss) pair ---------------------------------------------------------

    def _probe_pair(self, pair: _Pair) -> None:
        y_pred_sample = tf.constant(pair.output.values)
        target = pair.target if pair.target is not None else self._synthetic_target(pair)
        try:
            resolved = get_loss(pair.identifier, tf.constant(target), y_pred_sample)
        except Exception as exc:  # noqa: BLE001
            self._note("LL206", self._fallback_site(None), f"cannot resolve loss {pair.identifier!r}: "
                       f"{_exception_text(exc)}", "pass a loss function, a loss name or a keras.losses.Loss",
                       None, pair)
            return
        info = _describe(pair.identifier, resolved, self.user)
        path = _keras_loss_path(resolved)
        if info.kind == "builtin" and not pair.guessed and self._label_checks(pair, info, resolved, target):
            return
        results = self._run_sizes(pair, info, path, target)
        if results is None or pair.guessed:
            return
        analysis_size, analysis_result = results
        if info.kind == "builtin":
            self._logits_checks(pair, info, resolved)
            return
        if analysis_result is None or analysis_result.concrete is None:
            return
        ops = trace.walk(analysis_result.concrete, [TRUE, PRED], self.user)
        if self._graph_checks(pair, info, ops, analysis_size, metric=False):
            return  # a broadcast: the numbers below would only echo it
        self._numeric_checks(pair, info, path, target, analysis_size, ops)

    def _synthetic_target(self, pair: _Pair) -> np.ndarray:
        """Targets for a script that never called fit: shaped like the output, with values the
        loss can take (integer labels for sparse crossentropies, one-hot rows for categorical)."""
        values = pair.output.values
        name = _loss_name(pair.identifier).lower()
        classes = values.shape[-1] if values.ndim > 1 else 1
        if "sparse" in name:
            return self.rng.integers(0, max(classes, 1), size=values.shape[:-1]).astype(np.int64)
        if "categorical" in name and values.ndim > 1:
            labels = self.rng.integers(0, classes, size=values.shape[:-1])
            return np.eye(classes, dtype=np.float32)[labels]
        if any(word in name for word in ("binary", "hinge", "crossentropy", "focal")):
            return self.rng.integers(0, 2, size=values.shape).astype(np.float32)
        return self.rng.uniform(0.0, 1.0, size=values.shape).astype(np.float32)

    def _sizes(self, pair: _Pair, target: np.ndarray) -> tuple[list[int], int, dict[int, str]]:
        """The batch sizes to run, the one to analyse, and why each size is there."""
        dims = set(pair.output.values.shape[1:]) | set(target.shape[1:])
        small = [s for s in _SMALL_SIZES if s not in dims][:2] or [3, 5]
        why: dict[int, str] = {}
        fit = self.fit
        primary = None
        if fit is not None and fit.batch_size:
            primary = int(fit.batch_size)
        elif fit is not None and fit.batch:
            primary = _n_rows(fit.batch[1] if len(fit.batch) > 1 and fit.batch[1] is not None else fit.batch[0])
        if primary:
            why[primary] = "the batch size fit uses"
        else:
            primary = _DEFAULT_BATCH
            why[primary] = "Keras' default batch size"
        sizes = [primary]
        for s in small:
            if s not in sizes:
                sizes.append(s)
        if fit is not None and fit.data_size and fit.batch_size:
            last = int(fit.data_size) % int(fit.batch_size)
            if last:
                why[last] = f"the last partial batch: {fit.data_size} samples, batch_size {fit.batch_size}"
                if last not in sizes:
                    sizes.insert(1, last)
        return sizes, small[0], why

    def _run_sizes(
        self, pair: _Pair, info: _Callable, path: Callable, target: np.ndarray,
    ) -> tuple[int, _RunResult | None] | None:
        """Trace like fit, then run at each batch size. Reports failures; returns the analysis
        size and its run when the probe may go on, None when it stopped with a finding."""
        dtype = tf.as_dtype(_adapter_dtype(target))
        keras_trace = self._run(path, None, target, pair.output.values, dtype)
        sizes, analysis, why = self._sizes(pair, target)
        runs = {size: self._run(path, size, target, pair.output.values, dtype) for size in sizes}
        ok = [s for s in sizes if runs[s].error is None]
        bad = [s for s in sizes if runs[s].error is not None]
        if keras_trace.error is not None:
            code = self._classify(keras_trace.error, info, pair)
            if code not in ("LL111", "LL105") and ok and not bad:
                # Runs at every fixed batch size: it is the unknown batch dimension that fails.
                self._report_failure(pair, info, keras_trace, "LL206", unknown_batch=True)
            elif code is not None:
                self._report_failure(pair, info, keras_trace, code)
            return None
        if bad and ok:
            self._report_batch_dependence(pair, info, runs, sizes, ok, bad, why)
            return None
        if bad:
            first = runs[bad[0]]
            code = self._classify(first.error, info, pair)
            if code is not None:
                self._report_failure(pair, info, first, code)
            return None
        for size in sizes:
            total = runs[size].total
            if total is not None and not np.isfinite(total):
                self._report_non_finite(pair, info, path, target, size, total)
                return None
        return analysis, runs.get(analysis)

    def _run(
        self, path: Callable, size: int | None, target: np.ndarray, y_pred: np.ndarray, dtype: Any,
    ) -> _RunResult:
        """Trace `path` at batch `size` (None: unknown, as fit traces) and run it there."""
        result = _RunResult(size)
        true_spec = tf.TensorSpec((size, *target.shape[1:]), dtype, name="y_true")
        pred_spec = tf.TensorSpec((size, *y_pred.shape[1:]), tf.float32, name="y_pred")
        function = tf.function(lambda y_true, y_pred: path(y_true, y_pred), autograph=False, reduce_retracing=False)
        try:
            result.concrete = function.get_concrete_function(true_spec, pred_spec)
        except Exception as exc:  # noqa: BLE001 - the user's loss fails at trace time
            result.error = exc
            result.site = _exception_site(exc, self.user)
            return result
        if size is None:
            return result  # fit runs it at the real sizes, probed separately
        if size * max(int(np.prod(y_pred.shape[1:])), int(np.prod(target.shape[1:])), 1) > _MAX_ELEMENTS:
            return result  # too big to run cheaply: the trace at this size checked the static shapes
        try:
            total, per = result.concrete(
                tf.constant(_tile(target, size).astype(dtype.as_numpy_dtype)),
                tf.constant(_tile(y_pred, size)),
            )
            result.total = float(np.asarray(total).reshape(-1)[0]) if np.size(total) else 0.0
            if np.size(total) > 1:
                result.total = float(np.mean(total))
            result.per_shape = tuple(per.shape)
        except Exception as exc:  # noqa: BLE001 - a runtime failure (shape at run time)
            result.error = exc
            result.site = _exception_site(exc, self.user, result.concrete)
        return result

    # -- classifying and reporting failures ----------------------------------------------

    def _classify(self, exc: BaseException, info: _Callable, pair: _Pair) -> str | None:
        message = str(exc)
        if isinstance(exc, tf.errors.OperatorNotAllowedInGraphError) or (
            "symbolic `tf.Tensor`" in message and "not allowed" in message
        ):
            return "LL111"
        if (
            "KerasTensor" in message or "Keras symbolic" in message or "symbolic tensor" in message.lower()
            or _symbolic_captures(pair.identifier)
        ):
            return "LL105"
        if pair.guessed:
            return None
        if _LABEL_RANGE.search(message):
            return "LL205" if pair.target is not None else None
        if _SHAPE_ERROR.search(message) or isinstance(exc, tf.errors.InvalidArgumentError):
            # With guessed targets a shape error may only mean that the guess was wrong.
            if pair.target is None:
                return None
            if pair.target.shape[1:] == pair.output.values.shape[1:]:
                return "LL206"  # targets and outputs agree: the loss's own ops fail (band_part of a rank-1 tensor)
            return "LL201"
        return "LL206"

    def _report_failure(self, pair: _Pair, info: _Callable, run: _RunResult, code: str, unknown_batch: bool = False) -> None:
        text = _exception_text(run.error)
        site = run.site or info.def_site
        at = f" (line {run.site.line})" if run.site is not None else ""
        out = pair.output
        target_shape = _shape_text(_spec_shape(pair.target)) if pair.target is not None else None
        pred_shape = _shape_text(_spec_shape(out.values))
        if code == "LL111":
            message = (
                f"{info.label} uses a tensor as a Python bool/iterable{at}: Keras 3 traces losses "
                f"in graph mode without autograph, so fit fails with {text}"
            )
            fix = "use `tf.cond`/`keras.ops.where`/`keras.ops.cond` (or tf.while_loop) instead of Python control flow on tensors"
        elif code == "LL105":
            captured = _symbolic_captures(pair.identifier)
            if captured and (run.site is None or run.site == info.def_site) and info.def_site is not None:
                use = _first_use(info.def_site, [name for name, _ in captured])
                if use is not None:
                    site, at = use, f" (line {use.line})"
            held = (
                f"holds {and_join([f'`{name}`, a symbolic KerasTensor {_shape_text(tuple(t.shape))}' for name, t in captured[:2]])}"
                " and fails"
                if captured else "uses a symbolic Keras tensor (a keras.Input, model.input or a layer output)"
            )
            message = (
                f"{info.label} {held} when Keras calls it for output '{out.name}'{at}: {text}"
            )
            fix = ("compute the input-dependent term with `self.add_loss(...)` inside a layer's `call`, "
                   "or in a custom `train_step` with `self.compute_loss`")
        elif code == "LL201":
            message = (
                f"{info.label} fails on output '{out.name}' with the real targets: y_true "
                f"{target_shape} vs y_pred {pred_shape}{at}: {text}"
            )
            fix = (f"make output '{out.name}' produce the targets' shape {target_shape} (e.g. a Reshape layer) "
                   "or give it a loss written for its shape")
        elif code == "LL205":
            message = (
                f"{info.label} on output '{out.name}' does not accept the targets: y_true {target_shape} "
                f"(dtype {pair.target.dtype}) vs y_pred {pred_shape}: {text}"
            )
            fix = _encoding_fix(info)
        else:
            targets = "" if pair.target is not None else (
                f" (the script never called fit, so targets shaped like the output {pred_shape} were assumed)"
            )
            if unknown_batch:
                message = (
                    f"{info.label} fails on output '{out.name}' when traced with an unknown batch "
                    f"dimension (None), as Keras traces it in fit{at}, although it runs at fixed batch "
                    f"sizes{targets}: {text}{self._static_batch_note()}"
                )
                fix = "use dynamic shapes (`tf.shape(x)`/`keras.ops.shape(x)`) instead of Python ints from `x.shape`"
            else:
                message = (
                    f"{info.label} raises on output '{out.name}' with y_true {target_shape or pred_shape} and y_pred "
                    f"{pred_shape}{at}{targets}: {text}"
                )
                fix = "make the loss run on tensors of these shapes (see the exception)"
        self._note(code, site, message, fix, info, pair)

    def _static_batch_note(self) -> str:
        """keras3-facts case 4: a dataset batched with drop_remainder=True has a static batch
        size, fit traces the loss with it and trains, and evaluate/predict fail later."""
        static = self.fit.extra.get("static_batch") if self.fit is not None else None
        if not static:
            return ""
        return (
            f" (fit's dataset is batched with drop_remainder=True, so training only ever sees batch size "
            f"{static} and runs; evaluate, predict and any other data fail)"
        )

    def _report_batch_dependence(
        self, pair: _Pair, info: _Callable, runs: dict[int, _RunResult], sizes: list[int],
        ok: list[int], bad: list[int], why: dict[int, str],
    ) -> None:
        first = runs[bad[0]]
        if self._batch_index_failure(pair, info, first):
            return
        def sized(values: list[int]) -> str:
            parts = [f"{s} ({why[s]})" if s in why else str(s) for s in values]
            return and_join(parts)
        message = (
            f"{info.label} on output '{pair.output.name}' depends on the batch size: it works at "
            f"batch size {sized(ok)} but fails at {sized(bad)}: {_exception_text(first.error)}"
            f"{self._static_batch_note()}"
        )
        fix = "use -1 (or `tf.shape(y_pred)[0]` / `keras.ops.shape(y_pred)[0]`) for the batch dimension, never a fixed size"
        self._note("LL103", first.site or info.def_site, message, fix, info, pair)

    def _batch_index_failure(self, pair: _Pair, info: _Callable, run: _RunResult) -> bool:
        """A failure on a small batch from `y_true[1]`-style indexing: report it as LL102."""
        message = str(run.error)
        if "out of bounds" not in message and "slice index" not in message:
            return False
        good = self._analysis_ops(pair, info)
        if good is None:
            return False
        indexes = trace.batch_indexes(good)
        if not indexes:
            return False
        self._note_batch_index(pair, info, indexes, f"it fails on a small batch: {_exception_text(run.error)}")
        return True

    def _analysis_ops(self, pair: _Pair, info: _Callable) -> list[trace.OpInfo] | None:
        target = pair.target if pair.target is not None else self._synthetic_target(pair)
        dtype = tf.as_dtype(_adapter_dtype(target))
        path = _keras_loss_path(get_loss(pair.identifier, tf.constant(target), tf.constant(pair.output.values)))
        for size in (4, 6, 8):
            run = self._run(path, size, target, pair.output.values, dtype)
            if run.error is None and run.concrete is not None:
                return trace.walk(run.concrete, [TRUE, PRED], self.user)
        return None

    def _report_non_finite(self, pair: _Pair, info: _Callable, path: Callable, target: np.ndarray, size: int, total: float) -> None:
        site = self._numerics_site(path, target, pair.output.values, size) or info.def_site
        out = pair.output.values
        message = (
            f"{info.label} is {_fmt(total)} on output '{pair.output.name}' for ordinary inputs "
            f"(y_pred in [{_fmt(float(np.min(out)))}, {_fmt(float(np.max(out)))}], y_true in "
            f"[{_fmt(float(np.min(target)))}, {_fmt(float(np.max(target)))}], batch size {size})"
            + (f"; the first non-finite value comes from line {site.line}" if site is not None and site != info.def_site else "")
        )
        self._note("LL207", site, message,
                   "clip the argument of log/sqrt/division (e.g. `keras.ops.clip(y_pred, eps, 1 - eps)`) or add an epsilon",
                   info, pair)

    def _numerics_site(self, path: Callable, target: np.ndarray, y_pred: np.ndarray, size: int) -> Site | None:
        """The user's line of the first op that produces NaN/Inf: the trace returns every
        floating-point intermediate made in user code, in creation order."""
        sites: list[Site] = []
        user = self.user

        def fetch_all(y_true: Any, y_pred: Any) -> list[Any]:
            path(y_true, y_pred)
            fetches = []
            for op in tf.compat.v1.get_default_graph().get_operations():
                site = trace.op_site(op, user)
                if site is None:
                    continue
                for t in op.outputs:
                    if t.dtype.is_floating:
                        fetches.append(t)
                        sites.append(site)
            return fetches

        try:
            values = tf.function(fetch_all, autograph=False)(
                tf.constant(_tile(target, size).astype(np.float32)), tf.constant(_tile(y_pred, size)),
            )
        except Exception:  # noqa: BLE001
            return None
        for value, site in zip(values, sites):
            if not np.all(np.isfinite(np.asarray(value))):
                return site
        return None

    # -- built-in losses: encodings and logits -------------------------------------------

    def _label_checks(self, pair: _Pair, info: _Callable, resolved: Any, target: np.ndarray) -> bool:
        """LL205 for built-in crossentropies against the real targets (before running them)."""
        if pair.target is None:
            return False
        kind = _crossentropy_kind(info)
        out = pair.output.values
        classes = out.shape[-1] if out.ndim > 1 else None
        y = pair.target
        if kind == "sparse" and classes:
            if y.ndim == out.ndim and y.shape[-1] == classes and classes > 1 and _one_hot(y):
                self._note("LL205", self._fallback_site(info),
                           f"{info.label} on output '{pair.output.name}' expects integer class labels, but the "
                           f"targets are one-hot rows {_shape_text(_spec_shape(y))} for y_pred "
                           f"{_shape_text(_spec_shape(out))} (Keras 3 raises 'Argument `output` must have rank "
                           "(ndim) `target.ndim - 1`' at fit)",
                           "use CategoricalCrossentropy for one-hot targets, or pass `np.argmax(y, axis=-1)` as targets",
                           info, pair)
                return True
            if y.dtype.kind in "iuf" and y.size and np.all(np.mod(y, 1) == 0):
                low, high = float(np.min(y)), float(np.max(y))
                if low < 0 or high >= classes:
                    self._note("LL205", self._fallback_site(info),
                               f"{info.label} on output '{pair.output.name}' gets label values in "
                               f"[{int(low)}, {int(high)}], outside [0, {classes}) for an output with {classes} "
                               "classes (fit fails with 'Received a label value of ... outside the valid range')",
                               f"map the labels to 0..{classes - 1}, or give the output layer as many units as classes",
                               info, pair)
                    return True
        if kind == "categorical" and classes and classes > 1:
            labels = y.ndim == out.ndim - 1 or (y.ndim == out.ndim and y.shape[-1] == 1)
            if labels:
                self._note("LL205", self._fallback_site(info),
                           f"{info.label} on output '{pair.output.name}' expects one-hot targets of shape "
                           f"{_shape_text(_spec_shape(out))}, but the targets are integer labels "
                           f"{_shape_text(_spec_shape(y))} (Keras 3 raises 'Arguments `target` and `output` must "
                           "have the same rank/shape' at fit)",
                           "use SparseCategoricalCrossentropy for integer labels, or one-hot encode the targets",
                           info, pair)
                return True
        return False

    def _logits_checks(self, pair: _Pair, info: _Callable, resolved: Any) -> None:
        """LL204: the final activation against a built-in crossentropy's from_logits."""
        kind = _crossentropy_kind(info)
        if kind is None:
            return
        activation, through = _final_activation(pair.output.layer)
        if activation is None:
            return
        from_logits = bool(getattr(resolved, "_fn_kwargs", {}).get("from_logits", False))
        out = pair.output.name
        if activation == "linear" and not from_logits:
            values = pair.output.values
            if np.all((values >= 0) & (values <= 1)):
                return
            self._note("LL204", self._fallback_site(info),
                       f"output '{out}' has no final activation (its values are logits, seen in "
                       f"[{_fmt(float(values.min()))}, {_fmt(float(values.max()))}]) but {info.label} expects "
                       "probabilities (from_logits=False): Keras clips them to [eps, 1 - eps] and trains badly",
                       "pass `from_logits=True` to the loss, or add a softmax/sigmoid activation to the output layer",
                       info, pair)
        elif activation == "softmax" and kind == "binary":
            self._note("LL204", self._fallback_site(info),
                       f"output '{out}' ends in a softmax but {info.label} is a binary crossentropy: Keras 3 "
                       "computes sigmoid BCE on the pre-softmax logits, not on the softmax probabilities",
                       "use a sigmoid output for binary/multi-label targets, or CategoricalCrossentropy for a softmax",
                       info, pair)
        elif activation in ("softmax", "sigmoid") and from_logits:
            if through:
                self._note("LL204", self._fallback_site(info),
                           f"output '{out}' is a {activation} passed through {and_join(through)}, and {info.label} has "
                           "from_logits=True: the probabilities are treated as logits (a double "
                           f"{activation}, with no warning)",
                           "drop `from_logits=True`, or remove the activation from the output layer",
                           info, pair)
            else:
                self._note("LL204", self._fallback_site(info),
                           f"output '{out}' ends in a {activation} and {info.label} has from_logits=True: Keras 3's "
                           "TensorFlow backend recovers the logits with a warning, other backends and any "
                           "wrapped output do not",
                           "drop `from_logits=True`, or remove the activation and keep from_logits=True",
                           info, pair, severity=Severity.WARNING)

    # -- graph checks: LL202, LL101 ------------------------------------------------------

    def _graph_checks(self, pair: _Pair, info: _Callable, ops: list[trace.OpInfo], size: int, metric: bool) -> bool:
        """LL202 and LL101; True when a broadcast was reported."""
        found = trace.broadcasts(ops)
        for bc in found:
            symbol = _OP_SYMBOL.get(bc.op_type)
            shapes = [_shape_text(s) for s in bc.in_shapes]
            combined = f" {symbol} ".join(shapes) if symbol else f"{bc.op_type}({', '.join(shapes)})"
            why = (
                "Keras 3 aligns the target's rank only for a loss *function* given to compile, not "
                + ("for a function metric" if metric else "for a keras.losses.Loss subclass's `call`")
            )
            target = _shape_text(_tile(pair.target, size).shape) if pair.target is not None else "?"
            self._note(
                "LL202", bc.site,
                f"`{bc.site.text}` in {info.label} broadcasts {combined} -> {_shape_text(bc.out_shape)} on output "
                f"'{pair.output.name}' (batch size {size}: y_true {target}, y_pred "
                f"{_shape_text(_tile(pair.output.values, size).shape)}): every target is compared with every "
                f"prediction and the {'metric' if metric else 'loss'} trains/reports a wrong value without an error; {why}",
                "give y_true and y_pred the same shape: reshape the targets to the output's shape "
                "(e.g. `y[:, None]`), or `y_true = keras.ops.reshape(y_true, keras.ops.shape(y_pred))` in the "
                + ("metric" if metric else "loss"),
                info, pair,
            )
        if metric:
            return bool(found)
        for rs in trace.reshapes(ops):
            if rs.role == PRED:
                target_shape = tuple(pair.target.shape[1:]) if pair.target is not None else None
                layer = f"keras.layers.Reshape({tuple(rs.to_shape[1:])})"
                extra = f" (targets {_shape_text((size, *target_shape))})" if target_shape is not None else ""
                message = (
                    f"{info.label} reshapes y_pred of output '{pair.output.name}' from "
                    f"{_shape_text(rs.from_shape)} to {_shape_text(rs.to_shape)}{extra} (line {rs.site.line}): the "
                    "model's output does not have the targets' shape, so predict(), metrics and other losses "
                    "see the unreshaped tensor"
                )
                fix = f"put a `{layer}` layer at the model output and drop the reshape from the loss"
            else:
                message = (
                    f"{info.label} reshapes y_true for output '{pair.output.name}' from "
                    f"{_shape_text(rs.from_shape)} to {_shape_text(rs.to_shape)} (line {rs.site.line}): the "
                    "targets do not have the model output's shape, so metrics and other losses see mismatched shapes"
                )
                fix = "give the targets the output's shape in the data pipeline and drop the reshape from the loss"
            self._note("LL101", rs.site, message, fix, info, pair)
        return bool(found)

    # -- numeric checks: LL109, LL208, LL110, LL209 ---------------------------------------

    def _numeric_checks(
        self, pair: _Pair, info: _Callable, path: Callable, target: np.ndarray, size: int,
        ops: list[trace.OpInfo],
    ) -> None:
        y_true = tf.constant(_tile(target, size).astype(np.float32))
        y_pred = tf.constant(_tile(pair.output.values, size))
        try:
            total, per, grad = _value_and_grad(path, y_true, y_pred)
        except Exception:  # noqa: BLE001 - second evaluation failing eagerly: nothing more to learn
            return
        if not np.isfinite(total):
            return
        if self._check_gradient(pair, info, path, y_true, y_pred, grad, ops):
            return
        if self._check_mixing(pair, info, path, y_true, y_pred, per, grad, ops, size):
            return
        self._check_batch_scaling(pair, info, path, target, per, total, size, ops)
        self._check_unbounded(pair, info, path, y_true, y_pred, total, grad)

    def _check_gradient(self, pair, info, path, y_true, y_pred, grad, ops) -> bool:
        out = pair.output.name
        if grad is not None and np.any(grad != 0):
            return False
        if grad is not None:
            noise = self.rng.standard_normal(y_pred.shape).astype(np.float32) * (float(np.std(y_pred)) * 0.5 + 0.1)
            try:
                _, _, other = _value_and_grad(path, y_true, y_pred + noise)
            except Exception:  # noqa: BLE001
                return False
            if other is None or not np.all(np.isfinite(other)) or np.any(other != 0):
                return False
        cuts = trace.non_differentiable(ops)
        if grad is None:
            what = "is None: the loss does not depend on y_pred at all"
        else:
            what = "is zero at every point probed"
        if cuts:
            site, kind = cuts[0]
            what += f"; `{site.text}` (line {site.line}, {kind}) has no gradient"
        else:
            site = info.def_site
        self._note("LL109", site, f"the gradient of {info.label} w.r.t. y_pred of output '{out}' {what}, so fit "
                   "cannot train the model through it",
                   "compute the loss from y_pred with differentiable ops (no argmax/round/casts to int/comparisons "
                   "on the gradient path); use a smooth surrogate such as crossentropy",
                   info, pair)
        return True

    def _check_mixing(self, pair, info, path, y_true, y_pred, per, grad, ops, size) -> bool:
        """LL208: sample i's loss (or gradient) depends on other samples."""
        n = size
        shift = np.roll(np.arange(n), 1)
        evidence: list[str] = []
        per_sample = per is not None and per.ndim >= 1 and per.shape[0] == n
        try:
            _, per_p, grad_p = _value_and_grad(path, tf.gather(y_true, shift), tf.gather(y_pred, shift))
        except Exception:  # noqa: BLE001
            return False
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
        elif per_sample and per_p is not None and not _close(per_p, per[shift]):
            evidence.append("permuting the samples of the batch does not permute the per-sample losses: they depend "
                            "on the samples' positions")
        # A loss that returns one scalar for the batch may mix samples by design (batch Dice,
        # in-batch negatives, correlation losses): only positional evidence counts there.
        mixed = _cross_dependence(path, y_true, y_pred, n) if per_sample else None
        if mixed:
            evidence.append(mixed)
        indexes = trace.batch_indexes(ops)
        if indexes:
            self._note_batch_index(pair, info, indexes, "measured: " + "; ".join(evidence) if evidence else "")
            return True
        if not evidence:
            return False
        mixing = trace.batch_mixing_sites(ops, n)
        site = mixing[0] if mixing else info.def_site
        if mixing:
            evidence.append(f"`{site.text}` (line {site.line}) combines values across the batch axis")
        self._note("LL208", site, f"{info.label} on output '{pair.output.name}' mixes samples: " + "; ".join(evidence),
                   _MIXING_FIX, info, pair)
        return True

    def _note_batch_index(self, pair: _Pair, info: _Callable, indexes: list[trace.BatchIndex], evidence: str) -> None:
        """LL102 confirmed: an integer index on the batch axis of y_true/y_pred."""
        site = indexes[0].site
        roles = and_join(sorted({
            f"{i.role} {_shape_text(i.from_shape)} -> {_shape_text(i.to_shape)}" for i in indexes if i.site == site
        }))
        message = (
            f"`{site.text}` in {info.label} indexes the batch axis ({roles}) on output '{pair.output.name}': Keras "
            "calls a loss once per output with one tensor each, never a list of outputs, so an integer index "
            "takes one sample, not one output"
        )
        if evidence:
            message += f"; {evidence}"
        self._note("LL102", site, message,
                   "give each output its own loss (a list or dict in compile) and weigh them with `loss_weights`",
                   info, pair)

    def _check_batch_scaling(self, pair, info, path, target, per, total, size, ops) -> None:
        """LL110: a scalar-returning loss that sums over the batch, or that ignores sample weights."""
        if per is None or per.ndim != 0:
            return
        double = 2 * size
        try:
            total2, _, _ = _value_and_grad(
                path,
                # the same `size` rows twice: only the batch size changes
                tf.constant(_tile(_tile(target, size), double).astype(np.float32)),
                tf.constant(_tile(_tile(pair.output.values, size), double)),
                gradient=False,
            )
        except Exception:  # noqa: BLE001 - e.g. a fixed batch size: reported elsewhere
            return
        if not np.isfinite(total2) or abs(total) < 1e-6:
            return
        ratio = total2 / total
        sums = trace.batch_sum_sites(ops, size)
        if abs(ratio - 2.0) < 0.05:
            site = sums[-1] if sums else info.def_site
            self._note(
                "LL110", site,
                f"{info.label} on output '{pair.output.name}' sums over the batch: with the batch doubled ({size} -> "
                f"{double} samples, the same rows twice) the loss went from {_fmt(total)} to {_fmt(total2)}, so the "
                "effective learning rate scales with batch_size and the last partial batch weighs less",
                "reduce over the batch with a mean (or return per-sample losses and let Keras reduce them)",
                info, pair,
            )
        elif abs(ratio - 1.0) < 0.05 and self.sample_weighted:
            self._note(
                "LL110", info.def_site,
                f"{info.label} on output '{pair.output.name}' returns one scalar for the whole batch, but fit gets "
                "sample_weight/class_weight: Keras can only scale that scalar, not weigh the samples",
                "return per-sample losses (reduce over the non-batch axes only) and let Keras apply the weights",
                info, pair,
            )

    def _check_unbounded(self, pair, info, path, y_true, y_pred, total, grad) -> None:
        """LL209: the loss keeps falling, without limit, along its negative gradient. Not where
        the output is squashed into a bounded range (softmax, sigmoid, tanh: the model cannot
        follow y_pred to infinity), nor for a loss that ignores y_true (`lambda y_true, y_pred:
        y_pred`: the model's output is itself the loss, and a dummy target is passed)."""
        if grad is None or not np.any(grad) or linear_on_purpose(info.name):
            return  # a Wasserstein critic or a policy loss is linear by design, as the static rule knows
        if _final_activation(pair.output.layer)[0] in _BOUNDED_ACTIVATIONS:
            return
        try:
            other, _, _ = _value_and_grad(path, tf.reverse(y_true, [0]) * 0.5 + 1.0, y_pred, gradient=False)
        except Exception:  # noqa: BLE001
            other = None
        if other is not None and np.isfinite(other) and np.isclose(other, total, rtol=1e-6, atol=1e-9):
            return
        direction = grad / float(np.max(np.abs(grad)))
        values = [total]
        for step in (10.0, 100.0, 1000.0):
            try:
                value, _, _ = _value_and_grad(path, y_true, y_pred - step * direction, gradient=False)
            except Exception:  # noqa: BLE001
                return
            if not np.isfinite(value):
                return
            values.append(value)
        d1 = values[1] - values[2]
        d2 = values[2] - values[3]
        if values[1] < values[0] and d1 > 0 and d2 >= 5 * d1 and d2 > 1e-3 * (1 + abs(values[0])):
            shown = " -> ".join(_fmt(v) for v in values)
            self._note(
                "LL209", info.def_site,
                f"{info.label} on output '{pair.output.name}' is not bounded below in y_pred: moving y_pred along the "
                f"negative gradient by 0, 10, 100, 1000 takes the loss {shown}, so minimising it drives the "
                "predictions to infinity",
                "use a loss with its minimum at y_pred == y_true (square, abs, or a log-likelihood)",
                info, pair,
            )

    # -- metrics -------------------------------------------------------------------------

    def _probe_metrics(self, metrics: Any, pairs: list[_Pair], targets: list[tuple[str | None, np.ndarray]]) -> None:
        if not metrics:
            return
        n_out = len(self.outputs)
        per_output: list[list[Any]] = [[] for _ in range(n_out)]
        if n_out == 1:
            per_output[0] = _leaves(metrics)
        elif isinstance(metrics, dict):
            for i, out in enumerate(self.outputs):
                if out.name in metrics:
                    per_output[i] = _leaves(metrics[out.name])
        elif isinstance(metrics, (list, tuple)) and len(metrics) == n_out:
            for i, entry in enumerate(metrics):
                per_output[i] = _leaves(entry)
        target_of = {p.output.index: p for p in pairs}
        for i, fns in enumerate(per_output):
            for fn in fns:
                if not callable(fn) or isinstance(fn, (keras.metrics.Metric, keras.losses.Loss)) or inspect.isclass(fn):
                    continue
                info = _describe(fn, None, self.user, role="metric")
                if info.kind == "builtin":
                    continue
                pair = target_of.get(i)
                target = pair.target if pair is not None else (
                    targets[i][1] if self.targets_known and i < len(targets) else None
                )
                try:
                    self._probe_metric(_Pair(fn, self.outputs[i], target, None, role="metric"), info)
                except Exception as exc:  # noqa: BLE001
                    warnings.warn(f"losslint: internal error while probing {info.label}: {type(exc).__name__}: {exc}",
                                  RuntimeWarning, stacklevel=2)

    def _probe_metric(self, pair: _Pair, info: _Callable) -> None:
        target = pair.target if pair.target is not None else self._synthetic_target(pair)
        path = _metric_path(pair.identifier)
        results = self._run_sizes(pair, info, path, target)
        if results is None:
            return
        size, run = results
        if run is None or run.concrete is None:
            return
        ops = trace.walk(run.concrete, [TRUE, PRED], self.user)
        self._graph_checks(pair, info, ops, size, metric=True)

    # -- findings ------------------------------------------------------------------------

    def _fallback_site(self, info: _Callable | None) -> Site | None:
        if info is not None and info.def_site is not None:
            return info.def_site
        where = self.compile.where
        if where is not None:
            return Site(os.path.abspath(where.path), where.line, "")
        return None

    def _note(
        self, code: str, site: Site | None, message: str, fix: str, info: _Callable | None, pair: _Pair,
        severity: Severity | None = None,
    ) -> None:
        site = site or self._fallback_site(info)
        if site is None:
            return
        key = (code, site.path, site.line)
        note = self.notes.get(key)
        if note is None:
            self.notes[key] = _Note(code, site, message, fix, info.def_site if info else None,
                                    [pair.output.name], severity)
        elif pair.output.name not in note.outputs:
            note.outputs.append(pair.output.name)

    def _model_finding(self, code: str, where: SourceLine | None, message: str, fix: str) -> None:
        if where is None:
            return
        rule = registry.get(code)
        column, end = _line_span(where.path, where.line)
        if where.column and where.column > 1:
            column = where.column
        self.model_findings.append(Finding(
            code=rule.code, name=rule.name, severity=rule.severity, path=os.path.abspath(where.path),
            line=where.line, column=column, end_line=where.line, end_column=max(end, column + 1),
            message=message, fix=fix, pass_=Pass.DYNAMIC,
        ))

    def _finish(self) -> list[Finding]:
        findings = list(self.model_findings)
        related: tuple[RelatedLocation, ...] = ()
        where = self.compile.where
        if where is not None:
            related = (RelatedLocation(os.path.abspath(where.path), where.line, where.column or 1, "compile call"),)
        for note in self.notes.values():
            rule = registry.get(note.code)
            message = note.message
            if len(note.outputs) > 1:
                message += f" (the same on output{'s' if len(note.outputs) > 2 else ''} " \
                           f"{_quoted(note.outputs[1:])})"
            column, end = _line_span(note.site.path, note.site.line)
            findings.append(Finding(
                code=rule.code, name=rule.name, severity=note.severity or rule.severity,
                path=note.site.path, line=note.site.line, column=column, end_line=note.site.line,
                end_column=max(end, column + 1), message=message, fix=note.fix, pass_=Pass.DYNAMIC,
                related=related, scope_line=note.scope.line if note.scope is not None else None,
            ))
        return sort_findings(findings)


_MIXING_FIX = (
    "compute the loss per sample (no integer index, reshape or reduction across the batch axis); for a joint "
    "loss over several outputs give each output its own loss and combine them with loss_weights"
)


# ---- calling losses the way Keras does -------------------------------------------------


def _keras_loss_path(loss: Any) -> Callable[[Any, Any], tuple[Any, Any]]:
    """What Keras' `Loss.__call__` does (cast both to the loss dtype, `call`, reduce), also
    returning the unreduced per-sample values `call` gave."""

    def path(y_true: Any, y_pred: Any) -> tuple[Any, Any]:
        dtype = loss.dtype
        y_pred = keras.ops.convert_to_tensor(y_pred, dtype=dtype)
        y_true = keras.ops.convert_to_tensor(y_true, dtype=dtype)
        per = loss.call(y_true, y_pred)
        if any(isinstance(v, keras.KerasTensor) for v in _leaves(per)):
            raise ValueError(
                "A KerasTensor cannot be used as input to a TensorFlow function: the loss returned a "
                "symbolic KerasTensor, computed from a keras.Input or layer output it holds"
            )
        total = reduce_weighted_values(per, reduction=loss.reduction, dtype=dtype)
        return total, per

    return path


def _metric_path(fn: Callable) -> Callable[[Any, Any], tuple[Any, Any]]:
    """A function metric as Keras' MeanMetricWrapper calls it: no rank alignment, no cast."""

    def path(y_true: Any, y_pred: Any) -> tuple[Any, Any]:
        values = keras.ops.convert_to_tensor(fn(y_true, y_pred))
        return keras.ops.mean(keras.ops.cast(values, "float32")), values

    return path


def _value_and_grad(
    path: Callable, y_true: Any, y_pred: Any, gradient: bool = True,
) -> tuple[float, np.ndarray | None, np.ndarray | None]:
    """Eager: the reduced loss, the per-sample values, and d(loss)/d(y_pred)."""
    y_pred = tf.convert_to_tensor(y_pred)
    with tf.GradientTape() as tape:
        tape.watch(y_pred)
        total, per = path(y_true, y_pred)
    grad = tape.gradient(total, y_pred) if gradient else None
    return (
        float(np.mean(np.asarray(total))),
        np.asarray(per) if per is not None else None,
        np.asarray(grad) if grad is not None else None,
    )


def _cross_dependence(path: Callable, y_true: Any, y_pred: Any, n: int) -> str | None:
    """Which samples' loss depends on other samples' predictions or targets: the Jacobian of
    the per-sample losses."""
    y_true = tf.convert_to_tensor(y_true)
    y_pred = tf.convert_to_tensor(y_pred)
    pred_links: dict[int, set[int]] = {}
    true_links: dict[int, set[int]] = {}
    try:
        with tf.GradientTape(persistent=True) as tape:
            tape.watch([y_true, y_pred])
            _, per = path(y_true, y_pred)
            rows = tf.reduce_sum(tf.reshape(tf.cast(per, tf.float32), [n, -1]), axis=1)
            terms = [rows[i] for i in range(n)]
        for i in range(n):
            for links, wrt in ((pred_links, y_pred), (true_links, y_true)):
                g = tape.gradient(terms[i], wrt)
                if g is not None:
                    links[i] = _other_rows(np.asarray(g), i)
        del tape
    except Exception:  # noqa: BLE001 - e.g. ops without a gradient
        return None
    parts = []
    for links, what in ((pred_links, "predictions"), (true_links, "targets")):
        pairs = {i: js for i, js in links.items() if js}
        if not pairs:
            continue
        if len(pairs) == n and all(len(js) == n - 1 for js in pairs.values()):
            parts.append(f"every sample's loss depends on the {what} of every other sample (batch of {n})")
        else:
            shown = ", ".join(f"sample {i} on {and_join([str(j) for j in sorted(js)])}" for i, js in sorted(pairs.items())[:4])
            parts.append(f"the loss depends on other samples' {what}: {shown}")
    return "; ".join(parts) or None


def _other_rows(g: np.ndarray, i: int) -> set[int]:
    mags = np.abs(g.reshape(g.shape[0], -1)).max(axis=1) if g.ndim else np.zeros(0)
    top = float(mags.max()) if mags.size else 0.0
    if top == 0.0 or not np.isfinite(top):
        return set()
    return {j for j, m in enumerate(mags) if j != i and m > 1e-5 * top}


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return False
    scale = max(float(np.max(np.abs(a))) if a.size else 0.0, float(np.max(np.abs(b))) if b.size else 0.0, 1e-12)
    return bool(np.all(np.abs(a - b) <= 1e-4 * scale + 1e-7))


# ---- small helpers ---------------------------------------------------------------------


def _first_use(def_site: Site, names: list[str]) -> Site | None:
    """The first line after a `def` that mentions one of `names` (`self.kg_raw`, `inp`)."""
    patterns = [re.compile(rf"(?<![\w.]){re.escape(name)}(?!\w)") for name in names]
    indent = None
    for line in range(def_site.line + 1, def_site.line + 200):
        text = linecache.getline(def_site.path, line)
        if not text:
            return None
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        current = len(text) - len(text.lstrip())
        if indent is None:
            indent = current
        elif current < indent:
            return None
        if any(p.search(text) for p in patterns):
            return Site(def_site.path, line, def_site.function)
    return None


def _first_line_with(code: Any, needles: tuple[str, ...]) -> int | None:
    """The first line of a function's source that contains one of `needles`."""
    try:
        source, start = inspect.getsourcelines(code)
    except (OSError, TypeError):
        return None
    for offset, text in enumerate(source):
        if any(needle in text for needle in needles):
            return start + offset
    return None


def _custom_step(model: Any) -> bool:
    """The model overrides the steps or compute_loss: the compiled loss may get anything."""
    base = keras.Model
    return any(
        getattr(type(model), name, None) is not getattr(base, name, None)
        for name in ("train_step", "test_step", "compute_loss")
    )


def _symbolic_captures(identifier: Any) -> list[tuple[str, Any]]:
    """KerasTensors a loss holds: attributes of a Loss object, closure cells and globals of
    a function (keras.Input, model.input, a layer output)."""
    found: list[tuple[str, Any]] = []

    def add(name: str, value: Any) -> None:
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            if isinstance(v, keras.KerasTensor):
                found.append((name, v))

    target = identifier
    if isinstance(target, functools.partial):
        for i, arg in enumerate(target.args):
            add(f"argument {i}", arg)
        for key, arg in target.keywords.items():
            add(key, arg)
        target = target.func
    if isinstance(target, LossFunctionWrapper):
        for key, arg in target._fn_kwargs.items():
            add(key, arg)
        target = target.fn
    if isinstance(target, keras.losses.Loss):
        for key, value in vars(target).items():
            add(f"self.{key}", value)
        return found
    fn = target if inspect.isfunction(target) else None
    if fn is None:
        return found
    code = fn.__code__
    for name, cell in zip(code.co_freevars, fn.__closure__ or ()):
        try:
            add(name, cell.cell_contents)
        except ValueError:
            pass
    for name in code.co_names:
        if name in fn.__globals__:
            add(name, fn.__globals__[name])
    return found


def _loss_leaves(loss: Any) -> list[Any]:
    """The non-None leaves of a loss structure, in the order `_keras_pairing` numbers them."""
    if loss is None:
        return []
    if isinstance(loss, dict):
        return [leaf for v in loss.values() for leaf in _loss_leaves(v)]
    if isinstance(loss, (list, tuple)):
        return [leaf for v in loss for leaf in _loss_leaves(v)]
    return [loss]


def _non_none_losses(loss: Any, n_out: int) -> int:
    if isinstance(loss, (list, tuple, dict)):
        return len(_loss_leaves(loss))
    return n_out


def _key_name(key: Any) -> str | None:
    return key if isinstance(key, str) else None


def _loss_name(identifier: Any) -> str:
    if isinstance(identifier, str):
        return identifier
    if isinstance(identifier, LossFunctionWrapper):
        return f"{type(identifier).__name__} {getattr(identifier.fn, '__name__', '')}"
    if isinstance(identifier, keras.losses.Loss):
        return type(identifier).__name__
    return getattr(identifier, "__name__", type(identifier).__name__)


def _crossentropy_kind(info: _Callable) -> str | None:
    name = (getattr(info.builtin_fn, "__name__", "") or info.name).lower()
    if "crossentropy" not in name and name not in ("ce",):
        return None
    if "sparse" in name:
        return "sparse"
    if "binary" in name:
        return "binary"
    if "categorical" in name:
        return "categorical"
    return None


def _encoding_fix(info: _Callable) -> str:
    kind = _crossentropy_kind(info)
    if kind == "sparse":
        return "use CategoricalCrossentropy for one-hot targets, or pass integer labels (np.argmax(y, -1))"
    if kind == "categorical":
        return "use SparseCategoricalCrossentropy for integer labels, or one-hot encode the targets"
    return "give the targets the encoding and range the loss expects"


def _one_hot(y: np.ndarray) -> bool:
    flat = y.reshape(-1, y.shape[-1])
    return bool(np.all((flat == 0) | (flat == 1)) and np.all(flat.sum(axis=1) == 1))


_SHAPE_ONLY_LAYERS = ("Reshape", "Flatten", "Permute", "Lambda", "RepeatVector", "Cropping1D")


_BOUNDED_ACTIVATIONS = frozenset({"softmax", "sigmoid", "tanh", "hard_sigmoid", "softsign", "hard_tanh"})


def _final_activation(layer: Any) -> tuple[str | None, list[str]]:
    """The activation that produces an output ('softmax', 'sigmoid', 'linear'), looking back
    through shape-only layers (named in the second value)."""
    through: list[str] = []
    for _ in range(6):
        if layer is None:
            return None, through
        kind = type(layer).__name__
        if kind in ("Softmax",):
            return "softmax", through
        if kind == "Activation" or hasattr(layer, "activation"):
            activation = getattr(layer, "activation", None)
            name = getattr(activation, "__name__", None) or str(activation)
            if name in ("softmax", "sigmoid", "linear") or name in _BOUNDED_ACTIVATIONS:
                return name, through
            return None, through
        if kind not in _SHAPE_ONLY_LAYERS:
            return None, through
        through.append(f"a {kind} layer")
        try:
            nodes = layer._inbound_nodes
            parents = nodes[0].parent_nodes
            if len(parents) != 1:
                return None, through
            layer = parents[0].operation
        except Exception:  # noqa: BLE001
            return None, through
    return None, through


def _quoted(names: Iterable[Any]) -> str:
    return ", ".join(f"'{n}'" for n in names)


def _fmt(value: float) -> str:
    if not np.isfinite(value):
        return str(value)
    return f"{value:.6g}"
