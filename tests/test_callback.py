"""losslint.Callback in real `fit` runs (TensorFlow backend): it probes on the first real batch,
raises or warns before any weight changes, and otherwise leaves training bit for bit as it is
without the callback (weights, history, the random streams after fit)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

np = pytest.importorskip("numpy")
tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

import losslint  # noqa: E402
import losslint.callback  # noqa: E402
from keras import layers, ops  # noqa: E402


class MeanSquared(keras.losses.Loss):
    """A Loss subclass: Keras hands it y_true (N,) and y_pred (N, 1) unchanged, so the
    difference broadcasts to (N, N) (fixtures/LL202-silent-broadcast/bad_loss_subclass.py)."""

    def call(self, y_true, y_pred):
        return ops.mean(ops.square(y_true - y_pred), axis=-1)  # the LL202 line


LL202_LINE = MeanSquared.call.__code__.co_firstlineno + 1


class StepModel(keras.Model):
    """A functional model with its own train_step (the Keras 3 idiom): the probe measures the
    step, which seeds the global random generators."""

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred, training=True)
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
        return {"loss": loss}


def _data(n: int = 100) -> tuple:
    x = np.random.default_rng(0).random((n, 5)).astype("float32")
    return x, x.sum(axis=1)


def _sequential(loss, steps_per_execution: int = 1):
    keras.utils.set_random_seed(1)
    model = keras.Sequential([
        keras.Input((5,)), layers.Dense(8, activation="relu"), layers.Dropout(0.3), layers.Dense(1),
    ])
    model.compile(optimizer="adam", loss=loss, metrics=["mae"], steps_per_execution=steps_per_execution)
    return model


def _step_model():
    keras.utils.set_random_seed(3)
    inputs = keras.Input((5,))
    hidden = layers.Dropout(0.5)(layers.Dense(8)(inputs))
    outputs = layers.Dense(1)(layers.GaussianNoise(0.1)(hidden))
    model = StepModel(inputs, outputs)
    model.compile(optimizer="sgd", loss="mse")
    return model


def _weights(model) -> list:
    return [v.numpy().copy() for v in model.weights]


def _same(a: list, b: list) -> bool:
    return len(a) == len(b) and all(np.array_equal(p, q) for p, q in zip(a, b))


def _traces(model) -> tuple[int, int]:
    """How often Keras traced its multi-step function and its one-step function (Keras 3.15's
    tensorflow trainer keeps both in the train function's closure)."""
    cells = {getattr(c.cell_contents, "__name__", ""): c.cell_contents for c in model.train_function.__closure__}
    return (
        cells["multi_step_on_iterator"].experimental_get_tracing_count(),
        cells["one_step_on_data"].__wrapped__.experimental_get_tracing_count(),
    )


def _random_draws() -> tuple:
    """The next number of each global random stream a user's code would draw after fit."""
    return (np.random.rand(), float(tf.random.uniform(())), float(keras.random.uniform(())))


@pytest.mark.parametrize("steps_per_execution", [1, 3])
def test_clean_model_trains_exactly_as_without_the_callback(steps_per_execution: int) -> None:
    x, y = _data()
    runs = []
    for with_callback in (False, True):
        model = _sequential("mse", steps_per_execution)
        callbacks = [losslint.Callback()] if with_callback else []
        history = model.fit(x, y[:, None], batch_size=16, epochs=2, verbose=0, callbacks=callbacks)
        runs.append((_weights(model), history.history, int(model.optimizer.iterations.numpy()), _traces(model)))
        if with_callback:
            callback = callbacks[0]
            assert callback.probed and callback.findings == []
            assert model.train_function != callback._first_step  # Keras' own function is back
    (w0, h0, it0, t0), (w1, h1, it1, t1) = runs
    assert it0 == it1 == 14  # 7 batches of 16 per epoch: no batch lost or repeated
    assert t0 == t1  # the step is traced as often as without the callback
    assert h0 == h1
    assert _same(w0, w1)


def test_custom_train_step_with_dropout_and_noise_is_left_as_it_was() -> None:
    """The step measurement seeds Python, NumPy, TF and Keras (keras.utils.set_random_seed);
    the callback puts every stream back, so the draws after fit are the same too."""
    x, y = _data(64)
    runs = []
    for with_callback in (False, True):
        model = _step_model()
        callbacks = [losslint.Callback()] if with_callback else []
        history = model.fit(x, y[:, None], batch_size=16, epochs=2, verbose=0, callbacks=callbacks)
        runs.append((_weights(model), history.history, _random_draws()))
        if with_callback:
            assert callbacks[0].probed and callbacks[0].findings == []
    assert runs[0][1] == runs[1][1]
    assert _same(runs[0][0], runs[1][0])
    assert runs[0][2] == runs[1][2]


def test_a_silent_broadcast_raises_before_any_weight_changes() -> None:
    x, y = _data(64)
    model = _sequential(MeanSquared())
    before = _weights(model)
    callback = losslint.Callback()
    fit_line = sys._getframe().f_lineno + 2
    with pytest.raises(losslint.LossLintError) as raised:
        model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[callback])
    assert int(model.optimizer.iterations.numpy()) == 0
    assert _same(before, _weights(model))
    codes = [(f.code, os.path.basename(f.path), f.line) for f in raised.value.findings]
    assert ("LL202", "test_callback.py", LL202_LINE) in codes
    assert "broadcasts" in str(raised.value) and "LL202" in str(raised.value)
    related = [(os.path.basename(r.path), r.line, r.message) for f in raised.value.findings for r in f.related]
    assert ("test_callback.py", fit_line, "fit call (losslint.Callback)") in related
    assert callback.findings == raised.value.findings
    # The model is usable afterwards: Keras' own train_function is back in place.
    assert model.train_function != callback._first_step


