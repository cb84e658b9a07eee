"""What a dynamic check receives: the model and its outputs, one (output, loss) pair, the
loss traced and run at several batch sizes, its graph, its values and gradients. The checks
themselves live in the rule modules (`probes` of each RULE); probe.py builds these contexts
and runs the checks stage by stage (rule.Stage).

Calling a loss the way Keras does is here too: `loss_path` is what `Loss.__call__` does, and
`PairContext.run` traces it like fit (graph mode, no autograph) at a given batch size.
"""

from __future__ import annotations

import functools
import inspect
import linecache
import os
import re
import traceback
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras.src.losses.loss import reduce_weighted_values
from keras.src.losses.losses import LossFunctionWrapper
from keras.src.trainers.compile_utils import get_loss

from losslint.dynamic import trace
from losslint.dynamic.capture import CompileRecord, FitRecord, SourceLine, and_join
from losslint.dynamic.describe import LossInfo, leaves, quoted, shape_text, spec_shape
from losslint.dynamic.trace import PRED, TRUE, Site
from losslint.findings import Finding, Pass, RelatedLocation, Severity, sort_findings
from losslint.rule import Rule

_MAX_ELEMENTS = 4_000_000  # larger probe tensors are traced but not run
_FILE_LINE = re.compile(r'File "([^"]+)", line (\d+)')
_SHAPE_ERROR = re.compile(
    r"shape|Shapes|Dimensions must be equal|rank|size-incompatible|Cannot reshape|"
    r"Input to reshape|must have the same|not compatible|broadcast",
    re.IGNORECASE,
)


# ---- arrays --------------------------------------------------------------------------------


def as_array(value: Any) -> np.ndarray:
    if hasattr(value, "numpy"):
        value = value.numpy()
    return np.asarray(value)


def adapter_dtype(array: np.ndarray) -> np.dtype:
    """The dtype Keras' data adapters give a target: floats become float32, ints stay."""
    if array.dtype.kind == "f" or array.dtype.kind == "c":
        return np.dtype("float32")
    if array.dtype.kind in "iu":
        return array.dtype
    if array.dtype.kind == "b":
        return array.dtype
    return np.dtype("float32")


def tile(array: np.ndarray, size: int) -> np.ndarray:
    """`size` rows, cycling through the array's rows."""
    return array[np.arange(size) % array.shape[0]]


# ---- where things are ----------------------------------------------------------------------


def _def_site(fn: Any, user: Container[str]) -> Site | None:
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


def describe(identifier: Any, resolved: Any, user: Container[str], role: str = "loss") -> LossInfo:
    """What a loss identifier is, for messages and locations."""
    target = identifier
    if isinstance(target, functools.partial):
        target = target.func
    if isinstance(target, str):
        return LossInfo(f"{role} `{target}`", target, None, "builtin", getattr(resolved, "fn", None))
    if isinstance(target, keras.losses.Loss) and not isinstance(target, LossFunctionWrapper):
        site = _def_site(type(target).call, user)
        if site is None and _overrides_dunder_call(target):
            site = _def_site(type(target).__call__, user)
        name = type(target).__name__
        kind = "loss-subclass" if site is not None else "builtin"
        return LossInfo(f"{role} `{name}`", name, site, kind)
    if isinstance(target, LossFunctionWrapper):
        fn = target.fn
        site = _def_site(fn, user)
        name = getattr(fn, "__name__", type(target).__name__)
        if site is None:
            return LossInfo(f"{role} `{type(target).__name__}`", type(target).__name__, None, "builtin", fn)
        return LossInfo(f"{role} `{name}`", name, site, "function")
    fn = target if inspect.isfunction(target) or inspect.ismethod(target) else getattr(type(target), "__call__", None)
    site = _def_site(fn, user) if fn is not None else None
    name = getattr(target, "__name__", type(target).__name__)
    if site is None:
        return LossInfo(f"{role} `{name}`", name, None, "builtin", target)
    return LossInfo(f"{role} `{name}`", name, site, "function")


