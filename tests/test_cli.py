"""The command line: exit codes, `rules`, `explain`, `--version`, rule selection, stdin."""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import ROOT, RULES_DIR, run_cli
from losslint import __version__, registry
from losslint.cli import cli

# LL101 (warning) at 3:14 and LL102 (error) at 4:37, inside `my_loss`.
BAD = (
    "import tensorflow as tf\n"
    "def my_loss(y_true, y_pred):\n"
    "    y_pred = tf.reshape(y_pred, (-1, 5, 7))\n"
    "    return tf.reduce_mean(tf.square(y_true[0] - y_pred), axis=-1)\n"
)
# The same, plus a suppression comment that suppresses nothing (LL004 at line 5).
BAD_WITH_UNUSED = BAD + "x = 1  # noqa: LL101\n"
CLEAN = "import tensorflow as tf\nprint(tf.constant(1))\n"
LL102_PAGE = RULES_DIR / "LL102-target-indexed-as-list.md"


def invoke(*args: str, input: bytes | None = None):
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def codes(*args: str) -> list[str]:
    result = invoke("--format", "json", *args)
    assert result.exit_code in (0, 1), result.output
    return [f["code"] for f in json.loads(result.stdout)]


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    (tmp_path / "bad.py").write_text(BAD, encoding="utf-8")
    (tmp_path / "unused.py").write_text(BAD_WITH_UNUSED, encoding="utf-8")
    (tmp_path / "clean.py").write_text(CLEAN, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def one_line(text: str) -> str:
    """The stderr text, asserted to be exactly one line."""
    lines = text.strip("\n").splitlines()
    assert len(lines) == 1, text
    return lines[0]


# Exit codes, in real child processes: never a traceback ------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["clean.py"], 0),
        (["bad.py"], 1),
        (["--exit-zero", "bad.py"], 0),
        (["--bogus-option", "bad.py"], 2),
    ],
    ids=["clean", "findings", "exit-zero", "unknown-option"],
)
def test_exit_codes(project, args, expected) -> None:
    proc = run_cli(*args, cwd=project)
    stderr = proc.stderr.decode()
    assert proc.returncode == expected, stderr
    assert "Traceback" not in stderr
    if expected == 2:
        assert "--bogus-option" in stderr
    elif "bad.py" in args:
        assert b"bad.py:3:14: LL101" in proc.stdout
    else:
        assert stderr == ""


def test_unknown_select_code(project) -> None:
    proc = run_cli("--select", "LL101,LL999", "bad.py", cwd=project)
    assert proc.returncode == 2
    stderr = proc.stderr.decode()
    assert "Traceback" not in stderr
    line = one_line(stderr)
    assert "LL999" in line and "--select" in line
    assert proc.stdout == b""


@pytest.mark.parametrize("option", ["--select", "--ignore", "--extend-select"])
def test_unknown_selector_in_each_option(project, option) -> None:
    result = invoke(option, "no-such-rule", "bad.py")
    assert result.exit_code == 2
    line = one_line(result.stderr)
    assert "no-such-rule" in line and option in line


def test_missing_path_other_paths_still_linted(project) -> None:
    proc = run_cli("missing.py", "bad.py", cwd=project)
    stderr = proc.stderr.decode()
    assert proc.returncode == 2
    assert "Traceback" not in stderr
    assert "missing.py" in one_line(stderr)
    assert b"bad.py:3:14: LL101" in proc.stdout
    assert b"bad.py:4:37: LL102" in proc.stdout


# rules, explain, --version -------------------------------------------------------------------


def test_rules_lists_every_rule_with_passes() -> None:
    result = invoke("rules")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == len(registry.ALL_RULES)
    for line, rule in zip(lines, registry.ALL_RULES):
        fields = line.split()
        assert fields[0] == rule.code
        assert fields[1] == rule.name
        assert fields[2] == rule.severity.value
        assert fields[3] == ",".join(p.value for p in rule.passes)
    assert "off by default" in next(line for line in lines if line.startswith("LL004"))