def test_on_finding_warn_reports_and_lets_training_go_on() -> None:
    x, y = _data(64)
    model = _sequential(MeanSquared())
    callback = losslint.Callback(on_finding="warn")
    with pytest.warns(losslint.LossLintWarning, match="LL202") as caught:
        model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[callback])
    assert int(model.optimizer.iterations.numpy()) == 4  # every batch trained
    assert [f.code for f in callback.findings] == ["LL202"]
    ours = [w for w in caught if issubclass(w.category, losslint.LossLintWarning)]
    assert len(ours) == 1 and os.path.basename(ours[0].filename) == "test_callback.py"


def test_on_finding_is_validated() -> None:
    with pytest.raises(ValueError, match=r"on_finding must be 'raise' or 'warn', got 'ignore'"):
        losslint.Callback(on_finding="ignore")


def test_probes_once_then_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = losslint.callback.probe_at

    def counting(*args, **kwargs):
        calls.append(args[3])  # the batch size the probe saw
        return real(*args, **kwargs)

    monkeypatch.setattr(losslint.callback, "probe_at", counting)
    x, y = _data(64)
    model = _sequential("mse")
    callback = losslint.Callback()
    model.fit(x, y[:, None], batch_size=16, epochs=2, verbose=0, callbacks=[callback])
    model.fit(x, y[:, None], batch_size=16, epochs=1, verbose=0, callbacks=[callback])
    assert calls == [16]


def test_dataset_with_sample_weights_and_no_steps() -> None:
    """A tf.data pipeline of (x, y, sample_weight): the probe sees the weighted batch; a fit
    that runs no step (epochs=0) leaves the model's train_function as Keras made it."""
    x, y = _data(64)
    weights = np.linspace(0.5, 1.5, 64).astype("float32")
    dataset = tf.data.Dataset.from_tensor_slices((x, y[:, None], weights)).batch(16)
    runs = []
    for with_callback in (False, True):
        model = _sequential("mse")
        callbacks = [losslint.Callback()] if with_callback else []
        model.fit(dataset, epochs=2, verbose=0, callbacks=callbacks)
        runs.append(_weights(model))
    assert _same(*runs)
    model = _sequential("mse")
    callback = losslint.Callback()
    model.fit(dataset, epochs=0, verbose=0, callbacks=[callback])
    assert not callback.probed
    assert model.train_function is not None and model.train_function != callback._first_step


