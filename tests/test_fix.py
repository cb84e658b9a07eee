"""`--fix` / `--diff`: the safe fixes of losslint.fixes (LL106 renames, LL305 reset_state, LL104
K.dot -> matmul), what they refuse, byte-for-byte preservation, the CLI's output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import run_cli
from losslint import registry
from losslint.cli import cli
from losslint.config import Config, merged
from losslint.fixes import FIXERS
from losslint.fixes.engine import fix_bytes, fix_source, unified_diff
from losslint.static.linter import lint_source

TF = "import tensorflow as tf\n"


def fixed(source: str, config: Config | None = None) -> str:
    return fix_source("t.py", source, config or Config()).text


def codes(source: str) -> list[str]:
    return [f.code for f in lint_source("t.py", source, Config()).findings]


def invoke(*args: str, input: bytes | None = None):
    return CliRunner().invoke(cli, ["--isolated", "--no-cache", *args], input=input, catch_exceptions=False)


def test_every_fix_family_is_registered_under_an_existing_rule_code() -> None:
    assert set(FIXERS) == {"LL104", "LL106", "LL305"}
    assert all(registry.get(code) is not None for code in FIXERS)


# LL106: removed TF names -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("tf.log(x)", "tf.math.log(x)"),
        ("tf.log1p(x)", "tf.math.log1p(x)"),
        ("tf.log_sigmoid(x)", "tf.math.log_sigmoid(x)"),
        ("tf.matrix_band_part(x, 0, -1)", "tf.linalg.band_part(x, 0, -1)"),
        ("tf.random_normal((2, 3), stddev=0.1)", "tf.random.normal((2, 3), stddev=0.1)"),
        ("tf.random_uniform((2,), 0, 1)", "tf.random.uniform((2,), 0, 1)"),
        ("tf.truncated_normal((2,))", "tf.random.truncated_normal((2,))"),
        ("tf.matrix_transpose(x)", "tf.linalg.matrix_transpose(x)"),
        ("tf.matrix_inverse(x, adjoint=True)", "tf.linalg.inv(x, adjoint=True)"),
        ("tf.squared_difference(x, y)", "tf.math.squared_difference(x, y)"),
        ("tf.is_nan(x)", "tf.math.is_nan(x)"),
        ("tf.arg_max(x, 1)", "tf.math.argmax(x, 1)"),
        ("tf.arg_min(x, dimension=1)", "tf.math.argmin(x, axis=1)"),
        ("tf.count_nonzero(x)", "tf.math.count_nonzero(x)"),
        (
            "tf.count_nonzero(input_tensor=x, reduction_indices=1, keep_dims=True)",
            "tf.math.count_nonzero(input=x, axis=1, keepdims=True)",
        ),
        (
            "tf.nn.softmax_cross_entropy_with_logits_v2(labels=y, logits=x)",
            "tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=x)",
        ),
        (
            "tf.nn.softmax_cross_entropy_with_logits_v2(y, x, dim=1)",
            "tf.nn.softmax_cross_entropy_with_logits(y, x, axis=1)",
        ),
        ("tf.to_float(x)", "tf.cast(x, tf.float32)"),
        ("tf.to_double(x)", "tf.cast(x, tf.float64)"),
        ("tf.to_int32(x, name='n')", "tf.cast(x, tf.int32, name='n')"),
        ("tf.to_int64(x, 'n')", "tf.cast(x, tf.int64, 'n')"),
        ("tf.to_float(x=x)", "tf.cast(x=x, dtype=tf.float32)"),
        ("tf.to_float(tf.log(x))", "tf.cast(tf.math.log(x), tf.float32)"),  # nested fixes compose
        ("f = tf.log", "f = tf.math.log"),  # the same function object: a reference is fine too
    ],
)
def test_removed_tf_names(before, after) -> None:
    assert fixed(TF + before + "\n") == TF + after + "\n"
    assert "LL106" not in codes(TF + after + "\n")


@pytest.mark.parametrize(
    ("imports", "before", "after"),
    [
        ("import tensorflow as T\n", "T.log(x)", "T.math.log(x)"),
        ("import tensorflow as T\n", "T.to_float(x)", "T.cast(x, T.float32)"),
        ("import tensorflow\n", "tensorflow.log(x)", "tensorflow.math.log(x)"),
        ("import tensorflow.keras\n", "tensorflow.random_normal((1,))", "tensorflow.random.normal((1,))"),
        ("from tensorflow import nn\n", "nn.softmax_cross_entropy_with_logits_v2(labels=y, logits=x)",
         "nn.softmax_cross_entropy_with_logits(labels=y, logits=x)"),
        ("import tensorflow as T\n", "T.nn.softmax_cross_entropy_with_logits_v2(y, x)", "T.nn.softmax_cross_entropy_with_logits(y, x)"),
    ],
)
def test_the_users_alias_is_kept(imports, before, after) -> None:
    assert fixed(imports + before + "\n") == imports + after + "\n"


@pytest.mark.parametrize(
    "source",
    [
        "import numpy as tf\ntf.log(x)\n",  # `tf` is not TensorFlow
        "def f(tf):\n    return tf.log(x)\ntf.log(x)\n",  # `tf` bound in the file: not read as TensorFlow
        "import tensorflow as tf\ndef f(tf):\n    return tf.log(x)\n",  # shadowed by a parameter
        "try:\n    import tensorflow as tf\nexcept ImportError:\n    import numpy as tf\ntf.log(x)\n",  # two bindings
        "import tensorflow.compat.v1 as tf\ntf.log(x)\n",  # still exists in compat.v1
        "from tensorflow import log\nlog(x)\n",  # the import would have to change too
        TF + "tf.log = my_log\n",  # an assignment target
        TF + "del tf.log\n",
        TF + "tf.arg_max(x)\n",  # arg_max needed `dimension`; argmax would silently reduce axis 0
        TF + "tf.arg_max(x, 1, dimension=2)\n",
        TF + "tf.count_nonzero(x, axis=1, reduction_indices=1)\n",  # both would become axis
        TF + "tf.count_nonzero(x, **kw)\n",
        TF + "tf.nn.softmax_cross_entropy_with_logits_v2(*args)\n",
        TF + "f = tf.arg_max\n",  # a different function: only calls, whose arguments we see
        TF + "xs = map(tf.to_float, ys)\n",  # to_float -> cast needs a call to add the dtype
        TF + "tf.to_float(x, dtype=tf.int32)\n",
        TF + "tf.to_float(*xs)\n",
        TF + "tf.multinomial(logits, 1)\n",  # no one-to-one replacement: not in the safe set
        TF + "tf.div(x, y)\n",
        TF + "tf.placeholder(tf.float32)\n",
        TF + "tf.log(x)  # noqa: LL106\n",  # suppressed: not reported, so not fixed
    ],
)
def test_removed_tf_names_refused(source) -> None:
    assert fixed(source) == source


def test_conventional_tf_without_its_import_is_fixed_unless_turned_off() -> None:
    # A snippet without `import tensorflow as tf` (conventional-names, on by default).
    assert fixed("tf.log(x)\n") == "tf.math.log(x)\n"
    assert fixed("tf.log(x)\n", merged(Config(), conventional_names_enabled=False)) == "tf.log(x)\n"


def test_selection_and_per_file_ignores_limit_the_fixes() -> None:
    source = TF + "tf.log(x)\n"
    assert fixed(source, merged(Config(), ignore=("LL106",))) == source
    assert fixed(source, merged(Config(), select=("LL104",))) == source
    assert fix_source("t.py", source, Config(), frozenset({"LL106"})).text == source  # per-file-ignores


KERAS = "import keras\nimport numpy as np\nfrom keras import optimizers\n"


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("keras.optimizers.Adam(lr=0.01)", "keras.optimizers.Adam(learning_rate=0.01)"),
        ("optimizers.SGD(lr = 0.1, momentum=0.9)", "optimizers.SGD(learning_rate = 0.1, momentum=0.9)"),
        ("model.fit(x, y, nb_epoch=3)", "model.fit(x, y, epochs=3)"),
        ("model.fit(x, y, 32, nb_epoch=3, verbose=0)", "model.fit(x, y, 32, epochs=3, verbose=0)"),
    ],
)
def test_keras_keywords(before, after) -> None:
    setup = "model = keras.Sequential([keras.layers.Dense(1)])\n"
    assert fixed(KERAS + setup + before + "\n") == KERAS + setup + after + "\n"
    assert "LL106" not in codes(KERAS + setup + after + "\n")


def test_keras_keywords_with_alias() -> None:
    source = "from tensorflow.keras.optimizers import Adam as A\nopt = A(lr=1e-3)\n"
    assert fixed(source) == "from tensorflow.keras.optimizers import Adam as A\nopt = A(learning_rate=1e-3)\n"


@pytest.mark.parametrize(
    "call",
    [
        "keras.optimizers.Adam(0.1, lr=0.01)",  # a positional learning rate too
        "keras.optimizers.Adam(lr=0.01, learning_rate=0.1)",
        "keras.optimizers.Adam(lr=0.01, **kw)",
        "keras.mixed_precision.LossScaleOptimizer(lr=0.01)",
        "Adam(lr=0.01)",  # a local class, not a Keras optimizer
        "model.fit(x, y, nb_epoch=3, epochs=2)",
        "model.fit(x, y, 32, 2, nb_epoch=3)",  # epochs already given positionally
        "model.fit(x, y, *rest, nb_epoch=3)",
        "model.evaluate(x, y, nb_epoch=3)",  # only fit() meant epochs by it
        "clf.fit(x, y, nb_epoch=3)",  # not a Keras model (no LL106 finding)
    ],
)
def test_keras_keywords_refused(call) -> None:
    source = KERAS + "class Adam:\n    def __init__(self, lr): pass\nmodel = keras.Sequential([])\nclf = object()\n" + call + "\n"
    assert fixed(source) == source


# LL305: reset_states -> reset_state -------------------------------------------------------------

METRIC = """\
import keras


