"""The rules that look at the model around the loss (LL203, LL204, LL303, LL304, LL305) and their
helpers in losslint/static/models.py: where each fires, and the real-Keras code it must leave
alone."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from losslint.config import Config
from losslint.findings import Severity
from losslint.static.context import FileContext, walk
from losslint.static.discovery import file_context
from losslint.static.linter import lint_source
from losslint.static.models import final_activation, model_of, reaching_value, visible_shape

HEADER = "import keras\nimport numpy as np\nimport tensorflow as tf\nfrom keras import layers, ops\n"


def findings(source: str, code: str):
    report = lint_source("snippet.py", HEADER + textwrap.dedent(source), Config(select=(code,)))
    assert not report.errors, report.errors
    return [f for f in report.findings if f.code == code]


def lines(source: str, code: str) -> list[int]:
    """Lines of the findings, counted in the snippet (the 4-line header excluded)."""
    return sorted(f.line - 4 for f in findings(source, code))


def context(source: str) -> FileContext:
    text = textwrap.dedent(source)
    return file_context("snippet.py", text, cst.parse_module(text))


def name_node(ctx: FileContext, name: str, occurrence: int = -1) -> cst.Name:
    found = [n for n in walk(ctx.module) if isinstance(n, cst.Name) and n.value == name]
    return found[occurrence]


# models.py ------------------------------------------------------------------------------------


def test_reaching_value_follows_straight_line_rebinding() -> None:
    ctx = context(
        """
        import keras
        x = keras.Input((4,))
        x = keras.layers.Dense(8)(x)
        x = keras.layers.Dense(3, activation="softmax")(x)
        model = keras.Model(inputs=None, outputs=x)
        """
    )
    value = reaching_value(ctx, name_node(ctx, "x"))
    assert isinstance(value, cst.Call) and "softmax" in ctx.module.code_for_node(value)
    inner = name_node(ctx, "x", 3)  # the `x` inside the second Dense call: the first Dense
    assert "Dense(8)" in ctx.module.code_for_node(reaching_value(ctx, inner))


def test_reaching_value_gives_up_on_conditional_bindings() -> None:
    ctx = context(
        """
        import keras
        x = keras.Input((4,))
        if big:
            x = keras.layers.Dense(8)(x)
        out = x
        """
    )
    assert reaching_value(ctx, name_node(ctx, "x")) is None


def test_model_of_functional_sequential_builder_and_subclass() -> None:
    ctx = context(
        """
        import keras
        from keras import layers
        def build():
            inp = keras.Input((4,))
            return keras.Model(inp, [layers.Dense(1, name="a")(inp), layers.Dense(2, name="b")(inp)])
        m1 = build()
        m2 = keras.Sequential([keras.Input((4,)), layers.Dense(3)])
        m2.add(layers.Softmax())
        class Net(keras.Model):
            pass
        m3 = Net()
        m1.fit; m2.fit; m3.fit
        """
    )
    m1 = model_of(ctx, name_node(ctx, "m1"))
    assert m1.kind == "functional" and [o.name(ctx) for o in m1.outputs] == ["a", "b"]
    m2 = model_of(ctx, name_node(ctx, "m2"))
    assert m2.kind == "sequential" and final_activation(ctx, m2.outputs[0]).name == "softmax"
    m3 = model_of(ctx, name_node(ctx, "m3"))
    assert m3.kind == "subclassed" and m3.outputs is None


@pytest.mark.parametrize(
    "output, activation, through",
    [
        ('layers.Dense(3, activation="softmax")(h)', "softmax", 0),
        ("layers.Dense(3, activation=keras.activations.sigmoid)(h)", "sigmoid", 0),
        ("layers.Dense(3, 'softmax')(h)", "softmax", 0),
        ('layers.Activation("sigmoid")(layers.Dense(3)(h))', "sigmoid", 0),
        ("layers.Softmax()(layers.Dense(3)(h))", "softmax", 0),
        ('layers.Activation("linear", dtype="float32")(layers.Dense(3, activation="softmax")(h))', "softmax", 0),
        ("keras.ops.softmax(layers.Dense(3)(h))", "softmax", 0),
        ('layers.Reshape((3,))(layers.Dense(3, activation="softmax")(h))', "softmax", 1),
        ('layers.Lambda(lambda t: t[:, :3])(layers.Dense(3, activation="softmax")(h))', "softmax", 1),
        ("layers.Dense(3)(h)", "linear", 0),
        ("layers.Dense(3, activation=None)(h)", "linear", 0),
        ('layers.Dense(3, activation="relu")(h)', "relu", 0),
    ],
)
def test_final_activation(output: str, activation: str, through: int) -> None:
    ctx = context(
        f"import keras\nfrom keras import layers\nh = keras.Input((4,))\nout = {output}\n"
        "model = keras.Model(h, out)\nmodel.fit\n"
    )
    found = final_activation(ctx, model_of(ctx, name_node(ctx, "model")).outputs[0])
    assert found is not None and found.name == activation and len(found.through) == through


@pytest.mark.parametrize(
    "output",
    [
        'layers.Lambda(lambda t: tf.math.log(t))(layers.Dense(3, activation="softmax")(h))',
        "layers.Dense(3, activation=act)(h)",
        "layers.Conv1D(3, 1, 1, 'valid', 'channels_last', 1, 1, 'softmax')(h)",
        "MyHead()(h)",
    ],
)
def test_final_activation_not_visible(output: str) -> None:
    ctx = context(
        f"import keras\nimport tensorflow as tf\nfrom keras import layers\nh = keras.Input((4,))\nout = {output}\n"
        "model = keras.Model(h, [out])\nmodel.fit\n"
    )
    assert final_activation(ctx, model_of(ctx, name_node(ctx, "model")).outputs[0]) is None


def test_visible_shape() -> None:
    ctx = context(
        """
        import keras
        from keras import layers
        inp = keras.Input((10,))
        a = layers.Dense(35)(inp)
        b = layers.Reshape((10, 7))(layers.Dense(70)(inp))
        model = keras.Model(inp, [a, b])
        model.fit
        """
    )
    outputs = model_of(ctx, name_node(ctx, "model")).outputs
    a, b = (visible_shape(ctx, o) for o in outputs)
    assert a.last == 35 and b.dims == (10, 7) and a.differs(b)


# LL203 --------------------------------------------------------------------------------------------

TWO_OUTPUTS = """
inp = keras.Input(shape=(8,))
price = layers.Dense(1, name="price")(inp)
category = layers.Dense(3, activation="softmax", name="category")(inp)
model = keras.Model(inp, [price, category])
"""


@pytest.mark.parametrize(
    "compile_call",
    [
        'model.compile("adam", loss={"price": "mse", "categroy": "categorical_crossentropy"})',
        'model.compile("adam", loss={"price": "mse"})',
        'model.compile("adam", loss=["mse"])',
        'model.compile("adam", loss=["mse", "mse", "mse"])',
        'model.compile("adam", loss=["mse", "mse"], loss_weights=[1.0])',
        'model.compile("adam", loss=["mse", None], loss_weights=[1.0])',
        'model.compile("adam", loss="mse", loss_weights=[1.0, 0.5])',
        'model.compile("adam", loss="mse", loss_weights={"price": 1.0, "category": 0.5})',
        'model.compile("adam", loss=["mse", "mse"], loss_weights={"price": 1.0, "cat": 0.5})',
        'model.compile("adam", loss={"price": "mse", "category": "mse"}, loss_weights={"price": 1.0})',
        'model.fit(x, {"price": y1, "cat": y2})',
        'losses = {"price": "mse", "categroy": "mse"}\nmodel.compile("adam", loss=losses)',
    ],
)
def test_ll203_mismatches(compile_call: str) -> None:
    assert len(findings(TWO_OUTPUTS + compile_call + "\n", "LL203")) == 1


@pytest.mark.parametrize(
    "compile_call",
    [
        'model.compile("adam", loss={"price": "mse", "category": "categorical_crossentropy"})',
        'model.compile("adam", loss=["mse", "categorical_crossentropy"], loss_weights=[1.0, 0.5])',
        'model.compile("adam", loss=["mse", None], loss_weights=[1.0, 0.0])',
        'model.compile("adam", loss={"price": "mse", "category": "mse"}, loss_weights=[1.0, 0.5])',
        'model.compile("adam", loss=["mse", "mse"], loss_weights={"price": 1.0, "category": 0.5})',
        'model.compile("adam", loss="mse")',
        'model.compile("adam", loss="mse", loss_weights=[1.0])',
        'model.compile("adam", loss=make_losses())',
        'model.compile("adam", loss=LOSSES)',
        'model.fit(x, {"price": y1, "category": y2})',
        'model.fit(x, [y1, y2, y3])',
    ],
)
def test_ll203_consistent_or_not_visible(compile_call: str) -> None:
    assert findings(TWO_OUTPUTS + compile_call + "\n", "LL203") == []


def test_ll203_message_names_the_outputs() -> None:
    (finding,) = findings(TWO_OUTPUTS + 'model.compile("adam", loss={"price": "mse", "categroy": "mse"})\n', "LL203")
    assert "'categroy'" in finding.message and "'price', 'category'" in finding.message
    assert "Expected keys" in finding.message and finding.severity is Severity.ERROR


@pytest.mark.parametrize(
    "model",
    [
        # outputs whose names are not all visible (an auto-named layer)
        'inp = keras.Input((8,))\nmodel = keras.Model(inp, [layers.Dense(1, name="price")(inp), layers.Dense(3)(inp)])',
        # outputs built by a helper, appended to, or conditional
        "inp = keras.Input((8,))\nmodel = keras.Model(inp, heads(inp))",
        'inp = keras.Input((8,))\nouts = [layers.Dense(1, name="price")(inp)]\nouts.append(layers.Dense(3, name="category")(inp))\nmodel = keras.Model(inp, outs)',
        # an RNN returning states, a subclassed model, a functional subclass with its own train_step
        "inp = keras.Input((5, 8))\nmodel = keras.Model(inp, layers.LSTM(4, return_state=True)(inp))",
        "class Net(keras.Model):\n    pass\nmodel = Net()",
        'class Net(keras.Model):\n    def train_step(self, data):\n        return {}\ninp = keras.Input((8,))\n'
        'model = Net(inputs=inp, outputs=[layers.Dense(1, name="price")(inp), layers.Dense(3, name="category")(inp)])',
    ],
)
def test_ll203_silent_where_outputs_are_not_visible(model: str) -> None:
    source = model + '\nmodel.compile("adam", loss={"price": "mse", "categroy": "mse"}, loss_weights=[1.0])\n'
    assert findings(source, "LL203") == []


SEED_001_SHAPES = """
inp = keras.Input(shape=(10,))
model = keras.Model(inp, [layers.Dense(35)(inp), layers.Dense(70)(inp)])
def l(y_true, y_pred):
    {body}
