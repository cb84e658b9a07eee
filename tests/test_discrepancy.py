"""LL302: the custom train_step measurement on the LL302 fixture scripts, in process with real
TensorFlow: the reported values, ratio and cause, and bit-identical state afterwards."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest

from conftest import FIXTURES

import keras  # noqa: E402,F401 - the tf extra, which CI installs

from losslint.dynamic.discrepancy import _live_metrics, measure, measure_model  # noqa: E402
from losslint.dynamic.sandbox import Interceptor, StopBeforeTraining  # noqa: E402

CASES = FIXTURES / "LL302-loss-discrepancy"


def capture(name: str | Path):
    """Run a fixture script (a name in CASES, or a path) up to fit in this process; its compile
    and fit records."""
    script = str((CASES / name).resolve())
    interceptor = Interceptor(lambda filename: filename == script)
    interceptor.install()
    try:
        runpy.run_path(script, run_name="__main__")
    except StopBeforeTraining:
        pass
    finally:
        interceptor.uninstall()
    assert interceptor.compiles and interceptor.fits
    return interceptor.compiles[-1], interceptor.fits[-1], script


def state(model) -> dict[int, tuple[object, np.ndarray]]:
    variables = list(model.variables) + list(model.optimizer.variables)
    variables += [v for metric in _live_metrics() for v in metric.variables]
    return {id(v): (v, v.numpy().copy()) for v in variables}


@pytest.mark.parametrize(
    "name, cause",
    [
        ("bad_sum_vs_mean.py", "sum vs mean: the ratio is the batch size (32)"),
        ("bad_regularization.py", "regularisation ignored"),
        ("bad_sample_weight.py", "sample weights ignored"),
        ("bad_logs_other_loss.py", "differentiates the compiled loss but logs another value"),
        ("bad_tracker_never_reset.py", "never reset"),
        ("bad_seed003_compiled_loss.py", "the logged `loss` is the mean of y_pred"),
        ("bad_tracker_not_updated.py", "fit logs `loss: 0.0` at every epoch end"),
    ],
)
def test_discrepancy_is_measured_with_its_cause(name: str, cause: str) -> None:
    compile_record, fit, script = capture(name)
    (finding,) = measure(compile_record, fit, frozenset({script})).findings
    assert finding.code == "LL302" and cause in finding.message
    source = Path(script).read_text().splitlines()
    assert source[finding.line - 1].lstrip().startswith("def train_step")
    assert finding.related and finding.related[0].line == compile_record.where.line


def test_sum_vs_mean_values_and_ratio() -> None:
    compile_record, fit, _ = capture("bad_sum_vs_mean.py")
    model = compile_record.model
    x, y = fit.batch[0], fit.batch[1]
    m = measure_model(model, fit.batch)
    expected_mse = float(np.mean((model(x, training=False).numpy() - y) ** 2))
    assert m.compiled == pytest.approx(expected_mse, rel=1e-5)
    assert m.reported == pytest.approx(32 * expected_mse, rel=1e-4)
    assert m.evaluated == pytest.approx(expected_mse, rel=1e-5)
    assert m.compute_loss_calls == 0


def test_loss_tracker_not_updated_and_crash_with_compiled_metrics() -> None:
    compile_record, fit, _ = capture("bad_tracker_not_updated.py")
    m = measure_model(compile_record.model, fit.batch)
    assert m.epoch_end_zero and not m.epoch_end_crash
    model = compile_record.model
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    m = measure_model(model, fit.batch)
    assert m.epoch_end_crash


@pytest.mark.parametrize("name", ["good_compute_loss.py", "good_own_trackers.py"])
def test_correct_custom_steps_give_no_finding(name: str) -> None:
    compile_record, fit, script = capture(name)
    step = measure(compile_record, fit, frozenset({script}))
    assert step.findings == [] and step.consistent is not None


@pytest.mark.parametrize("name", ["bad_seed003_compiled_loss.py", "good_compute_loss.py", "bad_tracker_never_reset.py"])
def test_state_is_bit_identical_after_the_probe(name: str) -> None:
    compile_record, fit, _ = capture(name)
    model = compile_record.model
    model.optimizer.build(model.trainable_variables)
    before = state(model)
    measure_model(model, fit.batch)
    after = state(model)
    for variable, value in before.values():
        assert np.array_equal(value, variable.numpy())
    # Compile metrics build on first use: any built during the probe are back at their reset state.
    metric_variables = {id(v) for metric in _live_metrics() for v in metric.variables}
    for key in after.keys() - before.keys():
        assert key in metric_variables and not np.any(after[key][1])
