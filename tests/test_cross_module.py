"""Losses imported from sibling modules of the linted tree are analysed in their own file and
reported there, with the compile call of the importing file as related location."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_cli

LOSSES = '''import tensorflow as tf


def joint_loss(y_true, y_pred):
    return tf.reduce_mean(tf.square(y_true[0] - y_pred), axis=-1)


def make_loss(scale):
    def inner(t, p):
        return scale * tf.reshape(p, (-1, 5, 7))
    return inner
'''
TRAIN = '''import keras
from losses import joint_loss, make_loss

model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4)])
model.compile("adam", loss=joint_loss)
model.compile("adam", loss=make_loss(2.0))
'''


def write(root: Path) -> None:
    (root / "losses.py").write_text(LOSSES)
    (root / "train.py").write_text(TRAIN)
    (root / "pkg").mkdir()
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "helpers.py").write_text("import tensorflow as tf\ndef pair_loss(a, b):\n    return tf.reshape(b, (-1, 2))\n")
    (root / "pkg" / "train2.py").write_text(
        "import keras\nfrom .helpers import *\nmodel = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4)])\n"
        "model.compile('adam', loss=pair_loss)\n"
    )


def findings(root: Path, *args: str) -> list[dict]:
    proc = run_cli("--format", "sarif", "--select", "LL101,LL102", *args, ".", cwd=root)
    results = json.loads(proc.stdout)["runs"][0]["results"]
    out = []
    for r in results:
        location = r["locations"][0]["physicalLocation"]
        related = [
            (x["physicalLocation"]["artifactLocation"]["uri"], x["physicalLocation"]["region"]["startLine"])
            for x in r.get("relatedLocations", [])
        ]
        out.append({"code": r["ruleId"], "uri": location["artifactLocation"]["uri"],
                    "line": location["region"]["startLine"], "related": related})
    return out


def test_imported_function_factory_and_star_import(tmp_path: Path) -> None:
    write(tmp_path)
    got = findings(tmp_path, "--no-cache")
    assert {"code": "LL102", "uri": "losses.py", "line": 5, "related": [("train.py", 5)]} in got
    assert {"code": "LL101", "uri": "losses.py", "line": 10, "related": [("train.py", 6)]} in got
    assert {"code": "LL101", "uri": "pkg/helpers.py", "line": 3, "related": [("pkg/train2.py", 4)]} in got


def test_unrelated_function_elsewhere_is_not_a_loss(tmp_path: Path) -> None:
    write(tmp_path)
    (tmp_path / "train.py").write_text("import keras\nfrom losses import make_loss\nmodel.compile('adam', loss='mse')\n")
    got = findings(tmp_path, "--no-cache")
    assert not any(f["uri"] == "losses.py" and f["line"] == 10 for f in got)


def test_cache_follows_the_importer(tmp_path: Path) -> None:
    write(tmp_path)
    findings(tmp_path)  # fills the cache
    (tmp_path / "train.py").write_text(TRAIN.replace('model.compile("adam", loss=joint_loss)\n', '\nmodel.compile("adam", loss=joint_loss)\n'))
    got = findings(tmp_path)
    assert {"code": "LL102", "uri": "losses.py", "line": 5, "related": [("train.py", 6)]} in got
