"""Issue 14, points 3, 5, 6 and 7 on small snippets, both ways: LL104 (contractions over the
batch axis), LL107 (TF1 positional arguments), LL301 (`compute_loss` through any name of the
model), LL106 (one finding per removed import) and LL105 (a model's inputs given to a loss)."""

from __future__ import annotations

import textwrap

import pytest

from losslint.config import Config
from losslint.static.linter import lint_source


def codes_at(source: str, select: tuple[str, ...]) -> list[tuple[int, str]]:
    report = lint_source("snippet.py", textwrap.dedent(source), Config(select=(*select, "LL001")))
    assert not report.errors, report.errors
    assert all(f.code != "LL001" for f in report.findings), "the snippet does not parse"
    return sorted((f.line, f.code) for f in report.findings)


def step(body: str) -> str:
    """A model whose train_step runs `body` (unindented lines), compiled with a loss."""
    return _STEP.format(body=textwrap.indent(textwrap.dedent(body), " " * 12))


# LL301: any `<name>.compute_loss(...)` of the model uses the compiled loss (point 5) ------------

_STEP = """
    import keras
    class M(keras.Model):
        def train_step(self, data):
            x, y = data
{body}
            return {{"loss": loss}}
    model = M(inp, out)
    model.compile("adam", loss="mse")
"""


@pytest.mark.parametrize(
    "body",
    [
        "model = self\nloss = model.compute_loss(x=x, y=y, y_pred=model(x))",
        "loss = self.model.compute_loss(x=x, y=y, y_pred=self.model(x))",
        "loss = super().compute_loss(x=x, y=y, y_pred=self(x))",
        "loss = self.compute_loss(x=x, y=y, y_pred=self(x))",
    ],
)
def test_compute_loss_through_any_name_uses_the_compiled_loss(body: str) -> None:
    assert codes_at(step(body), ("LL301",)) == []


@pytest.mark.parametrize(
    "body",
    [
        "model = self\nloss = keras.ops.mean(keras.ops.abs(y - model(x)))",
        # `loss(...)` of another object is that object's own function, not the compiled loss
        "loss = self.critic.loss(y, self(x))",
    ],
)
def test_own_loss_is_still_reported_whatever_the_model_is_called(body: str) -> None:
    assert codes_at(step(body), ("LL301",)) == [(4, "LL301")]


# LL106: one finding per removed import or name, where it is written (point 6) ------------------

@pytest.mark.parametrize(
    "source, expected",
    [
        # the private Keras 2 copy: the import, not each `keras.` use
        ("from tensorflow.python import keras\nm = keras.Sequential()\nd = keras.layers.Dense(2)\n", [(1, "LL106")]),
        ("from tensorflow.python.keras import layers\nd = layers.Dense(2)\ne = layers.Dense(3)\n", [(1, "LL106")]),
        ("import tensorflow.python.keras as tk\nd = tk.layers.Dense(2)\n", [(1, "LL106")]),
        ("from keras.layers.core import Dense\nd = Dense(2)\ne = Dense(3)\n", [(1, "LL106")]),
        # a removed name imported: ImportError at the import, its uses are the same problem
        ("from keras.losses import mse\na = mse(x, y)\nb = mse(x, y)\n", [(1, "LL106")]),
        ("from keras.backend import dot, epsilon\na = dot(x, y) + epsilon()\n", [(1, "LL106")]),
        # written at each use: each use is reported
        ("from keras import backend as K\na = K.dot(x, y)\nb = K.dot(x, y)\n", [(2, "LL106"), (3, "LL106")]),
        ("import keras\nd = keras.layers.core.Dense(1)\n", [(2, "LL106")]),
        ("import tensorflow as tf\na = tf.log(x)\nb = tf.log(y)\n", [(2, "LL106"), (3, "LL106")]),
        # fine: the public names
        ("from tensorflow import keras\nd = keras.layers.Dense(2)\n", []),
        ("from keras.losses import mean_squared_error\na = mean_squared_error(x, y)\n", []),
        ("from keras import backend\ne = backend.epsilon()\n", []),
    ],
)
def test_removed_api_once_where_it_is_written(source: str, expected: list) -> None:
    assert codes_at(source, ("LL106",)) == expected


def test_removed_import_message_says_import_error() -> None:
    report = lint_source("s.py", "from keras.losses import mse\n", Config(select=("LL106",)))
    (finding,) = report.findings
    assert "ImportError: cannot import name 'mse' from 'keras.losses'" in finding.message
    assert "AttributeError" not in finding.message
    assert "mean_squared_error" in finding.fix


_FALLBACK = """
try:
    {first}
except {caught}:
    from keras.losses import mean_squared_error as mse
l = mse(a, b)
"""