model.compile("adam", l)
"""


@pytest.mark.parametrize(
    "body",
    [
        "return tf.reduce_mean(tf.square(y_true - tf.reshape(y_pred, (-1, 5, 7))), axis=[1, 2])",
        "return keras.ops.mean(keras.ops.abs(y_true[:, :35] - y_pred[:, :35]), axis=-1)",
        "return keras.ops.square(y_true[..., 3] - y_pred[..., 3])",
    ],
)
def test_ll203_one_loss_written_for_one_of_several_shapes(body: str) -> None:
    found = findings(SEED_001_SHAPES.format(body=body), "LL203")
    assert [f.line - 4 for f in found] == [6]
    assert "(batch, ..., 35)" in found[0].message and "(batch, ..., 70)" in found[0].message


@pytest.mark.parametrize(
    "body",
    [
        "return keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1)",  # generic element-wise
        "return tf.reduce_mean(tf.reshape(y_true - y_pred, (-1,)))",  # no shape-specific constant
        "return keras.ops.mean(y_true[:, 0:] - y_pred, axis=-1)",
    ],
)
def test_ll203_generic_loss_for_several_shapes_is_fine(body: str) -> None:
    assert findings(SEED_001_SHAPES.format(body=body), "LL203") == []


def test_ll203_shape_specific_loss_on_outputs_of_the_same_shape_is_fine() -> None:
    source = SEED_001_SHAPES.replace("Dense(70)", "Dense(35)").format(
        body="return tf.reshape(y_pred, (-1, 5, 7)) - y_true"
    )
    assert findings(source, "LL203") == []


# LL204 --------------------------------------------------------------------------------------------


def functional(output: str, loss: str, extra: str = "") -> str:
    return (
        f"{extra}inp = keras.Input(shape=(4,))\nh = layers.Dense(16, activation='relu')(inp)\n"
        f"out = {output}\nmodel = keras.Model(inp, out)\nmodel.compile(optimizer='adam', loss={loss})\n"
    )


CUSTOM_TF_LOSS = (
    "def ce(y_true, y_pred):\n"
    "    return tf.nn.softmax_cross_entropy_with_logits(labels=y_true, logits=y_pred)\n"
)


@pytest.mark.parametrize(
    "output, loss, severity",
    [
        ('layers.Dense(3, activation="softmax")(h)', "keras.losses.CategoricalCrossentropy(from_logits=True)", "warning"),
        ('layers.Dense(1, activation="sigmoid")(h)', "keras.losses.BinaryCrossentropy(from_logits=True)", "warning"),
        ("layers.Softmax()(layers.Dense(3)(h))", "tf.keras.losses.SparseCategoricalCrossentropy(True)", "warning"),
        ('layers.Reshape((3,))(layers.Dense(3, activation="softmax")(h))',
         "keras.losses.SparseCategoricalCrossentropy(from_logits=True)", "error"),
        ('layers.Flatten()(layers.Dense(3, activation="softmax")(h))',
         "keras.losses.CategoricalCrossentropy(from_logits=True)", "error"),
        ('layers.Dense(3, activation="softmax")(h)', '"binary_crossentropy"', "error"),
        ('layers.Dense(3, activation="softmax")(h)', "keras.losses.BinaryCrossentropy()", "error"),
        ("layers.Dense(3)(h)", "keras.losses.CategoricalCrossentropy(from_logits=False)", "error"),
        ("layers.Dense(3)(h)", "keras.losses.BinaryFocalCrossentropy(from_logits=False)", "error"),
        ("layers.Dense(3)(h)", '"sparse_categorical_crossentropy"', "warning"),  # from_logits by default
        ("layers.Dense(1)(h)", "keras.losses.binary_crossentropy", "warning"),
        ("layers.Dense(1)(h)", '"bce"', "warning"),
        # Not probabilities, whatever the loss's default (issue 13, class 3).
        ('layers.Dense(3, activation="relu")(h)', '"categorical_crossentropy"', "error"),
        ('layers.Dense(1, activation="elu")(h)', "keras.losses.BinaryCrossentropy()", "error"),
        ("layers.Dense(3, activation=keras.activations.relu)(h)", '"sparse_categorical_crossentropy"', "error"),
    ],
)
def test_ll204_mismatches(output: str, loss: str, severity: str) -> None:
    (finding,) = findings(functional(output, loss), "LL204")
    assert finding.severity.value == severity


def test_ll204_custom_tf_nn_loss_on_a_softmax_output() -> None:
    source = functional('layers.Dense(3, activation="softmax")(h)', "ce", CUSTOM_TF_LOSS)
    (finding,) = findings(source, "LL204")
    assert finding.line - 4 == 2 and "tf.nn.softmax_cross_entropy_with_logits" in finding.message


@pytest.mark.parametrize(
    "output, loss",
    [
        ("layers.Dense(3)(h)", "keras.losses.CategoricalCrossentropy(from_logits=True)"),
        ("layers.Dense(3)(h)", "ce"),
        ('layers.Dense(3, activation="softmax")(h)', '"categorical_crossentropy"'),
        ('layers.Dense(3, activation="softmax")(h)', "keras.losses.SparseCategoricalCrossentropy()"),
        ('layers.Dense(1, activation="sigmoid")(h)', '"binary_crossentropy"'),
        ('layers.Dense(4, activation="sigmoid")(h)', "keras.losses.BinaryCrossentropy(from_logits=False)"),
        ("layers.Dense(3, activation=act)(h)", '"categorical_crossentropy"'),
        ('layers.Dense(3, activation="relu")(h)', "keras.losses.CategoricalCrossentropy(from_logits=True)"),
        ("layers.Dense(3)(h)", "keras.losses.CategoricalCrossentropy(from_logits=use_logits)"),
        ("layers.Dense(3)(h)", '"mse"'),
        ('layers.Lambda(lambda p: tf.math.log(p))(layers.Dense(3, activation="softmax")(h))',
         "keras.losses.CategoricalCrossentropy(from_logits=True)"),
        ("layers.Reshape((3,))(layers.Dense(3)(h))", "keras.losses.CategoricalCrossentropy(from_logits=True)"),
        ("MyHead()(h)", '"categorical_crossentropy"'),
    ],
)
def test_ll204_consistent_or_not_visible(output: str, loss: str) -> None:
    assert findings(functional(output, loss, CUSTOM_TF_LOSS), "LL204") == []


def test_ll204_pairs_losses_with_outputs_by_name_and_position() -> None:
    source = """
        inp = keras.Input((4,))
        probs = layers.Dense(3, activation="softmax", name="probs")(inp)
        logits = layers.Dense(3, name="logits")(inp)
        model = keras.Model(inp, [probs, logits])
        model.compile("adam", loss={"probs": "categorical_crossentropy", "logits": keras.losses.CategoricalCrossentropy(from_logits=True)})
        model.compile("adam", loss=["categorical_crossentropy", keras.losses.CategoricalCrossentropy(from_logits=True)])
        model.compile("adam", loss=[keras.losses.CategoricalCrossentropy(from_logits=True), "categorical_crossentropy"])
    """
    assert lines(source, "LL204") == [8, 8]  # the swapped list: both pairs disagree


def test_ll204_sequential_and_added_layers() -> None:
    source = """
        a = keras.Sequential([keras.Input((4,)), layers.Dense(3)])
        a.compile("adam", "sparse_categorical_crossentropy")
        b = keras.Sequential()
        b.add(layers.Dense(3))
        b.add(layers.Softmax())
        b.compile("adam", "sparse_categorical_crossentropy")
        c = keras.Sequential()
        c.add(layers.Dense(1))
        c.compile("adam", "binary_crossentropy")
        c.add(layers.Activation("sigmoid"))
        d = keras.Sequential()
        for units in (8, 3):
            d.add(layers.Dense(units))
        d.compile("adam", "sparse_categorical_crossentropy")
    """
    assert lines(source, "LL204") == [3]


def test_ll204_model_with_its_own_train_step_is_left_alone() -> None:
    source = """
        class Net(keras.Model):
            def train_step(self, data):
                return {}
        inp = keras.Input((4,))
        model = Net(inputs=inp, outputs=layers.Dense(3)(inp))
        model.compile("adam", "sparse_categorical_crossentropy")
    """
    assert findings(source, "LL204") == []


# LL303 --------------------------------------------------------------------------------------------


def test_ll303_functional_add_loss_and_seed_001_labels() -> None:
    source = """
        x = keras.Input(shape=(10,))
        label_1 = keras.Input(shape=(10,))
        pred_1 = layers.Dense(10)(x)
        model = keras.Model(inputs=[x, label_1], outputs=pred_1)
        model.add_loss(ops.sum(ops.square(label_1 - pred_1)))
    """
    (finding,) = findings(source, "LL303")
    assert finding.line - 4 == 6 and "NotImplementedError" in finding.message and "`label_1`" in finding.message


@pytest.mark.parametrize(
    "build",
    [
        "model = keras.Sequential([keras.Input((4,)), layers.Dense(1)])",
        "class Net(keras.Model):\n    def call(self, x):\n        return x\nmodel = Net()",
        "inp = keras.Input((4,))\nmodel = keras.Model(inputs=inp, outputs=layers.Dense(1)(inp))",
    ],
)
def test_ll303_add_loss_from_outside_the_model(build: str) -> None:
    assert len(findings(build + "\nmodel.add_loss(ops.convert_to_tensor(1.0))\n", "LL303")) == 1


@pytest.mark.parametrize(
    "source",
    [
        # the Keras 3 way: self.add_loss inside a layer's or a model's call (VAE pattern)
        "class Sampling(layers.Layer):\n    def call(self, inputs):\n"
        "        self.add_loss(ops.mean(inputs))\n        return inputs\n",
        "class VAE(keras.Model):\n    def call(self, x):\n        self.add_loss(ops.mean(x))\n        return x\n",
        # receivers that are not visibly a model built here
        "model = keras.models.load_model('m.keras')\nmodel.add_loss(ops.convert_to_tensor(1.0))\n",
        "layer = layers.Dense(3)\nlayer.add_loss(ops.convert_to_tensor(1.0))\n",
        "def f(model):\n    model.add_loss(ops.convert_to_tensor(1.0))\n",
        # Keras 2 (tf_keras) supports symbolic add_loss on a functional model
        "import tf_keras\ninp = tf_keras.Input((4,))\nout = tf_keras.layers.Dense(1)(inp)\n"
        "model = tf_keras.Model(inp, out)\nmodel.add_loss(tf_keras.backend.mean(out))\n",
    ],
)
def test_ll303_correct_or_not_visible(source: str) -> None:
    assert findings(source, "LL303") == []


# LL304 --------------------------------------------------------------------------------------------

CUSTOM_LOSS = """
def weighted_mse(y_true, y_pred):
    return ops.mean(2.0 * ops.square(y_true - y_pred), axis=-1)
