"""Static rules LL107-LL111 and LL209 on small snippets: where each fires, and where it must not
(the correct Keras idioms these rules must leave alone)."""

from __future__ import annotations

import textwrap

import pytest

from losslint.config import Config
from losslint.static.linter import lint_source

CODES = ("LL107", "LL108", "LL109", "LL110", "LL111", "LL209")
HEADER = """\
import numpy as np
import tensorflow as tf
import keras
from keras import layers, ops
from tensorflow.keras import backend as K
"""


def codes_at(source: str, select: tuple[str, ...] = CODES, header: bool = True) -> list[tuple[int, str]]:
    """(line, code) of the findings; lines count from the snippet's first line (after the header)."""
    offset = HEADER.count("\n") if header else 0
    text = (HEADER if header else "") + textwrap.dedent(source)
    report = lint_source("snippet.py", text, Config(select=select))
    assert not report.errors, report.errors
    return sorted((f.line - offset, f.code) for f in report.findings)


def loss_source(body: str, after: str = 'model.compile("adam", loss=loss)', name: str = "loss", before: str = "") -> str:
    """`def loss(y_true, y_pred):` with `body` (lines separated by newline + 4 spaces), then `after`."""
    text = before + f"def {name}(y_true, y_pred):\n    {body}\n{after}\n"
    return "\n" + text  # line 1 is empty, so the def is on line 2 as in the other snippets


def findings(source: str, select: tuple[str, ...] = CODES):
    report = lint_source("snippet.py", HEADER + textwrap.dedent(source), Config(select=select))
    assert not report.errors, report.errors
    return report.findings


# LL107 swapped-loss-arguments -----------------------------------------------------------------

@pytest.mark.parametrize(
    "definition, wiring",
    [
        ("def pinball(y_pred, y_true):", "model.compile('adam', loss=pinball)"),
        ("def pinball(logits, labels):", "model.compile('adam', loss=[pinball])"),
        ("def pinball(pred, target):", "model.compile('adam', loss={'out': pinball})"),
        ("def pinball(y_hat, y):", "model.compile('adam', loss=pinball)"),
    ],
)
def test_swapped_signature_of_a_compiled_loss(definition: str, wiring: str) -> None:
    source = f"""
        {definition}
            err = {definition.split('(')[1].split(', ')[1].rstrip('):')} - {definition.split('(')[1].split(',')[0]}
            return ops.mean(ops.maximum(0.9 * err, -0.1 * err), axis=-1)
        {wiring}
    """
    assert codes_at(source, ("LL107",)) == [(2, "LL107")]


def test_swapped_signature_of_a_loss_subclass_lambda_and_factory() -> None:
    source = """
        class Quantile(keras.losses.Loss):
            def call(self, y_pred, y_true):
                return ops.mean(ops.abs(y_true - y_pred), axis=-1)
        def make(q):
            def inner(predictions, targets):
                return ops.mean(ops.maximum(q * (targets - predictions), 0.0), axis=-1)
            return inner
        model.compile("adam", loss=[Quantile(), make(0.9), lambda y_pred, y_true: ops.abs(y_true - y_pred)])
    """
    assert codes_at(source, ("LL107",)) == [(3, "LL107"), (6, "LL107"), (9, "LL107")]


def test_signature_message_and_fix() -> None:
    source = """
        def pinball(y_pred, y_true):
            return ops.mean(ops.abs(y_true - y_pred), axis=-1)
        model.compile("adam", loss=pinball)
    """
    (finding,) = findings(source, ("LL107",))
    assert "`(y_pred, y_true)`" in finding.message and "`pinball`" in finding.message
    assert "def pinball(y_true, y_pred" in finding.fix
    assert finding.related  # the compile call


@pytest.mark.parametrize(
    "source",
    [
        # the usual order
        "def loss(y_true, y_pred):\n    return ops.abs(y_true - y_pred)\nmodel.compile('adam', loss=loss)\n",
        # a helper called by the user's own code in its own order: not a Keras loss
        "def distance(y_pred, y_true):\n    return ops.abs(y_true - y_pred)\nd = distance(p, t)\n",
        # a metric-like helper named (predictions, labels), never given to Keras
        "def compute_accuracy(predictions, labels):\n    return labels[predictions.ravel() < 0.5].mean()\n",
        # names that say nothing about the order
        "def loss(a, b):\n    return ops.abs(a - b)\nmodel.compile('adam', loss=loss)\n",
    ],
)
def test_signatures_that_are_not_swapped(source: str) -> None:
    assert codes_at(source, ("LL107",)) == []


@pytest.mark.parametrize(
    "call",
    [
        "tf.nn.sigmoid_cross_entropy_with_logits(labels=y_pred, logits=y_true)",
        "tf.nn.sigmoid_cross_entropy_with_logits(logits=y_true, labels=tf.nn.sigmoid(y_pred))",
        "tf.nn.softmax_cross_entropy_with_logits(y_pred, tf.cast(y_true, tf.float32))",
        "keras.losses.binary_crossentropy(y_pred, y_true, from_logits=True)",
        "keras.losses.categorical_crossentropy(y_true=y_pred, y_pred=y_true)",
        "ops.binary_crossentropy(y_pred, y_true, from_logits=True)",
        "K.categorical_crossentropy(y_pred, y_true)",
        "keras.losses.BinaryCrossentropy(from_logits=True)(y_pred, y_true)",
    ],
)
def test_crossentropy_given_prediction_as_labels(call: str) -> None:
    source = f"""
        def loss(y_true, y_pred):
            return {call}
        model.compile("adam", loss=loss)
    """
    assert codes_at(source, ("LL107",)) == [(3, "LL107")]