@pytest.mark.parametrize(
    "first, caught",
    [
        ("from keras.losses import mse", "ImportError"),
        ("from keras.losses import mse", "(ImportError, AttributeError)"),
        ("from keras.losses import mse", "Exception"),
        ("from keras.layers.core import Dense as mse", "ModuleNotFoundError"),
        ("from tensorflow.python import keras; mse = keras.losses.mse", "ImportError"),
    ],
)
def test_an_import_with_an_import_error_fallback_is_fine(first: str, caught: str) -> None:
    assert codes_at(_FALLBACK.format(first=first, caught=caught), ("LL106",)) == []


def test_an_import_in_a_try_that_does_not_catch_its_error_is_reported() -> None:
    source = "try:\n    from keras.losses import mse\nexcept ValueError:\n    pass\n"
    assert codes_at(source, ("LL106",)) == [(2, "LL106")]


# LL105: a name given to a model as its inputs, then to a loss (point 7) -------------------------

_LOSS_CLASS = """
import keras
class L(keras.losses.Loss):
    def __init__(self, extra):
        super().__init__()
        self.extra = extra
    def call(self, y_true, y_pred):
        return keras.ops.mean(keras.ops.square(y_true - y_pred * self.extra), axis=-1)
"""


@pytest.mark.parametrize(
    "wiring, line",
    [
        # seed 004: `inputs` is built where the snippet says "# specify model structure..."
        ("model = keras.Model(inputs=inputs, outputs=outputs)\nmodel.compile('adam', loss=L(inputs))", 10),
        ("inputs, outputs = build()\nmodel = keras.Model(inputs, outputs)\nmodel.compile('adam', loss=L(inputs))", 11),
        ("a, b = build()\nmodel = keras.Model([a, b], out)\nmodel.compile('adam', loss=L(b))", 11),
        ("a, b = build()\nmodel = keras.Model({'x': a, 'y': b}, out)\nmodel.compile('adam', loss=L(b))", 11),
        ("def fit(inputs, outputs):\n    m = keras.Model(inputs=inputs, outputs=outputs)\n    m.compile('adam', loss=L(inputs))", 11),
        # a Model subclass that keeps keras.Model's constructor
        ("class Net(keras.Model):\n    pass\ninp, out = build()\nnet = Net(inp, out)\nnet.compile('adam', loss=L(inp))", 13),
        # a model's .inputs, the model known by its class, not its name
        ("class Net(keras.Model):\n    pass\nnet = Net(inp, out)\nnet.compile('adam', loss=L(net.inputs[0]))", 12),
    ],
)
def test_model_inputs_given_to_a_loss(wiring: str, line: int) -> None:
    assert codes_at(_LOSS_CLASS + wiring + "\n", ("LL105",)) == [(line, "LL105")]


def test_model_inputs_given_to_a_loss_factory_or_captured() -> None:
    source = """
        import keras
        def make_loss(x_in):
            def loss(y_true, y_pred):
                return keras.ops.mean(keras.ops.square(y_true - y_pred * x_in), axis=-1)
            return loss
        def closure(y_true, y_pred):
            return keras.ops.mean(keras.ops.square(y_true - y_pred * inputs), axis=-1)
        inputs, outputs = build()
        model = keras.Model(inputs=inputs, outputs=outputs)
        model.compile("adam", loss=make_loss(inputs))
        model.compile("adam", loss=closure)
    """
    assert codes_at(source, ("LL105",)) == [(8, "LL105"), (11, "LL105")]


@pytest.mark.parametrize(
    "wiring",
    [
        # rebound after the model took it: which value the loss gets is not visible
        "inputs, outputs = build()\nmodel = keras.Model(inputs, outputs)\ninputs = load()\nmodel.compile('adam', loss=L(inputs))",
        # another function's local of the same name
        "def make():\n    inputs, outputs = build()\n    return keras.Model(inputs, outputs)\ninputs = 0.5\nmake().compile('adam', loss=L(inputs))",
        # a subclass with its own constructor: its first argument is not the inputs
        "class VAE(keras.Model):\n    def __init__(self, encoder, decoder):\n        super().__init__()\nvae = VAE(encoder, decoder)\nvae.compile('adam', loss=L(encoder))",
        # the data, not the symbolic inputs
        "inputs, outputs = build()\nmodel = keras.Model(inputs, outputs)\nmodel.compile('adam', loss=L(x_train))",
        "model = keras.Model(inputs=inputs, outputs=outputs)\nmodel.compile('adam', loss=L(inputs_scale))",
    ],
)
def test_other_names_given_to_a_loss_are_fine(wiring: str) -> None:
    assert codes_at(_LOSS_CLASS + wiring + "\n", ("LL105",)) == []


# LL107: TF 0.x/TF 1 positional order, and crossentropies outside the compiled losses (point 3) --

