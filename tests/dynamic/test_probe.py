"""The dynamic probes on live Keras models, in process, with real TensorFlow (no mocks).

The user's losses live in `user_losses.py` beside this file, so tracebacks and op locations
point into a real file that the tests pass as the user's file.
"""

from __future__ import annotations

import importlib.util
import linecache
from pathlib import Path

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from losslint import api  # noqa: E402
from losslint.dynamic.capture import CompileRecord, FitRecord, SourceLine  # noqa: E402
from losslint.dynamic.probe import probe_model  # noqa: E402
from losslint.findings import Pass, Severity  # noqa: E402

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("losslint_test_user_losses", HERE / "user_losses.py")
ul = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ul)
USER_FILE = str(Path(ul.__file__).resolve())
USER = frozenset({USER_FILE})
COMPILE_AT = SourceLine(USER_FILE, 1)  # where the "script" compiled (a line in the user's file)
FIT_AT = SourceLine(USER_FILE, 2)

RNG = np.random.default_rng(0)


def lines_with(snippet: str) -> list[int]:
    return [n for n, text in enumerate(Path(USER_FILE).read_text().splitlines(), start=1) if snippet in text]


def line_of(snippet: str) -> int:
    """The line of user_losses.py that contains `snippet` (exactly one)."""
    lines = lines_with(snippet)
    assert len(lines) == 1, (snippet, lines)
    return lines[0]


def probe(model, x=None, y=None, *, batch_size=32, data_size=None, fit=True, **compile_kwargs):
    """Compile `model` like a script would, then probe it as the child does."""
    keras.utils.set_random_seed(0)
    model.compile(optimizer="adam", **compile_kwargs)
    record = CompileRecord(model=model, kwargs=dict(compile_kwargs), where=COMPILE_AT)
    fit_record = None
    if fit:
        n = len(x)
        take = np.arange(min(batch_size, n))

        def rows(v):
            if isinstance(v, dict):
                return {k: a[take] for k, a in v.items()}
            if isinstance(v, (list, tuple)):
                return type(v)(a[take] for a in v)
            return v[take]

        fit_record = FitRecord(
            model=model, method="fit", x=x, y=y, batch_size=batch_size, where=FIT_AT,
            batch=(rows(x), rows(y)), data_size=data_size if data_size is not None else n, data_kind="array",
        )
    return probe_model(record, fit_record, USER)


def codes(findings):
    return sorted(f.code for f in findings)


def dense_model(units=1, n_in=8, activation=None, name=None):
    inp = keras.Input((n_in,))
    hidden = keras.layers.Dense(6, activation="relu")(inp)
    return keras.Model(inp, keras.layers.Dense(units, activation=activation, name=name)(hidden))


def seed000_model():
    inp = keras.Input((8,))
    hidden = keras.layers.Dense(16, activation="relu")(inp)
    return keras.Model(inp, [keras.layers.Dense(35, name="o1")(hidden), keras.layers.Dense(70, name="o2")(hidden)])


def two_head_model(a=3, b=2):
    inp = keras.Input((8,))
    hidden = keras.layers.Dense(6, activation="relu")(inp)
    return keras.Model(inp, [
        keras.layers.Dense(a, name="p")(hidden),
        keras.layers.Dense(b, activation="softmax", name="q")(hidden),
    ])


X = RNG.random((100, 8)).astype("float32")
Y1 = RNG.integers(0, 2, (100, 5, 7)).astype("float32")
Y2 = RNG.integers(0, 2, (100, 10, 7)).astype("float32")
P = RNG.random((100, 3))
Q = np.eye(2)[RNG.integers(0, 2, 100)]


def check_common(finding, line=None):
    """Every dynamic finding: the rule's name, the user's file, a span on the line."""
    from losslint import registry

    rule = registry.get(finding.code)
    assert finding.name == rule.name
    assert finding.pass_ is Pass.DYNAMIC
    assert finding.path == USER_FILE
    assert finding.end_line == finding.line
    assert finding.end_column > finding.column >= 1
    if line is not None:
        assert finding.line == line, (finding.line, line, finding.message)


