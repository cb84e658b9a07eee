"""The manifest of bench/reported_snippets.py: every entry names its source and a static code at
a line, buggy and fixed entries are told apart, and the collection keeps its size. The snippets
themselves live outside the repository; the bench checks them against these sha256."""

from __future__ import annotations

import json
import re
from pathlib import Path

from losslint import registry

MANIFEST = Path(__file__).resolve().parents[1] / "bench" / "reported_snippets.json"


def entries() -> list[dict]:
    return json.loads(MANIFEST.read_text(encoding="utf-8"))["entries"]


def test_ids_are_unique() -> None:
    ids = [e["id"] for e in entries()]
    assert len(ids) == len(set(ids))


def test_collection_size() -> None:
    kinds = [e["kind"] for e in entries()]
    assert kinds.count("buggy") >= 40
    assert kinds.count("fixed") >= 10
    assert set(kinds) == {"buggy", "fixed"}


def test_buggy_entries_name_static_codes_at_lines() -> None:
    for e in entries():
        assert bool(e["bugs"]) == (e["kind"] == "buggy"), e["id"]
        for bug in e["bugs"]:
            rule = registry.get(bug["code"])
            assert rule is not None and rule.static_implemented, (e["id"], bug["code"])
            assert bug["at"] and all(isinstance(p["line"], int) and p["line"] > 0 for p in bug["at"]), e["id"]
            assert bug["description"], e["id"]
        for code in e.get("also", ()):
            assert registry.get(code) is not None, (e["id"], code)


def test_sources_are_pinned() -> None:
    ids = {e["id"]: e["kind"] for e in entries()}
    for e in entries():
        source = e["source"]
        if "file" in e:  # hand-stored: the thread it was copied from, and the copy's digest
            assert source["url"].startswith("https://"), e["id"]
            assert re.fullmatch(r"[0-9a-f]{64}", e["sha256"]), e["id"]
            assert "/" not in e["file"], e["id"]
        else:  # materialised from a git snapshot
            assert re.fullmatch(r"[\w.-]+/[\w.-]+", source["repo"]), e["id"]
            assert re.fullmatch(r"[0-9a-f]{40}", source["commit"]), e["id"]
            assert source["path"], e["id"]
        if "fixes" in e:
            assert e["kind"] == "fixed" and ids.get(e["fixes"]) == "buggy", e["id"]
