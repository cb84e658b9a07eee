"""Rule behaviour on small snippets: where each static rule fires, and where it must not."""

from __future__ import annotations

import textwrap

import pytest

from losslint.config import Config
from losslint.static.linter import lint_source


def codes_at(source: str, select: tuple[str, ...] | None = None) -> list[tuple[int, str]]:
    report = lint_source("snippet.py", textwrap.dedent(source), Config(select=select))
    assert not report.errors, report.errors
    return sorted((f.line, f.code) for f in report.findings)


def messages(source: str) -> list[str]:
    return [f.message for f in lint_source("snippet.py", textwrap.dedent(source), Config()).findings]


# Loss discovery ------------------------------------------------------------------------------

LOSS_BODY = "    return tf.reduce_mean(tf.square(y_true[0] - y_pred), axis=-1)\n"


@pytest.mark.parametrize(
    "wiring",
    [
        "model.compile('adam', loss=my_loss)",
        "model.compile('adam', my_loss)",
        "model.compile(optimizer='adam', loss=[my_loss, 'mse'])",
        "model.compile(optimizer='adam', loss={'out': my_loss})",
        "model.compile(optimizer='adam', loss=functools.partial(my_loss, scale=2))",
        "alias = my_loss\nmodel.compile(optimizer='adam', loss=alias)",
    ],
)
def test_loss_reached_through_compile(wiring: str) -> None:
    source = (
        "import functools\nimport tensorflow as tf\n"
        "def my_loss(a, b, scale=1):\n"
        "    return tf.reduce_mean(tf.square(a[0] - b), axis=-1)\n"
        f"{wiring}\n"
    )
    assert (4, "LL102") in codes_at(source)


def test_parameter_names_alone_do_not_make_a_loss() -> None:
    assert codes_at("import tensorflow as tf\ndef helper(a, b):\n    return a[0] - b\n") == []


def test_signature_makes_a_loss() -> None:
    assert codes_at("import tensorflow as tf\ndef l(y_true, y_pred):\n" + LOSS_BODY) == [(3, "LL102")]


def test_function_used_as_metric_is_not_a_signature_loss() -> None:
    source = """
        import tensorflow as tf
        def first_sample(y_true, y_pred):
            return y_true[0] - y_pred[0]
        model.compile("adam", loss="mse", metrics=[first_sample])
    """
    assert codes_at(source) == []


def test_factory_lambda_and_partial() -> None:
    source = """
        import tensorflow as tf
        def make_loss(weight):
            def inner(t, p):
                return weight * (t[0] - p)
            return inner
        model.compile("adam", loss=make_loss(2.0))
        model.compile("adam", loss=lambda t, p: t[1] - p)
    """
    assert codes_at(source) == [(5, "LL102"), (8, "LL102")]


def test_loss_subclass_call_and_train_step() -> None:
    source = """
        import keras
        import tensorflow as tf
        class MyLoss(keras.losses.Loss):
            def call(self, kg_true, loc_f):
                return kg_true[0] - loc_f
        def custom(t, p):
            return t - p[1]
        class M(keras.Model):
            def train_step(self, data):
                x, y = data
                y_hat = self(x, training=True)
                loss = custom(y, y_hat)
                return {"loss": loss}
    """
    assert codes_at(source) == [(6, "LL102"), (8, "LL102")]


# LL101 --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "imports, call",
    [
        ("import tensorflow as tf", "tf.reshape(pred, (-1, 5, 7))"),
        ("import tensorflow as tf", "tf.compat.v1.reshape(pred, (-1, 5, 7))"),
        ("from tensorflow.keras import backend as K", "K.reshape(pred, (-1, 5, 7))"),
        ("import tensorflow.keras.backend as KB", "KB.reshape(pred, (-1, 5, 7))"),
        ("from tensorflow.python import keras", "keras.backend.reshape(pred, (-1, 5, 7))"),
        ("from keras import ops", "ops.reshape(pred, (-1, 5, 7))"),
        ("import keras", "keras.ops.reshape(pred, (-1, 5, 7))"),
        ("import numpy as np", "np.reshape(pred, (-1, 5, 7))"),
    ],
)
def test_reshape_recognised_through_any_alias(imports: str, call: str) -> None:
    source = f"{imports}\ndef l_1(true, pred):\n    p = {call}\n    return p\nmodel.compile('adam', loss=l_1)\n"
    assert (3, "LL101") in codes_at(source)