# ---- seeds ---------------------------------------------------------------------------


def test_seed000_reshape_in_loss_confirmed_with_shapes():
    findings = probe(seed000_model(), X, [Y1, Y2], loss=[ul.l_1, ul.l_2])
    reshapes = [f for f in findings if f.code == "LL101"]
    assert [f.line for f in reshapes] == [line_of("(-1, 5, 7)"), line_of("(-1, 10, 7)")]
    assert "output 'o1' from (3, 35) to (3, 5, 7)" in reshapes[0].message
    assert "output 'o2' from (3, 70) to (3, 10, 7)" in reshapes[1].message
    assert "keras.layers.Reshape((5, 7))" in reshapes[0].fix
    for f in reshapes:
        check_common(f)
        assert f.severity is Severity.WARNING
        assert f.scope_line == f.line - 1  # the loss's def line
        assert f.related and f.related[0].message == "compile call" and f.related[0].line == COMPILE_AT.line
    # seed 000 also sums over the batch (reduce_sum without axis): LL110, at the sum's line
    sums = [f for f in findings if f.code == "LL110"]
    assert [f.line for f in sums] == [line_of("(-1, 5, 7)") + 1, line_of("(-1, 10, 7)") + 1]
    assert "3 -> 6 samples" in sums[0].message
    assert codes(findings) == ["LL101", "LL101", "LL110", "LL110"]


def test_seed000_swapped_losses_give_target_shape_mismatch():
    findings = probe(seed000_model(), X, [Y1, Y2], loss=[ul.l_2, ul.l_1])
    assert codes(findings) == ["LL201", "LL201"]
    by_line = {f.line: f for f in findings}
    on_o1 = by_line[line_of("(-1, 10, 7)") + 1]  # l_2's sigmoid line, run on output o1
    assert "loss `l_2` fails on output 'o1'" in on_o1.message
    assert "y_true (None, 5, 7) vs y_pred (None, 35)" in on_o1.message
    assert "must have the same shape" in on_o1.message
    on_o2 = by_line[line_of("(-1, 5, 7)") + 1]
    assert "output 'o2'" in on_o2.message and "y_true (None, 10, 7) vs y_pred (None, 70)" in on_o2.message
    for f in findings:
        check_common(f)
        assert f.severity is Severity.ERROR


def _two_output_model():
    inp = keras.Input((8,))
    return keras.Model(inp, [keras.layers.Dense(4, name="a")(inp), keras.layers.Dense(4, name="b")(inp)])


def test_seed002_list_indexed_loss_mixes_samples():
    x = X[:96]
    findings = probe(_two_output_model(), x, [RNG.random((96, 4)), RNG.random((96, 4))], loss=ul.idx_loss)
    assert codes(findings) == ["LL102"]  # LL102 confirmed by the probe (same code as the static rule)
    (f,) = findings
    check_common(f, line_of("y_true[0] - y_pred[1]"))
    assert "indexes the batch axis" in f.message
    assert "y_pred (3, 4) -> (4,)" in f.message and "y_true (3, 4) -> (4,)" in f.message
    assert "only the prediction of sample 1 of a batch of 3 gets a gradient" in f.message
    assert "samples' positions" in f.message
    assert "(the same on output 'b')" in f.message


def test_seed002_list_indexed_loss_fails_on_the_last_batch_of_one():
    x = X[:97]
    findings = probe(_two_output_model(), x, [RNG.random((97, 4)), RNG.random((97, 4))], loss=ul.idx_loss)
    assert codes(findings) == ["LL102"]
    (f,) = findings
    check_common(f, line_of("y_true[0] - y_pred[1]"))
    assert "fails on a small batch" in f.message and "out of bounds" in f.message


