"""Measure, on the same weights and the same batch, the loss a custom
`train_step` reports, the compiled loss the default step would compute, and what `test_step`
(evaluate, val_loss) reports, and compare the gradient the step applies with the gradient of
the compiled loss. Everything the measurement touches is restored bit for bit afterwards.
What the numbers mean is LL302's (losslint/rules/ll302_loss_discrepancy.py).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Container, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from losslint import registry
from losslint.dynamic.capture import CompileRecord, FitRecord, SourceLine
from losslint.dynamic.context import line_span
from losslint.dynamic.step_trace import trace_step
from losslint.dynamic.trace import OpInfo, Site, UserFiles
from losslint.findings import Finding, Pass, RelatedLocation
from losslint.rule import Rule, Stage

_STEP_METHODS = ("train_step", "test_step", "compute_loss")
_NOISE_LAYERS = ("Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
                 "GaussianNoise", "GaussianDropout", "AlphaDropout")


@dataclass
class Measurement:
    """What one probe of a custom step measured (floats, None when not measurable)."""

    batch_size: int
    reported: float | None = None  # the `loss` entry of train_step's logs
    compiled: float | None = None  # model.compute_loss on the same weights and batch
    compiled_unweighted: float | None = None  # the same without sample weights
    regularization: float = 0.0  # sum of model.losses
    mean_prediction: float | None = None
    evaluated: float | None = None  # test_step's `loss`
    unreset_trackers: list[str] = field(default_factory=list)  # updated, but not in model.metrics
    compute_loss_calls: int = 0
    epoch_end_zero: bool = False  # fit shows Keras' never-updated `loss` tracker: 0.0
    epoch_end_crash: bool = False  # fit's epoch-end metric read fails: compile metrics never built
    gradient_cosine: float | None = None  # applied gradient vs gradient of the compiled loss
    gradient_ratio: float | None = None  # |applied| / |compiled gradient|


def overridden_steps(model: Any) -> dict[str, Any]:
    """The step methods a user class defines below keras.Model."""
    import keras

    found: dict[str, Any] = {}
    for cls in type(model).__mro__:
        if cls is keras.Model or cls.__module__.startswith(("keras.", "tf_keras.")):
            break
        for name in _STEP_METHODS:
            if name in cls.__dict__ and name not in found:
                found[name] = cls.__dict__[name]
    return found


def _scalar(value: Any) -> float | None:
    if value is None:
        return None
    if hasattr(value, "result") and callable(value.result):
        value = value.result()
    try:
        import numpy as np

        array = np.asarray(value, dtype="float64")
        return float(array.mean()) if array.size else None
    except (TypeError, ValueError):
        return None


def _live_metrics() -> list[Any]:
    """Every Metric object in the process: a step may update trackers the model does not list
    (a module-level `loss_tracker = keras.metrics.Mean()`), and the probe must restore them too."""
    import gc

    import keras

    return [obj for obj in gc.get_objects() if isinstance(obj, keras.metrics.Metric)]


class _Snapshot:
    """Model, optimizer and metric variables, to put back exactly as they were."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.metrics = _live_metrics()
        self.saved = [(v, v.numpy().copy()) for v in self._variables()]
        self.known = {id(v) for v, _ in self.saved}

    def _metrics(self) -> list[Any]:
        metrics = list(self.metrics)
        for extra in (*self.model.metrics, getattr(self.model, "_loss_tracker", None), getattr(self.model, "_compile_metrics", None)):
            if extra is not None and all(extra is not m for m in metrics):
                metrics.append(extra)
        return metrics

    def changed_metrics(self) -> list[Any]:
        import numpy as np

        saved = {id(v): value for v, value in self.saved}
        return [
            m for m in self._metrics()
            if any(id(v) in saved and not np.array_equal(v.numpy(), saved[id(v)]) for v in m.variables)
        ]

    def _variables(self) -> list[Any]:
        seen: dict[int, Any] = {}
        groups = [self.model.variables]
        if self.model.optimizer is not None:
            groups.append(self.model.optimizer.variables)
        groups.extend(m.variables for m in self._metrics())
        for group in groups:
            for variable in group:
                seen.setdefault(id(variable), variable)
        return list(seen.values())

    def restore(self) -> None:
        for variable, value in self.saved:
            variable.assign(value)
        # Metrics built during the probe (compile metrics build on first use) go back to zero.
        for metric in self._metrics():
            if any(id(v) not in self.known for v in metric.variables):
                metric.reset_state()


