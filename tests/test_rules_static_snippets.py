"""Code as people post and keep it (issue 14): snippets and notebook cells without their imports
(conventional names), and losses no compile call of the file uses (discovery by signature, by
name, Metric.update_state)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from losslint.cli import cli
from losslint.config import Config, ConfigError, from_table, merged
from losslint.static.discovery import file_context
from losslint.static.linter import lint_source

import libcst as cst


def findings(source: str, config: Config | None = None, select: tuple[str, ...] | None = None) -> list:
    config = config or Config()
    if select is not None:
        config = merged(config, select=select)
    report = lint_source("snippet.py", textwrap.dedent(source), config)
    assert not report.errors, report.errors
    return report.findings


def codes_at(source: str, config: Config | None = None, select: tuple[str, ...] | None = None) -> list[tuple[int, str]]:
    return sorted((f.line, f.code) for f in findings(source, config, select))


OFF = Config(conventional_names_enabled=False)


def losses(source: str, config: Config | None = None) -> dict[str, str]:
    """name -> origin of every loss discovery finds."""
    source = textwrap.dedent(source)
    ctx = file_context("snippet.py", source, cst.parse_module(source), conventional=(config or Config()).conventional_names())
    return {loss.name: loss.origin for loss in ctx.index.losses}


# Conventional names ----------------------------------------------------------------------------

# A loss as posted in an issue thread: no imports, NumPy on the prediction.
NUMPY_SNIPPET = """
    def weighted_loss(y_true, y_pred):
        err = K.square(y_true - y_pred)
        return np.mean(err, axis=-1)
