"""Notebooks: code cells linted as one program (magics and shell lines skipped), findings at
`nb.ipynb:cell N:line:col` in text, a `cell` key in JSON, the .ipynb file's line in SARIF and
GitHub annotations, suppressions in cells."""

from __future__ import annotations

import json

import jsonschema

import pytest

from conftest import ROOT, run_cli


def notebook(*cells: str) -> str:
    code = [
        {"cell_type": "code", "execution_count": i, "metadata": {}, "outputs": [], "source": c.splitlines(keepends=True)}
        for i, c in enumerate(cells, start=1)
    ]
    markdown = {"cell_type": "markdown", "metadata": {}, "source": ["# notes\n"]}
    return json.dumps({"cells": [markdown, *code], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1) + "\n"


SETUP = "!pip install -q keras\n%matplotlib inline\nimport keras\nimport tensorflow as tf"
LOSS = "def my_loss(y_true, y_pred):\n    if True:\n        %time x = 1\n    return y_true[0] - y_pred"


def test_findings_map_to_cell_and_line(tmp_path) -> None:
    (tmp_path / "nb.ipynb").write_text(notebook(SETUP, "x = 1", LOSS))
    text = run_cli("--no-cache", "nb.ipynb", cwd=tmp_path)
    assert text.returncode == 1
    first = text.stdout.decode().splitlines()[0]
    assert first.startswith("nb.ipynb:cell 3:4:12: LL102 [error]")
    assert "4 |     return y_true[0] - y_pred" in text.stdout.decode()
    (finding,) = json.loads(run_cli("--no-cache", "--format", "json", "nb.ipynb", cwd=tmp_path).stdout)
    assert (finding["cell"], finding["line"], finding["column"], finding["code"]) == (3, 4, 12, "LL102")


def test_sarif_and_github_point_at_the_ipynb_line(tmp_path) -> None:
    source = notebook(SETUP, LOSS)
    (tmp_path / "nb.ipynb").write_text(source)
    file_line = next(i for i, line in enumerate(source.splitlines(), 1) if "return y_true[0]" in line)
    sarif = json.loads(run_cli("--no-cache", "--format", "sarif", "nb.ipynb", cwd=tmp_path).stdout)
    schema = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text())
    assert not list(jsonschema.validators.validator_for(schema)(schema).iter_errors(sarif))
    (result,) = sarif["runs"][0]["results"]
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == file_line
    assert result["properties"]["cell"] == 2
    github = run_cli("--no-cache", "--format", "github", "nb.ipynb", cwd=tmp_path).stdout.decode()
    assert github.startswith(f"::error file=nb.ipynb,line={file_line},title=LL102 target-indexed-as-list (cell 2%2C line 4)::")


def test_suppression_in_a_cell_and_clean_notebook(tmp_path) -> None:
    (tmp_path / "nb.ipynb").write_text(notebook(SETUP, LOSS.replace("y_pred\n", "y_pred\n").replace("- y_pred", "- y_pred  # noqa: LL102")))
    assert run_cli("--no-cache", "nb.ipynb", cwd=tmp_path).returncode == 0
    (tmp_path / "nb.ipynb").write_text(notebook(SETUP, "%%time\nthis is not python"))
    assert run_cli("--no-cache", "nb.ipynb", cwd=tmp_path).returncode == 0


def test_folders_include_notebooks_and_broken_ones_are_ll001(tmp_path) -> None:
    (tmp_path / "nb.ipynb").write_text(notebook(SETUP, LOSS))
    (tmp_path / "broken.ipynb").write_text("{not json")
    findings = json.loads(run_cli("--no-cache", "--format", "json", ".", cwd=tmp_path).stdout)
    assert sorted((f["path"], f["code"]) for f in findings) == [("broken.ipynb", "LL001"), ("nb.ipynb", "LL102")]


def test_cell_magics_and_indented_cells_are_read_as_ipython_does(tmp_path) -> None:
    from losslint.static import notebook as nb

    book = nb.read(notebook(
        "%%bash\necho not python\n  if [ -f x ]; then\n    exit 1\n  fi",  # not Python: the whole cell skipped
        "%%time\nx = 1",  # IPython runs the body as Python
        "%%backend jax\n  import jax",  # a user's own magic: skipped
        "    y = 2\n    if y:\n        z = 3",  # indented as a whole: dedented
    ).encode())
    compile(book.source, "nb", "exec")  # parses: no `unexpected indent`
    code = [line for line in book.source.splitlines() if line.strip()]
    assert code == ["x = 1", "y = 2", "if y:", "    z = 3"]
    assert book.place(book.source.splitlines().index("x = 1") + 1).cell == 2