def test_seed004_hardcoded_batch_size_names_the_failing_batch_size():
    model = dense_model(35)
    y = RNG.random((100, 5, 7)).astype("float32")
    findings = probe(model, X, y, batch_size=32, data_size=100, loss=ul.hard_batch_loss)
    assert codes(findings) == ["LL103"]
    (f,) = findings
    check_common(f, line_of("[BATCH_SIZE, 5, 7]"))
    assert "works at batch size 32 (the batch size fit uses)" in f.message
    assert "4 (the last partial batch: 100 samples, batch_size 32)" in f.message
    assert "Cannot reshape a tensor" in f.message


def test_seed004_drop_remainder_dataset_says_why_training_runs():
    """keras3-facts case 4: with drop_remainder=True fit trains; evaluate and predict fail later."""
    from losslint.dynamic.data import first_batch

    model = dense_model(35)
    model.compile(optimizer="adam", loss=ul.hard_batch_loss)
    y = RNG.random((100, 5, 7)).astype("float32")
    dataset = tf.data.Dataset.from_tensor_slices((X, y)).batch(32, drop_remainder=True)
    fit_record = FitRecord(model=model, method="fit", x=dataset, where=FIT_AT)
    first_batch(fit_record)
    record = CompileRecord(model=model, kwargs={"loss": ul.hard_batch_loss}, where=COMPILE_AT)
    findings = probe_model(record, fit_record, USER)
    assert codes(findings) == ["LL103"]
    assert "drop_remainder=True, so training only ever sees batch size 32" in findings[0].message


def test_seed004_loss_holding_a_keras_input():
    inp = keras.Input((8,))
    model = keras.Model(inp, keras.layers.Dense(1)(inp))
    findings = probe(model, X, RNG.random((100, 1)), loss=ul.InputLoss(inp))
    assert codes(findings) == ["LL105"]
    (f,) = findings
    check_common(f, line_of("penalty = tf.reduce_mean(self.inputs)"))
    assert "holds `self.inputs`, a symbolic KerasTensor (None, 8)" in f.message
    assert "A KerasTensor cannot be used as input to a TensorFlow function" in f.message


# ---- LL202: the (N,) vs (N, 1) broadcast (keras3-facts case 3) -----------------------


def test_broadcast_in_loss_subclass():
    findings = probe(dense_model(1), X, RNG.random(100), loss=ul.MseLoss())
    assert codes(findings) == ["LL202"]
    (f,) = findings
    check_common(f, lines_with("diff = y_true - y_pred")[1])  # the second one: MseLoss.call
    assert "(3,) - (3, 1) -> (3, 3)" in f.message
    assert "keras.losses.Loss subclass" in f.message


def test_broadcast_in_metric_function():
    findings = probe(dense_model(1), X, RNG.random(100), loss="mse", metrics=[ul.mse_fn])
    assert codes(findings) == ["LL202"]
    (f,) = findings
    check_common(f, lines_with("diff = y_true - y_pred")[0])  # mse_fn
    assert "metric `mse_fn`" in f.message and "(3,) - (3, 1) -> (3, 3)" in f.message


def test_same_function_as_compiled_loss_is_aligned_by_keras():
    assert probe(dense_model(1), X, RNG.random(100), loss=ul.mse_fn) == []


# ---- other failures ------------------------------------------------------------------


def test_python_if_on_a_tensor():
    findings = probe(dense_model(3), X, RNG.random((100, 3)), loss=ul.branchy_loss)
    assert codes(findings) == ["LL111"]
    (f,) = findings
    check_common(f, line_of("if err > 1.0:"))
    assert "OperatorNotAllowedInGraphError" in f.message


