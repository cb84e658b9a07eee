"""`losslint server` through a real LSP conversation: the test starts the process and speaks
JSON-RPC to it over stdio (tests/lsp_client.py), as an editor does."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import FIXTURES, run_cli
from lsp_client import LspClient

from losslint.config import Config
from losslint.server import findings_for

BAD_SEED = FIXTURES / "LL101-reshape-in-loss" / "bad_seed000.py"
ADAM_LR = textwrap.dedent("""\
    import keras
    from keras import layers

    model = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(lr=0.001), loss="mse")
""")


def _apply(text: str, edits: list[dict]) -> str:
    """The text after an LSP WorkspaceEdit's TextEdits (positions in UTF-16 = characters here)."""
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))

    def offset(position: dict) -> int:
        return offsets[min(position["line"], len(lines))] + position["character"]

    for edit in sorted(edits, key=lambda e: offset(e["range"]["start"]), reverse=True):
        start, end = offset(edit["range"]["start"]), offset(edit["range"]["end"])
        text = text[:start] + edit["newText"] + text[end:]
        lines = text.splitlines(keepends=True)
        offsets = [0]
        for line in lines:
            offsets.append(offsets[-1] + len(line))
    return text


def _edits(action: dict) -> list[dict]:
    (change,) = action["edit"]["documentChanges"]
    return change["edits"]


@pytest.fixture
def client(tmp_path: Path):
    lsp = LspClient(tmp_path)
    lsp.initialize(tmp_path)
    yield lsp
    if lsp.process.poll() is None:
        lsp.process.kill()


def test_initialize_advertises_incremental_sync_and_code_actions(tmp_path: Path) -> None:
    lsp = LspClient(tmp_path)
    result = lsp.initialize(tmp_path)
    capabilities = result["capabilities"]
    assert capabilities["textDocumentSync"]["change"] == 2  # incremental
    assert set(capabilities["codeActionProvider"]["codeActionKinds"]) == {"quickfix", "source.fixAll.losslint"}
    assert result["serverInfo"]["name"] == "losslint"
    assert lsp.close() == 0


def test_diagnostics_on_open_match_the_cli(client: LspClient) -> None:
    uri = BAD_SEED.as_uri()
    client.open(uri, BAD_SEED.read_text())
    published = client.diagnostics(uri).message["params"]
    cli = json.loads(run_cli("--format", "json", "--isolated", str(BAD_SEED)).stdout)
    got = [(d["code"], d["range"]["start"]["line"] + 1, d["range"]["start"]["character"] + 1) for d in published["diagnostics"]]
    assert sorted(got) == sorted((f["code"], f["line"], f["column"]) for f in cli)
    first = next(d for d in published["diagnostics"] if d["code"] == "LL101")
    assert first["source"] == "losslint" and first["severity"] == 2  # warning
    assert first["codeDescription"]["href"].endswith("/rules/LL101-reshape-in-loss.md")
    finding = next(f for f in cli if f["code"] == "LL101")
    assert first["message"] == f"{finding['message']}\nfix: {finding['fix']}"
    (related,) = first["relatedInformation"]
    assert related["message"] == "loss given to compile here" and related["location"]["uri"] == uri
    assert published["version"] == 1


def test_change_relints_and_a_burst_publishes_only_the_last_version(client: LspClient, tmp_path: Path) -> None:
    uri = (tmp_path / "train.py").as_uri()
    client.open(uri, ADAM_LR)
    assert [d["code"] for d in client.diagnostics(uri, 1).message["params"]["diagnostics"]] == ["LL106"]
    fixed = ADAM_LR.replace("lr=", "learning_rate=")
    client.change(uri, 2, fixed)
    assert client.diagnostics(uri).message["params"] == {"uri": uri, "version": 2, "diagnostics": []}
    for version in range(3, 8):  # typing: the bug and its fix, back and forth
        client.change(uri, version, ADAM_LR if version % 2 else fixed)
    last = client.diagnostics(uri).message["params"]
    assert last["version"] == 7 and [d["code"] for d in last["diagnostics"]] == ["LL106"]
    with pytest.raises(TimeoutError):
        client.diagnostics(uri, timeout=1.0)  # versions 3-6 were never published