@pytest.mark.parametrize(
    "call",
    [
        "tf.compat.v1.losses.softmax_cross_entropy(y_pred, y_true)",
        "tf.compat.v1.losses.sparse_softmax_cross_entropy(y_pred, y_true)",
        "tf.compat.v1.losses.sigmoid_cross_entropy(multi_class_labels=y_pred, logits=y_true)",
        "tf.compat.v1.losses.log_loss(y_pred, y_true)",
        "tf.losses.categorical_crossentropy(y_pred, y_true)",
    ],
)
def test_tf1_losses_swapped_in_a_compiled_loss(call: str) -> None:
    source = f"""
        import tensorflow as tf
        def loss(y_true, y_pred):
            return {call}
        model.compile("adam", loss=loss)
    """
    assert codes_at(source, ("LL107",)) == [(4, "LL107")]


_OUTSIDE = """
import tensorflow as tf
import keras
model = keras.Sequential([keras.layers.Dense(3)])
x_ = tf.compat.v1.placeholder(tf.float32, [None, 8])
y_ = tf.compat.v1.placeholder(tf.float32, [None, 3])
y_conv = tf.matmul(x_, w)
for xb, yb in dataset:
    logits = model(xb, training=True)
    out = {call}
"""


@pytest.mark.parametrize(
    "call",
    [
        # TF 0.x order, the classic MNIST tutorial's names
        "tf.nn.softmax_cross_entropy_with_logits(y_conv, y_)",
        "tf.compat.v1.losses.softmax_cross_entropy(y_conv, y_)",
        # the model's output as labels, the data's labels as logits
        "tf.nn.softmax_cross_entropy_with_logits(labels=logits, logits=yb)",
        "tf.nn.sparse_softmax_cross_entropy_with_logits(logits, yb)",
        "keras.losses.categorical_crossentropy(logits, tf.cast(yb, tf.float32), from_logits=True)",
        # names that can mean nothing else, on both sides
        "tf.nn.sigmoid_cross_entropy_with_logits(student_logits, true_labels)",
    ],
)
def test_crossentropy_swapped_outside_the_compiled_losses(call: str) -> None:
    assert codes_at(_OUTSIDE.format(call=call), ("LL107",)) == [(10, "LL107")]


@pytest.mark.parametrize(
    "call",
    [
        "tf.nn.softmax_cross_entropy_with_logits(y_, y_conv)",
        "tf.nn.softmax_cross_entropy_with_logits(labels=yb, logits=logits)",
        "tf.compat.v1.losses.softmax_cross_entropy(onehot_labels=y_, logits=y_conv)",
        # compat.v1.nn takes a _sentinel first: positional arguments raise, they are no swap
        "tf.compat.v1.nn.softmax_cross_entropy_with_logits(y_conv, y_)",
        # an input placeholder is not the target
        "tf.nn.softmax_cross_entropy_with_logits(y_conv, x_)",
        # distillation: another model's output as the labels, on purpose
        "tf.nn.softmax_cross_entropy_with_logits(labels=model(xb), logits=logits)",
        "tf.nn.softmax_cross_entropy_with_logits(labels=tf.nn.softmax(logits), logits=logits)",
        # names that may mean anything: not evidence enough on both sides
        "tf.nn.sigmoid_cross_entropy_with_logits(output, y)",
        "tf.nn.sigmoid_cross_entropy_with_logits(a, b)",
    ],
)
def test_crossentropy_outside_the_compiled_losses_not_swapped(call: str) -> None:
    assert codes_at(_OUTSIDE.format(call=call), ("LL107",)) == []


def test_swapped_call_in_a_train_step_names_its_evidence() -> None:
    source = """
        import tensorflow as tf
        import keras
        class M(keras.Model):
            def train_step(self, data):
                x, y = data
                y_pred = self(x, training=True)
                loss = tf.nn.sparse_softmax_cross_entropy_with_logits(y_pred, y)
                return {"ce": loss}
    """
    report = lint_source("s.py", textwrap.dedent(source), Config(select=("LL107",)))
    (finding,) = report.findings
    assert finding.line == 8
    assert "the model's output, line 7" in finding.message and "from the data, line 6" in finding.message
    assert "must equal `logits.shape.rank - 1`" in finding.message  # a sparse one fails, measured
    assert "sparse_softmax_cross_entropy_with_logits(y, y_pred)" in finding.fix


# LL104: contractions over every axis of two batched tensors, the batch axis included (point 3) --