def test_reshape_of_an_alias_and_not_of_other_tensors() -> None:
    source = """
        import tensorflow as tf
        def loss(y_true, y_pred):
            t = y_true
            a = tf.reshape(t, (-1, 2))
            w = tf.ones((3, 3))
            b = tf.reshape(w, (9,))
            return a
    """
    assert codes_at(source) == [(5, "LL101")]


@pytest.mark.parametrize(
    "shape",
    [
        "[-1]", "(-1,)", "-1", "[-1, 1]", "(-1, 1, 1)", "tf.shape(y_pred)", "y_pred.shape", "ops.shape(y_pred)",
        "[-1, y_pred.shape[-1]]", "(-1, ops.shape(y_true)[-1])",
    ],
)
def test_reshapes_that_only_align_are_not_reported(shape: str) -> None:
    """Flattening sparse labels before one_hot, or giving y_true y_pred's shape: no new layout."""
    source = f"""
        import tensorflow as tf
        from keras import ops
        def loss(y_true, y_pred):
            labels = tf.reshape(y_true, {shape})
            return tf.keras.losses.categorical_crossentropy(tf.one_hot(tf.cast(labels, tf.int32), 3), y_pred)
    """
    assert codes_at(source) == []


def test_reshape_message_names_tensor_and_shape() -> None:
    source = "import tensorflow as tf\ndef l_1(true, pred):\n    pred = tf.reshape(pred, (-1, 5, 7))\n    return pred\n"
    (message,) = messages(source)
    assert "`pred`" in message and "(-1, 5, 7)" in message and "l_1" in message


# LL102 --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("index", ["y_true[:, 0]", "y_true[..., 1]", "y_true[:, :, 0]", "y_true[0:1]", "y_true['key']"])
def test_slices_keep_the_batch_axis(index: str) -> None:
    assert codes_at(f"def l(y_true, y_pred):\n    return {index} - y_pred\n") == []


@pytest.mark.parametrize("index", ["y_true[0]", "y_pred[1]", "y_true[-1]", "y_true[0, :]"])
def test_integer_first_index(index: str) -> None:
    assert codes_at(f"def l(y_true, y_pred):\n    return {index}\n") == [(2, "LL102")]


def test_list_index_through_alias_and_after_rebinding() -> None:
    source = """
        import tensorflow as tf
        def l(y_dummy, pred):
            p = tf.nn.sigmoid(pred)
            y_dummy = tf.unstack(y_dummy)
            return p[1] + y_dummy[0]
        model.compile("adam", loss=l)
    """
    # y_dummy was rebound to a list of tensors: indexing it is legitimate.
    assert codes_at(source) == [(6, "LL102")]


# LL103 --------------------------------------------------------------------------------------------

def test_hardcoded_batch_size_in_loss_and_lambda() -> None:
    source = """
        import tensorflow as tf
        import keras
        batch_size = 32
        def hard(y_true, y_pred):
            return tf.reshape(y_pred, [batch_size, 5, 7])
        class L(keras.losses.Loss):
            def __init__(self, batch_size):
                super().__init__()
                self.batch_size = batch_size
            def call(self, t, p):
                return tf.tile(t, [self.batch_size, 1])
        layer = keras.layers.Lambda(lambda t: tf.reshape(t, (32, 5, 7)))
    """
    found = codes_at(source, select=("LL103",))
    assert found == [(6, "LL103"), (12, "LL103"), (13, "LL103")]


def test_dynamic_batch_size_is_fine() -> None:
    source = """
        import tensorflow as tf
        from keras import layers, ops
        class Attn(layers.Layer):
            def call(self, inputs):
                batch_size = ops.shape(inputs)[0]
                x = ops.reshape(inputs, (batch_size, -1, 4))
                return ops.reshape(x, (-1, 8))
        def loss(y_true, y_pred):
            bs = tf.shape(y_pred)[0]
            return tf.reshape(y_pred, [bs, -1]) - tf.reshape(y_true, (-1, 4))
    """
    assert codes_at(source, select=("LL103",)) == []


def test_fit_batch_size_literal() -> None:
    source = """
        import tensorflow as tf
        def loss(y_true, y_pred):
            return tf.ones([16, 35]) * tf.square(y_true - y_pred)
        model.compile("adam", loss=loss)
        model.fit(x, y, batch_size=16)
    """
    assert codes_at(source, select=("LL103",)) == [(4, "LL103")]


