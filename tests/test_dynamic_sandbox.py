"""The dynamic pass's sandbox limits, end to end through the CLI with real child processes:
the memory cap, legacy tf_keras, -v output, and script arguments."""

from __future__ import annotations

import json
import os
import textwrap

from conftest import run_cli

MODEL = """
import numpy as np
import keras
from keras import layers
model = keras.Sequential([keras.Input((4,)), layers.Dense(1)])
model.compile(optimizer="adam", loss="mse")
"""


def test_memory_cap_stops_the_script_with_a_finding(tmp_path) -> None:
    (tmp_path / "hog.py").write_text(MODEL + textwrap.dedent("""
        data = np.ones((400, 1024, 1024), dtype="float32")  # 1.6 GB
        model.fit(np.ones((8, 4)), np.ones((8, 1)), verbose=0)
    """))
    proc = run_cli("--dynamic", "--max-memory", "1GiB", "--format", "json", "hog.py", cwd=tmp_path, timeout=300)
    assert "Traceback" not in proc.stderr.decode()
    (finding,) = json.loads(proc.stdout)
    assert finding["code"] == "LL006" and finding["severity"] == "warning" and "1.0 GiB" in finding["message"]


def test_legacy_tf_keras_is_reported_as_unsupported(tmp_path) -> None:
    (tmp_path / "train.py").write_text(MODEL + "model.fit(np.ones((8, 4)), np.ones((8, 1)), verbose=0)\n")
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1")
    proc = run_cli("--dynamic", "train.py", cwd=tmp_path, env=env, timeout=300)
    stderr = proc.stderr.decode()
    assert proc.returncode == 2 and "TF_USE_LEGACY_KERAS=1" in stderr and "Traceback" not in stderr
    assert len([line for line in stderr.splitlines() if "error" in line]) == 1


def test_script_args_and_verbose_output(tmp_path) -> None:
    (tmp_path / "train.py").write_text(MODEL + textwrap.dedent("""
        import sys
        if sys.argv[1:] != ["--epochs", "2"]:
            sys.exit("usage: train.py --epochs N")
        print("reached fit with", sys.argv[1:])
        model.fit(np.ones((8, 4)), np.ones((8, 1)), epochs=2, verbose=0)
    """))
    proc = run_cli("--dynamic", "-v", "--script-args", "--epochs 2", "train.py", cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    assert "reached fit with ['--epochs', '2']" in proc.stderr.decode()
