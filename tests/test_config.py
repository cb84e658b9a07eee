"""`[tool.losslint]` in pyproject.toml / losslint.toml: discovery, keys, CLI overrides, errors,
and which files a folder run collects."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import run_cli
from losslint.cli import cli

# LL101 (warning) at 3:14 and LL102 (error) at 4:37, inside `my_loss`.
BAD = (
    "import tensorflow as tf\n"
    "def my_loss(y_true, y_pred):\n"
    "    y_pred = tf.reshape(y_pred, (-1, 5, 7))\n"
    "    return tf.reduce_mean(tf.square(y_true[0] - y_pred), axis=-1)\n"
)
UNUSED = "x = 1  # noqa: LL101\n"


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def findings(*args: str) -> list[tuple[str, str]]:
    """(path, code) of every finding of a JSON run; exits 0 or 1."""
    result = invoke("--format", "json", *args)
    assert result.exit_code in (0, 1), result.output
    return [(f["path"], f["code"]) for f in json.loads(result.stdout)]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def proj(tmp_path, monkeypatch) -> Path:
    """tmp/proj/sub/train.py (LL101 + LL102), linted from tmp/elsewhere."""
    root = tmp_path / "proj"
    write(root / "sub" / "train.py", BAD)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    return root


TRAIN = "../proj/sub/train.py"


def pyproject(root: Path, body: str) -> Path:
    return write(root / "pyproject.toml", "[project]\nname = \"x\"\n\n[tool.losslint]\n" + body)


def codes(*args: str) -> list[str]:
    return [code for _path, code in findings(*args)]


# discovery -----------------------------------------------------------------------------------


def test_no_config_all_default_rules(proj) -> None:
    assert codes(TRAIN) == ["LL101", "LL102"]


def test_pyproject_found_upward_from_the_linted_path(proj) -> None:
    pyproject(proj, 'select = ["LL101"]\n')
    assert codes(TRAIN) == ["LL101"]
    assert codes("../proj") == ["LL101"]
    assert codes("../proj/sub") == ["LL101"]


def test_losslint_toml_found_upward(proj) -> None:
    write(proj / "losslint.toml", 'ignore = ["LL101"]\n')
    assert codes(TRAIN) == ["LL102"]


def test_losslint_toml_wins_over_pyproject_in_the_same_folder(proj) -> None:
    pyproject(proj, 'select = ["LL101"]\n')
    write(proj / "losslint.toml", 'select = ["LL102"]\n')
    assert codes(TRAIN) == ["LL102"]


def test_pyproject_without_losslint_table_is_passed_over(proj) -> None:
    write(proj / "pyproject.toml", "[project]\nname = \"x\"\n")
    write(proj / "sub" / "pyproject.toml", "[tool.black]\nline-length = 99\n")
    pyproject(proj.parent, 'select = ["LL102"]\n')
    assert codes(TRAIN) == ["LL102"]


def test_nearest_config_wins(proj) -> None:
    pyproject(proj.parent, 'select = ["LL102"]\n')
    pyproject(proj, 'select = ["LL101"]\n')
    assert codes(TRAIN) == ["LL101"]


# keys ----------------------------------------------------------------------------------------


def test_select_by_prefix_and_name(proj) -> None:
    pyproject(proj, 'select = ["LL1"]\nignore = ["reshape-in-loss"]\n')
    assert codes(TRAIN) == ["LL102"]


def test_per_file_ignores_glob(proj) -> None:
    write(proj / "top.py", BAD)
    pyproject(proj, '[tool.losslint.per-file-ignores]\n"sub/*.py" = ["LL101"]\n"other/**" = ["LL102"]\n')
    assert findings("../proj") == [
        ("../proj/sub/train.py", "LL102"),
        ("../proj/top.py", "LL101"),
        ("../proj/top.py", "LL102"),
    ]
    # The patterns are relative to the config file's folder, whatever the working directory.
    assert findings(TRAIN) == [("../proj/sub/train.py", "LL102")]


def test_per_file_ignores_by_name_and_prefix(proj) -> None:
    pyproject(proj, '[tool.losslint.per-file-ignores]\n"train.py" = ["target-indexed-as-list", "LL10"]\n')
    assert codes(TRAIN) == []


def test_exclude_and_extend_exclude_skip_folders(proj) -> None:
    write(proj / "generated" / "model.py", BAD)
    write(proj / "legacy" / "old.py", BAD)
    write(proj / "build" / "out.py", BAD)
    pyproject(proj, 'extend-exclude = ["legacy"]\n')
    paths = {path for path, _code in findings("../proj")}
    assert paths == {"../proj/sub/train.py", "../proj/generated/model.py"}  # build/ still excluded by default
    pyproject(proj, 'exclude = ["generated", "legacy/*.py"]\n')
    paths = {path for path, _code in findings("../proj")}
    assert "../proj/generated/model.py" not in paths and "../proj/legacy/old.py" not in paths
    assert "../proj/sub/train.py" in paths
    # A file named on the command line is linted even when the config excludes it.
    assert {path for path, _code in findings("../proj/legacy/old.py")} == {"../proj/legacy/old.py"}


def test_exclude_file_glob(proj) -> None:
    write(proj / "sub" / "test_train.py", BAD)
    pyproject(proj, 'extend-exclude = ["test_*.py"]\n')
    assert {path for path, _code in findings("../proj")} == {"../proj/sub/train.py"}


def test_exclude_flags_on_the_command_line(proj) -> None:
    """`--extend-exclude` adds to the configured patterns, `--exclude` replaces them (as in ruff)."""
    write(proj / "sub" / "train_test.py", BAD)
    write(proj / "legacy" / "old.py", BAD)
    write(proj / "build" / "out.py", BAD)
    pyproject(proj, 'extend-exclude = ["legacy"]\n')
    assert {p for p, _code in findings("--extend-exclude", "*_test.py", "../proj")} == {"../proj/sub/train.py"}
    # build/ was excluded by default only; the configured extend-exclude still applies.
    assert {p for p, _code in findings("--exclude", "*_test.py", "../proj")} == {"../proj/sub/train.py", "../proj/build/out.py"}


def test_warn_unused_suppressions_from_config(proj) -> None:
    write(proj / "sub" / "train.py", BAD + UNUSED)
    assert codes(TRAIN) == ["LL101", "LL102"]
    pyproject(proj, "warn-unused-suppressions = true\n")
    assert codes(TRAIN) == ["LL101", "LL102", "LL004"]
    pyproject(proj, "warn-unused-suppressions = false\n")
    assert codes(TRAIN) == ["LL101", "LL102"]
    assert codes("--warn-unused-suppressions", TRAIN) == ["LL101", "LL102", "LL004"]


def test_extend_select_from_config(proj) -> None:
    write(proj / "sub" / "train.py", BAD + UNUSED)
    pyproject(proj, 'extend-select = ["LL004"]\n')
    assert codes(TRAIN) == ["LL101", "LL102", "LL004"]


# CLI flags override the file -----------------------------------------------------------------


def test_cli_select_replaces_config_select(proj) -> None:
    pyproject(proj, 'select = ["LL102"]\n')
    assert codes("--select", "LL101", TRAIN) == ["LL101"]


def test_cli_ignore_adds_to_config_ignore(proj) -> None:
    pyproject(proj, 'ignore = ["LL102"]\n')
    assert codes(TRAIN) == ["LL101"]
    assert codes("--ignore", "LL101", TRAIN) == []


def test_cli_extend_select_adds_to_config_select(proj) -> None:
    pyproject(proj, 'select = ["LL102"]\n')
    assert codes("--extend-select", "LL101", TRAIN) == ["LL101", "LL102"]


def test_config_option(proj, tmp_path) -> None:
    pyproject(proj, 'select = ["LL101"]\n')
    custom = write(tmp_path / "conf" / "losslint.toml", 'select = ["LL102"]\n')
    assert codes("--config", str(custom), TRAIN) == ["LL102"]
    other = pyproject(tmp_path / "conf2", 'ignore = ["LL1"]\n')
    assert codes("--config", str(other), TRAIN) == []


def test_config_option_missing_file(proj) -> None:
    result = invoke("--config", "nope.toml", TRAIN)
    assert result.exit_code == 2
    assert "nope.toml" in result.stderr


def test_isolated_ignores_config(proj) -> None:
    pyproject(proj, 'select = ["LL101"]\nunknown-key = 1\n')
    assert codes("--isolated", TRAIN) == ["LL101", "LL102"]


# errors: exit 2, one line naming the problem ------------------------------------------------


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ('selekt = ["LL101"]\n', ["selekt"]),
        ('select = ["LL999"]\n', ["select", "LL999"]),
        ('ignore = ["LL101", "not-a-rule"]\n', ["ignore", "not-a-rule"]),
        ('extend-select = ["LL9"]\n', ["extend-select", "LL9"]),
        ('[tool.losslint.per-file-ignores]\n"sub/*.py" = ["LL999"]\n', ["per-file-ignores", "sub/*.py", "LL999"]),
        ('select = "LL101"\n', ["select", "list"]),
        ('ignore = [101]\n', ["ignore", "list"]),
        ('per-file-ignores = ["LL101"]\n', ["per-file-ignores"]),
        ('[tool.losslint.per-file-ignores]\n"x.py" = "LL101"\n', ["per-file-ignores", "x.py"]),
        ('warn-unused-suppressions = "yes"\n', ["warn-unused-suppressions", "yes"]),
        ('exclude = "build"\n', ["exclude", "list"]),
    ],
)
def test_config_errors(proj, body, names) -> None:
    config = pyproject(proj, body)
    result = invoke(TRAIN)
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(config) in lines[0]
    for name in names:
        assert name in lines[0]


def test_losslint_toml_error_names_the_file(proj) -> None:
    config = write(proj / "losslint.toml", "bogus = true\n")
    result = invoke(TRAIN)
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert str(config) in line and "bogus" in line


def test_invalid_toml_in_a_real_process(proj) -> None:
    config = write(proj / "pyproject.toml", "[tool.losslint\nselect = [\n")
    proc = run_cli(TRAIN, cwd=Path.cwd())
    stderr = proc.stderr.decode()
    assert proc.returncode == 2
    assert "Traceback" not in stderr
    (line,) = stderr.strip().splitlines()
    assert "invalid TOML" in line and str(config) in line
    assert proc.stdout == b""


def test_invalid_toml_via_config_option(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "train.py", BAD)
    bad = write(tmp_path / "custom.toml", "select = [LL101]\n")
    result = invoke("--config", str(bad), "train.py")
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert "invalid TOML" in line and "custom.toml" in line


# default excludes ----------------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path, monkeypatch) -> Path:
    """A project with one real script and bad scripts in every default-excluded folder."""
    write(tmp_path / "src" / "train.py", BAD)
    for folder in (".git", "build", "dist", "__pycache__", "venv", ".venv", "src/build", "pkg.egg-info"):
        write(tmp_path / folder / "bad.py", BAD)
    # A virtualenv under any name: recognised by its pyvenv.cfg.
    write(tmp_path / "my-env" / "pyvenv.cfg", "home = /usr/bin\n")
    write(tmp_path / "my-env" / "lib" / "bad.py", BAD)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_default_excludes(tree) -> None:
    assert {path for path, _code in findings(".")} == {"src/train.py"}
    assert {path for path, _code in findings(str(tree))} == {"src/train.py"}


def test_explicit_files_inside_excluded_folders_are_linted(tree) -> None:
    named = ["build/bad.py", "dist/bad.py", ".git/bad.py", "__pycache__/bad.py", "my-env/lib/bad.py", "src/build/bad.py"]
    assert {path for path, _code in findings(*named)} == set(named)


def test_extend_exclude_keeps_default_excludes(tree) -> None:
    write(tree / "gen" / "bad.py", BAD)
    pyproject(tree, 'extend-exclude = ["gen"]\n')
    assert {path for path, _code in findings(".")} == {"src/train.py"}


def test_a_named_folder_is_searched_whatever_its_name(tree) -> None:
    """`losslint build/` lints build/ (as `cd build && losslint .` does), not nothing at all;
    excluded folders below it are still skipped."""
    write(tree / "build" / "__pycache__" / "cached.py", BAD)
    assert {path for path, _code in findings("build")} == {"build/bad.py"}
    assert {path for path, _code in findings("src/build")} == {"src/build/bad.py"}
    assert {path for path, _code in findings("src")} == {"src/train.py"}