@pytest.mark.parametrize(
    "lines",
    [
        "return tf.reshape(y_pred, (y_pred.shape[0], -1))",
        "return tf.tile(y_true, [K.int_shape(y_pred)[0], 1])",
        "shape = y_pred.get_shape().as_list()\n    batch_size = shape[0]\n    return tf.reshape(y_true, [batch_size, -1])",
        "pred = tf.convert_to_tensor(y_pred)\n    return tf.reshape(tf.reduce_mean(pred, axis=1), (pred.shape[0], 1))",
        "b, n = y_pred.shape[:2]\n    return ops.ones((b, n)) * y_pred",
        "n = int(y_true.shape[0])\n    return tf.zeros([n, 1]) + y_pred",
        "return tf.reshape(y_pred, [y_pred.shape.as_list()[0], 4, -1])",
    ],
)
def test_batch_size_from_the_static_shape_in_a_loss(lines: str) -> None:
    source = (
        "import tensorflow as tf\nfrom keras import ops\nfrom tensorflow.keras import backend as K\n"
        f"def my_loss(y_true, y_pred):\n    {lines}\nmodel.compile('adam', loss=my_loss)\n"
    )
    found = codes_at(source, select=("LL103",))
    assert len(found) == 1 and found[0][1] == "LL103"
    (message,) = [m for m in messages(source) if "static shape" in m]
    assert "unknown batch dimension (None)" in message and "`my_loss`" in message


def test_batch_size_from_the_static_shape_in_a_loss_subclass() -> None:
    # tensorflow/tensorflow#54094 in our words: the subclass's call is traced like any loss.
    source = """
        import tensorflow as tf
        import tensorflow.keras as krs
        class ExplainedVar(krs.losses.Loss):
            def call(self, true, pred):
                pred = tf.convert_to_tensor(pred)
                mean = tf.reshape(tf.math.reduce_mean(pred, axis=1), (pred.shape[0], 1))
                return tf.reduce_sum(tf.square(pred - mean), axis=1)
    """
    assert codes_at(source, select=("LL103",)) == [(7, "LL103")]


@pytest.mark.parametrize(
    "lines",
    [
        "return tf.reshape(y_pred, (tf.shape(y_pred)[0], -1))",
        "return ops.reshape(y_pred, (ops.shape(y_pred)[0], 1, -1))",
        "return tf.reshape(y_pred, (-1, y_pred.shape[-1]))",
        "n = y_pred.shape[1:]\n    return tf.reshape(y_true, (-1, *n))",
        "shape = y_pred.get_shape().as_list()\n    return tf.reshape(y_true, [-1, shape[1]])",
        "steps, n = y_pred.shape[1:3]\n    return tf.reshape(y_true, (-1, steps, n))",
        "return tf.reshape(y_pred, (y_pred.shape[1], -1))",
        "batch_size = tf.shape(y_pred)[0]\n    return tf.tile(y_true, [batch_size, 1])",
        "return tf.tile(y_true, [WEIGHTS.shape[0], 1])",
    ],
)
def test_dynamic_batch_and_other_static_axes_in_a_loss_are_fine(lines: str) -> None:
    source = (
        "import tensorflow as tf\nfrom keras import ops\nWEIGHTS = tf.ones((3, 1))\n"
        f"def my_loss(y_true, y_pred):\n    {lines}\nmodel.compile('adam', loss=my_loss)\n"
    )
    assert codes_at(source, select=("LL103",)) == []


def test_static_batch_outside_traced_losses_is_left_alone() -> None:
    # A layer meets its None batch at once when the model is built; a helper found only by its
    # parameter names (not named like a loss) may run eagerly on concrete tensors.
    source = """
        import tensorflow as tf
        from keras import layers
        class Fold(layers.Layer):
            def call(self, x):
                return tf.reshape(x, (x.shape[0], -1))
        def per_sample_error(y_true, y_pred):
            return tf.reshape(tf.square(y_true - y_pred), (y_pred.shape[0], -1))
    """
    assert codes_at(source, select=("LL103",)) == []


# LL104 --------------------------------------------------------------------------------------------

