"""The pytest plugin in real pytest runs (pytester): `pytest --losslint` items, their reports,
the configuration, and the `losslint_check` fixture on live models."""

from __future__ import annotations

import subprocess
import sys

import pytest

# pytester's in-process runs drop the modules first imported during the inner run when it ends
# (SysModulesSnapshot); the next run would import libcst's node classes and losslint's rules
# again, as new objects next to the old ones. Importing them here keeps one copy for all runs.
import losslint.files  # noqa: E402,F401
import losslint.reporters.text  # noqa: E402,F401
import losslint.runner  # noqa: E402,F401

pytest_plugins = ["pytester"]

BAD = '''\
import keras


def joint_loss(y_true, y_pred):
    return keras.ops.mean(keras.ops.square(y_true[0] - y_pred[0]))


model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
model.compile("adam", loss=joint_loss)
'''
GOOD = '''\
import keras

model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
model.compile("adam", loss="mse")
'''
# A loss module and the script that compiles with it: the finding is in the loss module.
LOSSES = '''\
import tensorflow as tf


def pair_loss(y_true, y_pred):
    return tf.reduce_mean(tf.square(y_true[0] - y_pred), axis=-1)
'''
TRAIN = '''\
import keras
from losses import pair_loss

model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4)])
model.compile("adam", loss=pair_loss)
'''


def _outcomes(result: pytest.RunResult) -> dict[str, str]:
    """nodeid -> PASSED/FAILED from `-rA`-less verbose output."""
    found = {}
    for line in result.outlines:
        for verdict in ("PASSED", "FAILED", "SKIPPED", "ERROR"):
            if f" {verdict}" in line and "::" in line:
                found[line.split(" ")[0]] = verdict
    return found


def test_one_item_per_file_failing_with_the_text_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(bad=BAD, good=GOOD, broken="def f(:\n    pass\n")
    result = pytester.runpytest("--losslint", "-v", "-p", "no:cacheprovider")
    assert _outcomes(result) == {
        "bad.py::losslint": "FAILED", "broken.py::losslint": "FAILED", "good.py::losslint": "PASSED",
    }
    result.assert_outcomes(passed=1, failed=2)
    out = result.stdout.str()
    # The failure report is losslint's own text report for that file, with the source line.
    assert "bad.py:5:44: LL102 [error] `y_true[0]` in loss `joint_loss` indexes the target" in out
    assert "5 |     return keras.ops.mean(keras.ops.square(y_true[0] - y_pred[0]))" in out
    assert "= fix: give each output its own loss" in out
    assert "2 errors, 0 warnings in 1 file" in out
    assert "broken.py:1:7: LL001 [error] file does not parse: invalid syntax" in out
    assert "Traceback" not in out


def test_off_by_default_and_on_from_the_ini_option(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(bad=BAD, test_plain="def test_ok():\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    pytester.makepyprojecttoml("[tool.pytest.ini_options]\nlosslint = true\n")
    result = pytester.runpytest("-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)  # test_plain.py's test, its losslint item, bad.py
    # The marker selects the losslint items alone.
    result = pytester.runpytest("-v", "-m", "losslint", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1, deselected=1)


def test_the_configuration_is_found_upward_as_the_cli_finds_it(pytester: pytest.Pytester) -> None:
    (pytester.path / "src").mkdir()
    (pytester.path / "src" / "bad.py").write_text(BAD)
    (pytester.path / "src" / "legacy").mkdir()
    (pytester.path / "src" / "legacy" / "old.py").write_text(BAD)
    pytester.makepyprojecttoml(
        "[tool.losslint]\nextend-exclude = [\"legacy\"]\n"
        "per-file-ignores = { \"src/bad.py\" = [\"target-indexed-as-list\"] }\n"
    )
    result = pytester.runpytest("--losslint", "src", "-v", "-p", "no:cacheprovider")
    assert _outcomes(result) == {"src/bad.py::losslint": "PASSED"}  # legacy/ is excluded, LL102 ignored
    (pytester.path / "pyproject.toml").write_text("[tool.losslint]\nselekt = [\"LL1\"]\n")
    result = pytester.runpytest("--losslint", "src", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)
    assert "losslint: error:" in result.stdout.str() and "unknown key(s) selekt" in result.stdout.str()


def test_files_are_linted_together_so_imported_losses_are_found(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(losses=LOSSES, train=TRAIN)
    result = pytester.runpytest("--losslint", "-v", "-p", "no:cacheprovider")
    assert _outcomes(result) == {"losses.py::losslint": "FAILED", "train.py::losslint": "PASSED"}
    out = result.stdout.str()
    assert "losses.py:5:" in out and "LL102" in out
    assert "related: train.py:5:" in out  # the compile call in the other file


def test_the_entry_point_loads_the_plugin_in_a_fresh_process(pytester: pytest.Pytester) -> None:
    """No `-p`: pytest finds the plugin through the pytest11 entry point of the installed package."""
    pytester.makepyfile(bad=BAD)
    result = pytester.runpytest_subprocess("--losslint", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    assert "LL102 [error]" in result.stdout.str()


def test_loading_the_plugin_imports_neither_losslint_s_linter_nor_tensorflow() -> None:
    code = (
        "import sys, losslint.pytest_plugin\n"
        "print(sorted(m for m in ('tensorflow', 'keras', 'numpy', 'libcst', 'losslint.runner') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


FIXTURE_TESTS = '''\
import numpy as np
import keras
from keras import ops


class MeanSquared(keras.losses.Loss):
    def call(self, y_true, y_pred):
        return ops.mean(ops.square(y_true - y_pred), axis=-1)


def _model(loss):
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss=loss)
    return model


x = np.random.default_rng(0).random((32, 5)).astype("float32")
y = x.sum(axis=1)


def test_clean(losslint_check):
    losslint_check(_model("mse"), x, y[:, None], batch_size=16)


def test_broadcast(losslint_check):
    losslint_check(_model(MeanSquared()), x, y, batch_size=16)
'''


def test_the_losslint_check_fixture_fails_a_test_with_the_findings(pytester: pytest.Pytester) -> None:
    pytest.importorskip("tensorflow")
    pytest.importorskip("keras")
    import losslint.dynamic.data  # noqa: F401 - see the imports at the top
    import losslint.dynamic.discrepancy  # noqa: F401
    import losslint.dynamic.probe  # noqa: F401

    pytester.makepyfile(test_models=FIXTURE_TESTS)
    result = pytester.runpytest_inprocess("-v", "-p", "no:cacheprovider")
    assert _outcomes(result) == {
        "test_models.py::test_clean": "PASSED", "test_models.py::test_broadcast": "FAILED",
    }
    out = result.stdout.str()
    assert "LossLintError: losslint found 1 problem:" in out
    assert "test_models.py:8:9: LL202 [error]" in out and "broadcasts (3,) - (3, 1) -> (3, 3)" in out
    # The traceback ends in the user's test, not inside the fixture.
    assert "losslint_check(_model(MeanSquared()), x, y, batch_size=16)" in out
    assert "probe_at(" not in out


def test_help_lists_the_option(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    out = result.stdout.str()
    assert "--losslint" in out and "one test item per file" in out
    assert "losslint (bool)" in out