class MinAbs(keras.metrics.Metric):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.low = self.add_weight(name="low")

    def reset_states(self):  # Keras 2 name
        self.low.assign(1e9)
"""


def test_metric_reset_states_renamed() -> None:
    assert fixed(METRIC) == METRIC.replace("def reset_states(self)", "def reset_state(self)")


@pytest.mark.parametrize(
    ("imports", "base"),
    [
        ("from tensorflow import keras as K2\n", "K2.metrics.Metric"),
        ("from keras.metrics import Metric as M\n", "M"),
        ("import tensorflow as tf\n", "tf.keras.metrics.Mean"),
    ],
)
def test_metric_reset_states_through_aliases(imports, base) -> None:
    source = f"{imports}class A({base}):\n    def reset_states(self):\n        pass\n\n\nclass B(A):\n    def reset_states(self):\n        pass\n"
    assert fixed(source) == source.replace("reset_states", "reset_state")


@pytest.mark.parametrize(
    "source",
    [
        # Not a Metric: a stateful RNN wrapper, a plain class; and calls are never renamed.
        "import keras\nclass Rnn(keras.layers.Layer):\n    def reset_states(self):\n        pass\n",
        "class Counter:\n    def reset_states(self):\n        pass\nx = Counter()\nx.reset_states()\n",
        "import keras\nmodel = keras.Sequential([])\nmodel.reset_states()\n",
        # reset_state is defined too.
        METRIC + "\n    def reset_state(self):\n        pass\n",
        METRIC + "\n    reset_state = reset_states\n",
        # The class calls it itself (super().reset_states() would recurse under tf_keras).
        METRIC + "\n    def result(self):\n        self.reset_states()\n        return self.low\n",
        METRIC.replace("self.low.assign(1e9)", "super().reset_states()"),
        # An instance of it is reset by the old name in this file.
        METRIC + "\nm = MinAbs()\nm.reset_states()\n",
        # Two definitions, or one nested in an if.
        METRIC + "\n    def reset_states(self):\n        pass\n",
        METRIC.replace("    def reset_states", "    if True:\n      def reset_states"),
        # Suppressed on the def line.
        METRIC.replace("# Keras 2 name", "# noqa: LL305"),
    ],
)
def test_metric_reset_states_refused(source) -> None:
    assert fixed(source) == source


# LL104: K.dot on batched tensors ------------------------------------------------------------------

DOT = """\
inp = keras.Input(shape=(9, 4, 15))
pair = keras.layers.Lambda(
    lambda x: {dot}(K.permute_dimensions(x, (0, 2, 1, 3)),
                    K.permute_dimensions(x, (0, 2, 3, 1)))
)(inp)
"""


@pytest.mark.parametrize(
    ("imports", "dot", "replacement"),
    [
        ("import keras\nimport tensorflow as tf\nfrom tensorflow.keras import backend as K\n", "K.dot", "tf.matmul"),
        ("import keras\nimport tensorflow as T\nfrom tensorflow.keras import backend as K\n", "K.dot", "T.matmul"),
        ("import keras\nfrom tensorflow.keras import backend as K\n", "K.dot", "keras.ops.matmul"),
        ("from tensorflow import keras\nfrom keras import ops\nfrom tensorflow.keras import backend as K\n", "K.dot", "ops.matmul"),
        ("import keras\nfrom keras import ops\nfrom tensorflow.keras import backend as K\n", "ops.dot", "ops.matmul"),
        ("import keras\nfrom tensorflow.keras import backend as K\n", "keras.ops.dot", "keras.ops.matmul"),
    ],
)
def test_batched_dot(imports, dot, replacement) -> None:
    source = imports + DOT.format(dot=dot)
    assert "LL104" in codes(source)
    after = fixed(source)
    assert after == imports + DOT.format(dot=replacement)
    assert "LL104" not in codes(after)


@pytest.mark.parametrize(
    ("imports", "dot"),
    [
        # Nothing importable is bound: no import is ever added.
        ("from tensorflow import keras\nfrom tensorflow.keras import backend as K\n", "K.dot"),
        ("import keras\nimport tensorflow as tf\nfrom tensorflow.keras import backend as K\n", "K.batch_dot"),
        ("import keras\nimport tensorflow as tf\nfrom tensorflow.keras import backend as K\n", "tf.tensordot"),
        ("import keras\nimport numpy as np\nimport tensorflow as tf\nfrom tensorflow.keras import backend as K\n", "np.dot"),
    ],
)
def test_batched_dot_refused(imports, dot) -> None:
    source = imports + DOT.format(dot=dot)
    assert fixed(source) == source


def test_batched_dot_refused_where_ll104_does_not_fire_or_tf_is_shadowed() -> None:
    imports = "import keras\nimport tensorflow as tf\nfrom tensorflow.keras import backend as K\n"
    rank2 = imports + "inp = keras.Input(shape=(4,))\nout = keras.layers.Lambda(lambda x: K.dot(x, x))(inp)\n"
    assert fixed(rank2) == rank2
    shadowed = imports.replace("import tensorflow as tf\n", "") + (
        "def build(tf):\n" + "".join("    " + line + "\n" for line in DOT.format(dot="K.dot").splitlines())
    )
    assert fixed(shadowed) == shadowed.replace("K.dot", "keras.ops.matmul")  # not the parameter `tf`
    keyword = imports + DOT.format(dot="K.dot").replace("(0, 2, 3, 1)))", "(0, 2, 3, 1)), y=None)")
    assert fixed(keyword) == keyword


# Preservation, idempotence, encodings --------------------------------------------------------------

ROUND_TRIP = """\
#!/usr/bin/env python
# -*- coding: utf-8 -*-
\"\"\"A docstring: tf.log(x) here is text.\"\"\"
import tensorflow   as   tf   # odd spacing
import keras


