"""The pre-commit hook, for real: pre-commit installs this repository (at HEAD) as a hook source
in a fresh git repository; a bad training script fails the commit with the finding shown, a
good one is committed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FIXTURES, ROOT


def git(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=600)


def pre_commit(*args: str, repo: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PRE_COMMIT_HOME=str(repo.parent / "pre-commit-home"))
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", *args], cwd=repo, capture_output=True, text=True, timeout=600, env=env
    )


@pytest.fixture(scope="module")
def hooked_repo(tmp_path_factory) -> Path:
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    if head.returncode != 0:
        pytest.fail("the repository has no commit for pre-commit to install from")
    repo = tmp_path_factory.mktemp("hooked")
    git("init", "-q", cwd=repo)
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {ROOT}\n    rev: {head.stdout.strip()}\n    hooks:\n      - id: losslint\n"
    )
    install = pre_commit("install-hooks", repo=repo)
    assert install.returncode == 0, install.stdout + install.stderr
    return repo


def test_bad_script_fails_the_commit(hooked_repo: Path) -> None:
    shutil.copy(FIXTURES / "LL102-target-indexed-as-list" / "bad_seed002.py", hooked_repo / "train.py")
    git("add", "train.py", cwd=hooked_repo)
    run = pre_commit("run", "--files", "train.py", repo=hooked_repo)
    assert run.returncode == 1
    assert "train.py:23:20: LL102 [error]" in run.stdout


def test_good_script_passes(hooked_repo: Path) -> None:
    shutil.copy(FIXTURES / "LL102-target-indexed-as-list" / "good_seed002.py", hooked_repo / "good.py")
    git("add", "good.py", cwd=hooked_repo)
    run = pre_commit("run", "--files", "good.py", repo=hooked_repo)
    assert run.returncode == 0, run.stdout
    assert "Passed" in run.stdout