def _all_variables(metric: Any) -> list[Any]:
    """A metric's variables and those of the metrics it holds (CompileMetrics wraps others)."""
    found = list(metric.variables)
    for inner in getattr(metric, "_metrics", None) or getattr(metric, "metrics", None) or []:
        if hasattr(inner, "variables"):
            found.extend(inner.variables)
    return found


@contextmanager
def _deterministic(model: Any) -> Iterator[None]:
    """Dropout and noise layers pass their input through for the probe; seeds fixed."""
    import keras

    keras.utils.set_random_seed(0)
    patched = []
    for layer in model._flatten_layers(include_self=False):
        if type(layer).__name__ in _NOISE_LAYERS:
            layer.call = lambda inputs, training=None, **kwargs: inputs
            patched.append(layer)
    try:
        yield
    finally:
        for layer in patched:
            del layer.call


@contextmanager
def _recording(model: Any, measured: list) -> Iterator[list]:
    """Record the gradients the step hands to the optimizer, and count compute_loss calls."""
    optimizer = model.optimizer
    applied: list = []
    original_apply = optimizer.apply
    original_compute_loss = model.compute_loss

    def apply(grads: Any, trainable_variables: Any = None) -> Any:
        applied.append(list(grads))
        return original_apply(grads, trainable_variables)

    def compute_loss(*args: Any, **kwargs: Any) -> Any:
        measured.append(1)
        return original_compute_loss(*args, **kwargs)

    optimizer.apply = apply
    model.compute_loss = compute_loss
    try:
        yield applied
    finally:
        del optimizer.apply
        del model.compute_loss


def _flat_norm_and_dot(a: list, b: list) -> tuple[float, float, float]:
    import numpy as np

    na = nb = dot = 0.0
    for x, y in zip(a, b):
        if x is None or y is None:
            continue
        x, y = np.asarray(x, dtype="float64").ravel(), np.asarray(y, dtype="float64").ravel()
        na += float(x @ x)
        nb += float(y @ y)
        dot += float(x @ y)
    return math.sqrt(na), math.sqrt(nb), dot


def measure_model(model: Any, batch: tuple) -> Measurement:
    import tensorflow as tf

    x, y = batch[0], batch[1]
    sample_weight = batch[2] if len(batch) > 2 else None
    data = (x, y) if sample_weight is None else (x, y, sample_weight)
    size = int(tf.nest.flatten(x)[0].shape[0])
    m = Measurement(batch_size=size)
    if not model.built:  # a subclassed model is built by its first call, which fit makes first
        model(x, training=False)
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)

    with _deterministic(model):
        snapshot = _Snapshot(model)
        try:
            # 1. The compiled loss, as the default train_step computes it, and its gradient.
            with tf.GradientTape() as tape:
                y_pred = model(x, training=True)
                try:
                    compiled = model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True)
                except Exception:  # noqa: BLE001 - no loss in compile(), or the step reshapes
                    # y_pred before its loss (the default step could not run either): then only
                    # train_step and test_step are compared.
                    compiled = None
            if compiled is not None:
                m.compiled = _scalar(compiled)
                compiled_grads = tape.gradient(compiled, model.trainable_variables)
                if sample_weight is not None:
                    m.compiled_unweighted = _scalar(model.compute_loss(x=x, y=y, y_pred=y_pred, training=True))
            m.regularization = float(sum(_scalar(loss) or 0.0 for loss in model.losses))
            m.mean_prediction = _scalar(y_pred)
            snapshot.restore()

            # 2. The custom step: its logged loss and the update it applies (before test_step,
            #    which builds the compile metrics that an incomplete step would leave unbuilt).
            calls: list = []
            with _recording(model, calls) as applied:
                logs = model.train_step(data) or {}
            m.reported = _scalar(logs.get("loss"))
            m.compute_loss_calls = len(calls)
            # At each epoch end fit reads model.get_metrics_result() and shows it instead of the
            # step's logs when the keys match (keras3-facts.md case 6c).
            listed = list(model.metrics)
            try:
                results = model.get_metrics_result()
            except ValueError:
                m.epoch_end_crash = True
            else:
                tracker = getattr(model, "_loss_tracker", None)
                if set(logs) == set(results) and tracker is not None and any(tracker is x for x in listed):
                    m.epoch_end_zero = float(tracker.count.numpy()) == 0 and "loss" in logs
            reachable = {id(v) for metric in listed for v in _all_variables(metric)}
            m.unreset_trackers = sorted(
                metric.name for metric in snapshot.changed_metrics()
                if not any(id(v) in reachable for v in metric.variables)
            )
            if compiled is not None and applied:
                n_applied, n_compiled, dot = _flat_norm_and_dot(applied[0], compiled_grads)
                if n_applied > 0 and n_compiled > 0:
                    m.gradient_cosine = dot / (n_applied * n_compiled)
                    m.gradient_ratio = n_applied / n_compiled
            snapshot.restore()

            # 3. What evaluate() and val_loss report.
            try:
                logs = model.test_step(data) or {}
            except ValueError:  # e.g. "No loss to compute": compile() got no loss, no test_step
                logs = {}
            if "loss" in logs:
                m.evaluated = _scalar(logs["loss"])
            snapshot.restore()
        finally:
            snapshot.restore()
    return m