def test_crossentropy_instance_through_a_name_and_a_self_attribute() -> None:
    source = """
        bce = keras.losses.BinaryCrossentropy(from_logits=True)
        def loss(y_true, y_pred):
            return bce(y_pred, y_true)
        class Wrapped(keras.losses.Loss):
            def __init__(self):
                super().__init__()
                self.ce = keras.losses.CategoricalCrossentropy()
            def call(self, y_true, y_pred):
                return self.ce(y_pred, y_true)
        model.compile("adam", loss=[loss, Wrapped()])
    """
    assert codes_at(source, ("LL107",)) == [(4, "LL107"), (10, "LL107")]


def test_crossentropy_message_and_fix() -> None:
    source = """
        def loss(y_true, y_pred):
            return tf.nn.sigmoid_cross_entropy_with_logits(labels=y_pred, logits=y_true)
        model.compile("adam", loss=loss)
    """
    (finding,) = findings(source, ("LL107",))
    assert "`labels=`" in finding.message and "`logits=`" in finding.message
    assert "labels=y_true, logits=y_pred" in finding.fix


@pytest.mark.parametrize(
    "call",
    [
        "tf.nn.sigmoid_cross_entropy_with_logits(labels=y_true, logits=y_pred)",
        "keras.losses.binary_crossentropy(y_true, y_pred, from_logits=True)",
        "keras.losses.BinaryCrossentropy()(y_true, y_pred)",
        # both arguments mix target and prediction: not visibly swapped
        "keras.losses.binary_crossentropy(y_pred * y_true, y_true)",
        # tf.compat.v1 takes a _sentinel first: positional arguments are not its labels
        "tf.compat.v1.nn.sigmoid_cross_entropy_with_logits(y_pred, y_true)",
        # a symmetric or non-crossentropy loss called either way
        "keras.losses.mean_squared_error(y_pred, y_true)",
        # self-distillation: the prediction against a stopped copy of itself
        "keras.losses.kl_divergence(tf.stop_gradient(y_pred), y_pred)",
    ],
)
def test_crossentropies_not_swapped(call: str) -> None:
    source = f"""
        def loss(y_true, y_pred):
            return {call}
        model.compile("adam", loss=loss)
    """
    assert codes_at(source, ("LL107",)) == []


def test_swapped_signature_is_reported_once_not_again_at_its_calls() -> None:
    source = """
        def loss(y_pred, y_true):
            return keras.losses.binary_crossentropy(y_true, y_pred)
        model.compile("adam", loss=loss)
    """
    assert codes_at(source, ("LL107",)) == [(2, "LL107")]


# LL108 numpy-in-loss ----------------------------------------------------------------------------

@pytest.mark.parametrize(
    "body",
    [
        "return np.mean(np.square(y_true - y_pred), axis=-1)",
        "err = ops.square(y_true - y_pred)\n    return np.log1p(np.mean(err, axis=-1))",
        "return tf.reduce_mean(np.asarray(y_pred) - y_true, axis=-1)",
        "p = tf.clip_by_value(y_pred, 1e-7, 1.0)\n    return -tf.reduce_sum(y_true * np.log(p), axis=-1)",
    ],
)
def test_numpy_on_tensors_in_a_loss(body: str) -> None:
    found = codes_at(loss_source(body), ("LL108",))
    assert len(found) == 1 and found[0][1] == "LL108"


def test_numpy_message_names_the_call_and_the_tensor() -> None:
    source = """
        def log_mse(y_true, y_pred):
            err = ops.square(y_true - y_pred)
            return np.log1p(np.mean(err, axis=-1))
        model.compile("adam", loss=log_mse)
    """
    (finding,) = findings(source, ("LL108",))
    assert "`np.mean`" in finding.message and "`err`" in finding.message and "`log_mse`" in finding.message
    assert "keras.ops.mean" in finding.fix


def test_numpy_on_constants_and_static_shapes_is_fine() -> None:
    source = """
        EPS = np.float32(1e-7)
        def loss(y_true, y_pred):
            n = np.sqrt(y_pred.shape[-1]) * np.pi / np.log(2.0)
            m = np.prod(K.int_shape(y_pred)[1:])
            w = np.array([1.0, 2.0, 3.0], dtype=np.float32)
            return tf.reduce_mean(tf.square(y_true - y_pred) * w, axis=-1) / (n * m) + EPS
        model.compile("adam", loss=loss)
    """
    assert codes_at(source, ("LL108",)) == []


def test_numpy_metric_found_by_its_signature_is_not_a_loss() -> None:
    source = """
        def compute_accuracy(y_true, y_pred):
            pred = y_pred.ravel() < 0.5
            return np.mean(pred == y_true)
    """
    assert codes_at(source, ("LL108",)) == []


def test_numpy_in_a_loss_subclass() -> None:
    source = """
        class L(keras.losses.Loss):
            def call(self, y_true, y_pred):
                return np.abs(y_true - y_pred)
    """
    assert codes_at(source, ("LL108",)) == [(4, "LL108")]


@pytest.mark.parametrize(
    "body",
    [
        "values = y_pred.numpy()\n    return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)",
        "err = ops.square(y_true - y_pred)\n    cap = np.percentile(err.numpy(), 95)\n    return ops.minimum(err, cap)",
        "p = tf.nn.sigmoid(y_pred)\n    return tf.constant(p.numpy().mean()) + y_true",
    ],
)
def test_numpy_method_on_tensors_in_a_loss(body: str) -> None:
    found = codes_at(loss_source(body), ("LL108",))
    assert len(found) == 1 and found[0][1] == "LL108"


