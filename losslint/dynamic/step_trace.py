"""Trace a custom training step on the real batch's shapes, with the targets and the model's own
outputs labelled, so that the rules walk the loss a `train_step` (or a `compute_loss` override)
computes by hand as they walk a loss given to compile (trace.walk).

The step is only traced, never run: no weight, optimizer slot or metric changes. Ops that Keras'
compiled losses create (reached through `self.compute_loss(...)`) are left out: the compile-loss
probes already look at those, with their own pairing of outputs and targets.
"""

from __future__ import annotations

import os
from collections.abc import Container, Iterator
from contextlib import contextmanager
from typing import Any

from losslint.dynamic.trace import PRED, TRUE, OpInfo, walk

# The op name given to each of the model's outputs inside the traced step.
OUTPUT_MARK = "losslint_model_output"
# Keras' own loss code: the built-in losses and the compiled loss (CompileLoss), which the
# compile-loss probes look at. Not keras/src/trainers/trainer.py: it calls a compute_loss override.
_KERAS_LOSS_CODE = (
    os.sep + os.path.join("keras", "src", "losses") + os.sep,
    os.sep + os.path.join("keras", "src", "trainers", "compile_utils.py"),
)


@contextmanager
def _marked_outputs(model: Any) -> Iterator[None]:
    """The model's outputs pass through an identity op named OUTPUT_MARK while tracing."""
    import tensorflow as tf

    original = model.call

    def call(*args: Any, **kwargs: Any) -> Any:
        outputs = original(*args, **kwargs)
        return tf.nest.map_structure(
            lambda t: tf.identity(t, name=OUTPUT_MARK) if tf.is_tensor(t) else t, outputs
        )

    model.call = call
    try:
        yield
    finally:
        del model.call


def _in_keras_losses(op: Any) -> bool:
    try:
        frames = list(op.traceback)
    except Exception:  # noqa: BLE001 - an op without a traceback
        return False
    return any(any(part in frame.filename for part in _KERAS_LOSS_CODE) for frame in frames)


def trace_step(model: Any, batch: tuple, user: Container[str]) -> list[OpInfo]:
    """The ops of `model.train_step` traced on `batch`'s shapes, targets labelled y_true and
    the model's outputs y_pred; empty when the step does not trace."""
    import tensorflow as tf

    data = tuple(part for part in batch[:3] if part is not None)
    data = tf.nest.map_structure(tf.convert_to_tensor, data)
    roles: list[str | None] = []
    for index, part in enumerate(data):
        roles.extend([TRUE if index == 1 else None] * len(tf.nest.flatten(part)))
    for autograph in (False, True):  # as Keras 3 traces it, autograph only when needed
        function = tf.function(lambda d: model.train_step(d), autograph=autograph, reduce_retracing=False)
        try:
            with _marked_outputs(model):
                concrete = function.get_concrete_function(data)
        except Exception:  # noqa: BLE001 - a step that does not trace: nothing to walk
            continue
        ops = walk(concrete, roles, user, marks={OUTPUT_MARK: PRED})
        return [info for info in ops if not _in_keras_losses(info.op)]
    return []