def loss_name(identifier: Any) -> str:
    if isinstance(identifier, str):
        return identifier
    if isinstance(identifier, LossFunctionWrapper):
        return f"{type(identifier).__name__} {getattr(identifier.fn, '__name__', '')}"
    if isinstance(identifier, keras.losses.Loss):
        return type(identifier).__name__
    return getattr(identifier, "__name__", type(identifier).__name__)


def line_span(path: str, line: int) -> tuple[int, int]:
    """(column, end_column) covering the statement's text on the line."""
    text = linecache.getline(path, line).rstrip("\n")
    stripped = text.lstrip()
    if not stripped:
        return 1, 2
    column = len(text) - len(stripped) + 1
    return column, column + len(trace._without_comment(stripped))


def _frame_site(frame: traceback.FrameSummary) -> Site:
    return Site(os.path.abspath(frame.filename), int(frame.lineno or 1), frame.name)


def exception_site(exc: BaseException, user: Container[str], concrete: Any = None) -> Site | None:
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
            site = trace.op_site(op, user) if op is not None else None  # type: ignore[arg-type]
            if site is not None:
                return site
    return None


def exception_text(exc: BaseException) -> str:
    """`Type: message`, cleaned of TF's node/function decorations, on one line."""
    message = str(exc)
    message = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", message)
    lines = []
    for raw in message.splitlines():
        line = raw.strip()
        if not line or line.startswith("[[") or line.startswith("[Op:"):
            continue
        if line.startswith(("Traceback", "File ", "Detected at node", "defined at", "Arguments received by")):
            break
        if line.startswith("Exception encountered when calling"):
            continue  # Keras' wrapper of an error in a layer's call: the lines after it say what
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


# ---- calling losses the way Keras does -----------------------------------------------------


LossPath = Callable[[Any, Any], tuple[Any, Any]]


def _overrides_dunder_call(loss: Any) -> bool:
    """A `keras.losses.Loss` subclass that overrides `__call__` itself."""
    return isinstance(loss, keras.losses.Loss) and type(loss).__call__ is not keras.losses.Loss.__call__


def loss_path(loss: Any) -> LossPath:
    """What Keras' `Loss.__call__` does (cast both to the loss dtype, `call`, reduce), also
    returning the unreduced per-sample values `call` gave."""

    if _overrides_dunder_call(loss):
        # compile calls the object, so a subclass's own `__call__` is what runs in fit (it may
        # never call `call`); it gives the reduced value only.
        def own(y_true: Any, y_pred: Any) -> tuple[Any, Any]:
            total = loss(y_true, y_pred)
            return total, total

        return own

    def path(y_true: Any, y_pred: Any) -> tuple[Any, Any]:
        dtype = loss.dtype
        y_pred = keras.ops.convert_to_tensor(y_pred, dtype=dtype)
        y_true = keras.ops.convert_to_tensor(y_true, dtype=dtype)
        per = loss.call(y_true, y_pred)
        if any(isinstance(v, keras.KerasTensor) for v in leaves(per)):
            raise ValueError(
                "A KerasTensor cannot be used as input to a TensorFlow function: the loss returned a "
                "symbolic KerasTensor, computed from a keras.Input or layer output it holds"
            )
        total = reduce_weighted_values(per, reduction=loss.reduction, dtype=dtype)
        return total, per

    return path


def metric_path(fn: Callable) -> LossPath:
    """A function metric as Keras' MeanMetricWrapper calls it: no rank alignment, no cast."""

    def path(y_true: Any, y_pred: Any) -> tuple[Any, Any]:
        values = keras.ops.convert_to_tensor(fn(y_true, y_pred))
        return keras.ops.mean(keras.ops.cast(values, "float32")), values

    return path