def test_numpy_method_message_and_a_loss_named_by_its_signature_only() -> None:
    # keras-12057 as posted: no imports, no compile; `.numpy()` alone says it gets tensors.
    source = """
        def mse_my_loss(y_true, y_pred):
            q = K.mean(K.square(y_pred - y_true), axis=-1)
            y_in = y_pred.numpy()
            return q + external_score(y_in)
    """
    report = lint_source("snippet.py", textwrap.dedent(source), Config(select=("LL108",)))
    (finding,) = report.findings
    assert finding.line == 4 and "`y_pred.numpy()`" in finding.message and "`mse_my_loss`" in finding.message
    assert "SymbolicTensor" in finding.message and "tf.numpy_function" in finding.fix


def test_numpy_method_outside_losses_and_on_other_values_is_fine() -> None:
    source = """
        def evaluate(y_true, y_pred):
            return float(np.mean(y_true.numpy() == y_pred.numpy()))
        def loss(y_true, y_pred):
            w = WEIGHTS.numpy()  # a module constant, an eager tensor even in the traced loss
            return tf.reduce_mean(tf.square(y_true - y_pred) * w, axis=-1)
        model.compile("adam", loss=loss)
        history = model.fit(x, y)
        value = loss(tf.constant(y), model(x)).numpy()
    """
    assert codes_at(source, ("LL108",)) == []


# LL109 non-differentiable-loss ---------------------------------------------------------------------

@pytest.mark.parametrize(
    "body, line",
    [
        ("hit = ops.equal(ops.argmax(y_true, axis=-1), ops.argmax(y_pred, axis=-1))\n"
         "    return 1.0 - ops.cast(hit, 'float32')", 3),
        ("y_pred = K.round(y_pred)\n    return K.mean(K.square(y_true - y_pred), axis=-1)", 3),
        ("hard = tf.cast(y_pred > 0.5, tf.float32)\n    return tf.reduce_mean(tf.abs(y_true - hard), axis=-1)", 3),
        ("labels = tf.cast(y_pred, tf.int32)\n    return tf.cast(tf.reduce_sum(labels - tf.cast(y_true, tf.int32), axis=-1), tf.float32)", 3),
        ("return tf.reduce_mean(tf.square(y_true - tf.stop_gradient(y_pred)), axis=-1)", 3),
        ("return tf.cast(tf.math.greater(y_pred, y_true), 'float32')", 3),
        ("return ops.mean(ops.sign(y_pred) != y_true, axis=-1)", 3),
    ],
)
def test_prediction_reaches_the_loss_only_without_gradient(body: str, line: int) -> None:
    assert codes_at(loss_source(body), ("LL109",)) == [(line, "LL109")]


def test_non_differentiable_message_names_the_cut() -> None:
    source = """
        def hard_mse(y_true, y_pred):
            y_pred = tf.round(y_pred)
            return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)
        model.compile("adam", loss=hard_mse)
    """
    (finding,) = findings(source, ("LL109",))
    assert finding.line == HEADER.count("\n") + 3
    assert "`tf.round(y_pred)`" in finding.message and "rounding" in finding.message
    assert "No gradients provided" in finding.message


@pytest.mark.parametrize(
    "body",
    [
        # operations on the target only
        "labels = tf.cast(tf.argmax(y_true, axis=-1), tf.int32)\n"
        "    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=y_pred)",
        "y_true = K.round(y_true)\n    return K.mean(K.square(y_true - y_pred), axis=-1)",
        # a comparison as tf.where's condition: the branches carry the gradient
        "err = y_true - y_pred\n    small = tf.abs(err) <= 1.0\n"
        "    return tf.where(small, 0.5 * tf.square(err), tf.abs(err) - 0.5)",
        "return tf.where(y_pred > 0.5, y_pred, 1.0 - y_pred)",
        # a comparison as a mask multiplied with a differentiable term
        "mask = K.cast(K.less(K.abs(y_true - y_pred), 1.0), 'float32')\n"
        "    return K.mean(mask * K.square(y_true - y_pred) + (1 - mask) * K.abs(y_true - y_pred), axis=-1)",
        # stop_gradient on a weight only
        "w = tf.stop_gradient(tf.abs(y_true - y_pred))\n    return tf.reduce_mean(w * tf.square(y_true - y_pred), axis=-1)",
        # a non-differentiable term next to a differentiable one
        "return keras.losses.binary_crossentropy(y_true, y_pred) + K.mean(K.equal(y_true, K.round(y_pred)))",
        # an int cast of a value that does not come from the prediction
        "n = tf.cast(tf.shape(y_pred)[0], tf.int32)\n    return tf.reduce_sum(tf.square(y_true - y_pred), axis=-1) / tf.cast(n, tf.float32)",
        # a rebinding in one branch only: the other keeps the gradient
        "if K.ndim(y_pred) > 2:\n        y_pred = K.round(y_pred)\n    return K.square(y_true - y_pred)",
    ],
)
def test_differentiable_losses_with_masks_and_target_casts(body: str) -> None:
    assert codes_at(loss_source(body), ("LL109",)) == []


def test_accuracy_metrics_are_not_losses() -> None:
    source = """
        def acc(y_true, y_pred):
            return K.mean(K.equal(K.argmax(y_true, axis=-1), K.argmax(y_pred, axis=-1)))
        def binary_accuracy(y_true, y_pred):
            return K.mean(K.equal(y_true, K.round(y_pred)), axis=-1)
        model.compile("adam", loss="categorical_crossentropy", metrics=[acc])
    """
    assert codes_at(source, ("LL109",)) == []


def test_signature_function_named_loss_is_checked() -> None:
    source = """
        def accuracy_loss(y_true, y_pred):
            return 1.0 - K.mean(K.equal(y_true, K.round(y_pred)), axis=-1)
    """
    assert codes_at(source, ("LL109",)) == [(3, "LL109")]