def loss( y_true,y_pred ):   # comment
    a = tf . log ( y_pred )    # spaced attribute
    b = ( tf.log )( y_true )   # parenthesised
    c = tf.to_float(
        # a comment inside the call
        y_true ,
    )
    s = "tf.log(x) in a string"
    return tf.reduce_mean(
        tf.squared_difference(a,  b),   # trailing
        axis = -1 ,
    )  + c


opt = keras.optimizers.Adam(
    lr  =  0.01,   # the old name
    beta_1=0.9)
"""
ROUND_TRIP_FIXED = """\
#!/usr/bin/env python
# -*- coding: utf-8 -*-
\"\"\"A docstring: tf.log(x) here is text.\"\"\"
import tensorflow   as   tf   # odd spacing
import keras


def loss( y_true,y_pred ):   # comment
    a = tf . math.log ( y_pred )    # spaced attribute
    b = ( tf.math.log )( y_true )   # parenthesised
    c = tf.cast(
        # a comment inside the call
        y_true, tf.float32 ,
    )
    s = "tf.log(x) in a string"
    return tf.reduce_mean(
        tf.math.squared_difference(a,  b),   # trailing
        axis = -1 ,
    )  + c


opt = keras.optimizers.Adam(
    learning_rate  =  0.01,   # the old name
    beta_1=0.9)
