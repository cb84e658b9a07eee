"""The four output formats: json, sarif (schema-validated), github workflow commands, text."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from conftest import FIXTURES, ROOT, run_cli
from losslint import registry
from losslint.cli import cli
from losslint.config import Config
from losslint.findings import Finding, Severity
from losslint.reporters import github, sarif
from losslint.runner import run

JSON_KEYS = ["code", "name", "severity", "path", "line", "column", "end_line", "end_column", "message", "fix", "pass"]
SARIF_SCHEMA = ROOT / "tests" / "data" / "sarif-schema-2.1.0.json"
LL101_FIXTURE = FIXTURES / "LL101-reshape-in-loss" / "bad_seed000.py"
ANSI = "\x1b["

# LL101 (warning) at 3:14 and LL102 (error) at 4:37, both inside `my_loss` (def on line 2).
BAD = (
    "import tensorflow as tf\n"
    "def my_loss(y_true, y_pred):\n"
    "    y_pred = tf.reshape(y_pred, (-1, 5, 7))\n"
    "    return tf.reduce_mean(tf.square(y_true[0] - y_pred), axis=-1)\n"
)
# Exactly one LL102 error.
ONE_ERROR = (
    "import tensorflow as tf\n"
    "def my_loss(y_true, y_pred):\n"
    "    return tf.reduce_mean(tf.square(y_true[0] - y_pred), axis=-1)\n"
)
CLEAN = "import tensorflow as tf\nprint(tf.constant(1))\n"
FIRST_LINE = re.compile(r"^(?P<path>\S+):(?P<line>\d+):(?P<col>\d+): (?P<code>LL\d{3}) \[(?P<sev>error|warning|info)\] (?P<msg>.+)$")


def invoke(*args: str, env: dict | None = None):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def line_of(path: Path, needle: str) -> tuple[int, str]:
    """1-based number and text of the first line of `path` containing `needle`."""
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in text:
            return number, text
    raise AssertionError(f"{needle!r} not in {path}")


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """tmp_path as the working directory, with a bad and a clean script."""
    (tmp_path / "train.py").write_text(BAD, encoding="utf-8")
    (tmp_path / "clean.py").write_text(CLEAN, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


# json ----------------------------------------------------------------------------------------


def test_json_exact_keys_and_types(project) -> None:
    result = invoke("--format", "json", "train.py")
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert isinstance(data, list) and len(data) == 2
    for obj in data:
        assert list(obj) == JSON_KEYS
        assert re.fullmatch(r"LL\d{3}", obj["code"])
        assert registry.get(obj["code"]).name == obj["name"]
        assert obj["severity"] in ("error", "warning", "info")
        assert obj["path"] == "train.py"
        for key in ("line", "column", "end_line", "end_column"):
            assert type(obj[key]) is int and obj[key] >= 1, key
        assert isinstance(obj["message"], str) and obj["message"]
        assert isinstance(obj["fix"], str) and obj["fix"]
        assert obj["pass"] in ("static", "dynamic")
    assert [(o["code"], o["severity"], o["line"], o["column"], o["end_line"], o["end_column"]) for o in data] == [
        ("LL101", "warning", 3, 14, 3, 44),
        ("LL102", "error", 4, 37, 4, 46),
    ]


def test_json_empty_array_when_clean(project) -> None:
    result = invoke("--format", "json", "clean.py")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == []


def test_json_deterministic_order_across_files(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    for name in ("z.py", "a.py", "sub/m.py"):
        (tmp_path / name).write_text(BAD, encoding="utf-8")
    # Named out of order on the command line: the output is still sorted.
    first = invoke("--format", "json", "z.py", "sub", "a.py")
    second = invoke("--format", "json", "a.py", "sub", "z.py")
    assert first.exit_code == second.exit_code == 1
    data = json.loads(first.stdout)
    assert first.stdout == second.stdout
    keys = [(o["path"], o["line"], o["column"], o["code"]) for o in data]
    assert keys == sorted(keys)
    assert [o["path"] for o in data] == ["a.py", "a.py", "sub/m.py", "sub/m.py", "z.py", "z.py"]


def test_json_fixture_run_is_sorted(fixtures_json) -> None:
    keys = [(o["path"], o["line"], o["column"], o["code"]) for o in fixtures_json]
    assert keys == sorted(keys)
    assert len({o["path"] for o in fixtures_json}) > 3


# sarif ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sarif_log() -> dict:
    """`losslint --format sarif fixtures/`, run in-process from the repository root."""
    old = os.getcwd()
    os.chdir(ROOT)
    try:
        result = CliRunner().invoke(cli, ["--format", "sarif", "fixtures/"], catch_exceptions=False)
    finally:
        os.chdir(old)
    assert result.exit_code == 1, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def sarif_validator():
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    assert schema["$schema"].startswith("http://json-schema.org/draft-04/")
    return jsonschema.validators.validator_for(schema)(schema)


def schema_errors(validator, log: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(log)]


def test_sarif_valid_against_schema(sarif_log, sarif_validator) -> None:
    assert sarif_log["version"] == "2.1.0"
    assert sarif_log["runs"][0]["results"], "the fixtures produce results"
    assert schema_errors(sarif_validator, sarif_log) == []


@pytest.mark.parametrize("where", ["result", "rule"])
def test_sarif_bogus_level_fails_validation(sarif_log, sarif_validator, where) -> None:
    log = copy.deepcopy(sarif_log)
    run_ = log["runs"][0]
    if where == "result":
        run_["results"][0]["level"] = "bogus"
    else:
        run_["tool"]["driver"]["rules"][0]["defaultConfiguration"]["level"] = "bogus"
    errors = schema_errors(sarif_validator, log)
    assert errors and any("bogus" in e for e in errors)


def test_sarif_levels_for_every_severity(sarif_validator) -> None:
    """No registered rule is `info` yet: hand-made findings cover the severity -> level map."""
    findings = [
        Finding(code="LL101", name="reshape-in-loss", severity=severity, path="dir/a b.py", line=2, column=3,
                end_line=2, end_column=9, message="m", fix="f")
        for severity in (Severity.ERROR, Severity.WARNING, Severity.INFO)
    ]
    log = json.loads(sarif.render(findings))
    assert schema_errors(sarif_validator, log) == []
    assert [r["level"] for r in log["runs"][0]["results"]] == ["error", "warning", "note"]


def test_sarif_rules_are_the_registry(sarif_log) -> None:
    rules = sarif_log["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [rule.code for rule in registry.ALL_RULES]
    level = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
    for entry, rule in zip(rules, registry.ALL_RULES):
        assert entry["name"] == rule.name
        assert entry["shortDescription"]["text"] == rule.summary
        assert entry["helpUri"].endswith(f"rules/{rule.code}-{rule.name}.md")
        assert entry["defaultConfiguration"]["level"] == level[rule.severity]
        assert entry["defaultConfiguration"]["level"] in ("error", "warning", "note")


def test_sarif_results_match_findings(sarif_log, fixtures_json) -> None:
    run_ = sarif_log["runs"][0]
    rules = run_["tool"]["driver"]["rules"]
    results = run_["results"]
    assert len(results) == len(fixtures_json)
    level = {"error": "error", "warning": "warning", "info": "note"}
    for result, finding in zip(results, fixtures_json):
        assert result["ruleId"] == finding["code"]
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] == level[finding["severity"]]
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"]["uri"] == finding["path"]
        assert physical["region"] == {
            "startLine": finding["line"],
            "startColumn": finding["column"],
            "endLine": finding["end_line"],
            "endColumn": finding["end_column"],
        }
        assert finding["message"] in result["message"]["text"]


def test_sarif_related_locations(sarif_log) -> None:
    rel = LL101_FIXTURE.relative_to(ROOT).as_posix()
    compile_line, _ = line_of(LL101_FIXTURE, "model.compile(")
    ll101 = [
        r for r in sarif_log["runs"][0]["results"]
        if r["ruleId"] == "LL101" and r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == rel
    ]
    assert len(ll101) == 2
    for result in ll101:
        related = result["relatedLocations"]
        assert len(related) == 1
        assert related[0]["physicalLocation"]["artifactLocation"]["uri"] == rel
        assert related[0]["physicalLocation"]["region"]["startLine"] == compile_line
        assert related[0]["physicalLocation"]["region"]["startColumn"] == 1
        assert "compile" in related[0]["message"]["text"]
    # A finding without related locations has no relatedLocations key (LL001: file does not parse).
    ll001 = [r for r in sarif_log["runs"][0]["results"] if r["ruleId"] == "LL001"]
    assert ll001 and all("relatedLocations" not in r for r in ll001)


# github --------------------------------------------------------------------------------------


def test_github_lines(project) -> None:
    findings = run(["train.py"], Config()).findings
    result = invoke("--format", "github", "train.py")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    by_code = {f.code: f for f in findings}
    for f in findings:
        assert "%" not in f.message + f.fix and "\n" not in f.message + f.fix
    ll101, ll102 = by_code["LL101"], by_code["LL102"]
    assert lines[0] == (
        "::warning file=train.py,line=3,col=14,endLine=3,endColumn=44,title=LL101 reshape-in-loss::"
        f"{ll101.message}%0Afix: {ll101.fix}"
    )
    assert lines[1] == (
        "::error file=train.py,line=4,col=37,endLine=4,endColumn=46,title=LL102 target-indexed-as-list::"
        f"{ll102.message}%0Afix: {ll102.fix}"
    )


def _finding(severity: Severity, path: str = "a.py", message: str = "m", fix: str = "f") -> Finding:
    return Finding(
        code="LL102", name="target-indexed-as-list", severity=severity, path=path,
        line=3, column=5, end_line=4, end_column=9, message=message, fix=fix,
    )


def test_github_escaping() -> None:
    finding = _finding(
        Severity.ERROR,
        path="we,ird:dir/tr%ain.py",
        message="100% off\r\nsee: a, b",
        fix="do x: y, z",
    )
    assert github.render([finding]) == (
        "::error file=we%2Cird%3Adir/tr%25ain.py,line=3,col=5,endLine=4,endColumn=9,"
        "title=LL102 target-indexed-as-list::100%25 off%0D%0Asee: a, b%0Afix: do x: y, z\n"
    )


def test_github_severity_commands() -> None:
    out = github.render([_finding(Severity.ERROR), _finding(Severity.WARNING), _finding(Severity.INFO)])
    assert [line.split(" ", 1)[0] for line in out.splitlines()] == ["::error", "::warning", "::notice"]


def test_github_escape_functions() -> None:
    assert github.escape_data("%\r\n:,") == "%25%0D%0A:,"
    assert github.escape_property("%\r\n:,") == "%25%0D%0A%3A%2C"


# text ----------------------------------------------------------------------------------------


def test_text_finding_block(project) -> None:
    result = invoke("train.py")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    findings = run(["train.py"], Config()).findings
    ll101 = findings[0]
    assert ll101.code == "LL101"
    assert lines[0] == f"train.py:3:14: LL101 [warning] {ll101.message}"
    assert lines[1] == "  |"
    assert lines[2] == "3 |     y_pred = tf.reshape(y_pred, (-1, 5, 7))"
    assert lines[3] == "  |              " + "^" * len("tf.reshape(y_pred, (-1, 5, 7))")
    assert lines[4] == f"  = fix: {ll101.fix}"
    assert lines[5] == ""
    assert FIRST_LINE.match(lines[6]) and lines[6].startswith("train.py:4:37: LL102 [error] ")
    assert lines[-1] == "1 error, 1 warning in 1 file"
    assert ANSI not in result.stdout


def test_text_caret_under_fixture_span() -> None:
    """The caret starts under the finding's column and is as wide as its span."""
    number, source = line_of(LL101_FIXTURE, "tf.reshape(pred, (-1, 5, 7))")
    compile_line, _ = line_of(LL101_FIXTURE, "model.compile(")
    rel = LL101_FIXTURE.relative_to(ROOT).as_posix()
    old = os.getcwd()
    os.chdir(ROOT)
    try:
        result = CliRunner().invoke(cli, ["--select", "LL101", rel], catch_exceptions=False)
    finally:
        os.chdir(old)
    lines = result.stdout.splitlines()
    head = lines.index(next(line for line in lines if line.startswith(f"{rel}:{number}:")))
    column = source.index("tf.reshape") + 1
    assert lines[head].startswith(f"{rel}:{number}:{column}: LL101 [warning] ")
    gutter = " " * len(str(number))
    assert lines[head + 1] == f"{gutter} |"
    assert lines[head + 2] == f"{number} | {source}"
    caret = lines[head + 3]
    assert caret.startswith(f"{gutter} | ")
    marks = caret[len(gutter) + 3:]
    assert marks.index("^") == column - 1
    assert marks.strip() == "^" * len("tf.reshape(pred, (-1, 5, 7))")
    assert lines[head + 4].startswith(f"{gutter} = fix: ")
    assert lines[head + 5] == f"{gutter} = related: {rel}:{compile_line}:1: loss given to compile here"