def test_dot_on_permuted_4d_tensors_in_lambda() -> None:
    source = """
        from tensorflow.keras import backend as K
        from tensorflow.keras.layers import Lambda
        out = Lambda(lambda x: K.dot(K.permute_dimensions(x, (0, 2, 1, 3)), K.permute_dimensions(x, (0, 2, 3, 1))))(h)
    """
    assert codes_at(source) == [(4, "LL104")]


def test_dot_with_rank_known_from_a_reshape_layer() -> None:
    source = """
        import keras
        from tensorflow.keras import backend as K
        inp = keras.Input(shape=(540,))
        r = keras.layers.Reshape((9, 4, 15))(inp)
        def gram(x):
            return K.dot(x, x)
        out = keras.layers.Lambda(gram)(r)
    """
    assert codes_at(source) == [(7, "LL104")]


def test_dot_with_a_weight_matrix_is_fine() -> None:
    source = """
        import tensorflow as tf
        from tensorflow.keras import backend as K
        def call(self, x):
            a = K.permute_dimensions(x, (0, 2, 1, 3))
            return K.dot(a, self.kernel) + tf.tensordot(a, self.kernel, axes=1)
    """
    assert codes_at(source) == []


# LL105 --------------------------------------------------------------------------------------------

def test_symbolic_input_given_to_loss_subclass_and_captured_by_closure() -> None:
    source = """
        import keras
        inputs = keras.Input(shape=(4,))
        hidden = keras.layers.Dense(3)(inputs)
        class L(keras.losses.Loss):
            def __init__(self, extra):
                super().__init__()
                self.extra = extra
            def call(self, y_true, y_pred):
                return keras.ops.mean(keras.ops.square(y_true - y_pred * self.extra), axis=-1)
        def closure(y_true, y_pred):
            return keras.ops.mean(keras.ops.square(y_true - y_pred * hidden), axis=-1)
        model = keras.Model(inputs, hidden)
        model.compile("adam", loss=L(model.inputs[0]))
        model.compile("adam", loss=closure)
    """
    assert codes_at(source) == [(12, "LL105"), (14, "LL105")]


def test_plain_values_given_to_a_loss_are_fine() -> None:
    source = """
        import keras
        class L(keras.losses.Loss):
            def __init__(self, weight, output_dir):
                super().__init__()
                self.weight = weight
            def call(self, y_true, y_pred):
                return keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1) * self.weight
        model.compile("adam", loss=L(0.5, args.output))
    """
    assert codes_at(source) == []


# LL106 --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "source, expected",
    [
        ("import tensorflow as tf\ny = tf.log(x)\n", [(2, "LL106")]),
        ("import tensorflow as tf\ny = tf.math.log(x)\n", []),
        ("import tensorflow as tf\ny = tf.compat.v1.log(x)\n", []),
        ("import tensorflow as tf\nopt = tf.train.AdamOptimizer(0.1)\n", [(2, "LL106")]),
        ("from keras import backend as K\ny = K.dot(a, b)\n", [(2, "LL106")]),
        ("from tensorflow.keras import backend as K\ny = K.dot(a, b)\n", []),
        ("from tensorflow.keras import backend as K\neps = K.epsilon()\n", []),
        ("import keras\neps = keras.backend.epsilon()\n", []),
        ("from tensorflow.keras import backend as K\ns = K.get_session()\n", [(2, "LL106")]),
        ("from keras.layers.core import Dense\n", [(1, "LL106")]),
        ("import keras.engine\n", [(1, "LL106")]),
        ("from keras.layers import Dense\n", []),
        ("from tensorflow.python import keras\n", [(1, "LL106")]),
        ("import keras\nopt = keras.optimizers.Adam(lr=0.1)\n", [(2, "LL106")]),
        ("import keras\nopt = keras.optimizers.Adam(learning_rate=0.1)\n", []),
        ("import keras\nl = keras.losses.mse\n", [(2, "LL106")]),
        ("import tensorflow as tf\nl = tf.keras.losses.mse\n", []),
        ("import re\np = re.compile('x', re.I)\n", []),
        ("model.fit(x, y, nb_epoch=3)\n", [(1, "LL106")]),
        ("from sklearn.svm import SVC\nsk_model = SVC()\nsk_model.fit(x, y, workers=3)\n", []),
        ("model.compile('adam', 'mse', experimental_run_tf_function=False)\n", [(1, "LL106")]),
        ("history = model.fit_generator(gen)\n", [(1, "LL106")]),
        ("t = model.targets[0]\n", [(1, "LL106")]),
        ("t = dataset.targets[0]\n", []),
    ],
)
def test_removed_api(source: str, expected: list) -> None:
    assert codes_at(source, select=("LL106",)) == expected