def test_quick_fix_and_fix_all_apply_the_safe_rewrite(client: LspClient, tmp_path: Path) -> None:
    uri = (tmp_path / "train.py").as_uri()
    client.open(uri, ADAM_LR)
    (diagnostic,) = client.diagnostics(uri).message["params"]["diagnostics"]
    assert diagnostic["data"]["fixable"] is True
    actions = client.request("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": diagnostic["range"], "context": {"diagnostics": [diagnostic]},
    })
    titles = [a["title"] for a in actions]
    assert titles[0].startswith("losslint: ") and actions[0]["isPreferred"] is True
    assert "losslint: disable LL106 for this line" in titles
    fixed = _apply(ADAM_LR, _edits(actions[0]))
    assert "Adam(learning_rate=0.001)" in fixed and fixed.replace("learning_rate=", "lr=") == ADAM_LR
    fix_all = client.request("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": diagnostic["range"],
        "context": {"diagnostics": [], "only": ["source.fixAll"]},
    })
    assert [a["kind"] for a in fix_all] == ["source.fixAll.losslint"]
    assert _apply(ADAM_LR, _edits(fix_all[0])) == fixed


def test_noqa_action_silences_the_finding(client: LspClient, tmp_path: Path) -> None:
    uri = (tmp_path / "train.py").as_uri()
    client.open(uri, ADAM_LR)
    (diagnostic,) = client.diagnostics(uri).message["params"]["diagnostics"]
    actions = client.request("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": diagnostic["range"],
        "context": {"diagnostics": [diagnostic], "only": ["quickfix"]},
    })
    noqa = next(a for a in actions if a["title"] == "losslint: disable LL106 for this line")
    silenced = _apply(ADAM_LR, _edits(noqa))
    assert silenced.splitlines()[4].endswith('loss="mse")  # noqa: LL106')
    client.change(uri, 2, silenced)
    assert client.diagnostics(uri, 2).message["params"]["diagnostics"] == []


def test_configuration_is_read_upward_and_reread_when_it_changes(client: LspClient, tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[tool.losslint]\nignore = ["LL106"]\n')
    (tmp_path / "pkg").mkdir()
    uri = (tmp_path / "pkg" / "train.py").as_uri()
    client.open(uri, ADAM_LR)
    assert client.diagnostics(uri, 1).message["params"]["diagnostics"] == []
    pyproject.write_text('[tool.losslint]\nignore = []\n')
    client.notify("textDocument/didSave", {"textDocument": {"uri": uri}})
    assert [d["code"] for d in client.diagnostics(uri).message["params"]["diagnostics"]] == ["LL106"]


def test_bad_configuration_is_shown_once_and_linting_goes_on(client: LspClient, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.losslint]\nselect = ["LL999"]\n')
    uri = (tmp_path / "train.py").as_uri()
    client.open(uri, ADAM_LR)
    shown = client.wait_for(lambda m: m.get("method") == "window/showMessage").message["params"]
    assert shown["type"] == 1 and "LL999" in shown["message"] and "\n" not in shown["message"]
    assert [d["code"] for d in client.diagnostics(uri).message["params"]["diagnostics"]] == ["LL106"]


def test_positions_in_the_clients_encoding(tmp_path: Path) -> None:
    # An astral character before the finding: 2 UTF-16 code units, 1 UTF-32 one.
    text = ADAM_LR.replace("model.compile(", "_ = '🙂'; model.compile(")
    (finding,) = findings_for(tmp_path / "train.py", text, Config())
    column = finding.column - 1  # 0-based, in characters (UTF-32 code units)
    assert column > text.splitlines()[4].index("🙂")
    for encodings, expected in ((None, column + 1), (["utf-32"], column)):
        lsp = LspClient(tmp_path)
        lsp.initialize(tmp_path, encodings)
        uri = (tmp_path / "train.py").as_uri()
        lsp.open(uri, text)
        (diagnostic,) = lsp.diagnostics(uri).message["params"]["diagnostics"]
        assert diagnostic["range"]["start"] == {"line": 4, "character": expected}
        assert lsp.close() == 0


def test_unparsable_text_gives_ll001_without_a_noqa_action(client: LspClient, tmp_path: Path) -> None:
    uri = (tmp_path / "train.py").as_uri()
    client.open(uri, "import keras\nmodel.compile(loss=\n")
    (diagnostic,) = client.diagnostics(uri).message["params"]["diagnostics"]
    assert diagnostic["code"] == "LL001"
    actions = client.request("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": diagnostic["range"], "context": {"diagnostics": [diagnostic]},
    })
    assert actions == []


def test_close_clears_the_diagnostics(client: LspClient, tmp_path: Path) -> None:
    uri = (tmp_path / "train.py").as_uri()
    client.open(uri, ADAM_LR)
    client.diagnostics(uri)
    client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    assert client.diagnostics(uri).message["params"]["diagnostics"] == []
    assert client.close() == 0


def test_the_server_never_imports_tensorflow() -> None:
    code = (
        "import sys, losslint.server as s\n"
        "from pathlib import Path\n"
        "s.findings_for(Path('t.py'), 'import tensorflow as tf\\nimport keras\\nx = tf.to_float(1)\\n', s.Config())\n"
        "assert not {'tensorflow', 'keras', 'numpy'} & set(sys.modules), sorted(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=60)
