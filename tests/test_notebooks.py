"""Notebooks: code cells linted as one program (magics and shell lines skipped), findings at
`nb.ipynb:cell N:line:col` in text, a `cell` key in JSON, the .ipynb file's line in SARIF and
GitHub annotations, suppressions in cells."""

from __future__ import annotations

import json

import jsonschema

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