# LL110 batch-reduced-loss ----------------------------------------------------------------------------

@pytest.mark.parametrize(
    "body",
    [
        "return tf.reduce_sum(tf.square(y_true - y_pred))",
        "return tf.reduce_sum(tf.square(y_true - y_pred), axis=0)",
        "return K.sum(K.square(y_true - y_pred), axis=None)",
        "return ops.sum(ops.abs(y_true - y_pred), axis=(0, 1))",
        "return tf.math.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=y_true, logits=y_pred))",
        "loss = tf.reduce_sum(tf.square(y_true - y_pred))\n    return 0.5 * loss / 2.0",
        "total = 0.0\n    total += tf.reduce_sum(tf.square(y_true - y_pred))\n    return total",
    ],
)
def test_sum_over_the_batch(body: str) -> None:
    found = codes_at(loss_source(body), ("LL110",))
    assert len(found) == 1 and found[0][1] == "LL110"


def test_batch_sum_message() -> None:
    source = """
        def sse(y_true, y_pred):
            return tf.reduce_sum(tf.square(y_true - y_pred))
        model.compile("adam", loss=sse)
    """
    (finding,) = findings(source, ("LL110",))
    assert "`sse`" in finding.message and "no axis" in finding.message and "batch size" in finding.message
    assert "axis=-1" in finding.fix


@pytest.mark.parametrize(
    "body",
    [
        "return tf.reduce_sum(tf.square(y_true - y_pred), axis=-1)",
        "return K.sum(K.square(y_true - y_pred), axis=[1, 2])",
        "return tf.reduce_mean(tf.square(y_true - y_pred))",  # no sample weights in this file
        # normalised by the batch size or by a count: does not grow with the batch
        "loss = tf.reduce_sum(tf.square(y_true - y_pred))\n    return loss / tf.cast(tf.shape(y_true)[0], tf.float32)",
        "pos = tf.cast(tf.equal(y_true, 1), tf.float32)\n"
        "    ce = tf.nn.sigmoid_cross_entropy_with_logits(labels=y_true, logits=y_pred)\n"
        "    return tf.reduce_sum(ce) / tf.maximum(tf.reduce_sum(pos), 1.0)",
        # Dice: a ratio of batch sums
        "inter = K.sum(y_true * y_pred)\n    return 1 - (2 * inter + 1) / (K.sum(y_true) + K.sum(y_pred) + 1)",
        # a sum of the target alone (a normaliser) is not the loss
        "n = tf.reduce_sum(y_true)\n    return tf.reduce_sum(tf.square(y_true - y_pred), axis=-1) / n",
    ],
)
def test_per_sample_or_normalised_reductions(body: str) -> None:
    source = loss_source(body, 'model.compile("adam", loss=loss)\nmodel.fit(x, y, batch_size=32)')
    assert codes_at(source, ("LL110",)) == []


@pytest.mark.parametrize("fit", ["model.fit(x, y, sample_weight=w)", "model.fit(x, y, class_weight={0: 1.0, 1: 5.0})"])
def test_mean_over_everything_with_sample_weights(fit: str) -> None:
    source = f"""
        def mse(y_true, y_pred):
            return tf.reduce_mean(tf.square(y_true - y_pred))
        model.compile("adam", loss=mse)
        {fit}
    """
    found = findings(source, ("LL110",))
    assert [(f.line - HEADER.count("\n"), f.code) for f in found] == [(3, "LL110")]
    assert "weight" in found[0].message and found[0].related


def test_mean_without_weights_or_with_sample_weight_none() -> None:
    source = """
        def mse(y_true, y_pred):
            return tf.reduce_mean(tf.square(y_true - y_pred))
        model.compile("adam", loss=mse)
        model.fit(x, y, sample_weight=None)
    """
    assert codes_at(source, ("LL110",)) == []


def test_loss_subclass_returning_a_batch_sum() -> None:
    source = """
        class SumLoss(keras.losses.Loss):
            def call(self, y_true, y_pred):
                return ops.sum(ops.square(y_true - y_pred))
    """
    assert codes_at(source, ("LL110",)) == [(4, "LL110")]


def test_train_step_losses_and_metrics_are_not_reported() -> None:
    source = """
        def sse(y_true, y_pred):
            return tf.reduce_sum(tf.square(y_true - y_pred))
        class M(keras.Model):
            def train_step(self, data):
                x, y = data
                y_pred = self(x)
                loss = sse(y, y_pred)
                return {"loss": loss}
        def total_error(y_true, y_pred):
            return tf.reduce_sum(tf.abs(y_true - y_pred))
    """
    assert codes_at(source, ("LL110",)) == []


# LL111 tensor-python-control-flow ------------------------------------------------------------------

@pytest.mark.parametrize(
    "statement",
    [
        "if tf.reduce_max(err) > 10.0:\n        err = tf.minimum(err, 10.0)",
        "if err:\n        err = err * 2.0",
        "while tf.reduce_any(err > 1.0):\n        err = err / 2.0",
        "if K.mean(y_pred) > 0 and err is not None:\n        pass",
        "if not tf.reduce_all(tf.math.is_finite(y_pred)):\n        pass",
        "err = err if ops.max(y_true) > 1 else err / 2",
        "ok = ops.mean(y_true) > 0 or True",
        "ok = 0.0 < y_pred < 1.0",
        "for t in tf.range(3):\n        err = err + 1.0",
        "for row in y_true:\n        pass",
        "values = [v * 2 for v in err]",
        "assert tf.reduce_all(err >= 0.0)",
        "values = [e for e in range(3) if ops.max(err) > e]",
    ],
)
def test_python_control_flow_on_tensors_in_a_loss(statement: str) -> None:
    body = f"err = tf.square(y_true - y_pred)\n    {statement}\n    return tf.reduce_mean(err, axis=-1)"
    assert codes_at(loss_source(body), ("LL111",)) == [(4, "LL111")]


