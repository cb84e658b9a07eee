"""`losslint.Callback()`: the dynamic pass's probes inside the user's own `fit`, on its first
real batch, before any weight update.

    model.fit(x, y, epochs=10, callbacks=[losslint.Callback()])   # raises losslint.LossLintError

Keras callbacks never see the data, so the callback takes the first batch from the step itself.
On the TensorFlow backend `fit` builds `model.train_function` before `on_train_begin` and looks
the attribute up at every step with the epoch's iterator (keras/src/backend/tensorflow/
trainer.py). `on_train_begin` swaps in a one-shot function. Its first call:

- puts the original function back;
- takes the first element from the iterator;
- probes the model and its losses on it;
- trains on that element and the rest of the execution's batches.

For the last step it hands the original function an iterator of that element and the rest of
the execution's batches (`steps_per_execution` in all) from the real iterator: a tf.data
iterator of the same element spec, so Keras traces its step as often as without the callback
(`_replay`). So no batch is lost or repeated, and a `steps_per_execution` above 1 consumes
exactly as many batches as without the callback. The probe restores the weights, metrics and optimizer it touches
(losslint.dynamic), and this module also restores the random state it resets. Training with the
callback gives the same weights as without it (tests/test_callback.py measures this).

This module imports Keras (the class must subclass keras.callbacks.Callback).
`losslint.Callback` loads it lazily, so `import losslint` stays free of Keras and TensorFlow.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import keras

from losslint.api import LossLintError, LossLintWarning, probe_at, user_frame
from losslint.findings import Finding

ON_FINDING = ("raise", "warn")


class Callback(keras.callbacks.Callback):
    """Probe the model and every loss on the first real batch of `fit`, before any weight update.

    on_finding: "raise" (the default) stops `fit` with a `losslint.LossLintError` listing the
    findings, before any weight has changed; "warn" issues one `losslint.LossLintWarning` with
    the same text and lets training go on. `findings` holds what the probe found. After the
    first batch the callback does nothing, also in later `fit` calls on the same model.
    """

    def __init__(self, on_finding: str = "raise") -> None:
        super().__init__()
        if on_finding not in ON_FINDING:
            raise ValueError(
                f"losslint.Callback: on_finding must be 'raise' or 'warn', got {on_finding!r}"
            )
        self.on_finding = on_finding
        self.findings: list[Finding] = []
        self.probed = False
        self._probed_model: Any = None
        self._original: Any = None
        self._where: tuple[str, int] | None = None

    # -- Keras hooks ------------------------------------------------------------------------

    def on_train_begin(self, logs: dict | None = None) -> None:
        model = self.model
        if self.probed and self._probed_model is model:
            return
        self._restore()  # a previous fit that raised before its first step left the hook in place
        backend = keras.backend.backend()
        if backend != "tensorflow":
            warnings.warn(
                f"losslint.Callback checked nothing: its probes run on the TensorFlow backend, "
                f"and this fit runs on {backend!r}. Run `losslint --dynamic` on the script "
                "instead: it probes the model on TensorFlow.",
                RuntimeWarning, stacklevel=2,
            )
            return
        original = getattr(model, "train_function", None)
        if not callable(original):
            warnings.warn(
                "losslint.Callback checked nothing: this fit has no model.train_function to take "
                "the first batch from (a custom fit loop?); call losslint.check(model, x, y) instead",
                RuntimeWarning, stacklevel=2,
            )
            return
        self._where = user_frame(sys._getframe(1))
        self._original = original
        model.train_function = self._first_step

    def on_train_end(self, logs: dict | None = None) -> None:
        self._restore()  # fit ran no step (epochs=0, empty data): nothing was probed

    # -- the first step ---------------------------------------------------------------------

    def _restore(self) -> None:
        if self._original is not None:
            self.model.train_function = self._original
            self._original = None

    def _first_step(self, iterator: Any) -> Any:
        original = self._original
        self._restore()  # at once: every later step is Keras' own, whatever happens here
        batch = next(iterator)  # StopIteration (no data) ends the epoch as Keras' step would
        self.probed, self._probed_model = True, self.model
        self._check(batch)
        return original(_replay(batch, iterator, self.model.steps_per_execution))

    def _check(self, batch: Any) -> None:
        model = self.model
        where = self._where or ("<unknown>", 0)
        try:
            x, y, sample_weight = _local_batch(model, batch)
            with _random_state_kept():
                findings = probe_at(model, x, y, _rows(x), where, sample_weight)
        except Exception as error:  # noqa: BLE001 - a probe bug must not stop the user's training
            self._warn(
                f"losslint.Callback could not probe the model ({type(error).__name__}: {error}); "
                "training goes on unchecked",
                RuntimeWarning,
            )
            return
        self.findings = [_relabel(f, where) for f in findings]
        if not self.findings:
            return
        error = LossLintError(self.findings)
        if self.on_finding == "raise":
            raise error
        self._warn(str(error), LossLintWarning)

    def _warn(self, message: str, category: type[Warning]) -> None:
        """A warning attributed to the user's `fit` call, not to this module or Keras."""
        path, line = self._where or ("<unknown>", 0)
        warnings.warn_explicit(message, category, path, line, module="losslint.callback")


