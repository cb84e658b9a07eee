"""The dynamic pass where the data, the network and the plotting libraries are not (issue 11),
end to end through the CLI with real TensorFlow: one `losslint --dynamic -v` run over a folder
of scripts and a notebook serves the tests (two scripts at a time)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import run_cli

SCRIPTS = {
    # Writes, deletes and renames before fit: none of them may touch the user's files.
    "writes.py": """
        import os, pathlib, shutil
        import numpy as np
        import keras
        os.makedirs("out/logs", exist_ok=True)
        with open("out/logs/run.txt", "w") as f:
            f.write("new")
        assert open("out/logs/run.txt").read() == "new"  # reads find the diverted file
        pathlib.Path("keep.txt").write_text("overwritten")
        shutil.rmtree("keep_dir")
        os.remove("keep_dir2/file.txt")
        os.rename("keep2.txt", "moved.txt")
        np.save("array.npy", np.zeros(3))
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        model.compile(optimizer="adam", loss="mse")
        model.fit(np.zeros((8, 4)), np.zeros((8, 1)), verbose=0)
    """,
    # The data file is missing, then the script's own bug: an error at the bug's line.
    "own_bug.py": """
        import numpy as np
        import keras
        rows = np.loadtxt("train.csv")
        labels = [0, 1, 2]
        scaled = labels / 2
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        model.compile(optimizer="adam", loss="mse")
        model.fit(rows, rows, verbose=0)
    """,
    # Asks for JAX: probed on TensorFlow, and told so.
    "jax_backend.py": """
        import os
        os.environ["KERAS_BACKEND"] = "jax"
        import numpy as np
        import keras
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        model.compile(optimizer="adam", loss="mse")
        model.fit(np.zeros((8, 4)), np.zeros((8, 1)), verbose=0)
    """,
    # A model built by fit (no Input) from data that is not there, and an image model whose
    # input shape is read off the missing data: both probed on guessed shapes.
    "no_input.py": """
        import numpy as np
        import keras
        from keras import layers
        x = np.load("features.npy")
        model = keras.Sequential([layers.Dense(16, activation="relu"), layers.Dense(1)])
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, x, verbose=0)
    """,
    # Normalization.adapt on data that is not there: skipped, the layer keeps mean 0, variance 1.
    "adapt.py": """
        import numpy as np
        import keras
        from keras import layers
        x_train = np.load("features.npy")
        norm = layers.Normalization()
        norm.adapt(x_train)
        model = keras.Sequential([keras.Input((8,)), norm, layers.Dense(1)])
        model.compile(optimizer="adam", loss="mse")
        model.fit(x_train, x_train, epochs=1, verbose=0)
    """,
    "image_shape.py": """
        import numpy as np
        import keras
        from keras import layers

        def build(input_shape, num_classes):
            return keras.Sequential([
                keras.Input(shape=input_shape),
                layers.Conv2D(8, 3, activation="relu"),
                layers.GlobalAveragePooling2D(),
                layers.Dense(num_classes, activation="softmax"),
            ])

        def main():
            images = np.load("images.npy")
            labels = np.load("labels.npy")
            num_classes = len(np.unique(labels))
            model = build(images.shape[1:], num_classes)
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
            model.fit(images, labels, verbose=0)

        if __name__ == "__main__":
            main()
    """,
}

NOTEBOOK_CELLS = [
    "%matplotlib inline\nimport numpy as np\nimport keras\nfrom keras import layers, ops",
    "%%bash\necho not python",
    "x = np.random.rand(64, 5).astype('float32')\ny = x.sum(axis=1)\nextra = np.load('extra.npy')",
    # keras3-facts case 3a: a Loss subclass sees (N,) against (N, 1) and broadcasts.
    "class MeanSquared(keras.losses.Loss):\n    def call(self, y_true, y_pred):\n"
    "        return ops.mean(ops.square(y_true - y_pred), axis=-1)",
    "model = keras.Sequential([keras.Input((5,)), layers.Dense(1)])\n"
    "model.compile(optimizer='adam', loss=MeanSquared())\nmodel.fit(x, y, batch_size=16, epochs=1, verbose=0)",
]


def _notebook(cells: list[str]) -> str:
    return json.dumps({
        "cells": [{"cell_type": "code", "source": c.splitlines(True), "metadata": {}, "outputs": []} for c in cells],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    })


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, list[dict], str]:
    folder = tmp_path_factory.mktemp("lean")
    for name, source in SCRIPTS.items():
        (folder / name).write_text(textwrap.dedent(source))
    (folder / "train.ipynb").write_text(_notebook(NOTEBOOK_CELLS))
    (folder / "keep.txt").write_text("original")
    (folder / "keep2.txt").write_text("original 2")
    (folder / "keep_dir").mkdir()
    (folder / "keep_dir" / "a.txt").write_text("a")
    (folder / "keep_dir2").mkdir()
    (folder / "keep_dir2" / "file.txt").write_text("b")
    names = [*SCRIPTS, "train.ipynb"]
    proc = run_cli("--dynamic", "-v", "--no-cache", "--format", "json", "--jobs", "2", *names, cwd=folder, timeout=900)
    stderr = proc.stderr.decode()
    assert "Traceback" not in stderr, stderr
    return folder, json.loads(proc.stdout), stderr


def _of(findings: list[dict], path: str) -> list[tuple]:
    return sorted((f.get("cell"), f["line"], f["code"], f["severity"]) for f in findings if f["path"] == path)


def test_the_users_files_are_untouched_and_the_diversions_listed(run) -> None:
    folder, findings, stderr = run
    assert (folder / "keep.txt").read_text() == "original"
    assert (folder / "keep2.txt").read_text() == "original 2" and not (folder / "moved.txt").exists()
    assert (folder / "keep_dir" / "a.txt").exists() and (folder / "keep_dir2" / "file.txt").exists()
    assert not (folder / "out").exists() and not (folder / "array.npy").exists()
    assert not (folder / "__pycache__").exists()
    assert _of(findings, "writes.py") == []  # the assert on the diverted read passed: fit was reached
    for text in ("keep.txt diverted to the scratch folder", "shutil.rmtree", "os.remove", "os.rename",
                 "array.npy diverted"):
        assert text in stderr, text


def test_the_scripts_own_bug_after_a_missing_file_is_an_error_at_its_line(run) -> None:
    _, findings, _ = run
    assert _of(findings, "own_bug.py") == [(None, 6, "LL002", "error")]


def test_another_backend_is_probed_on_tensorflow_and_said(run) -> None:
    _, findings, stderr = run
    assert _of(findings, "jax_backend.py") == []
    assert "jax_backend.py: KERAS_BACKEND=jax is asked for; the dynamic pass probes on the TensorFlow backend" in stderr


def test_models_are_probed_on_guessed_shapes_as_information(run) -> None:
    _, findings, stderr = run
    assert "adapt.py: `normalization`.adapt(...) skipped: its data is not there" in stderr
    assert _of(findings, "no_input.py") == [(None, 5, "LL005", "info")]
    assert _of(findings, "adapt.py") == [(None, 5, "LL005", "info")]
    (image,) = [f for f in findings if f["path"] == "image_shape.py"]
    assert (image["line"], image["code"], image["severity"]) == (15, "LL005", "info")
    assert "probed model `sequential" in image["message"] and "32 was used" in image["message"]


def test_a_notebook_runs_with_findings_at_its_cells(run) -> None:
    _, findings, stderr = run
    # The broadcast (N,) - (N, 1) is measured on the real targets: the missing extra.npy, which
    # fit does not need, changes nothing (-v says it was stood in).
    assert _of(findings, "train.ipynb") == [(4, 3, "LL202", "error")]
    assert "train.ipynb:cell 3:3: the environment stopped this statement (FileNotFoundError" in stderr


def test_info_findings_do_not_fail_the_run(tmp_path) -> None:
    (tmp_path / "train.py").write_text(textwrap.dedent(SCRIPTS["no_input.py"]))
    proc = run_cli("--dynamic", "--no-cache", "train.py", cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    assert "LL005 [info]" in proc.stdout.decode() and "0 errors, 0 warnings, 1 info" in proc.stdout.decode()


def test_without_tensorflow_the_dynamic_pass_says_what_to_install(tmp_path, monkeypatch) -> None:
    import importlib.util

    from losslint import cli

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorflow" else real(name, *a))
    (tmp_path / "train.py").write_text(textwrap.dedent(SCRIPTS["jax_backend.py"]))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli.cli, ["--dynamic", "--no-cache", "train.py"])
    assert result.exit_code == 2
    try:
        text = result.output + result.stderr
    except ValueError:  # click < 8.2 mixes stderr into output
        text = result.output
    errors = sorted({line for line in text.splitlines() if line.startswith("losslint: error:")})
    assert errors == ['losslint: error: the dynamic pass needs TensorFlow (tensorflow is not installed): pip install "losslint[tf]"']


def test_full_size_stand_in_data_sets_that_exhaust_memory_run_again_smaller(tmp_path) -> None:
    # 60,000 x 2,500 float64 is 1.2 GB: over a 1 GiB cap on the real-size MNIST stand-in, fine on a tenth.
    (tmp_path / "train.py").write_text(textwrap.dedent("""
        import numpy as np
        import keras
        (x_train, y_train), _ = keras.datasets.mnist.load_data()
        features = np.ones((len(x_train), 2500))
        model = keras.Sequential([keras.Input((2500,)), keras.layers.Dense(10, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(features, y_train, verbose=0)
    """))
    proc = run_cli("--dynamic", "-v", "--no-cache", "--max-memory", "1GiB", "train.py", cwd=tmp_path, timeout=600)
    stderr = proc.stderr.decode()
    assert proc.returncode == 0, proc.stdout.decode() + stderr
    assert "ran out of memory on full-size stand-ins for keras.datasets; ran again with a tenth of the samples" in stderr
    assert "probed on the real batch" in stderr