@pytest.mark.parametrize(
    ("files", "summary"),
    [
        ({"one.py": ONE_ERROR}, "1 error, 0 warnings in 1 file"),
        ({"one.py": ONE_ERROR, "clean.py": CLEAN}, "1 error, 0 warnings in 2 files"),
        ({"a.py": BAD, "b.py": BAD, "c.py": CLEAN}, "2 errors, 2 warnings in 3 files"),
        ({"clean.py": CLEAN}, "0 errors, 0 warnings in 1 file"),
    ],
)
def test_text_summary(tmp_path, monkeypatch, files, summary) -> None:
    monkeypatch.chdir(tmp_path)
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    result = invoke(".")
    assert result.stdout.splitlines()[-1] == summary


def test_text_quiet_prints_only_finding_lines(project) -> None:
    result = invoke("--quiet", "train.py", "clean.py")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert all(FIRST_LINE.match(line) for line in lines), lines
    assert "fix:" not in result.stdout and "|" not in result.stdout and "in 2 files" not in result.stdout


def test_text_statistics(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name, text in {"a.py": BAD, "b.py": BAD, "c.py": ONE_ERROR, "d.py": CLEAN}.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    result = invoke("--statistics", ".")
    assert result.exit_code == 1
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert [(int(count.strip()), code, severity, name) for count, code, severity, name in rows] == [
        (3, "LL102", "[error]", "target-indexed-as-list"),
        (2, "LL101", "[warning]", "reshape-in-loss"),
    ]
    assert "|" not in result.stdout and "errors" not in result.stdout


def test_output_file(project) -> None:
    plain = invoke("train.py")
    result = invoke("--output-file", "report.txt", "train.py")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert (project / "report.txt").read_text(encoding="utf-8") == plain.stdout
    result = invoke("--format", "json", "-o", "report.json", "train.py")
    assert result.exit_code == 1 and result.stdout == ""
    assert [f["code"] for f in json.loads((project / "report.json").read_text(encoding="utf-8"))] == ["LL101", "LL102"]


# colour: only on a terminal, never with --no-color, NO_COLOR or --output-file -----------------


def _run_on_tty(args: list[str], cwd: Path, env_extra: dict[str, str]) -> tuple[int, str, str]:
    pty = pytest.importorskip("pty")
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env.update(env_extra)
    proc = subprocess.Popen(
        [sys.executable, "-m", "losslint.cli", *args], cwd=cwd, stdout=slave, stderr=subprocess.PIPE, env=env,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    stderr = proc.stderr.read().decode()
    proc.stderr.close()
    return proc.wait(timeout=120), b"".join(chunks).decode(), stderr


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
@pytest.mark.parametrize(
    ("extra_args", "env", "coloured"),
    [
        ([], {}, True),
        (["--no-color"], {}, False),
        ([], {"NO_COLOR": "1"}, False),
        (["--output-file", "out.txt"], {}, False),
    ],
    ids=["tty", "no-color", "NO_COLOR", "output-file"],
)
def test_colour_only_on_a_terminal(project, extra_args, env, coloured) -> None:
    code, stdout, stderr = _run_on_tty([*extra_args, "train.py"], project, env)
    assert code == 1
    assert "Traceback" not in stderr
    if extra_args and extra_args[0] == "--output-file":
        stdout = (project / "out.txt").read_text(encoding="utf-8")
    assert "LL101" in stdout
    assert (ANSI in stdout) is coloured


def test_no_colour_when_piped(project) -> None:
    proc = run_cli("train.py", cwd=project)
    assert proc.returncode == 1
    assert b"Traceback" not in proc.stderr
    assert b"LL101" in proc.stdout and b"\x1b[" not in proc.stdout