def test_unknown_batch_dimension_failure():
    findings = probe(dense_model(3), X, RNG.random((100, 3)), loss=ul.zeros_like_shape_loss)
    assert codes(findings) == ["LL103"]  # the batch dimension, as fit traces it (issue 13, class 1)
    (f,) = findings
    check_common(f, line_of("tf.zeros(y_pred.shape)"))
    assert "unknown batch dimension (None)" in f.message


def test_non_differentiable_loss():
    findings = probe(dense_model(3), X, np.eye(3)[RNG.integers(0, 3, 100)], loss=ul.argmax_loss)
    assert codes(findings) == ["LL109"]
    check_common(findings[0], line_of("tf.argmax(y_pred, -1)"))
    assert "ArgMax" in findings[0].message


def test_batch_statistics_mix_samples():
    findings = probe(dense_model(3), X, RNG.random((100, 3)), loss=ul.batch_norm_loss)
    assert codes(findings) == ["LL208"]
    check_common(findings[0], line_of("tf.reduce_mean(y_pred, axis=0)"))
    assert "every sample's loss depends on the predictions of every other sample" in findings[0].message


def test_unbounded_loss():
    findings = probe(dense_model(3), X, RNG.random((100, 3)), loss=ul.linear_loss)
    assert codes(findings) == ["LL209"]
    check_common(findings[0], line_of("def linear_loss"))


def test_nan_loss_points_at_the_log():
    findings = probe(dense_model(3), X, RNG.random((100, 3)), loss=ul.log_loss)
    assert codes(findings) == ["LL207"]
    check_common(findings[0], line_of("tf.math.log(y_pred)"))
    assert findings[0].severity is Severity.WARNING


# ---- built-in losses: encodings and logits -------------------------------------------


def test_sparse_crossentropy_with_one_hot_targets():
    findings = probe(two_head_model(), X, [P, Q], loss=["mse", "sparse_categorical_crossentropy"])
    assert codes(findings) == ["LL205"]
    assert findings[0].path == USER_FILE and findings[0].line == COMPILE_AT.line
    assert "one-hot rows (None, 2)" in findings[0].message


def test_categorical_crossentropy_with_integer_labels():
    labels = RNG.integers(0, 2, 100)
    findings = probe(two_head_model(), X, [P, labels], loss=["mse", "categorical_crossentropy"])
    assert codes(findings) == ["LL205"]
    assert "integer labels (None,)" in findings[0].message


def test_labels_out_of_range():
    model = dense_model(3, activation="softmax")
    findings = probe(model, X, RNG.integers(0, 4, 100), loss="sparse_categorical_crossentropy")
    assert codes(findings) == ["LL205"]
    assert "outside [0, 3)" in findings[0].message


def test_logits_into_probability_crossentropy():
    findings = probe(dense_model(3), X, np.eye(3)[RNG.integers(0, 3, 100)], loss="categorical_crossentropy")
    assert codes(findings) == ["LL204"]
    assert "no final activation" in findings[0].message


def test_softmax_into_binary_crossentropy():
    findings = probe(two_head_model(), X, [P, Q], loss=["mse", "binary_crossentropy"])
    assert codes(findings) == ["LL204"]
    assert findings[0].severity is Severity.ERROR


def test_softmax_with_from_logits_is_a_warning():
    loss = ["mse", keras.losses.CategoricalCrossentropy(from_logits=True)]
    findings = probe(two_head_model(), X, [P, Q], loss=loss)
    assert codes(findings) == ["LL204"]
    assert findings[0].severity is Severity.WARNING


# ---- LL203: losses, weights, targets and outputs -------------------------------------


