"""The loss a custom train_step (or a compute_loss override) computes by hand, traced on the real
batch with the targets and the model's outputs labelled (losslint/dynamic/step_trace.py), in
process with real TensorFlow: LL202's broadcast is found at the step's line, Keras' compiled
losses reached through the step are left to the compile-loss probes, and nothing changes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from conftest import FIXTURES
from test_discrepancy import capture, state

from losslint.dynamic.discrepancy import measure  # noqa: E402
from losslint.dynamic.step_trace import trace_step  # noqa: E402
from losslint.dynamic.trace import PRED, TRUE, UserFiles  # noqa: E402
from losslint.rules.ll202_silent_broadcast import broadcasts  # noqa: E402

CASES = FIXTURES / "LL202-silent-broadcast"


def _line_of(script: str, text: str) -> int:
    return next(i for i, line in enumerate(Path(script).read_text().splitlines(), 1) if text in line)


def test_hand_written_mse_in_train_step_broadcasts_at_its_line() -> None:
    compile_record, fit, script = capture(CASES / "bad_train_step_mse.py")
    (found,) = broadcasts(trace_step(compile_record.model, fit.batch, UserFiles([script])))
    assert found.site.line == _line_of(script, "expect-dynamic: LL202")
    assert found.in_shapes == ((32,), (32, 1)) and found.out_shape == (32, 32)


def test_measure_reports_ll202_in_the_step_and_changes_nothing() -> None:
    compile_record, fit, script = capture(CASES / "bad_train_step_mse.py")
    before = state(compile_record.model)
    (finding,) = measure(compile_record, fit, frozenset({script})).findings
    assert finding.code == "LL202" and "(32,) - (32, 1) -> (32, 32)" in finding.message
    assert finding.line == _line_of(script, "expect-dynamic: LL202")
    for variable, value in before.values():
        assert np.array_equal(variable.numpy(), value), variable.path


def test_compute_loss_override_is_traced() -> None:
    compile_record, fit, script = capture(CASES / "bad_compute_loss_override.py")
    (finding,) = measure(compile_record, fit, frozenset({script})).findings
    assert finding.code == "LL202" and finding.line == _line_of(script, "expect-dynamic: LL202")


def test_fixed_steps_have_no_broadcast() -> None:
    for name in ("good_train_step_mse.py", "good_compute_loss_override.py"):
        compile_record, fit, script = capture(CASES / name)
        assert measure(compile_record, fit, frozenset({script})).findings == [], name


def test_compiled_loss_reached_through_the_step_is_left_to_the_compile_probes(tmp_path: Path) -> None:
    # The Loss subclass broadcasts (N,) against (N, 1); the GRAPH probe of the compiled loss
    # reports it at the loss's line. Reached through self.compute_loss in a train_step, it
    # must not be reported a second time at the step.
    script = tmp_path / "step_with_compiled_loss.py"
    script.write_text(
        "import numpy as np\nimport tensorflow as tf\nimport keras\nfrom keras import layers, ops\n\n\n"
        "class Squared(keras.losses.Loss):\n"
        "    def call(self, y_true, y_pred):\n"
        "        return ops.mean(ops.square(y_true - y_pred), axis=-1)\n\n\n"
        "class Model(keras.Model):\n"
        "    def train_step(self, data):\n"
        "        x, y = data\n"
        "        with tf.GradientTape() as tape:\n"
        "            y_pred = self(x, training=True)\n"
        "            loss = self.compute_loss(x=x, y=y, y_pred=y_pred)\n"
        "        grads = tape.gradient(loss, self.trainable_variables)\n"
        "        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))\n"
        "        return {'loss': loss}\n\n\n"
        "inputs = keras.Input(shape=(4,))\n"
        "model = Model(inputs, layers.Dense(1)(inputs))\n"
        "model.compile(optimizer='adam', loss=Squared())\n"
        "model.fit(np.zeros((64, 4), 'float32'), np.zeros((64,), 'float32'), batch_size=16, verbose=0)\n"
    )
    compile_record, fit, path = capture(script)
    ops = trace_step(compile_record.model, fit.batch, UserFiles([path]))
    assert any(info.out_roles >= {TRUE, PRED} for info in ops)  # the step's own ops are labelled
    assert broadcasts(ops) == []


def test_in_process_probe_traces_the_step() -> None:
    import losslint.api

    compile_record, fit, script = capture(CASES / "bad_train_step_mse.py")
    findings = losslint.api.probe(compile_record.model, x=fit.x[:64], y=fit.y[:64], batch_size=32)
    assert [(f.code, f.line) for f in findings] == [("LL202", _line_of(script, "expect-dynamic: LL202"))]