@pytest.mark.parametrize(
    "statement",
    [
        "if y_pred.shape[-1] == 1:\n        err = err * 1.0",
        "if len(y_true.shape) == 1 or y_true.shape.rank == 1:\n        pass",
        "if K.ndim(y_pred) == 3 and K.int_shape(y_pred)[1] is not None:\n        pass",
        "if y_true.dtype != y_pred.dtype:\n        y_true = tf.cast(y_true, y_pred.dtype)",
        "if ops.shape(y_pred)[-1] > 1:\n        pass",
        "for i in range(3):\n        err = err + float(i)",
        "for part in tf.unstack(err, axis=-1):\n        err = err + part[:, None]",
        "a, b = tf.split(err, 2, axis=-1)",
        "if err is None or tf.executing_eagerly():\n        pass",
        "if SCALE > 1:\n        err = err * SCALE",
        "err = tf.cond(tf.reduce_max(err) > 1.0, lambda: err / 2.0, lambda: err)",
        "err = tf.where(err > 1.0, err / 2.0, err)",
    ],
)
def test_static_python_values_in_a_loss(statement: str) -> None:
    body = f"err = tf.square(y_true - y_pred)\n    {statement}\n    return tf.reduce_mean(err, axis=-1)"
    assert codes_at(loss_source(body, before="SCALE = 2\n"), ("LL111",)) == []


def test_python_if_in_a_layer_call_and_a_lambda() -> None:
    source = """
        class AutoScale(layers.Layer):
            def call(self, x):
                if keras.ops.max(x) > 1.0:
                    x = x / 255.0
                return x
        scale = layers.Lambda(lambda t: t / 255.0 if ops.max(t) > 1.0 else t)
    """
    assert codes_at(source, ("LL111",)) == [(4, "LL111"), (7, "LL111")]


def test_layer_message_says_it_fails_at_build() -> None:
    source = """
        class AutoScale(layers.Layer):
            def call(self, x):
                if keras.ops.max(x) > 1.0:
                    x = x / 255.0
                return x
    """
    (finding,) = findings(source, ("LL111",))
    assert "`keras.ops.max(x) > 1.0`" in finding.message and "`AutoScale.call`" in finding.message
    assert "OperatorNotAllowedInGraphError" in finding.message and "building the model" in finding.message
    assert "keras.ops.where" in finding.fix


def test_layer_idioms_on_static_values_and_input_lists() -> None:
    source = """
        class Attention(layers.Layer):
            def __init__(self, units, return_sequences=False):
                super().__init__()
                self.units = units
                self.return_sequences = return_sequences
                self.blocks = [layers.Dense(units) for _ in range(2)]
            def call(self, inputs, mask=None, training=None):
                if isinstance(inputs, (list, tuple)):
                    x, context = inputs
                else:
                    x = context = inputs
                if mask is not None:
                    mask = ops.cast(mask, x.dtype)
                if training:
                    x = x * 1.0
                if x.shape[-1] != self.units and ops.ndim(x) == 3:
                    x = self.blocks[0](x)
                for block in self.blocks:
                    x = block(x)
                if keras.config.backend() == "tensorflow":
                    pass
                scores = ops.matmul(x, ops.transpose(context, (0, 2, 1)))
                out = ops.matmul(ops.softmax(scores, axis=-1), context)
                return out if self.return_sequences else out[:, -1]
        class Merge(layers.Layer):
            def call(self, inputs):
                total = None
                for t in inputs:
                    total = t if total is None else total + t
                if not inputs or len(inputs) == 1:
                    return inputs[0]
                return total
        pair = layers.Lambda(lambda xs: ops.concatenate(xs, axis=-1) if len(xs) > 1 else xs[0])
    """
    assert codes_at(source, ("LL111",)) == []


def test_tf_function_is_autographed() -> None:
    source = """
        class Graphy(layers.Layer):
            @tf.function
            def call(self, x):
                if tf.reduce_sum(x) > 0:
                    return x
                return -x
    """
    assert codes_at(source, ("LL111",)) == []


def test_loss_called_from_a_users_tf_function_is_autographed() -> None:
    source = """
        def my_loss(y_true, y_pred):
            if tf.reduce_mean(y_true) > 0:
                return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)
            return tf.reduce_mean(tf.abs(y_true - y_pred), axis=-1)
        @tf.function
        def train_step(x, y):
            with tf.GradientTape() as tape:
                logits = model(x, training=True)
                loss_value = my_loss(y, logits)
            return loss_value
    """
    assert codes_at(source, ("LL111",)) == []
    compiled = textwrap.dedent(source).replace("@tf.function\n", "") + "model.compile('adam', loss=my_loss)\n"
    assert codes_at(compiled, ("LL111",)) == [(3, "LL111")]


def test_python_if_in_a_loss_subclass_dunder_call() -> None:
    # coral-ordinal PR 21 in our words: the override runs instead of Loss.__call__, traced; the
    # mask is built in one loop and the tasks are skipped in another (roles go through append).
    source = """
        class TasksLoss(keras.losses.Loss):
            def __call__(self, labels, logits, sample_weight=None):
                masks = []
                for k in range(3):
                    masks.append(labels > k)
                total = 0.0
                for k, mask in enumerate(masks):
                    n = tf.reduce_sum(tf.cast(mask, tf.float32))
                    if tf.keras.backend.equal(n, 0.0):
                        continue
                    total += n
                if sample_weight is not None:
                    total = total * sample_weight
                return total
    """
    (finding,) = findings(source, ("LL111",))
    assert finding.line - HEADER.count("\n") == 10
    assert "`TasksLoss.__call__`" in finding.message and "the target `labels`" in finding.message


