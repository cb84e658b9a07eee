"""The static pass never imports TensorFlow and never crashes: every odd file gives a finding or
a one-line error, and the other files of the run are still linted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import ROOT, run_cli
from losslint.cli import cli
from losslint.config import Config
from losslint.runner import run
from losslint.static.linter import MAX_FILE_BYTES

# LL101 at 3:14 and LL102 at 4:37: the normal bad file linted next to every odd one.
BAD = (
    "import tensorflow as tf\n"
    "def my_loss(y_true, y_pred):\n"
    "    y_pred = tf.reshape(y_pred, (-1, 5, 7))\n"
    "    return tf.reduce_mean(tf.square(y_true[0] - y_pred), axis=-1)\n"
)
BAD_FINDINGS = [("bad.py", 3, 14, "LL101"), ("bad.py", 4, 37, "LL102")]


def test_static_pass_never_imports_tensorflow(tmp_path) -> None:
    script = (
        "import sys, json\n"
        "from losslint.config import Config\n"
        "from losslint.runner import run\n"
        "from losslint.cli import cli\n"
        "result = run(['fixtures'], Config())\n"
        "try:\n"
        "    cli.main(['--format', 'sarif', '--output-file', sys.argv[1], 'fixtures/LL101-reshape-in-loss'], standalone_mode=False)\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tf_keras', 'jax', 'torch'))\n"
        "print(json.dumps({'findings': len(result.findings), 'errors': result.errors, 'heavy': heavy}))\n"
    )
    out_file = tmp_path / "out.sarif"
    proc = subprocess.run(
        [sys.executable, "-c", script, str(out_file)], cwd=ROOT, capture_output=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert b"Traceback" not in proc.stderr
    report = json.loads(proc.stdout)
    assert report["findings"] > 0
    assert report["errors"] == []
    assert report["heavy"] == []
    assert json.loads(out_file.read_text(encoding="utf-8"))["runs"][0]["results"]


# odd files, each next to a normal bad file ---------------------------------------------------

DEEP_PARENS = ("x = " + "(" * 5000 + "1" + ")" * 5000 + "\n").encode()
ODD_FILES = {
    # name: (bytes, expected LL001 line or None for "no finding", text the LL001 message must contain)
    "syntax": (b"import os\n\nprint 'hello'\n", 3, "does not parse"),
    "unclosed": (b"import tensorflow as tf\nx = [1,\n2,\n", 2, "never closed"),
    "indentation": (b"def f():\nreturn 1\n", 2, "indent"),
    "empty": (b"", None, ""),
    "blank_lines": (b"\n\n\n", None, ""),
    "latin1_line3": (b"import os\nx = 1\ny = 'caf\xe9'\n", 3, "utf-8"),
    "latin1_line1": (b"\xe9t\xe9 = 1\n", 1, "utf-8"),
    "latin1_after_comment": (b"# a comment\nname = 'Jos\xe9'\n", 2, "utf-8"),
    "latin1_cookie": (b"# -*- coding: latin-1 -*-\nname = 'Jos\xe9'\n", None, ""),
    "unknown_cookie": (b"# -*- coding: no-such-codec -*-\nx = 1\n", 1, "no-such-codec"),
    "utf8_bom": (b"\xef\xbb\xbfx = 'caf\xc3\xa9'\n", None, ""),
    "binary": (b"\x7fELF\x02\x01\x01\x00\x00\x00" + bytes(range(256)), 1, "NUL"),
    "nul_in_text": (b"x = 1\ny = 2\x00\n", 1, "NUL"),
    "deep_parens": (DEEP_PARENS, 1, "nested"),
    "deep_unary": (b"x = " + b"-" * 100_000 + b"1\n", 1, "does not parse: "),
    "deep_binop": (b"import tensorflow as tf\nx = " + b"1+" * 100_000 + b"1\n", 1, "does not parse"),
    "deep_attribute": (b"import tensorflow as tf\nx = " + b"a." * 100_000 + b"b\n", 1, "does not parse"),
}


@pytest.mark.parametrize("name", list(ODD_FILES))
def test_odd_file_next_to_a_normal_one(tmp_path, monkeypatch, name) -> None:
    data, line, text = ODD_FILES[name]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.py").write_text(BAD, encoding="utf-8")
    (tmp_path / f"{name}.py").write_bytes(data)
    result = run([f"{name}.py", "bad.py"], Config())
    assert result.errors == []
    assert result.files_checked == 2
    odd = [f for f in result.findings if f.path == f"{name}.py"]
    if line is None:
        assert odd == []
    else:
        assert [(f.code, f.line) for f in odd] == [("LL001", line)]
        assert text in odd[0].message
        assert odd[0].message.split("file does not parse: ")[-1].strip(), "the reason is not empty"
    assert [(f.path, f.line, f.column, f.code) for f in result.findings if f.path == "bad.py"] == BAD_FINDINGS


def test_deeply_nested_but_valid_python(tmp_path, monkeypatch) -> None:
    """Deep nesting that parses: analysed, or one line per file when too deep, never a
    traceback; the finding inside the deep loss is not lost; the normal file is still linted."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.py").write_text(BAD, encoding="utf-8")
    (tmp_path / "lists.py").write_text("import tensorflow as tf\nx = " + "[" * 199 + "]" * 199 + "\n")
    (tmp_path / "calls.py").write_text("import tensorflow as tf\nx = " + "f(" * 190 + ")" * 190 + "\n")
    (tmp_path / "loss.py").write_text(
        "import tensorflow as tf\ndef my_loss(y_true, y_pred):\n    return "
        + "tf.abs(" * 190 + "y_true[0]" + ")" * 190 + "\n"
    )
    result = run(["lists.py", "calls.py", "loss.py", "bad.py"], Config())
    for error in result.errors:
        assert "\n" not in error and error.split(":")[0] in ("lists.py", "calls.py", "loss.py")
    named = [e for e in result.errors if e.startswith("loss.py:")]
    assert named or any(f.path == "loss.py" and f.code == "LL102" for f in result.findings)
    assert [(f.path, f.line, f.column, f.code) for f in result.findings if f.path == "bad.py"] == BAD_FINDINGS