def value_and_grad(
    path: LossPath, y_true: Any, y_pred: Any, gradient: bool = True,
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


# ---- what the checks see -------------------------------------------------------------------


@dataclass
class Output:
    index: int
    name: str
    values: np.ndarray  # the model's output for the probe rows
    layer: Any = None


@dataclass
class Pair:
    """One loss (or metric) applied to one output and one target."""

    identifier: Any
    output: Output
    target: np.ndarray | None  # real target rows (tiled like the outputs); None if unknown
    target_name: str | None
    role: str = "loss"
    # The model overrides train_step/test_step/compute_loss: what it hands the loss as y_pred
    # is unknown, so y_pred is guessed to have the targets' shape and only failures that do
    # not depend on shapes (LL111, LL105) are reported.
    guessed: bool = False


def synthetic_target(pair: Pair, rng: np.random.Generator) -> np.ndarray:
    """Targets for a script that never called fit: shaped like the output, with values the
    loss can take (integer labels for sparse crossentropies, one-hot rows for categorical)."""
    values = pair.output.values
    name = loss_name(pair.identifier).lower()
    classes = values.shape[-1] if values.ndim > 1 else 1
    if "sparse" in name:
        return rng.integers(0, max(classes, 1), size=values.shape[:-1]).astype(np.int64)
    if "categorical" in name and values.ndim > 1:
        labels = rng.integers(0, classes, size=values.shape[:-1])
        return np.eye(classes, dtype=np.float32)[labels]
    if any(word in name for word in ("binary", "hinge", "crossentropy", "focal")):
        return rng.integers(0, 2, size=values.shape).astype(np.float32)
    return rng.uniform(0.0, 1.0, size=values.shape).astype(np.float32)


@dataclass
class RunResult:
    size: int | None  # None: the trace with an unknown batch dimension, like fit's
    error: BaseException | None = None
    site: Site | None = None
    concrete: Any = None
    total: float | None = None
    per_shape: tuple[int, ...] | None = None


@dataclass
class _Note:
    """A finding under construction, merged across outputs that share the same loss."""

    rule: Rule
    site: Site
    message: str
    fix: str
    scope: Site | None
    outputs: list[str] = field(default_factory=list)
    severity: Severity | None = None


class Reporter:
    """The findings of one model's probe: one per (rule, line), whatever the outputs."""

    def __init__(self, compile_where: SourceLine | None) -> None:
        self.compile_where = compile_where
        self.notes: dict[tuple[str, str, int], _Note] = {}
        self.model_findings: list[Finding] = []

    def compile_site(self) -> Site | None:
        where = self.compile_where
        if where is not None:
            return Site(os.path.abspath(where.path), where.line, "")
        return None

    def note(
        self, rule: Rule, site: Site, message: str, fix: str, scope: Site | None, output: str,
        severity: Severity | None = None,
    ) -> None:
        key = (rule.code, site.path, site.line)
        note = self.notes.get(key)
        if note is None:
            self.notes[key] = _Note(rule, site, message, fix, scope, [output], severity)
        elif output not in note.outputs:
            note.outputs.append(output)

    def model_finding(self, rule: Rule, where: SourceLine | None, message: str, fix: str) -> None:
        if where is None:
            return
        column, end = line_span(where.path, where.line)
        if where.column and where.column > 1:
            column = where.column
        self.model_findings.append(Finding(
            code=rule.code, name=rule.name, severity=rule.severity, path=os.path.abspath(where.path),
            line=where.line, column=column, end_line=where.line, end_column=max(end, column + 1),
            message=message, fix=fix, pass_=Pass.DYNAMIC,
        ))

    def findings(self) -> list[Finding]:
        findings = list(self.model_findings)
        related: tuple[RelatedLocation, ...] = ()
        where = self.compile_where
        if where is not None:
            related = (RelatedLocation(os.path.abspath(where.path), where.line, where.column or 1, "compile call"),)
        for note in self.notes.values():
            rule = note.rule
            message = note.message
            if len(note.outputs) > 1:
                message += f" (the same on output{'s' if len(note.outputs) > 2 else ''} " \
                           f"{quoted(note.outputs[1:])})"
            column, end = line_span(note.site.path, note.site.line)
            findings.append(Finding(
                code=rule.code, name=rule.name, severity=note.severity or rule.severity,
                path=note.site.path, line=note.site.line, column=column, end_line=note.site.line,
                end_column=max(end, column + 1), message=message, fix=note.fix, pass_=Pass.DYNAMIC,
                related=related, scope_line=note.scope.line if note.scope is not None else None,
            ))
        return sort_findings(findings)


@dataclass(frozen=True)
class ForwardFailure:
    """The model failed on the first rows of the batch and ran on the whole batch: it depends on
    the batch size (a layer built for a fixed one)."""

    failed_rows: int
    ran_rows: int
    error: BaseException


@dataclass
class ModelContext:
    """The compiled model as a model-level check sees it. Before the forward pass (stage
    MODEL) only `model`, `compile`, `fit` and `user` are set."""

    model: Any
    compile: CompileRecord
    fit: FitRecord | None
    user: Container[str]
    rng: np.random.Generator
    reporter: Reporter
    outputs: list[Output] = field(default_factory=list)
    loss: Any = None
    loss_weights: Any = None
    y_pred: Any = None  # the outputs' structure (arrays)
    y: Any = None  # the real targets' structure; None when fit's data is unknown
    # The model overrides train_step/test_step/compute_loss: the compiled loss may get anything.
    custom_step: bool = False
    pairing_error: str | None = None  # what Keras' CompileLoss said when pairing failed
    sample_weighted: bool = False  # fit gets sample weights or class weights
    forward_failure: ForwardFailure | None = None

    @property
    def outputs_text(self) -> str:
        return ", ".join(f"'{o.name}'" for o in self.outputs)

    def report(self, rule: Rule, where: SourceLine | None, message: str, fix: str) -> None:
        """A finding about the model or the compile/fit call, at `where`."""
        self.reporter.model_finding(rule, where, message, fix)


@dataclass
class PairContext:
    """One (output, loss) pair: the loss resolved as Keras resolves it, the path Keras calls
    it through, and the targets it is probed with (the real ones, or made from the output)."""

    model: ModelContext
    pair: Pair
    info: LossInfo
    resolved: Any  # the keras.losses.Loss that Keras calls (None for a metric)
    path: LossPath | None  # None only when Keras could not resolve the loss (RunsContext.failure "resolve")
    target: np.ndarray  # pair.target, or synthesised from the output's shape

    @property
    def output(self) -> Output:
        return self.pair.output

    @property
    def user(self) -> Container[str]:
        return self.model.user

    @property
    def fit(self) -> FitRecord | None:
        return self.model.fit

    @property
    def rng(self) -> np.random.Generator:
        return self.model.rng

    def assumed_targets(self) -> str:
        """For a message: what the probe assumed when the script never called fit."""
        if self.pair.target is not None:
            return ""
        return (
            f" (the script never called fit, so targets shaped like the output "
            f"{shape_text(spec_shape(self.output.values))} were assumed)"
        )

    def fallback_site(self) -> Site | None:
        """The loss's def line, else the compile call."""
        if self.info.def_site is not None:
            return self.info.def_site
        return self.model.reporter.compile_site()

    def report(
        self, rule: Rule, site: Site | None, message: str, fix: str, severity: Severity | None = None,
    ) -> None:
        """A finding at `site` (default: the loss's def line), merged with the same finding
        on the loss's other outputs."""
        site = site or self.fallback_site()
        if site is None:
            return
        self.model.reporter.note(rule, site, message, fix, self.info.def_site, self.output.name, severity)

    def run(self, size: int | None, path: LossPath | None = None, target: np.ndarray | None = None) -> RunResult:
        """Trace the loss at batch `size` (None: unknown, as fit traces) and run it there on
        the target and output rows, tiled to that size."""
        path = path or self.path
        assert path is not None
        target = self.target if target is None else target
        y_pred = self.output.values
        dtype = tf.as_dtype(adapter_dtype(target))
        result = RunResult(size)
        true_spec = tf.TensorSpec((size, *target.shape[1:]), dtype, name="y_true")
        pred_spec = tf.TensorSpec((size, *y_pred.shape[1:]), tf.float32, name="y_pred")
        function = tf.function(lambda y_true, y_pred: path(y_true, y_pred), autograph=False, reduce_retracing=False)
        try:
            result.concrete = function.get_concrete_function(true_spec, pred_spec)
        except Exception as exc:  # noqa: BLE001 - the user's loss fails at trace time
            result.error = exc
            result.site = exception_site(exc, self.user)
            return result
        if size is None:
            return result  # fit runs it at the real sizes, probed separately
        if size * max(int(np.prod(y_pred.shape[1:])), int(np.prod(target.shape[1:])), 1) > _MAX_ELEMENTS:
            return result  # too big to run cheaply: the trace at this size checked the static shapes
        try:
            total, per = result.concrete(
                tf.constant(tile(target, size).astype(dtype.as_numpy_dtype)),
                tf.constant(tile(y_pred, size)),
            )
            result.total = float(np.asarray(total).reshape(-1)[0]) if np.size(total) else 0.0
            if np.size(total) > 1:
                result.total = float(np.mean(total))
            result.per_shape = tuple(per.shape)
        except Exception as exc:  # noqa: BLE001 - a runtime failure (shape at run time)
            result.error = exc
            result.site = exception_site(exc, self.user, result.concrete)
        return result

    def rows(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        """(y_true, y_pred) at batch `size`, float32: the target and output rows, tiled."""
        return tile(self.target, size).astype(np.float32), tile(self.output.values, size)

    def evaluate(
        self, y_true: np.ndarray, y_pred: np.ndarray, gradient: bool = True,
    ) -> tuple[float, np.ndarray | None, np.ndarray | None]:
        """(total, per-sample values, gradient w.r.t. y_pred) at other inputs; raises what the loss raises."""
        assert self.path is not None
        return value_and_grad(self.path, tf.constant(y_true), tf.constant(y_pred), gradient=gradient)

    def non_finite_site(self, y_true: np.ndarray, y_pred: np.ndarray) -> Site | None:
        """The user's line of the first op that produces NaN/Inf on these inputs: the trace
        returns every floating-point intermediate made in user code, in creation order."""
        sites: list[Site] = []
        user = self.user
        path = self.path
        assert path is not None

        def fetch_all(y_true: Any, y_pred: Any) -> list[Any]:
            path(y_true, y_pred)
            fetches = []
            for op in tf.compat.v1.get_default_graph().get_operations():
                site = trace.op_site(op, user)  # type: ignore[arg-type]
                if site is None:
                    continue
                for t in op.outputs:
                    if t.dtype.is_floating:
                        fetches.append(t)
                        sites.append(site)
            return fetches

        try:
            values = tf.function(fetch_all, autograph=False)(tf.constant(y_true), tf.constant(y_pred))
        except Exception:  # noqa: BLE001
            return None
        for value, site in zip(values, sites):
            if not np.all(np.isfinite(np.asarray(value))):
                return site
        return None

    def ops(self, run: RunResult) -> list[trace.OpInfo]:
        """The ops of a traced run, with the roles (y_true, y_pred) their inputs depend on."""
        return trace.walk(run.concrete, [TRUE, PRED], self.user)  # type: ignore[arg-type]


@dataclass
class RunsContext(PairContext):
    """The loss traced with an unknown batch dimension, as fit traces it, then run at each
    batch size in `sizes` (`why` says why a size is there). `failure` says what failed:
    "resolve" (Keras cannot make a loss of it), "unknown-batch" (only the trace with an
    unknown batch dimension), "trace" (the trace, and some fixed size too or none ran),
    "some-sizes", "all-sizes", or None (everything ran)."""

    trace_run: RunResult | None = None
    runs: dict[int, RunResult] = field(default_factory=dict)
    sizes: list[int] = field(default_factory=list)
    analysis: int = 0  # the size whose trace the GRAPH and VALUES checks see
    why: dict[int, str] = field(default_factory=dict)
    failure: str | None = None
    error: BaseException | None = None  # the failure checks explain (resolve, trace or first size)
    # When every batch size failed: the run at the number of samples fit got, if it was tried
    # (a loss holding an array with one row per training sample runs only there).
    at_data_size: RunResult | None = None

    @property
    def shape_error(self) -> bool:
        """The error reads as a shape or value mismatch (TF's InvalidArgumentError included)."""
        error = self.error
        return error is not None and bool(
            _SHAPE_ERROR.search(str(error)) or isinstance(error, tf.errors.InvalidArgumentError)
        )

    @property
    def error_text(self) -> str:
        return exception_text(self.error) if self.error is not None else ""

    @property
    def ok(self) -> list[int]:
        return [s for s in self.sizes if self.runs[s].error is None]

    @property
    def bad(self) -> list[int]:
        return [s for s in self.sizes if self.runs[s].error is not None]

    @property
    def failed_run(self) -> RunResult | None:
        """The run whose error the checks explain: the trace's, else the first failing size's."""
        if self.trace_run is not None and self.trace_run.error is not None:
            return self.trace_run
        bad = self.bad
        return self.runs[bad[0]] if bad else None

    def failure_at(self) -> tuple[Site | None, str]:
        """Where the failing run failed in the user's code (else the loss's def line), and
        " (line N)" for a message (empty when no user line is known)."""
        run = self.failed_run
        site = run.site if run is not None else None
        return site or self.info.def_site, f" (line {site.line})" if site is not None else ""

    def sized(self, sizes: list[int]) -> str:
        """"32 (the batch size fit uses) and 3"."""
        return and_join([f"{s} ({self.why[s]})" if s in self.why else str(s) for s in sizes])

    def analysis_ops(self) -> list[trace.OpInfo] | None:
        """The ops of the loss at the first of a few small batch sizes where it runs."""
        # A fresh synthetic target when there is no real one, as the first probe drew its own.
        target = self.pair.target if self.pair.target is not None else synthetic_target(self.pair, self.rng)
        path = loss_path(get_loss(self.pair.identifier, tf.constant(target), tf.constant(self.output.values)))
        for size in (4, 6, 8):
            run = self.run(size, path, target)
            if run.error is None and run.concrete is not None:
                return self.ops(run)
        return None

    def numerics_site(self, size: int) -> Site | None:
        """The user's line of the first op that produces NaN/Inf at batch `size`."""
        return self.non_finite_site(*self.rows(size))


@dataclass
class GraphContext(PairContext):
    """The ops of the loss (or function metric) traced at batch `size`."""

    ops: list[trace.OpInfo] = field(default_factory=list)
    size: int = 0
    metric: bool = False

    def shape_at_size(self, array: np.ndarray) -> str:
        return shape_text(tile(array, self.size).shape)


@dataclass
class ValuesContext(PairContext):
    """The loss evaluated eagerly at batch `size` on the tiled rows (`y_true`, `y_pred`, as
    float32 arrays): its value `total`, the per-sample values `per` that `call` returned, and
    the gradient `grad` w.r.t. y_pred (None when it does not depend on y_pred)."""

    ops: list[trace.OpInfo] = field(default_factory=list)
    size: int = 0
    y_true: np.ndarray | None = None
    y_pred: np.ndarray | None = None
    total: float = 0.0
    per: np.ndarray | None = None
    grad: np.ndarray | None = None

    def dependence(self) -> tuple[dict[int, set[int]], dict[int, set[int]]] | None:
        """For each sample i, the other samples j whose prediction (first dict) or target
        (second) sample i's loss depends on: the Jacobian of the per-sample losses."""
        n = self.size
        y_true = tf.constant(self.y_true)
        y_pred = tf.constant(self.y_pred)
        pred_links: dict[int, set[int]] = {}
        true_links: dict[int, set[int]] = {}
        try:
            with tf.GradientTape(persistent=True) as tape:
                tape.watch([y_true, y_pred])
                _, per = self.path(y_true, y_pred)
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
        return pred_links, true_links


def _other_rows(g: np.ndarray, i: int) -> set[int]:
    mags = np.abs(g.reshape(g.shape[0], -1)).max(axis=1) if g.ndim else np.zeros(0)
    top = float(mags.max()) if mags.size else 0.0
    if top == 0.0 or not np.isfinite(top):
        return set()
    return {j for j, m in enumerate(mags) if j != i and m > 1e-5 * top}