def test_rules_json() -> None:
    result = invoke("rules", "--format", "json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert [r["code"] for r in rows] == [rule.code for rule in registry.ALL_RULES]
    for row, rule in zip(rows, registry.ALL_RULES):
        assert row["name"] == rule.name
        assert row["severity"] == rule.severity.value
        assert row["passes"] == [p.value for p in rule.passes]
        assert row["status"] == rule.status
        assert row["summary"] == rule.summary


@pytest.mark.parametrize("selector", ["LL102", "target-indexed-as-list", "ll102"])
def test_explain_prints_the_rule_page(selector) -> None:
    # The page is the one in rules/ (shipped as losslint.pages; read from the checkout in an
    # editable install).
    if not LL102_PAGE.is_file():
        pytest.fail(f"{LL102_PAGE.relative_to(ROOT)} is not written yet: `losslint explain` has no page to print")
    page = LL102_PAGE.read_text(encoding="utf-8")
    result = invoke("explain", selector)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == page


def test_explain_unknown_rule() -> None:
    proc = run_cli("explain", "LL999")
    stderr = proc.stderr.decode()
    assert proc.returncode == 2
    assert "Traceback" not in stderr
    assert "LL999" in one_line(stderr)
    assert proc.stdout == b""


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout == f"losslint {__version__}\n"
    assert __version__ == version("losslint")


# --select / --ignore / --extend-select -------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], ["LL101", "LL102"]),
        (["--select", "LL101"], ["LL101"]),
        (["--select", "reshape-in-loss"], ["LL101"]),
        (["--select", "LL1"], ["LL101", "LL102"]),
        (["--select", "LL0"], []),
        (["--select", "LL101,target-indexed-as-list"], ["LL101", "LL102"]),
        (["--select", "LL101", "--select", "LL102"], ["LL101", "LL102"]),
        (["--ignore", "LL101"], ["LL102"]),
        (["--ignore", "target-indexed-as-list"], ["LL101"]),
        (["--ignore", "LL1"], []),
        (["--select", "LL1", "--ignore", "reshape-in-loss"], ["LL102"]),
        (["--select", "LL101", "--extend-select", "LL102"], ["LL101", "LL102"]),
        (["--select", "LL102", "--extend-select", "reshape-in-loss"], ["LL101", "LL102"]),
    ],
)
def test_selection(project, args, expected) -> None:
    assert codes(*args, "bad.py") == expected


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], ["LL101", "LL102"]),
        (["--select", "LL0"], []),  # a prefix does not turn on an off-by-default rule
        (["--warn-unused-suppressions"], ["LL101", "LL102", "LL004"]),
        (["--extend-select", "LL004"], ["LL101", "LL102", "LL004"]),
        (["--extend-select", "unused-suppression"], ["LL101", "LL102", "LL004"]),
        (["--select", "LL004"], ["LL004"]),
        (["--warn-unused-suppressions", "--ignore", "LL004"], ["LL101", "LL102"]),
    ],
)
def test_unused_suppression_rule_is_opt_in(project, args, expected) -> None:
    assert codes(*args, "unused.py") == expected


def test_unused_suppression_location(project) -> None:
    result = invoke("--format", "json", "--warn-unused-suppressions", "unused.py")
    (ll004,) = [f for f in json.loads(result.stdout) if f["code"] == "LL004"]
    assert (ll004["line"], ll004["column"]) == (5, 8)
    assert "LL101" in ll004["message"]


# standard input ------------------------------------------------------------------------------


def test_stdin_with_filename(tmp_path) -> None:
    proc = run_cli("-", "--stdin-filename", "train.py", cwd=tmp_path, stdin=BAD.encode())
    stderr = proc.stderr.decode()
    assert proc.returncode == 1, stderr
    assert "Traceback" not in stderr
    assert stderr == ""
    out = proc.stdout.decode().splitlines()
    assert out[0].startswith("train.py:3:14: LL101 [warning] ")
    assert any(line.startswith("train.py:4:37: LL102 [error] ") for line in out)
    assert "3 |     y_pred = tf.reshape(y_pred, (-1, 5, 7))" in out
    assert out[-1] == "1 error, 1 warning in 1 file"


def test_stdin_json_and_clean(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("--format", "json", "-", "--stdin-filename", "src/train.py", input=BAD.encode())
    assert result.exit_code == 1
    assert [(f["path"], f["line"], f["column"], f["code"]) for f in json.loads(result.stdout)] == [
        ("src/train.py", 3, 14, "LL101"),
        ("src/train.py", 4, 37, "LL102"),
    ]
    result = invoke("-", "--stdin-filename", "train.py", input=CLEAN.encode())
    assert result.exit_code == 0


def test_stdin_together_with_files(project) -> None:
    result = invoke("--format", "json", "-", "bad.py", "--stdin-filename", "from_stdin.py", input=BAD.encode())
    assert result.exit_code == 1
    assert sorted({f["path"] for f in json.loads(result.stdout)}) == ["bad.py", "from_stdin.py"]


def test_explicit_check_subcommand(project) -> None:
    result = invoke("check", "--format", "json", "bad.py")
    assert result.exit_code == 1
    assert [f["code"] for f in json.loads(result.stdout)] == ["LL101", "LL102"]


def test_absolute_path_outside_the_working_directory(tmp_path) -> None:
    """A folder outside the working directory is reported under the path as given."""
    target = ROOT / "fixtures" / "LL101-reshape-in-loss"
    proc = run_cli("--format", "json", "--select", "LL101", str(target), cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr.decode()
    assert b"Traceback" not in proc.stderr
    data = json.loads(proc.stdout)
    assert data and {f["code"] for f in data} == {"LL101"}
    assert all(f["path"].startswith(str(target)) for f in data)


def test_every_subpackage_is_in_the_wheel() -> None:
    """pyproject lists the packages by hand (for the rule pages): a new one must be listed."""
    import tomllib

    from conftest import ROOT

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "losslint").rglob("__init__.py")
    }
    assert found <= listed, found - listed