"""


def test_round_trip_keeps_everything_outside_the_rewritten_spans() -> None:
    assert fixed(ROUND_TRIP) == ROUND_TRIP_FIXED
    assert {"LL106"} & set(codes(ROUND_TRIP)) and "LL106" not in codes(ROUND_TRIP_FIXED)


def test_idempotent() -> None:
    assert fixed(ROUND_TRIP_FIXED) == ROUND_TRIP_FIXED
    assert fixed(METRIC.replace("reset_states", "reset_state")) == METRIC.replace("reset_states", "reset_state")


@pytest.mark.parametrize(
    "data",
    [
        ROUND_TRIP.replace("\n", "\r\n").encode(),  # CRLF
        b"\xef\xbb\xbf" + ROUND_TRIP.encode(),  # BOM
        ROUND_TRIP.replace("utf-8", "latin-1").replace("odd spacing", "caf\xe9").encode("latin-1"),  # cookie
        ROUND_TRIP.rstrip("\n").encode(),  # no newline at the end
    ],
    ids=["crlf", "bom", "latin-1", "no-final-newline"],
)
def test_encodings_and_line_endings_are_kept(data) -> None:
    result = fix_bytes("t.py", data, Config())
    assert result.changed
    out = result.fixed_bytes()
    expected = data
    for old, new in [(b"tf . log", b"tf . math.log"), (b"( tf.log )", b"( tf.math.log )"),
                     (b"tf.to_float(", b"tf.cast("), (b"y_true ,", b"y_true, tf.float32 ,"),
                     (b"tf.squared_difference", b"tf.math.squared_difference"), (b"lr  =", b"learning_rate  =")]:
        assert expected.count(old) == 1
        expected = expected.replace(old, new)
    assert out == expected


def test_files_that_cannot_be_fixed_are_left_alone() -> None:
    for data in (b"def f(:\n", b"x = 1\x00\n", b"\xff\xfe not utf-8 tf.log\n", b"# losslint: skip-file\n" + (TF + "tf.log(x)\n").encode()):
        result = fix_bytes("t.py", data, Config())
        assert not result.changed and result.fixed_bytes() == data
    notebook = json.dumps({"cells": [{"cell_type": "code", "source": [TF, "tf.log(x)"]}]}).encode()
    assert not fix_bytes("t.ipynb", notebook, Config()).changed  # notebooks are linted, not fixed


def test_unified_diff_marks_a_missing_final_newline() -> None:
    diff = unified_diff("t.py", "a\nb", "a\nc")
    assert diff == "--- a/t.py\n+++ b/t.py\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n"


# The command line --------------------------------------------------------------------------------

BAD = TF + "def my_loss(y_true, y_pred):\n    return tf.reduce_mean(tf.log(y_pred) * tf.to_float(y_true))\n"
BAD_FIXED = TF + "def my_loss(y_true, y_pred):\n    return tf.reduce_mean(tf.math.log(y_pred) * tf.cast(y_true, tf.float32))\n"
# LL106 that no fix covers (no one-to-one replacement) plus one that is fixed.
PARTLY = TF + "x = tf.placeholder(tf.float32)\ny = tf.log(x)\n"


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    (tmp_path / "bad.py").write_text(BAD, encoding="utf-8")
    (tmp_path / "partly.py").write_text(PARTLY, encoding="utf-8")
    (tmp_path / "clean.py").write_text(TF + "print(tf.math.log(2.0))\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_diff_prints_and_writes_nothing(project) -> None:
    before = {p.name: p.read_bytes() for p in project.glob("*.py")}
    result = invoke("--diff", "bad.py", "clean.py")
    assert result.exit_code == 1
    assert result.stdout == (
        "--- a/bad.py\n+++ b/bad.py\n@@ -1,3 +1,3 @@\n import tensorflow as tf\n"
        " def my_loss(y_true, y_pred):\n"
        "-    return tf.reduce_mean(tf.log(y_pred) * tf.to_float(y_true))\n"
        "+    return tf.reduce_mean(tf.math.log(y_pred) * tf.cast(y_true, tf.float32))\n"
    )
    assert result.stderr == "Would fix 2 findings\n"
    assert {p.name: p.read_bytes() for p in project.glob("*.py")} == before
    clean = invoke("--diff", "clean.py")
    assert (clean.exit_code, clean.stdout, clean.stderr) == (0, "", "")
    assert invoke("--fix", "--diff", "bad.py").exit_code == 1  # --diff wins: still nothing written
    assert (project / "bad.py").read_bytes() == before["bad.py"]


def test_fix_writes_reports_what_remains_and_is_idempotent(project) -> None:
    clean_before = (project / "clean.py").stat().st_mtime_ns
    result = invoke("--fix", "--format", "json", ".")
    assert result.exit_code == 1  # partly.py keeps tf.placeholder
    assert (project / "bad.py").read_text() == BAD_FIXED
    assert (project / "partly.py").read_text() == PARTLY.replace("tf.log", "tf.math.log")
    assert (project / "clean.py").stat().st_mtime_ns == clean_before  # only files with a change are written
    remaining = json.loads(result.stdout)
    assert [(f["path"], f["code"], f["line"]) for f in remaining] == [("partly.py", "LL106", 2)]
    assert result.stderr == "Fixed 3 findings (1 remaining)\n"
    again = invoke("--fix", ".")
    assert again.stderr.endswith("Fixed 0 findings (1 remaining)\n")
    assert (project / "bad.py").read_text() == BAD_FIXED
    assert invoke("--diff", ".").exit_code == 0
    # Re-linted: nothing left of the fixed code in bad.py.
    assert invoke("--format", "json", "bad.py").stdout.strip() == "[]"


def test_fix_all_fixed_exits_zero(project) -> None:
    result = invoke("--fix", "bad.py")
    assert result.exit_code == 0
    assert result.stdout.endswith("0 errors, 0 warnings in 1 file\n")
    assert result.stderr == "Fixed 2 findings (0 remaining)\n"


def test_fix_respects_selection(project) -> None:
    result = invoke("--fix", "--ignore", "LL106", "bad.py")
    assert result.exit_code == 0
    assert (project / "bad.py").read_text() == BAD
    assert result.stderr == "Fixed 0 findings (0 remaining)\n"


def test_fix_and_diff_refuse_dynamic(project) -> None:
    for flag in ("--fix", "--diff"):
        proc = run_cli("--isolated", flag, "--dynamic", "bad.py", cwd=project)
        assert proc.returncode == 2
        stderr = proc.stderr.decode()
        assert "--dynamic" in stderr and flag in stderr and "Traceback" not in stderr
        assert len(stderr.strip().splitlines()) == 1
    assert (project / "bad.py").read_text() == BAD


def test_fix_stdin_prints_the_fixed_source(tmp_path) -> None:
    proc = run_cli("--isolated", "--no-cache", "--fix", "-", "--stdin-filename", "train.py", cwd=tmp_path, stdin=BAD.encode())
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout == BAD_FIXED.encode()
    assert proc.stderr.decode().endswith("Fixed 2 findings (0 remaining)\n")
    partly = run_cli("--isolated", "--no-cache", "--fix", "-", cwd=tmp_path, stdin=PARTLY.encode())
    assert partly.returncode == 1
    assert partly.stdout == PARTLY.replace("tf.log", "tf.math.log").encode()  # only the source on stdout
    stderr = partly.stderr.decode()
    assert "<stdin>:2:5: LL106" in stderr and stderr.endswith("Fixed 1 finding (1 remaining)\n")
    unchanged = run_cli("--isolated", "--fix", "-", cwd=tmp_path, stdin=b"x = 1\n")
    assert (unchanged.returncode, unchanged.stdout) == (0, b"x = 1\n")


def test_diff_stdin(tmp_path) -> None:
    proc = run_cli("--isolated", "--diff", "-", "--stdin-filename", "src/train.py", cwd=tmp_path, stdin=BAD.encode())
    assert proc.returncode == 1
    assert proc.stdout.decode().startswith("--- a/src/train.py\n+++ b/src/train.py\n")


def test_fixtures_fixed_and_relinted_clean_for_the_fixed_codes(tmp_path) -> None:
    """The bundled bad fixtures of LL104/LL106: after --fix, only findings no fix covers remain."""
    from conftest import FIXTURES

    for name in ("LL104-batched-dot/bad_seed002.py", "LL106-removed-api/bad_tf1_names.py", "LL106-removed-api/bad_seed002_band_part.py"):
        target = tmp_path / Path(name).name
        target.write_bytes((FIXTURES / name).read_bytes())
    result = invoke("--fix", "--format", "json", str(tmp_path))
    assert result.exit_code == 0, result.stdout
    assert json.loads(result.stdout) == []
    assert result.stderr == "Fixed 7 findings (0 remaining)\n"