def test_every_odd_file_in_one_real_process(tmp_path) -> None:
    """All the odd files in one CLI run: exit 1 (findings), each named, no traceback."""
    (tmp_path / "bad.py").write_text(BAD, encoding="utf-8")
    for name, (data, _line, _text) in ODD_FILES.items():
        (tmp_path / f"{name}.py").write_bytes(data)
    proc = run_cli("--format", "json", ".", cwd=tmp_path)
    stderr = proc.stderr.decode()
    assert "Traceback" not in stderr
    assert proc.returncode == 1, stderr
    assert stderr == ""
    found = json.loads(proc.stdout)
    expected = {f"{name}.py" for name, (_data, line, _text) in ODD_FILES.items() if line is not None}
    assert {f["path"] for f in found if f["code"] == "LL001"} == expected
    assert [(f["path"], f["line"], f["column"], f["code"]) for f in found if f["path"] == "bad.py"] == BAD_FINDINGS


# very large files ----------------------------------------------------------------------------


def _write_large(path: Path) -> None:
    line = b"x = 1  # padding padding padding padding padding padding padding padding\n"
    path.write_bytes(line * (MAX_FILE_BYTES // len(line) + 2))
    assert path.stat().st_size > MAX_FILE_BYTES


def test_very_large_file_is_skipped_with_a_note(tmp_path) -> None:
    _write_large(tmp_path / "huge.py")
    (tmp_path / "bad.py").write_text(BAD, encoding="utf-8")
    (tmp_path / "clean.py").write_text("x = 1\n", encoding="utf-8")
    proc = run_cli("--format", "json", "huge.py", "bad.py", cwd=tmp_path)
    stderr = proc.stderr.decode()
    assert "Traceback" not in stderr
    assert proc.returncode == 1  # the findings in bad.py, not the skipped file
    (note,) = stderr.strip().splitlines()
    assert "huge.py" in note and "skipped" in note and "MiB" in note
    assert [(f["path"], f["line"], f["column"], f["code"]) for f in json.loads(proc.stdout)] == BAD_FINDINGS
    # Exit code unaffected: a clean file next to the skipped one still exits 0.
    result = CliRunner().invoke(cli, [str(tmp_path / "huge.py"), str(tmp_path / "clean.py")], catch_exceptions=False)
    assert result.exit_code == 0
    assert len(result.stderr.strip().splitlines()) == 1 and "skipped" in result.stderr


# unreadable files ----------------------------------------------------------------------------


def _assert_unreadable_reported(tmp_path: Path, unreadable: str) -> None:
    (tmp_path / "bad.py").write_text(BAD, encoding="utf-8")
    result = CliRunner().invoke(cli, ["--format", "json", unreadable, "bad.py"], catch_exceptions=False)
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert unreadable in line and "cannot read" in line
    assert [(f["path"], f["line"], f["column"], f["code"]) for f in json.loads(result.stdout)] == BAD_FINDINGS


def test_unreadable_file(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    secret = tmp_path / "secret.py"
    secret.write_text(BAD, encoding="utf-8")
    secret.chmod(0)
    try:
        if os.access(secret, os.R_OK):
            pytest.skip("running as a user (root) who can read a chmod 000 file")
        _assert_unreadable_reported(tmp_path, "secret.py")
    finally:
        secret.chmod(0o644)


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs Linux /proc")
def test_file_that_fails_to_read(tmp_path, monkeypatch) -> None:
    """Even root cannot read /proc/self/mem from offset 0 (EIO): the same one-line error."""
    monkeypatch.chdir(tmp_path)
    _assert_unreadable_reported(tmp_path, "/proc/self/mem")


def test_unreadable_file_in_a_real_process(tmp_path) -> None:
    """No traceback from a file that cannot be read, in a real process."""
    (tmp_path / "bad.py").write_text(BAD, encoding="utf-8")
    target = "/proc/self/mem" if Path("/proc/self/mem").exists() else "missing.py"
    proc = run_cli(target, "bad.py", cwd=tmp_path)
    stderr = proc.stderr.decode()
    assert proc.returncode == 2
    assert "Traceback" not in stderr
    (line,) = stderr.strip().splitlines()
    assert target in line
    assert b"bad.py:3:14: LL101" in proc.stdout