def _json(tmp_path, *cells: str) -> list[tuple]:
    (tmp_path / "nb.ipynb").write_text(notebook(*cells))
    proc = run_cli("--no-cache", "--format", "json", "nb.ipynb", cwd=tmp_path)
    assert proc.returncode in (0, 1), proc.stderr.decode()
    return sorted((f["cell"], f["line"], f["column"], f["code"], f["message"]) for f in json.loads(proc.stdout))


def test_a_cell_that_does_not_parse_is_reported_there_and_the_others_are_linted(tmp_path) -> None:
    # Before: one LL001 at the first error and nothing else in the whole notebook.
    findings = _json(tmp_path, SETUP, "x = (1,\n  2", LOSS, "for i in range(3)\n    print(i)")
    assert [(cell, line, column, code) for cell, line, column, code, _ in findings] == [
        (2, 1, 5, "LL001"), (3, 4, 12, "LL102"), (4, 1, 18, "LL001"),
    ]
    assert findings[0][4] == "cell does not parse: '(' was never closed"
    text = run_cli("--no-cache", "nb.ipynb", cwd=tmp_path).stdout.decode()
    assert "nb.ipynb:cell 2:1:5: LL001 [error] cell does not parse: '(' was never closed" in text
    assert "1 | x = (1," in text  # the cell's own line under the finding


def test_the_other_way_a_clean_notebook_and_a_suppressed_broken_cell(tmp_path) -> None:
    assert _json(tmp_path, SETUP, "x = (1,\n  2)", LOSS.replace("- y_pred", "- y_pred  # noqa: LL102")) == []
    # The broken cell is not in the program: its own `# noqa: LL001` still counts.
    assert _json(tmp_path, SETUP, "x = (1,  # noqa: LL001\n  2", LOSS)[0][3] == "LL102"
    assert len(_json(tmp_path, SETUP, "x = (1,  # noqa: LL001\n  2", LOSS)) == 1


def test_ipython_syntax_that_blinded_the_linter_is_python_to_it(tmp_path) -> None:
    # Each cell is one IPython accepts and that made the whole notebook LL001 before; the loss
    # cell after them is still found, at its cell's own line and column.
    cells = [
        SETUP,
        "!saved_model_cli show --dir '{model_path}' --tag_set serve \\\n    --signature_def serving_default",
        "files = !ls *.csv\nlisting = !ls \\\n    -la\nn = len(files)",
        "env = %env\nt = %time sum(range(3))\n%timeit -n 1 -r 2 sum(range(3))",
        "    if n:\n        %time y = 1\n        !echo {y}\n    model = None",  # indented as a whole
        "\n%%time\n    w = 2",  # cell magic after a blank line, its body indented
        "%%writefile helper.py\n  def not python here",
        "model.fit?\nkeras.ops??\nvalue = (1\n         % 2)\nz = (1\n     != 2)  # what?",
        "%%capture captured\n" + LOSS,
    ]
    findings = _json(tmp_path, *cells)
    assert [(cell, line, column, code) for cell, line, column, code, _ in findings] == [(9, 5, 12, "LL102")]


def test_positions_in_kept_magic_statements_and_indented_cells_are_the_cells_own(tmp_path) -> None:
    optimizer = "keras.optimizers.RMSprop(lr=0.001)"
    findings = _json(tmp_path, SETUP, f"%time opt = {optimizer}", f"    opt = {optimizer}", f"x = %time {optimizer}", optimizer)
    plain = 1 + len("keras.optimizers.RMSprop(")
    assert [(cell, line, column, code) for cell, line, column, code, _ in findings] == [
        (2, 1, plain + len("%time opt = "), "LL106"),
        (3, 1, plain + len("    opt = "), "LL106"),
        (4, 1, plain + len("x = %time "), "LL106"),
        (5, 1, plain, "LL106"),
    ]