"""


def test_snippet_without_imports_is_read_with_conventional_names() -> None:
    assert codes_at(NUMPY_SNIPPET) == [(4, "LL108")]
    message = findings(NUMPY_SNIPPET)[0].message
    assert message.startswith(
        "`np.mean` in loss `weighted_loss` (recognised by its signature: no compile call of the linted files uses it)"
    )


def test_conventional_names_off_in_config_and_on_the_command_line(tmp_path: Path) -> None:
    assert codes_at(NUMPY_SNIPPET, OFF) == []
    script = tmp_path / "snippet.py"
    script.write_text(textwrap.dedent(NUMPY_SNIPPET), encoding="utf-8")
    runner = CliRunner()
    on = runner.invoke(cli, ["--isolated", "--no-cache", "--format", "json", str(script)])
    off = runner.invoke(cli, ["--isolated", "--no-cache", "--format", "json", "--no-conventional-names", str(script)])
    assert [f["code"] for f in json.loads(on.stdout)] == ["LL108"]
    assert json.loads(off.stdout) == [] and off.exit_code == 0


def test_the_cache_tells_the_setting_apart(tmp_path: Path, monkeypatch) -> None:
    script = tmp_path / "snippet.py"
    script.write_text(textwrap.dedent(NUMPY_SNIPPET), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    first = runner.invoke(cli, ["--isolated", "--format", "json", "snippet.py"])
    off = runner.invoke(cli, ["--isolated", "--format", "json", "--no-conventional-names", "snippet.py"])
    again = runner.invoke(cli, ["--isolated", "--format", "json", "snippet.py"])
    assert (len(json.loads(first.stdout)), len(json.loads(off.stdout)), len(json.loads(again.stdout))) == (1, 0, 1)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # K as the Keras backend, tf as TensorFlow: the reshape of the prediction is LL101.
        ("def l(y_true, y_pred):\n    y_pred = K.reshape(y_pred, (-1, 5, 7))\n    return K.mean(y_pred)\n", [(2, "LL101")]),
        ("def l(y_true, y_pred):\n    y_pred = tf.reshape(y_pred, (-1, 5, 7))\n    return tf.reduce_mean(y_pred)\n", [(2, "LL101")]),
        ("def l(y_true, y_pred):\n    y_pred = ops.reshape(y_pred, (-1, 5, 7))\n    return ops.mean(y_pred)\n", [(2, "LL101")]),
        # A Loss subclass whose base is the conventional `Loss` (from keras.losses import Loss).
        ("class Smooth(Loss):\n    def call(self, a, b):\n        return ops.mean(np.abs(a - b))\n", [(3, "LL108")]),
        # A Lambda layer in a cell that never says keras: the file is still linted.
        ("def head(x):\n    return tf.reshape(x, (32, -1))\nout = Lambda(head)(features)\n", [(2, "LL103")]),
    ],
)
def test_conventional_modules_and_classes(source: str, expected: list) -> None:
    assert codes_at(source) == expected
    assert codes_at(source, OFF) != expected


@pytest.mark.parametrize(
    "source",
    [
        # Bound to another module by an import: the import wins.
        "from mylib import backend as K\ndef l(y_true, y_pred):\n    y_pred = K.reshape(y_pred, (-1, 5, 7))\n    return y_pred\n",
        "import jax.numpy as np\ndef l(y_true, y_pred):\n    return np.mean(tf.square(y_true - y_pred), axis=-1)\n",
        # Bound anywhere in the file, even in another scope: never read as the convention.
        "def l(y_true, y_pred):\n    y_pred = K.reshape(y_pred, (-1, 5, 7))\n    return y_pred\ndef top(K=5):\n    return K\n",
        "def l(y_true, y_pred):\n    return np.mean(tf.square(y_true - y_pred), axis=-1)\nfor np in range(3):\n    pass\n",
        "class K:\n    pass\ndef l(y_true, y_pred):\n    y_pred = K.reshape(y_pred, (-1, 5, 7))\n    return y_pred\n",
        "K = Namespace()\ndef l(y_true, y_pred):\n    y_pred = K.reshape(y_pred, (-1, 5, 7))\n    return y_pred\n",
        "def l(y_true, y_pred, np=None):\n    return np.mean(tf.square(y_true - y_pred), axis=-1)\n",
    ],
)
def test_a_name_the_file_binds_is_never_read_as_its_convention(source: str) -> None:
    assert codes_at(source) == []


def test_extend_conventional_names() -> None:
    source = "def l(y_true, y_pred):\n    y_pred = T.reshape(y_pred, (-1, 5, 7))\n    return y_pred\n"
    assert codes_at(source) == []
    config = from_table({"extend-conventional-names": {"T": "tensorflow"}}, "t", root=Path("."))
    assert codes_at(source, config) == [(2, "LL101")]
    off = from_table({"conventional-names": False, "extend-conventional-names": {"T": "tensorflow"}}, "t", root=Path("."))
    assert codes_at(source, off) == []


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"conventional-names": "yes"}, "`conventional-names` must be true or false"),
        ({"extend-conventional-names": ["T"]}, "must be a table of name"),
        ({"extend-conventional-names": {"T": "tensor flow"}}, "`T` must be a dotted module path"),
        ({"extend-conventional-names": {"T": 1}}, "`T` must be a dotted module path"),
        ({"extend-conventional-names": {"my-T": "tensorflow"}}, "'my-T' is not a Python name"),
    ],
)
def test_conventional_names_keys_are_validated(table: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        from_table(table, "pyproject.toml: [tool.losslint]", root=Path("."))


def test_pyproject_key_turns_it_off(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.losslint]\nconventional-names = false\n", encoding="utf-8")
    (tmp_path / "snippet.py").write_text(textwrap.dedent(NUMPY_SNIPPET), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["--no-cache", "--format", "json", "snippet.py"])
    assert result.exit_code == 0 and json.loads(result.stdout) == []
    result = CliRunner().invoke(cli, ["--no-cache", "--format", "json", "--conventional-names", "snippet.py"])
    assert [f["code"] for f in json.loads(result.stdout)] == ["LL108"]


# Losses no compile call uses ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "signature",
    [
        "y_true, y_pred", "yTrue, yPred", "y_actual, y_pred", "gt, pred", "true, pred", "y_true, y_hat",
    ],
)
def test_unmistakable_signatures_make_a_loss_whatever_its_name(signature: str) -> None:
    target = signature.split(",")[0]
    source = f"def score({signature}):\n    return tf.reduce_mean(tf.square({target}[0] - {signature.split(', ')[1]}), axis=-1)\n"
    assert codes_at(source) == [(2, "LL102")]


@pytest.mark.parametrize(
    ("name", "signature"),
    [
        ("dice_loss", "labels, logits"),
        ("loss_fn", "target, output"),
        ("my_loss", "y, y_pred"),
        ("contrastive_loss", "label, outputs"),
    ],
)
def test_common_signatures_make_a_loss_with_a_loss_name(name: str, signature: str) -> None:
    target, prediction = signature.split(", ")
    body = f"    return tf.reduce_mean(tf.square({target}[0] - {prediction}), axis=-1)\n"
    assert codes_at(f"def {name}({signature}):\n{body}") == [(2, "LL102")]
    assert codes_at(f"def accuracy({signature}):\n{body}") == []  # a helper: not a loss by its name


def test_loss_method_and_loss_class_without_a_known_base() -> None:
    source = """
        class Trainer:
            def _my_loss(self, y_true, y_pred):
                return tf.reduce_sum(tf.square(y_true - y_pred))

        class FocalLoss(BaseLoss):
            def call(self, labels, logits):
                return tf.reduce_mean(tf.cast(tf.argmax(logits, -1) == labels, "float32"))
    """
    assert losses(source) == {"Trainer._my_loss": "signature", "FocalLoss.call": "signature"}
    assert codes_at(source) == [(4, "LL110"), (8, "LL109")]


def test_a_finding_in_a_loss_no_compile_uses_has_no_compile_location() -> None:
    [finding] = findings(NUMPY_SNIPPET)
    assert finding.related == ()
    compiled = findings(textwrap.dedent(NUMPY_SNIPPET) + "model.compile('adam', loss=weighted_loss)\n")
    assert [f.code for f in compiled] == ["LL108"]
    assert "recognised by its signature" not in compiled[0].message


@pytest.mark.parametrize(
    "source",
    [
        # Correct losses, uncompiled, without imports: nothing to report.
        "def dice_loss(y_true, y_pred, smooth=1.0):\n"
        "    inter = K.sum(y_true * y_pred, axis=-1)\n"
        "    return 1 - (2 * inter + smooth) / (K.sum(y_true, axis=-1) + K.sum(y_pred, axis=-1) + smooth)\n",
        "def focal_loss(labels, logits, gamma=2.0):\n"
        "    p = tf.sigmoid(logits)\n"
        "    ce = tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)\n"
        "    return tf.reduce_mean(ce * (1 - p) ** gamma, axis=-1)\n",
        # Keras' own step method and loss plumbing are named like losses, but are not losses.
        "class M(Model):\n    def compute_loss(self, x, y, y_pred, sample_weight=None):\n        return ops.sum(y[0])\n",
        # A NumPy implementation of a loss (a backend, an evaluation script): no tensor op.
        "def ctc_loss(target, output):\n    return np.sum(np.log(output) * target, axis=-1)\n",
    ],
)
def test_correct_or_plumbing_code_stays_clean(source: str) -> None:
    assert codes_at(source) == []


# Metric.update_state --------------------------------------------------------------------------

METRIC = """
    class HitRate(keras.metrics.Metric):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.total = self.add_weight(name="total", initializer="zeros")

        def update_state(self, y_true, y_pred, sample_weight=None):
            {body}

        def result(self):
            return self.total