def test_dict_inputs_and_two_outputs_with_steps_per_execution() -> None:
    """Nested batches (dicts of inputs and of targets) go through the probe and the replay."""
    x, y = _data(50)
    inputs = {"a": x[:, :3], "b": x[:, 3:]}
    targets = {"sum": y[:, None], "first": x[:, :1]}
    runs = []
    for with_callback in (False, True):
        keras.utils.set_random_seed(5)
        a, b = keras.Input((3,), name="a"), keras.Input((2,), name="b")
        hidden = layers.Dense(6, activation="relu")(layers.Concatenate()([a, b]))
        model = keras.Model(
            {"a": a, "b": b},
            {"sum": layers.Dense(1, name="sum")(hidden), "first": layers.Dense(1, name="first")(hidden)},
        )
        model.compile(optimizer="adam", loss={"sum": "mse", "first": "mae"}, steps_per_execution=2)
        callbacks = [losslint.Callback()] if with_callback else []
        history = model.fit(inputs, targets, batch_size=8, epochs=2, verbose=0, callbacks=callbacks)
        runs.append((_weights(model), history.history))
        if with_callback:
            assert callbacks[0].probed and callbacks[0].findings == []
    assert runs[0][1] == runs[1][1]
    assert _same(runs[0][0], runs[1][0])


def test_a_probe_failure_warns_and_training_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("probe exploded")

    monkeypatch.setattr(losslint.callback, "probe_at", broken)
    x, y = _data(64)
    model = _sequential("mse")
    with pytest.warns(RuntimeWarning, match="could not probe the model .RuntimeError: probe exploded"):
        model.fit(x, y[:, None], batch_size=16, epochs=1, verbose=0, callbacks=[losslint.Callback()])
    assert int(model.optimizer.iterations.numpy()) == 4


def _run(code: str, folder: Path) -> subprocess.CompletedProcess:
    """The code as a script of its own (losslint reports findings in the user's files; code
    given to `python -c` has no file)."""
    script = folder / "script.py"
    script.write_text(textwrap.dedent(code), encoding="utf-8")
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=folder)


def test_mirrored_strategy_on_two_replicas(tmp_path: Path) -> None:
    """Per-replica batches under tf.distribute: the same weights with and without the callback,
    and the broadcast found on one replica's part of the batch before any update."""
    code = '''
        import numpy as np, tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        import keras, losslint
        from keras import layers, ops

        class MeanSquared(keras.losses.Loss):
            def call(self, y_true, y_pred):
                return ops.mean(ops.square(y_true - y_pred), axis=-1)

        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        x = np.random.default_rng(0).random((64, 5)).astype("float32"); y = x.sum(axis=1)
        def build(loss):
            keras.utils.set_random_seed(2)
            with strategy.scope():
                m = keras.Sequential([keras.Input((5,)), layers.Dense(4), layers.Dropout(0.2), layers.Dense(1)])
                m.compile(optimizer="adam", loss=loss)
            return m
        runs = []
        for use in (False, True):
            m = build("mse")
            m.fit(x, y[:, None], batch_size=16, epochs=2, verbose=0, callbacks=[losslint.Callback()] if use else [])
            runs.append([w.numpy() for w in m.weights])
        print("same", all(np.array_equal(a, b) for a, b in zip(*runs)))
        m = build(MeanSquared())
        try:
            m.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[losslint.Callback()])
        except losslint.LossLintError as error:
            print("raised", [f.code for f in error.findings], int(m.optimizer.iterations.numpy()))
    '''
    result = _run(code, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split("\n")[-3:] == ["same True", "raised ['LL202'] 0", ""], result.stdout


def test_other_backends_warn_and_do_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The probes need TensorFlow: on another backend the callback says so and stays out of the
    way. (Simulated: the JAX and torch backends are not installed here, and the numpy backend
    needs SciPy; the callback reads the backend from keras.backend.backend() when fit starts.)"""
    x, y = _data(64)
    model = _sequential("mse")
    model.make_train_function()
    keras_function = model.train_function
    callback = losslint.Callback()
    callback.set_model(model)
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    with pytest.warns(RuntimeWarning, match="its probes run on the TensorFlow backend, and this fit runs on 'jax'"):
        callback.on_train_begin()
    assert model.train_function is keras_function and not callback.probed


def test_import_losslint_does_not_import_keras(tmp_path: Path) -> None:
    result = _run("import sys, losslint; print(sorted(m for m in ('keras', 'tensorflow') if m in sys.modules))", tmp_path)
    assert result.stdout.strip() == "[]", result.stderr