@pytest.mark.parametrize(
    ("compile_kwargs", "targets", "expected", "where"),
    [
        ({"loss": {"p": "mse", "zz": "mse"}}, None, "'zz' that name no model output", COMPILE_AT),
        ({"loss": {"p": "mse"}}, None, "no entry for output(s) 'q'", COMPILE_AT),
        ({"loss": "mse", "loss_weights": [1.0, 2.0]}, None, "`loss_weights` must match", COMPILE_AT),
        ({"loss": ["mse", "mse"], "loss_weights": {"p": 1.0, "zz": 2.0}}, None, "loss_weights has key(s) 'zz'", COMPILE_AT),
        ({"loss": ["mse", "mse"], "loss_weights": [1.0]}, None, "1 loss weights for 2 losses", COMPILE_AT),
        ({"loss": ["mse", "mse"]}, [P], "fit got 1 target for 2 model outputs", FIT_AT),
        ({"loss": ["mse", "mse"]}, {"p": P, "zz": Q}, "targets dict has key(s) 'zz'", FIT_AT),
    ],
    ids=["loss-key", "missing-key", "single-loss-weights", "weight-key", "weight-count", "target-count", "target-key"],
)
def test_loss_output_mismatch(compile_kwargs, targets, expected, where):
    model = two_head_model()
    y = targets if targets is not None else [P, Q]
    findings = probe(model, X, y, **compile_kwargs)
    assert codes(findings) == ["LL203"]
    (f,) = findings
    assert expected in f.message
    assert (f.path, f.line) == (where.path, where.line)


def test_fewer_losses_than_outputs_leaves_an_output_untrained():
    inp = keras.Input((8,))
    model = keras.Model(inp, [keras.layers.Dense(i + 1, name=f"o{i}")(inp) for i in range(3)])
    ys = [RNG.random((100, i + 1)) for i in range(3)]
    findings = probe(model, X, ys, loss=["mse", "mse"])
    assert codes(findings) == ["LL203"]
    assert "'o2' get no loss" in findings[0].message


# ---- precision: correct models give nothing ------------------------------------------


GOOD_CASES = {
    "dict-loss-weights-metrics": lambda: probe(
        two_head_model(), X, [P, Q],
        loss={"p": ul.good_mse, "q": "categorical_crossentropy"}, loss_weights={"p": 1.0, "q": 0.5},
        metrics={"p": [ul.good_metric], "q": ["accuracy"]},
    ),
    "dict-targets": lambda: probe(
        two_head_model(), X, {"p": P, "q": Q}, loss={"p": ul.GoodMse(), "q": "categorical_crossentropy"},
    ),
    "list-subclass-weights": lambda: probe(
        two_head_model(), X, [P, Q], loss=[ul.GoodMse(), keras.losses.CategoricalCrossentropy()], loss_weights=[1.0, 2.0],
    ),
    "tf-where-branch": lambda: probe(two_head_model(), X, [P, Q], loss=[ul.good_cond_loss, "categorical_crossentropy"]),
    "sparse-labels": lambda: probe(
        two_head_model(), X, [P, RNG.integers(0, 2, 100)], loss=[ul.good_mae, keras.losses.SparseCategoricalCrossentropy()],
        metrics=[["mae"], ["accuracy"]],
    ),
    "logits-from-logits": lambda: probe(
        dense_model(4), X, RNG.integers(0, 4, 100), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    ),
    "sigmoid-bce": lambda: probe(dense_model(1, activation="sigmoid"), X, RNG.integers(0, 2, 100), loss="binary_crossentropy"),
    "seed000-fixed": lambda: probe(
        _seed000_fixed_model(), X, [Y1, Y2],
        loss=[keras.losses.BinaryCrossentropy(from_logits=True)] * 2,
    ),
    "partial-last-batch": lambda: probe(dense_model(2), X[:97], RNG.random((97, 2)), data_size=97, loss=ul.good_mse),
    "no-fit": lambda: probe(dense_model(3, activation="softmax"), fit=False, loss=ul.good_mse, metrics=[ul.good_metric]),
    "no-fit-crossentropy": lambda: probe(
        dense_model(3, activation="softmax"), fit=False, loss="categorical_crossentropy",
    ),
    "subclassed-model": lambda: probe(_Subclassed(), X, RNG.random((100, 2)), loss=ul.GoodMse()),
    "custom-train-step": lambda: probe(_CustomStep(), X, RNG.random((100, 8, 1)), loss="mse"),
    "batch-dice": lambda: probe(
        dense_model(4, activation="sigmoid"), X, RNG.integers(0, 2, (100, 4)), loss=ul.batch_dice_loss,
    ),
    "in-batch-negatives": lambda: probe(dense_model(4), X, RNG.random((100, 4)), loss=ul.in_batch_softmax_loss),
    "softmax-bounded": lambda: probe(
        dense_model(3, activation="softmax"), X, np.eye(3)[RNG.integers(0, 3, 100)], loss=ul.expected_reward_loss,
    ),
    "identity-loss": lambda: probe(dense_model(1), X, np.zeros((100, 1)), loss=ul.identity_loss),
    "wasserstein-critic": lambda: probe(dense_model(1), X, np.where(RNG.random((100, 1)) > 0.5, 1.0, -1.0), loss=ul.wasserstein_loss),
}


