"""The static pass's cache: results reused for unchanged files, recomputed for changed ones,
kept out of git, and bypassed with --no-cache."""

from __future__ import annotations

import json

from conftest import run_cli

BAD = "import tensorflow as tf\ndef my_loss(y_true, y_pred):\n    return y_true[0] - y_pred\n"


def test_cache_is_used_for_unchanged_files_and_refreshed_for_changed_ones(tmp_path) -> None:
    script = tmp_path / "train.py"
    script.write_text(BAD)
    first = run_cli("--format", "json", "train.py", cwd=tmp_path)
    assert [f["code"] for f in json.loads(first.stdout)] == ["LL102"]
    cache_dir = tmp_path / ".losslint_cache"
    assert (cache_dir / ".gitignore").read_text().splitlines()[-1] == "*"
    (cache_file,) = cache_dir.glob("*.json")
    # Prove the second run reads the cache: mark the stored message.
    entries = json.loads(cache_file.read_text())
    (entry,) = entries.values()
    entry["findings"][0]["message"] = "from the cache"
    cache_file.write_text(json.dumps(entries))
    second = run_cli("--format", "json", "train.py", cwd=tmp_path)
    assert [f["message"] for f in json.loads(second.stdout)] == ["from the cache"]
    # A changed file is linted again.
    script.write_text(BAD.replace("y_true[0]", "y_true[:, 0]"))
    third = run_cli("--format", "json", "train.py", cwd=tmp_path)
    assert json.loads(third.stdout) == []


def test_selection_changes_miss_the_cache(tmp_path) -> None:
    (tmp_path / "train.py").write_text(BAD)
    run_cli("--format", "json", "train.py", cwd=tmp_path)
    ignored = run_cli("--format", "json", "--ignore", "LL102", "train.py", cwd=tmp_path)
    assert json.loads(ignored.stdout) == []


def test_no_cache_writes_nothing(tmp_path) -> None:
    (tmp_path / "train.py").write_text(BAD)
    proc = run_cli("--no-cache", "--format", "json", "train.py", cwd=tmp_path)
    assert proc.returncode == 1
    assert not (tmp_path / ".losslint_cache").exists()