"""


def metric(body: str) -> str:
    return METRIC.replace("{body}", body)


def test_metric_update_state_numpy_and_python_control_flow() -> None:
    numpy = metric("self.total.assign_add(ops.sum(np.round(y_pred)))")
    assert losses(numpy) == {"HitRate.update_state": "metric"}
    [finding] = findings(numpy)
    assert (finding.line, finding.code) == (8, "LL108")
    assert "in metric `HitRate.update_state`" in finding.message and "traces the metric" in finding.message
    branch = metric("if ops.sum(y_true) > 0:\n                self.total.assign_add(1.0)")
    [finding] = findings(branch)
    assert (finding.line, finding.code) == (8, "LL111")
    assert "metric `HitRate.update_state`" in finding.message and "update_state" in finding.message
    indexed = metric("self.total.assign_add(ops.sum(y_true[0] * y_pred[0]))")
    assert codes_at(indexed) == [(8, "LL102"), (8, "LL102")]


@pytest.mark.parametrize(
    "body",
    [
        # Metrics need no gradient, may reshape what they get, and may sum over the batch.
        "self.total.assign_add(ops.sum(ops.cast(ops.argmax(y_pred, -1) == ops.argmax(y_true, -1), 'float32')))",
        "self.total.assign_add(ops.sum(ops.reshape(y_pred, (-1,)) * ops.reshape(y_true, (-1,))))",
    ],
)
def test_metric_update_state_is_not_held_to_a_loss_rules(body: str) -> None:
    assert codes_at(metric(body)) == []


def test_metric_updated_with_other_values_is_not_a_loss() -> None:
    source = """
        class Tracker(keras.metrics.Metric):
            def update_state(self, values, sample_weight=None):
                self.total.assign_add(np.sum(values[0]))
    """
    assert losses(source) == {}
    assert codes_at(source) == []


def test_metric_that_converts_to_numpy_on_purpose_is_not_numpy_in_a_graph() -> None:
    # Seen in a real NER metric, updated eagerly on arrays: NumPy on the converted arrays is
    # what the author meant; the conversion, not the NumPy call, is what a graph could not run.
    body = (
        "yt = ops.convert_to_numpy(y_true)\n"
        "            mask = np.ones_like(yt, dtype=np.int32)\n"
        "            self.total.assign_add(float(np.sum(yt * mask)))"
    )
    assert losses(metric(body)) == {"HitRate.update_state": "metric"}
    assert codes_at(metric(body)) == []
    assert codes_at(metric("self.total.assign_add(ops.sum(y_pred) + np.sum(y_true))")) == [(8, "LL108")]


def test_trainer_plumbing_named_like_a_loss_is_not_a_loss() -> None:
    source = """
        class Trainer:
            def loss(self, y, y_pred, sample_weight=None):
                return self._compile_loss(y[0], y_pred)

            def compiled_loss(self, y, y_pred, sample_weight=None):
                return self.loss(y[0], y_pred)

        def loss(y, y_pred):
            return tf.reduce_mean(tf.square(y[0] - y_pred), axis=-1)
    """
    assert losses(source) == {"loss": "signature"}
    assert codes_at(source) == [(10, "LL102")]


def test_numpy_method_in_an_uncompiled_evaluation_helper_is_left_alone() -> None:
    # A notebook's helper run eagerly after predict(): `.numpy()` there is right.
    source = (
        "import tensorflow as tf\n\n"
        "def evaluate_preds(y_true, y_pred):\n"
        "    mae = tf.keras.metrics.mean_absolute_error(y_true, y_pred)\n"
        "    return {'mae': mae.numpy()}\n"
    )
    assert codes_at(source) == []
    assert codes_at(source.replace("evaluate_preds", "mae_loss")) == [(5, "LL108")]