def test_the_program_both_passes_get() -> None:
    from losslint.static import notebook as nb

    book = nb.read(notebook(
        "if True:\n    !echo hi\n    %time a = 1\nfiles = !ls\nb = %who_ls",
        ">>> c = 1\n... ",
        "In [3]: d = 1",
        "%%time\n%%capture out\ne = 1",  # nested Python-body cell magics
        "s = '''\n!not a command\n%not a magic\n'''",
        "f = 1 \\\n    + 2",
        "g = 1 ?",  # IPython's help needs a name before the `?`: this cell does not parse
    ).encode())
    assert book.source.splitlines() == [
        "if True:", "    pass", "    a = 1", "files = []", "b = None",
        "c = 1", "",
        "d = 1",
        "", "", "e = 1",
        "s = '''", "!not a command", "%not a magic", "'''",
        "f = 1 \\", "    + 2",
        "",
    ]
    (broken,) = book.broken
    assert book.place(broken.line).cell == 7 and broken.message == "invalid syntax"
    compile(book.source, "nb", "exec")  # what the dynamic pass runs


def test_the_dynamic_pass_runs_the_same_cells(tmp_path) -> None:
    # The broken cell is left out (IPython runs the others), the indented cell and the
    # `%%time` body run, and `%time model.fit(...)` runs fit: the loss is probed on the real batch.
    (tmp_path / "nb.ipynb").write_text(notebook(
        "import numpy as np\nimport keras",
        "x = (1,\n  2",
        "    x = np.random.rand(64, 5).astype('float32')\n    y = x.sum(axis=1, keepdims=True)",
        "%%time\nmodel = keras.Sequential([keras.Input((5,)), keras.layers.Dense(1)])\nmodel.compile(optimizer='adam', loss='mse')",
        "files = !ls\n%time history = model.fit(x, y, batch_size=16, epochs=1, verbose=0)",
    ))
    proc = run_cli("--dynamic", "-v", "--no-cache", "--format", "json", "nb.ipynb", cwd=tmp_path, timeout=600)
    stderr = proc.stderr.decode()
    assert [(f["cell"], f["line"], f["code"]) for f in json.loads(proc.stdout)] == [(2, 1, "LL001")], stderr
    verdict = [line for line in stderr.splitlines() if line.startswith("losslint: dynamic: nb.ipynb:")]
    assert len(verdict) == 1 and "probed on the real batch" in verdict[0], stderr


def test_plain_python_is_read_unchanged() -> None:
    # No IPython syntax in our own modules and fixtures (operators opening continuation lines,
    # `!=`, `%` formatting, `?` in strings and comments): each cell-sized file comes out as it is.
    from losslint.static.ipython_syntax import transform

    files = sorted((ROOT / "losslint").rglob("*.py")) + sorted((ROOT / "fixtures").rglob("*.py"))
    assert len(files) > 100
    for path in files:
        lines = path.read_text(encoding="utf-8").splitlines()
        assert [line.code for line in transform(lines)] == lines, path


@pytest.mark.parametrize(("cell", "code"), [
    ("x = 1  # why?", ["x = 1  # why?"]),  # a `?` in a comment is not help
    ("print('why?')", ["print('why?')"]),
    ("np.mean?\n%%time?", ["", ""]),
    ("!!ls\n!pip install \\\n  keras", ["", "", ""]),
    ("y = %timeit -o f()\nz = !!ls", ["y = None", "z = []"]),
    ("\tx = 1\n\tif x:\n\t\ty = 2", ["x = 1", "if x:", "\ty = 2"]),  # tabs: IPython strips the first line's
    ("  x = 1\ny = 2", ["x = 1", "y = 2"]),  # only lines that have the first line's indent lose it
    ("f(a,\n  b)?", ["f(a,", "  b)?"]),  # not `name?`: IPython leaves it, and it does not parse
    ("%%timeit -n 1\n%time g()", ["", "g()"]),
    ("%%html\n<b>x</b>", ["", ""]),
])
def test_cells_read_as_ipython_reads_them(cell: str, code: list[str]) -> None:
    from losslint.static.ipython_syntax import transform

    assert [line.code for line in transform(cell.split("\n"))] == code


def test_lines_named_in_messages_are_said_in_cells(tmp_path) -> None:
    findings = _json(
        tmp_path, SETUP, "x = 1\nmodel = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])",
        "model.compile(loss=keras.losses.BinaryCrossentropy(), optimizer='adam')",
    )
    (finding,) = findings
    assert finding[:2] == (3, 1) and finding[3] == "LL204"
    assert "has no activation, cell 2, line 2)" in finding[4], finding[4]