def test_python_control_flow_in_a_compiled_metric_function() -> None:
    source = """
        def iou(y_pred, y_true):
            y_pred = tf.cast((y_pred > 0), dtype=tf.float32)
            i = tf.reduce_sum(y_true * y_pred)
            u = tf.reduce_sum(y_true + y_pred)
            return i / u if u != 0 else u
        def hits(t, p):
            for row in p:
                pass
            return ops.mean(t)
        check = lambda t, p: 1.0 if ops.max(p) > 0.5 else 0.0
        model.compile(optimizer="adam", loss="mse", metrics=["accuracy", iou, {"out": [hits, check]}])
    """
    assert codes_at(source, ("LL111",)) == [(6, "LL111"), (8, "LL111"), (11, "LL111")]
    messages = [f.message for f in findings(source, ("LL111",))]
    assert "metric `iou`" in messages[0] and "AutoGraph-convert metrics" in messages[0]


def test_metrics_and_dunder_call_on_python_values_are_fine() -> None:
    source = """
        class Scaled(keras.losses.Loss):
            def __call__(self, y_true, y_pred, sample_weight=None):
                if sample_weight is None and y_pred.shape[-1] == 1:
                    return super().__call__(y_true, y_pred)
                return tf.reduce_mean(tf.where(y_pred > 0, y_pred, -y_pred))
        def iou(y_true, y_pred):
            inter = ops.sum(y_true * y_pred)
            union = ops.sum(y_true + y_pred)
            if y_pred.shape[-1] == 1:
                return inter
            return ops.where(union > 0, inter / union, 1.0)
        @tf.function
        def traced_metric(y_true, y_pred):
            if tf.reduce_sum(y_pred) > 0:
                return 1.0
            return 0.0
        model.compile(optimizer="adam", loss=Scaled(), metrics=[iou, traced_metric, "mae"])
    """
    assert codes_at(source, ("LL111",)) == []


def test_numpy_metric_with_python_branches_is_not_checked() -> None:
    source = """
        def r2(y_true, y_pred):
            if y_true[0] > 0:
                return 1.0
            return float(np.mean((y_true - y_pred) ** 2))
    """
    assert codes_at(source, ("LL111",)) == []


# LL209 unbounded-loss --------------------------------------------------------------------------

@pytest.mark.parametrize(
    "body",
    [
        "return y_true - y_pred",
        "return -y_true * y_pred",
        "return K.mean(y_pred - y_true, axis=-1)",
        "return -tf.reduce_sum(y_true * y_pred, axis=-1)",
        "diff = tf.subtract(y_true, y_pred)\n    return tf.reduce_mean(diff)",
        "return ops.mean(y_true, axis=-1) - ops.mean(y_pred, axis=-1)",
        "return (y_true - y_pred) / 2.0",
    ],
)
def test_unbounded_returns(body: str) -> None:
    found = codes_at(loss_source(body), ("LL209",))
    assert len(found) == 1 and found[0][1] == "LL209"


def test_unbounded_message() -> None:
    source = """
        def l(y_true, y_pred):
            return y_true - y_pred
        model.compile("adam", loss=l)
    """
    (finding,) = findings(source, ("LL209",))
    assert "`y_true - y_pred`" in finding.message and "`l`" in finding.message
    assert "keras.ops.square(y_true - y_pred)" in finding.fix


@pytest.mark.parametrize(
    "body",
    [
        "return ops.mean(ops.maximum(0.0, 1.0 - y_true * y_pred), axis=-1)",
        "return K.mean(K.square(y_pred - y_true), axis=-1)",
        "return K.mean(K.abs(y_pred - y_true), axis=-1)",
        "return K.mean(K.log(tf.cosh(y_pred - y_true)), axis=-1)",
        "err = y_true - y_pred\n    return K.mean(K.maximum(0.9 * err, -0.1 * err), axis=-1)",
        "return -K.sum(K.l2_normalize(y_true, axis=-1) * K.l2_normalize(y_pred, axis=-1), axis=-1)",
        "return -K.sum(y_true * K.log(K.clip(y_pred, 1e-7, 1.0)), axis=-1)",
        "return y_pred",  # the model computes its own loss (CTC idiom)
        "return K.mean(y_pred)",
        "return tf.nn.relu(y_true - y_pred)",
        "return (y_true - y_pred) ** 2",
        "return (y_true - y_pred) * (y_true - y_pred)",
        "return tf.nn.sigmoid_cross_entropy_with_logits(labels=y_true, logits=y_pred)",
        "return y_true - 0 * y_pred + tf.square(y_pred)",
    ],
)
def test_bounded_losses(body: str) -> None:
    assert codes_at(loss_source(body), ("LL209",)) == []


@pytest.mark.parametrize("name", ["wasserstein_loss", "wgan_critic", "DDPG_loss", "policy_loss", "neg_sharpe", "nll"])
def test_linear_objectives_on_purpose(name: str) -> None:
    source = f"""
        def {name}(y_true, y_pred):
            return -K.mean(y_true * y_pred)
        model.compile("adam", loss={name})
    """
    assert codes_at(source, ("LL209",)) == []


def test_unbounded_metric_found_by_signature_is_not_reported() -> None:
    source = """
        def mean_error(y_true, y_pred):
            return K.mean(y_true - y_pred)
        def bias_loss(y_true, y_pred):
            return K.mean(y_true - y_pred)
    """
    assert codes_at(source, ("LL209",)) == [(5, "LL209")]