def _definition_line(function: Any) -> SourceLine | None:
    code = getattr(function, "__code__", None)
    if code is None:
        return None
    line, column = code.co_firstlineno, 1
    try:
        source, start = inspect.getsourcelines(function)
        for offset, text in enumerate(source):
            if text.lstrip().startswith(("def ", "async def ")):
                line, column = start + offset, text.index("def ") + 5  # the function's name
                break
    except (OSError, TypeError):
        pass
    return SourceLine(code.co_filename, line, column)


@dataclass
class StepCheck:
    findings: list[Finding] = field(default_factory=list)
    # The train_step measured consistent: the static LL301 warning there is dropped.
    consistent: SourceLine | None = None


@dataclass
class StepContext:
    """What a STEP check sees: the measurement of a custom train_step on the real batch, the
    ops of the step traced on that batch's shapes (targets labelled y_true, the model's outputs
    y_pred), the step's `def` line and the compile call."""

    measurement: Measurement
    where: SourceLine
    compile_where: SourceLine | None
    ops: list[OpInfo] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def report(self, rule: Rule, message: str, fix: str, site: Site | None = None) -> None:
        """A finding at `site`, a line of the step, or else at the train_step's name."""
        related: tuple[RelatedLocation, ...] = ()
        if self.compile_where is not None:
            c = self.compile_where
            related = (RelatedLocation(c.path, c.line, c.column, "compile call"),)
        if site is not None:
            path, line = site.path, site.line
            column, end = line_span(path, line)
        else:
            path, line, column = self.where.path, self.where.line, self.where.column
            end = column + 3
        self.findings.append(Finding(
            code=rule.code, name=rule.name, severity=rule.severity, path=path, line=line,
            column=column, end_line=line, end_column=max(end, column + 1), message=message,
            fix=fix, pass_=Pass.DYNAMIC, related=related,
        ))


def measure(compile: CompileRecord, fit: FitRecord | None, user_files: Container[str]) -> StepCheck:
    """The STEP checks' findings for one compiled model whose class defines its own train_step
    (or compute_loss). `user_files`: the script's paths, or any container of the user's files
    (the in-process API's)."""
    model = compile.model
    steps = overridden_steps(model)
    if not {"train_step", "compute_loss"} & set(steps) or model.optimizer is None:
        return StepCheck()
    batch = fit.batch if fit is not None and fit.batch is not None and fit.batch[1] is not None else None
    if batch is None:
        return StepCheck()  # no real targets to measure with
    m = measure_model(model, batch)
    # The script's paths (normalised by UserFiles), or the in-process API's container as it is.
    user = UserFiles(user_files) if isinstance(user_files, (set, frozenset)) else user_files
    where = _definition_line(steps.get("train_step") or steps["compute_loss"]) or compile.where
    if where is None:
        return StepCheck()
    ctx = StepContext(m, where, compile.where, trace_step(model, batch, user))
    for check in registry.dynamic_checks(Stage.STEP):
        if check(ctx):
            break
    if not ctx.findings:
        return StepCheck(consistent=where)
    return StepCheck(findings=ctx.findings)