model = keras.Sequential([keras.Input((4,)), layers.Dense(1)])
model.compile(optimizer="adam", loss=weighted_mse)
model.save("m.keras")
"""

CUSTOM_LAYER = """
class Scale(layers.Layer):
    def call(self, x):
        return 2.0 * x
inp = keras.Input((4,))
model = keras.Model(inp, layers.Dense(1)(Scale()(inp)))
model.save("m.keras")
"""


@pytest.mark.parametrize(
    "setup, load",
    [
        (CUSTOM_LOSS, 'keras.models.load_model("m.keras")'),
        (CUSTOM_LOSS, 'tf.keras.models.load_model("m.keras", compile=True)'),
        (CUSTOM_LOSS, 'keras.saving.load_model("m.keras")'),
        (CUSTOM_LAYER, 'keras.models.load_model("m.keras")'),
        (CUSTOM_LAYER, 'keras.models.load_model("m.keras", compile=False)'),
        (CUSTOM_LOSS.replace('model.save("m.keras")', 'model.fit(x, y, callbacks=[keras.callbacks.ModelCheckpoint("m.keras")])'),
         'keras.models.load_model("m.keras")'),
    ],
)
def test_ll304_load_without_custom_objects(setup: str, load: str) -> None:
    (finding,) = findings(setup + f"restored = {load}\n", "LL304")
    assert finding.severity is Severity.WARNING and "custom_objects" in finding.fix


@pytest.mark.parametrize(
    "setup, load",
    [
        (CUSTOM_LOSS, 'keras.models.load_model("m.keras", custom_objects={"weighted_mse": weighted_mse})'),
        (CUSTOM_LOSS, 'keras.models.load_model("m.keras", compile=False)'),
        (CUSTOM_LOSS, 'keras.models.load_model("m.keras", **kwargs)'),
        ("@keras.saving.register_keras_serializable()\n" + CUSTOM_LOSS.lstrip(), 'keras.models.load_model("m.keras")'),
        (CUSTOM_LAYER.replace("class Scale", "@keras.utils.register_keras_serializable(package='x')\nclass Scale"),
         'keras.models.load_model("m.keras")'),
        (CUSTOM_LOSS.replace('model.save("m.keras")', 'model.save_weights("m.weights.h5")'), 'keras.models.load_model("other.keras")'),
        (CUSTOM_LOSS.replace('model.save("m.keras")', 'model.fit(x, y, callbacks=[keras.callbacks.ModelCheckpoint("m.weights.h5", save_weights_only=True)])'),
         'keras.models.load_model("other.keras")'),
        ("import keras\nkeras.saving.get_custom_objects()['weighted_mse'] = None\n" + CUSTOM_LOSS, 'keras.models.load_model("m.keras")'),
    ],
)
def test_ll304_loadable(setup: str, load: str) -> None:
    assert findings(setup + f"restored = {load}\n", "LL304") == []


def test_ll304_custom_object_scope() -> None:
    source = CUSTOM_LOSS + 'with keras.saving.custom_object_scope({"weighted_mse": weighted_mse}):\n    keras.models.load_model("m.keras")\n'
    assert findings(source, "LL304") == []


def test_ll304_helper_class_of_another_test_is_not_what_is_loaded() -> None:
    source = """
        class Helper(keras.Model):
            def call(self, x):
                return x
        def test_training():
            model = Helper()
            model.compile("sgd", "mse")
        def test_saving():
            model = keras.Sequential([layers.Dense(1)])
            model.save("m.keras")
            keras.models.load_model("m.keras")
    """
    assert findings(source, "LL304") == []


def test_ll304_builder_function_called_where_the_model_is_saved() -> None:
    source = """
        class Scale(layers.Layer):
            def call(self, x):
                return 2.0 * x
        def build():
            inp = keras.Input((4,))
            return keras.Model(inp, Scale()(inp))
        def main():
            model = build()
            model.save("m.keras")
            return keras.models.load_model("m.keras")
    """
    assert lines(source, "LL304") == [11]


# LL305 --------------------------------------------------------------------------------------------


def test_ll305_reset_states_override() -> None:
    source = """
        class MinMetric(keras.metrics.Metric):
            def reset_states(self):
                self.low.assign(1e9)
        class ZeroMetric(tf.keras.metrics.Metric):
            def reset_states(self):
                self.total.assign(0.0)
    """
    found = findings(source, "LL305")
    assert [f.line - 4 for f in found] == [3, 6]
    assert "non-zero" in found[0].message or "not zero" in found[0].message
    assert "dead code" in found[1].message
    assert all(f.severity is Severity.WARNING for f in found)


@pytest.mark.parametrize(
    "source",
    [
        "class M(keras.metrics.Metric):\n    def reset_state(self):\n        self.v.assign(1.0)\n",
        # a compatibility alias next to reset_state, in the class or in a base of the file
        "class M(keras.metrics.Metric):\n    def reset_state(self):\n        self.v.assign(1.0)\n"
        "    def reset_states(self):\n        self.reset_state()\n",
        "class Base(keras.metrics.Metric):\n    def reset_state(self):\n        self.v.assign(1.0)\n"
        "class M(Base):\n    def reset_states(self):\n        self.reset_state()\n",
        # a layer (tensorflow-recommenders' Factorized metrics layer) is not a Metric
        "class Factorized(tf.keras.layers.Layer):\n    def reset_states(self):\n        pass\n",
    ],
)
def test_ll305_not_reported(source: str) -> None:
    assert findings(source, "LL305") == []