def test_loss_indexing_the_batch_axis_is_left_to_ll102() -> None:
    source = """
        def l(y_true, y_pred):
            return y_true[0] - y_pred
        model.compile("adam", loss=l)
    """
    assert codes_at(source, ("LL102", "LL209")) == [(3, "LL102")]


def test_findings_in_loops_are_reported_once() -> None:
    body = (
        "err = y_true - y_pred\n"
        "    for i in range(3):\n"
        "        while tf.reduce_any(err > 1.0):\n"
        "            err = err / 2.0\n"
        "        for j in range(2):\n"
        "            for k in range(2):\n"
        "                for m in range(2):\n"
        "                    if i == 2:\n"
        "                        return err"
    )
    assert codes_at(loss_source(body), ("LL111", "LL209")) == [(5, "LL111"), (11, "LL209")]


# Suppression and scope -------------------------------------------------------------------------------

def test_noqa_on_the_def_line_covers_findings_in_the_loss() -> None:
    source = """
        def l(y_true, y_pred):  # noqa: LL209, LL110
            err = y_true - y_pred
            return tf.reduce_sum(err)
        model.compile("adam", loss=l)
    """
    assert codes_at(source) == []


# Real-world idioms that must lint clean ----------------------------------------------------------------

IDIOMS = """
margin = 1

def contrastive_loss(y_true, y_pred):
    square_pred = K.square(y_pred)
    margin_square = K.square(K.maximum(margin - y_pred, 0))
    return K.mean(y_true * square_pred + (1 - y_true) * margin_square)

def dice_coef(y_true, y_pred, smooth=1.0):
    y_true_f = K.flatten(y_true)
    y_pred_f = K.flatten(y_pred)
    intersection = K.sum(y_true_f * y_pred_f)
    return (2.0 * intersection + smooth) / (K.sum(y_true_f) + K.sum(y_pred_f) + smooth)

def dice_coef_loss(y_true, y_pred):
    return 1 - dice_coef(y_true, y_pred)

def f1_loss(y_true, y_pred):
    tp = K.sum(K.cast(y_true * y_pred, "float"), axis=0)
    fp = K.sum(K.cast((1 - y_true) * y_pred, "float"), axis=0)
    fn = K.sum(K.cast(y_true * (1 - y_pred), "float"), axis=0)
    p = tp / (tp + fp + K.epsilon())
    r = tp / (tp + fn + K.epsilon())
    f1 = 2 * p * r / (p + r + K.epsilon())
    f1 = tf.where(tf.math.is_nan(f1), tf.zeros_like(f1), f1)
    return 1 - K.mean(f1)

def focal_loss(y_true, y_pred):
    pt_1 = tf.where(tf.equal(y_true, 1), y_pred, tf.ones_like(y_pred))
    pt_0 = tf.where(tf.equal(y_true, 0), y_pred, tf.zeros_like(y_pred))
    pt_1 = K.clip(pt_1, K.epsilon(), 1 - K.epsilon())
    pt_0 = K.clip(pt_0, K.epsilon(), 1 - K.epsilon())
    return -K.mean(0.25 * K.pow(1.0 - pt_1, 2.0) * K.log(pt_1)) - K.mean(0.75 * K.pow(pt_0, 2.0) * K.log(1.0 - pt_0))

def weighted_cce(weights):
    weights = K.variable(weights)
    def loss(y_true, y_pred):
        y_pred /= K.sum(y_pred, axis=-1, keepdims=True)
        y_pred = K.clip(y_pred, K.epsilon(), 1 - K.epsilon())
        return -K.sum(y_true * K.log(y_pred) * weights, -1)
    return loss

def triplet_loss(y_true, y_pred, alpha=0.2):
    anchor, positive, negative = tf.split(y_pred, 3, axis=-1)
    pos = tf.reduce_sum(tf.square(anchor - positive), axis=-1)
    neg = tf.reduce_sum(tf.square(anchor - negative), axis=-1)
    return tf.maximum(pos - neg + alpha, 0.0)

def ordinal_loss(y_true, y_pred):
    weights = K.cast(K.abs(K.argmax(y_true, axis=1) - K.argmax(y_pred, axis=1)) / (K.int_shape(y_pred)[1] - 1), "float32")
    return (1.0 + weights) * keras.losses.categorical_crossentropy(y_true, y_pred)

def sparse_ce(y_true, y_pred):
    labels = tf.cast(tf.squeeze(y_true, -1), tf.int32)
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=y_pred)

def shape_aware(y_true, y_pred):
    if len(y_true.shape) == 1 or y_true.shape[-1] == 1:
        y_true = tf.one_hot(tf.cast(y_true[..., 0], tf.int32), depth=3)
    return keras.losses.categorical_crossentropy(y_true, y_pred) * np.float32(1.0 / np.log(2.0))

class FocalLoss(keras.losses.Loss):
    def __init__(self, gamma=2.0, from_logits=False, **kw):
        super().__init__(**kw)
        self.gamma = gamma
        self.from_logits = from_logits
        self.bce = keras.losses.BinaryCrossentropy(from_logits=from_logits, reduction="none")

    def call(self, y_true, y_pred):
        if self.from_logits:
            y_pred = ops.sigmoid(y_pred)
        p_t = y_true * y_pred + (1 - y_true) * (1 - y_pred)
        return ops.power(1.0 - p_t, self.gamma) * self.bce(y_true, y_pred)

class Wgan:
    def wasserstein_loss(self, y_true, y_pred):
        return K.mean(y_true * y_pred)

model.compile("adam", loss=[contrastive_loss, dice_coef_loss, f1_loss, focal_loss, weighted_cce([1, 2]),
                            triplet_loss, ordinal_loss, sparse_ce, shape_aware, FocalLoss(),
                            lambda y_true, y_pred: y_pred])
model.fit(x, y, epochs=1)
"""