def test_compiled_loss_and_metrics_in_train_step() -> None:
    source = """
        import keras
        class M(keras.Model):
            def train_step(self, data):
                x, y = data
                y_pred = self(x)
                loss = self.compiled_loss(y, y_pred)
                self.compiled_metrics.update_state(y, y_pred)
                return {"loss": loss}
    """
    assert codes_at(source, select=("LL106",)) == [(7, "LL106"), (8, "LL106")]


def test_removed_api_message_names_the_replacement() -> None:
    (message,) = messages("import tensorflow as tf\ny = tf.matrix_band_part(x, 0, -1)\n")
    report = lint_source("s.py", "import tensorflow as tf\ny = tf.matrix_band_part(x, 0, -1)\n", Config())
    assert "tf.matrix_band_part" in message
    assert "tf.linalg.band_part" in report.findings[0].fix


# Precision on patterns from real Keras 3 libraries -------------------------------------------------

def test_batch_size_unpacked_from_the_shape_in_a_nested_function() -> None:
    source = """
        from keras import layers, ops
        class Embed(layers.Layer):
            def call(self, inputs):
                def scatter(x):
                    batch_size, seq_len, hidden = ops.shape(x)
                    return ops.reshape(x, (batch_size, seq_len, hidden))
                bs, n = ops.shape(inputs)[:2]
                return scatter(ops.ones((bs, n, 4)))
    """
    assert codes_at(source, select=("LL103",)) == []


def test_tf_keras_names_that_tf_keras_still_has_are_not_reported() -> None:
    # tf.keras is tf_keras (Keras 2) under TF_USE_LEGACY_KERAS=1; libraries written for it are correct.
    source = """
        import tensorflow as tf
        class Composite(tf.keras.optimizers.legacy.Optimizer):
            pass
        opt = tf.keras.optimizers.legacy.Adam()
        loss = tf.keras.losses.mean_squared_error
    """
    assert codes_at(source, select=("LL106",)) == []
    assert codes_at("import keras\nopt = keras.optimizers.legacy.Adam()\n", select=("LL106",)) == [(2, "LL106")]


def test_assigning_a_removed_name_is_a_compat_shim_not_a_use() -> None:
    source = "import keras\nkeras.backend.name_scope = keras.name_scope\nwith keras.backend.name_scope('x'):\n    pass\n"
    assert codes_at(source, select=("LL106",)) == [(3, "LL106")]


def test_importing_the_legacy_optimizers_module_itself_is_fine() -> None:
    """Keras 3's own `keras/optimizers/__init__.py` re-exports it; only its optimizers raise."""
    assert codes_at("from keras.optimizers import legacy as legacy\n", select=("LL106",)) == []
    assert codes_at("from keras.optimizers.legacy import Adam\n", select=("LL106",)) == [(1, "LL106")]
    (message,) = messages("import keras\nopt = keras.optimizers.legacy.Adam()\n")
    assert "still imports in Keras 3" in message and "ImportError" in message


# LL102: outputs looked up by name ------------------------------------------------------------

KEYED_LOSS = """\
    import keras
    from keras import ops

    def joint_loss(y_true, y_pred):
        box = ops.mean(ops.square(y_true["box"] - y_pred["box"]))
        return box + ops.mean(ops.abs(y_true["label"] - y_pred["label"]))
"""


def test_outputs_looked_up_by_name_in_a_compiled_loss_is_one_ll102() -> None:
    source = KEYED_LOSS + "    model.compile(optimizer='adam', loss=joint_loss)\n"
    assert codes_at(source) == [(5, "LL102")]
    (message,) = messages(source)
    assert "'box' and 'label'" in message


def test_outputs_looked_up_by_name_in_a_loss_a_loop_calls_is_left_alone() -> None:
    # Called by the user's own training loop with dicts: a dict lookup is right there.
    source = KEYED_LOSS + "    loss = joint_loss({'box': b, 'label': l}, model(x))\n"
    assert codes_at(source) == []
