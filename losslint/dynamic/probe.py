"""The dynamic probe of a live compiled Keras model: call every loss the way Keras 3 calls it,
with tensors of the real shapes, and hand what happened to the rules' dynamic checks.

Entry point: `probe_model(compile, fit, user_files)`. The probe takes one real batch (or
inputs shaped like the model's), runs the model forward, and pairs losses, outputs and
targets with Keras' own `CompileLoss`, so lists, dicts, loss weights and targets pair up
exactly as in `fit`. Then, stage by stage (rule.Stage), it builds a context
(losslint/dynamic/context.py) and runs the checks the rules register for that stage:

- MODEL and STRUCTURE: the model, then the pairing of losses, outputs and targets;
- for every (output, loss) pair: TARGETS before the loss runs; RUNS after tracing it like
  fit (graph mode, no autograph, unknown batch dimension) and running it at the real batch
  size, two small ones and the last partial batch; then for a Keras built-in loss BUILTIN,
  and for a user-written one GRAPH (its ops) and VALUES (its values and gradients).

Custom *function metrics* go through RUNS and GRAPH too, because Keras 3 does not align
their target rank (keras3-facts.md case 3).
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras.src.trainers.compile_utils import CompileLoss, get_loss

from losslint import registry
from losslint.dynamic.capture import CompileRecord, FitRecord
from losslint.dynamic.context import (
    ForwardFailure,
    GraphContext,
    ModelContext,
    Output,
    Pair,
    PairContext,
    Reporter,
    RunsContext,
    ValuesContext,
    adapter_dtype,
    as_array,
    describe,
    exception_text,
    loss_name,
    loss_path,
    metric_path,
    synthetic_target,
)
from losslint.dynamic.describe import leaves, loss_leaves
from losslint.dynamic.trace import UserFiles
from losslint.findings import Finding
from losslint.rule import Stage

# Batch sizes tried besides the real one, in order of preference; the first two that are no
# dimension of the targets or outputs are used (so a broadcast or a reshape cannot hide
# behind a coincidence of sizes).
_SMALL_SIZES = (3, 5, 7, 4, 6, 11, 13, 17)
_MAX_ROWS = 8  # rows of the real batch fed through the model
_DEFAULT_BATCH = 32  # Keras' default batch size
# Inputs tried on a model that was never built when its data is not there, in order.
_GUESSED_INPUTS = (
    ((4, 32), "float32"), ((4, 32, 32, 3), "float32"), ((4, 32, 32, 1), "float32"),
    ((4, 32, 32), "float32"), ((4, 32), "int32"),
)


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


def _rows(struct: Any, index: np.ndarray) -> Any:
    return _map(struct, lambda a: as_array(a)[index])


def _n_rows(struct: Any) -> int | None:
    for leaf in leaves(struct):
        if leaf is None:
            continue
        array = as_array(leaf)
        if array.ndim:
            return int(array.shape[0])
    return None


# ---- the pairing of outputs, targets and losses ----------------------------------------


class _StructureError(Exception):
    """Raised by Keras' own CompileLoss on the structures."""


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
        index = len(specs)
        specs.append(spec)

        def marker(y_t: Any, y_p: Any, _i: int = index) -> Any:
            t = int(round(float(tf.reshape(tf.cast(y_t, tf.float32), [-1])[0])))
            p = int(round(float(tf.reshape(tf.cast(y_p, tf.float32), [-1])[0])))
            calls.append((_i, p - 1, t - 1))
            return tf.reduce_mean(tf.cast(y_p, tf.float32)) * 0.0

        marker.__name__ = f"losslint_marker_{index}"
        return marker

    specs: list[Any] = []
    markers = replace(loss)
    counter = iter(range(1, 10_000))
    pred_marks = _map(y_pred, lambda a: tf.fill((2, *as_array(a).shape[1:]), float(next(counter))))
    counter = iter(range(1, 10_000))

    def true_mark(a: Any) -> Any:
        array = as_array(a)
        dtype = adapter_dtype(array)
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
        raise _StructureError(exception_text(exc)) from exc
    return calls