# ---- helpers ---------------------------------------------------------------------------------


def _local_batch(model: Any, batch: Any) -> tuple[Any, Any, Any]:
    """(x, y, sample_weight) of one replica, as eager tensors: a distribution strategy's
    per-replica values give their first replica's part (what one replica's loss sees), and the
    empty optionals tf.data uses for absent parts become None, as Keras' step makes them."""
    import tensorflow as tf

    strategy = model.distribute_strategy

    def local(value: Any) -> Any:
        if isinstance(value, tf.experimental.Optional):
            return value.get_value() if bool(value.has_value()) else None
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    data = tf.nest.map_structure(local, batch)
    return keras.utils.unpack_x_y_sample_weight(data)


def _replay(batch: Any, iterator: Any, steps_per_execution: int) -> Any:
    """An iterator for Keras' own train function: `batch`, then the rest of this execution's
    batches from `iterator`, then nothing; later calls get the real iterator again.

    A plain tf.data iterator is replayed as a tf.data iterator with the same element spec, so
    Keras traces its step as it would without the callback (its trace on this call serves the
    real iterator too). Other iterators (a distribution strategy's) get a Python iterator of the
    same batches: Keras runs one step per element on those, at the cost of a trace of the step
    on concrete shapes.
    """
    import tensorflow as tf

    spec = getattr(iterator, "element_spec", None)
    plain = (tf.TensorSpec, tf.RaggedTensorSpec, tf.SparseTensorSpec)
    if not isinstance(iterator, tf.data.Iterator) or spec is None or not all(
        isinstance(s, plain) for s in tf.nest.flatten(spec)
    ):
        return itertools.chain([batch], iterator)
    batches = [batch]
    for _ in range(steps_per_execution - 1):
        try:
            batches.append(next(iterator))
        except StopIteration:  # the data ends inside this execution, as it would without us
            break
    dataset = tf.data.Dataset.from_generator(lambda: iter(batches), output_signature=spec)
    return iter(dataset)


def _rows(x: Any) -> int | None:
    import tensorflow as tf

    for leaf in tf.nest.flatten(x):
        shape = getattr(leaf, "shape", None)
        if shape is not None and len(shape) > 0 and shape[0] is not None:
            return int(shape[0])
    return None


def _relabel(finding: Finding, where: tuple[str, int]) -> Finding:
    """The probe names its fallback line "compile call"; here that line is the `fit` call."""
    related = tuple(
        dataclasses.replace(r, message="fit call (losslint.Callback)") if (r.path, r.line) == where else r
        for r in finding.related
    )
    return dataclasses.replace(finding, related=related)


@contextmanager
def _random_state_kept() -> Iterator[None]:
    """Python's, NumPy's, TensorFlow's global and Keras' global seed state, as they were: the
    probe seeds them (keras.utils.set_random_seed) for reproducible measurements, and the
    user's run must draw the same numbers with or without the callback."""
    import numpy as np
    from keras.src.backend.common import global_state
    from keras.src.random import seed_generator
    from keras.src.utils import rng_utils
    from tensorflow.python.eager import context

    python_state = random.getstate()
    numpy_state = np.random.get_state()
    eager = context.context()
    # The eager context has no `_rng` until a global seed is first set.
    tf_seed, tf_rng = eager._seed, getattr(eager, "_rng", None)
    tf_rng_state = tf_rng.getstate() if tf_rng is not None else None
    keras_seed = global_state.get_global_attribute(rng_utils.GLOBAL_RANDOM_SEED)
    generator = global_state.get_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR)
    generator_state = generator.state.numpy().copy() if generator is not None else None
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        eager._seed = tf_seed
        if tf_rng is not None:
            tf_rng.setstate(tf_rng_state)
            eager._rng = tf_rng
        elif "_rng" in vars(eager):
            del eager._rng
        global_state.set_global_attribute(rng_utils.GLOBAL_RANDOM_SEED, keras_seed)
        global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, generator)
        if generator is not None:
            generator.state.assign(generator_state)