@pytest.mark.parametrize(
    "body",
    [
        "return tf.tensordot(y_true, y_pred, axes=2)",
        "s = tf.tensordot(y_true, y_pred, 2)\nreturn 1.0 - s",
        "return tf.tensordot(y_true, y_pred, axes=[[0, 1], [0, 1]])",
        "return -ops.tensordot(ops.abs(y_true), y_pred, axes=((1, 0), (1, 0)))",
        "return -ops.vdot(y_true, y_pred)",
        "return np.vdot(y_true, y_pred)",
    ],
)
def test_loss_contracting_every_axis_with_the_batch(body: str) -> None:
    source = _loss_source(body, "import numpy as np\n")
    assert codes_at(source, ("LL104",)) == [(5, "LL104")]  # the product is on the body's first line


@pytest.mark.parametrize(
    "body",
    [
        "return tf.tensordot(y_true, y_pred, axes=[[1], [1]])",  # (batch, batch) similarities
        "return tf.tensordot(y_pred, kernel, axes=2)",  # a weight, not a batched tensor
        "return tf.tensordot(y_true, y_pred, axes=1)",
        "return tf.tensordot(ops.sum(y_true, axis=0), ops.sum(y_pred, axis=0), axes=1)",
        # per-batch statistics that the loss goes on to use (discriminative instance loss)
        "cells = tf.tensordot(y_true, y_pred, axes=[[0, 1, 2], [0, 1, 2]])\nreturn ops.sum(y_pred * cells[0], axis=-1)",
        "cells = tf.tensordot(y_true, y_pred, axes=[[0, 1], [0, 1]])\nreturn ops.sum(y_pred * cells, axis=-1)",
        "return ops.sum(y_true * y_pred, axis=-1)",
    ],
)
def test_products_that_keep_the_batch_axis_or_use_a_weight(body: str) -> None:
    assert codes_at(_loss_source(body), ("LL104",)) == []


def _loss_source(body: str, imports: str = "") -> str:
    """A compiled loss function whose body is `body` (unindented lines), from line 5 on."""
    return (
        f"{imports}import tensorflow as tf\nfrom keras import ops\ndef loss(y_true, y_pred):\n"
        + textwrap.indent(body, "    ") + "\nmodel.compile('adam', loss=loss)\n"
    )


def test_lambda_contracting_every_axis_of_a_known_rank() -> None:
    source = """
        import tensorflow as tf
        import keras
        inp = keras.Input(shape=(8,))
        h = keras.layers.Dense(4)(inp)
        s = keras.layers.Lambda(lambda t: tf.tensordot(t, t, axes=[[0, 1], [0, 1]]))(h)
        r = keras.layers.Reshape((2, 2))(h)
        v = keras.layers.Lambda(lambda t: tf.tensordot(t, t, axes=[[0, 1, 2], [0, 1, 2]]))(r)
        w = keras.layers.Lambda(lambda t: tf.tensordot(t, t, axes=[[1], [1]]))(h)
    """
    assert codes_at(source, ("LL104",)) == [(6, "LL104"), (8, "LL104")]
    (finding, _) = lint_source("s.py", textwrap.dedent(source), Config(select=("LL104",))).findings
    assert "every axis of two batched rank-2 tensors" in finding.message and "in a layer" in finding.message


def test_contraction_message_and_fix() -> None:
    source = "import tensorflow as tf\ndef loss(y_true, y_pred):\n    return tf.tensordot(y_true, y_pred, axes=2)\nmodel.compile('adam', loss=loss)\n"
    (finding,) = lint_source("s.py", source, Config(select=("LL104",))).findings
    assert "one scalar for the whole batch instead of one value per sample" in finding.message
    assert "in a loss" in finding.message
    assert "keras.ops.sum(y_true * y_pred, axis=-1)" in finding.fix


_TF1_CLASS = """
import tensorflow as tf
class LogisticRegression:
    def __init__(self):
        self.input_labels = None
        self.model_output = None
    def build(self, n):
        self.input_data = tf.compat.v1.placeholder("float", [None, n])
        self.input_labels = tf.compat.v1.placeholder("float", [None, 3])
        self.model_output = tf.matmul(self.input_data, self.W_) + self.b_
        self.cost = tf.reduce_mean({call})
"""


@pytest.mark.parametrize(
    "call, expected",
    [
        # TF 0.x order in a TF 1 model class: the tensors are attributes of the model
        ("tf.nn.softmax_cross_entropy_with_logits(self.model_output, self.input_labels)", [(11, "LL107")]),
        ("tf.nn.softmax_cross_entropy_with_logits(self.input_labels, self.model_output)", []),
        ("tf.nn.softmax_cross_entropy_with_logits(labels=self.input_labels, logits=self.model_output)", []),
        # an autoencoder's input as the logits: the input placeholder is not known as the target
        ("tf.nn.sigmoid_cross_entropy_with_logits(self.model_output, self.input_data)", []),
    ],
)
def test_tf1_model_class_attributes(call: str, expected: list) -> None:
    assert codes_at(_TF1_CLASS.format(call=call), ("LL107",)) == expected