def _key_name(key: Any) -> str | None:
    return key if isinstance(key, str) else None


def _custom_step(model: Any) -> bool:
    """The model overrides the steps or compute_loss: the compiled loss may get anything."""
    base = keras.Model
    return any(
        getattr(type(model), name, None) is not getattr(base, name, None)
        for name in ("train_step", "test_step", "compute_loss")
    )


# ---- the probe of one model ------------------------------------------------------------


class _ModelProbe:
    def __init__(self, compile: CompileRecord, fit: FitRecord | None, user: Container[str]) -> None:
        self.compile = compile
        self.fit = fit
        self.user = user
        self.model = compile.model
        self.reporter = Reporter(compile.where)
        self.rng = np.random.default_rng(0)
        self.checks = {stage: registry.dynamic_checks(stage) for stage in Stage}
        self.forward_ok = False
        self.guess_inputs = False
        self.guessed_inputs = False
        self.targets_known = False
        self.probed: list[str] = []

    def _stage(self, stage: Stage, ctx: Any) -> bool:
        """Run the stage's checks until one explains what it saw."""
        return any(check(ctx) for check in self.checks[stage])

    # -- entry ---------------------------------------------------------------------------

    def run(self) -> list[Finding]:
        kwargs = dict(self.compile.kwargs or {})
        config = getattr(getattr(self.model, "_compile_config", None), "config", None) or {}
        loss = kwargs.get("loss", config.get("loss", getattr(self.model, "loss", None)))
        loss_weights = kwargs.get("loss_weights", config.get("loss_weights"))
        metrics = [kwargs.get(key, config.get(key)) for key in ("metrics", "weighted_metrics")]
        ctx = ModelContext(self.model, self.compile, self.fit, self.user, self.rng, self.reporter)
        self._stage(Stage.MODEL, ctx)
        x, y, sample_weight = self._batch()
        forward = self._forward(x, ctx)
        if forward is None:
            return self.reporter.findings()
        y_pred_struct, outputs = forward
        self.forward_ok = True
        ctx.outputs = outputs
        self._stage(Stage.FORWARD, ctx)
        self.targets_known = y is not None
        ctx.sample_weighted = sample_weight is not None or bool(
            self.fit is not None and (self.fit.sample_weight is not None or self.fit.class_weight is not None)
        )
        target_struct = y if y is not None else _map(y_pred_struct, lambda a: a)
        targets = [(_key_name(k), as_array(v)) for k, v in _flatten(target_struct)]
        ctx.custom_step = _custom_step(self.model)
        if ctx.custom_step:
            if y is None:
                return self.reporter.findings()  # neither the predictions nor the targets are known
            y_pred_struct = _map(y, lambda a: self._guess_prediction(as_array(a)))
            outputs = [
                Output(i, name or (outputs[i].name if i < len(outputs) else f"output_{i}"), as_array(values))
                for i, (name, values) in enumerate((_key_name(k), v) for k, v in _flatten(y_pred_struct))
            ]
        ctx.outputs, ctx.loss, ctx.loss_weights, ctx.y_pred, ctx.y = outputs, loss, loss_weights, y_pred_struct, y
        pairs: list[Pair] = []
        if loss is not None:
            try:
                pairing = _keras_pairing(loss, loss_weights, self._output_names(), y_pred_struct, target_struct)
            except _StructureError as exc:
                ctx.pairing_error, pairing = str(exc), []
            if self._stage(Stage.STRUCTURE, ctx) or ctx.pairing_error is not None:
                return self.reporter.findings()
            specs = loss_leaves(loss)
            for leaf_index, out_index, target_index in pairing:
                if not (0 <= out_index < len(outputs)) or not (0 <= target_index < len(targets)):
                    continue
                name, values = targets[target_index]
                pairs.append(Pair(
                    specs[leaf_index], outputs[out_index],
                    values if self.targets_known else None, name, guessed=ctx.custom_step,
                ))
        for pair in pairs:
            self.probed.append(loss_name(pair.identifier))
            try:
                self._probe_pair(ctx, pair)
            except Exception as exc:  # noqa: BLE001 - one pair's probe bug must not lose the others
                warnings.warn(
                    f"losslint: internal error while probing loss {loss_name(pair.identifier)!r} on output "
                    f"'{pair.output.name}': {type(exc).__name__}: {exc}",
                    RuntimeWarning, stacklevel=2,
                )
        for spec in metrics:
            self._probe_metrics(ctx, spec, pairs, targets)
        return self.reporter.findings()

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

    def _forward(self, x: Any, ctx: ModelContext) -> tuple[Any, list[Output]] | None:
        """The model's outputs on up to 8 real input rows (or dummy inputs shaped like the
        model's inputs): the y_pred values every probe uses. A model that fails on those rows but
        runs on the whole batch depends on the batch size: `ctx.forward_failure` says so, and
        its outputs on the batch's first rows are used."""
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
        except Exception as error:  # noqa: BLE001 - the model itself fails: not a loss problem
            if rows is None or rows <= k:
                return None
            try:
                y_pred = model(x, training=False)
            except Exception:  # noqa: BLE001 - at every size: the script's own problem
                return None
            ctx.forward_failure = ForwardFailure(k, rows, error)
            y_pred = _map(y_pred, lambda t: as_array(t)[:k])
        return self._outputs(y_pred)

    def _forward_guessed(self) -> tuple[Any, list[Output]] | None:
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

    def _outputs(self, y_pred: Any) -> tuple[Any, list[Output]]:
        y_pred = _map(y_pred, lambda t: as_array(t).astype(np.float32))
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
            outputs.append(Output(i, name, values, layers[i] if i < len(layers) else None))
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

    # -- one (output, loss) pair ---------------------------------------------------------

    def _probe_pair(self, model: ModelContext, pair: Pair) -> None:
        target = pair.target if pair.target is not None else synthetic_target(pair, self.rng)
        try:
            resolved = get_loss(pair.identifier, tf.constant(target), tf.constant(pair.output.values))
        except Exception as exc:  # noqa: BLE001 - reported by the RUNS checks
            info = describe(pair.identifier, None, self.user)
            self._stage(Stage.RUNS, RunsContext(model, pair, info, None, None, target, failure="resolve", error=exc))
            return
        info = describe(pair.identifier, resolved, self.user)
        ctx = PairContext(model, pair, info, resolved, loss_path(resolved), target)
        if self._stage(Stage.TARGETS, ctx):
            return
        runs = self._runs(ctx)
        if self._stage(Stage.RUNS, runs) or runs.failure is not None or pair.guessed:
            return
        if info.kind == "builtin":
            self._stage(Stage.BUILTIN, ctx)
            return
        size = runs.analysis
        run = runs.runs.get(size)
        if run is None or run.concrete is None:
            return
        graph = GraphContext(model, pair, info, resolved, ctx.path, target, ops=ctx.ops(run), size=size)
        if self._stage(Stage.GRAPH, graph):
            return  # a broadcast: the numbers below would only echo it
        y_true, y_pred = ctx.rows(size)
        try:
            total, per, grad = ctx.evaluate(y_true, y_pred)
        except Exception:  # noqa: BLE001 - second evaluation failing eagerly: nothing more to learn
            return
        if not np.isfinite(total):
            return
        self._stage(Stage.VALUES, ValuesContext(
            model, pair, info, resolved, ctx.path, target, ops=graph.ops, size=size,
            y_true=y_true, y_pred=y_pred, total=total, per=per, grad=grad,
        ))

    def _small_sizes(self, ctx: PairContext) -> list[int]:
        dims = set(ctx.output.values.shape[1:]) | set(ctx.target.shape[1:])
        return [s for s in _SMALL_SIZES if s not in dims][:2] or [3, 5]

    def _sizes(self, ctx: PairContext) -> tuple[list[int], int, dict[int, str]]:
        """The batch sizes to run, the one whose trace the GRAPH and VALUES checks see (a small
        one that is no dimension of the targets or outputs), and why each size is there."""
        small = self._small_sizes(ctx)
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

    def _runs(self, ctx: PairContext) -> RunsContext:
        """Trace like fit, then run at each batch size, and say what failed."""
        trace_run = ctx.run(None)
        sizes, analysis, why = self._sizes(ctx)
        runs = RunsContext(ctx.model, ctx.pair, ctx.info, ctx.resolved, ctx.path, ctx.target,
                           trace_run=trace_run, runs={size: ctx.run(size) for size in sizes}, sizes=sizes,
                           analysis=analysis, why=why)
        ok, bad = runs.ok, runs.bad
        if trace_run.error is not None:
            # Runs at every fixed batch size: it is the unknown batch dimension that fails.
            runs.failure = "unknown-batch" if ok and not bad else "trace"
        elif bad:
            runs.failure = "some-sizes" if ok else "all-sizes"
        failed = runs.failed_run
        runs.error = failed.error if failed is not None else None
        data_size = int(self.fit.data_size) if self.fit is not None and self.fit.data_size else None
        if runs.failure in ("trace", "all-sizes") and trace_run.error is None and data_size and data_size not in sizes:
            runs.at_data_size = ctx.run(data_size)
        return runs

    # -- metrics -------------------------------------------------------------------------

    def _probe_metrics(
        self, model: ModelContext, metrics: Any, pairs: list[Pair], targets: list[tuple[str | None, np.ndarray]],
    ) -> None:
        if not metrics:
            return
        outputs = model.outputs
        n_out = len(outputs)
        per_output: list[list[Any]] = [[] for _ in range(n_out)]
        if n_out == 1:
            per_output[0] = leaves(metrics)
        elif isinstance(metrics, dict):
            for i, out in enumerate(outputs):
                if out.name in metrics:
                    per_output[i] = leaves(metrics[out.name])
        elif isinstance(metrics, (list, tuple)) and len(metrics) == n_out:
            for i, entry in enumerate(metrics):
                per_output[i] = leaves(entry)
        target_of = {p.output.index: p for p in pairs}
        for i, fns in enumerate(per_output):
            for fn in fns:
                if not callable(fn) or isinstance(fn, (keras.metrics.Metric, keras.losses.Loss)) or inspect.isclass(fn):
                    continue
                info = describe(fn, None, self.user, role="metric")
                if info.kind == "builtin":
                    continue
                pair = target_of.get(i)
                target = pair.target if pair is not None else (
                    targets[i][1] if self.targets_known and i < len(targets) else None
                )
                try:
                    self._probe_metric(model, Pair(fn, outputs[i], target, None, role="metric"), info)
                except Exception as exc:  # noqa: BLE001
                    warnings.warn(f"losslint: internal error while probing {info.label}: {type(exc).__name__}: {exc}",
                                  RuntimeWarning, stacklevel=2)

    def _probe_metric(self, model: ModelContext, pair: Pair, info: Any) -> None:
        target = pair.target if pair.target is not None else synthetic_target(pair, self.rng)
        ctx = PairContext(model, pair, info, None, metric_path(pair.identifier), target)
        runs = self._runs(ctx)
        if self._stage(Stage.RUNS, runs) or runs.failure is not None:
            return
        size = runs.analysis
        run = runs.runs.get(size)
        if run is None or run.concrete is None:
            return
        self._stage(Stage.GRAPH, GraphContext(
            model, pair, info, None, ctx.path, target, ops=ctx.ops(run), size=size, metric=True,
        ))