def test_real_world_idioms_lint_clean() -> None:
    assert codes_at(IDIOMS) == []


def test_where_with_keyword_branches_keeps_the_gradient() -> None:
    body = "return tf.where(condition=y_pred > 0.5, x=y_pred, y=1.0 - y_pred)"
    assert codes_at(loss_source(body), ("LL109",)) == []
    body = "return tf.where(y_pred > 0.5, x=tf.ones_like(y_true), y=tf.zeros_like(y_true))"
    assert codes_at(loss_source(body), ("LL109",)) == [(3, "LL109")]


def test_a_method_given_as_self_attribute_is_a_loss() -> None:
    """`compile(loss=self.my_loss)`: the method of the enclosing class, `self` not a parameter."""
    source = """
        import tensorflow as tf
        import keras

        class Trainer:
            def my_loss(self, target, output):
                return target - output

            def build(self, model):
                model.compile(optimizer="adam", loss=self.my_loss)
    """
    assert codes_at(source) == [(7, "LL209")]


@pytest.mark.parametrize(
    "imports",
    ["import tensorflow as tf\nK = tf.keras.backend", "from tensorflow import keras\nK = keras.backend", "import tf_keras\nK = tf_keras.backend"],
)
def test_module_aliases_assigned_in_the_file_are_followed(imports: str) -> None:
    source = f"{imports}\ndef l(y_true, y_pred):\n    p = K.reshape(y_pred, (-1, 5, 7))\n    return K.mean(K.square(y_true - p), axis=-1)\nmodel.compile(loss=l)\n"
    assert codes_at(source, select=("LL101",), header=False) == [(4, "LL101")]


def test_a_loss_subclass_named_for_a_linear_objective_is_not_unbounded() -> None:
    """The class name of a `Loss.call` counts, as a function's name does (`WassersteinLoss`)."""
    source = """
        import keras
        from keras import ops

        class WassersteinLoss(keras.losses.Loss):
            def call(self, y_true, y_pred):
                return ops.mean(y_true * y_pred, axis=-1)

        model.compile(optimizer="adam", loss=WassersteinLoss())
    """
    assert codes_at(source, select=("LL209",), header=False) == []


# LL304: a notebook saves and loads several models -------------------------------------------

LL304_NOTEBOOK = """\
import keras
from keras import layers


class Wide(keras.Model):
    def __init__(self):
        super().__init__()
        self.out = layers.Dense(1)

    def call(self, x):
        return self.out(x)


wide = Wide()
wide.compile(optimizer="adam", loss="mse")
wide.save("wide.keras")
plain = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(1)])
plain.save("plain.keras")
restored = keras.models.load_model({path!r})
"""


def test_ll304_load_of_another_file_than_the_custom_models_is_clean() -> None:
    assert [c for _, c in codes_at(LL304_NOTEBOOK.format(path="plain.keras"), select=("LL304",), header=False) if c == "LL304"] == []


def test_ll304_load_of_the_custom_models_file_is_reported() -> None:
    assert [c for _, c in codes_at(LL304_NOTEBOOK.format(path="wide.keras"), select=("LL304",), header=False) if c == "LL304"] == ["LL304"]


LL304_CHECKPOINT = """\
import keras
from keras import layers


class Rmse(keras.metrics.Metric):
    def update_state(self, y_true, y_pred, sample_weight=None):
        pass

    def result(self):
        return 0.0


def build():
    return keras.Sequential([keras.Input(shape=(4,)), layers.Dense(1)])


model = build()
model.compile(optimizer="adam", loss="mse", metrics=[Rmse()])
model.fit(x, y)
{rebind}callbacks = [keras.callbacks.ModelCheckpoint(filepath="best.keras", save_best_only=True)]
model.fit(x, y, callbacks=callbacks)
restored = keras.models.load_model("best.keras")
"""


def test_ll304_checkpoint_of_the_model_with_the_custom_metric_is_reported() -> None:
    source = LL304_CHECKPOINT.format(rebind="")
    assert [c for _, c in codes_at(source, select=("LL304",), header=False)] == ["LL304"]


def test_ll304_checkpoint_of_a_model_built_anew_is_clean() -> None:
    # The notebook's next experiment: `model` is bound anew before the checkpointed fit.
    source = LL304_CHECKPOINT.format(rebind="model = build()\nmodel.compile(optimizer='adam', loss='mse')\n")
    assert [c for _, c in codes_at(source, select=("LL304",), header=False)] == []


LL110_WEIGHTED = """\
import numpy as np
import tensorflow as tf


def my_mse(y_true, y_pred):
    return tf.reduce_mean(tf.square(y_pred - y_true))


{first}
{second}
"""


def test_ll110_weighted_fit_of_the_model_compiled_with_the_loss_is_reported() -> None:
    source = LL110_WEIGHTED.format(
        first="model.compile(optimizer='adam', loss=my_mse)",
        second="model.fit(x, y, sample_weight=w)",
    )
    assert [c for _, c in codes_at(source, select=("LL110",), header=False)] == ["LL110"]


def test_ll110_weighted_fit_of_another_model_or_earlier_is_clean() -> None:
    # A notebook: a weighted fit of another model, and an earlier weighted fit of this one.
    for first, second in (
        ("other.fit(x, y, sample_weight=w)\nmodel.compile(optimizer='adam', loss=my_mse)", "model.fit(x, y)"),
        ("model.compile(optimizer='adam', loss=my_mse)", "other.fit(x, y, sample_weight=w)"),
    ):
        source = LL110_WEIGHTED.format(first=first, second=second)
        assert codes_at(source, select=("LL110",), header=False) == [], (first, second)