def _seed000_fixed_model():
    inp = keras.Input((8,))
    hidden = keras.layers.Dense(16, activation="relu")(inp)
    out1 = keras.layers.Reshape((5, 7), name="o1")(keras.layers.Dense(35)(hidden))
    out2 = keras.layers.Reshape((10, 7), name="o2")(keras.layers.Dense(70)(hidden))
    return keras.Model(inp, [out1, out2])


class _Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(2)

    def call(self, x):
        return self.dense(x)


class _CustomStep(keras.Model):
    """A train_step that hands the compiled loss something other than the raw output."""

    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(8)

    def call(self, x):
        return self.dense(x)

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            y_pred = keras.ops.expand_dims(self(x, training=True), -1)
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        return {"loss": loss}


@pytest.mark.parametrize("case", sorted(GOOD_CASES))
def test_good_models_give_no_finding(case):
    assert GOOD_CASES[case]() == []


def test_custom_train_step_still_reports_python_control_flow():
    findings = probe(_CustomStep(), X, RNG.random((100, 8, 1)), loss=ul.branchy_loss)
    assert codes(findings) == ["LL111"]


# ---- the public API ------------------------------------------------------------------


def test_api_probe_and_check_on_live_models():
    keras.utils.set_random_seed(0)
    good = dense_model(1)
    good.compile(optimizer="adam", loss=ul.mse_fn, metrics=[ul.good_metric])
    y = RNG.random((100, 1))
    assert api.probe(good, X, y, batch_size=16) == []
    api.check(good, X, y)  # passes

    bad = dense_model(1)
    bad.compile(optimizer="adam", loss=ul.MseLoss())
    findings = api.probe(bad, X, RNG.random(100))
    assert codes(findings) == ["LL202"]
    assert findings[0].path == USER_FILE
    with pytest.raises(api.LossLintError) as raised:
        api.check(bad, X, RNG.random(100))
    assert isinstance(raised.value, AssertionError)
    assert codes(raised.value.findings) == ["LL202"]
    assert "LL202" in str(raised.value) and "user_losses.py" in str(raised.value)


def test_api_model_level_findings_point_at_the_callers_line():
    model = two_head_model()
    model.compile(optimizer="adam", loss=["mse", "mse"])
    findings = api.probe(model, X, [P])  # one target for two outputs
    assert codes(findings) == ["LL203"]
    assert findings[0].path == str(Path(__file__).resolve())
    assert "api.probe(model, X, [P])" in linecache.getline(__file__, findings[0].line)


def test_api_dataset_and_uncompiled_model():
    model = dense_model(1)
    with pytest.raises(ValueError, match="compiled"):
        api.probe(model)
    model.compile(optimizer="adam", loss=ul.MseLoss())
    dataset = tf.data.Dataset.from_tensor_slices((X, RNG.random(100).astype("float32"))).batch(16)
    assert codes(api.probe(model, dataset)) == ["LL202"]

