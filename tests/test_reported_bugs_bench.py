"""bench/reported_bugs.py: its manifest names real rules and sources, and its verdicts and copy
check say what they claim (the bench itself runs TensorFlow and is not run here)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from pathlib import Path

import pytest

from losslint import registry

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "bench" / "reported_bugs.json"


def _bench():
    if "reported_bugs" in sys.modules:
        return sys.modules["reported_bugs"]
    spec = importlib.util.spec_from_file_location("reported_bugs", ROOT / "bench" / "reported_bugs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["reported_bugs"] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_manifest_entries_are_well_formed() -> None:
    data = json.loads(MANIFEST.read_text(encoding="utf-8"))
    ids = [e["id"] for e in data["entries"]]
    assert len(ids) == len(set(ids)) >= 30
    classes = {str(e["class"]) for e in data["entries"]}
    assert {str(c) for c in range(1, 10)} <= classes  # every class of issue 13 has a report
    for e in data["entries"]:
        assert e["expected"] and all(registry.get(code) is not None for code in e["expected"]), e["id"]
        assert e["source"]["url"].startswith("https://") and e["source"]["title"] and e["bug"], e["id"]
        assert set(e["files"]) == {"bad", "fixed"}, e["id"]
        for f in e["files"].values():
            assert len(f["sha256"]) == 64 and not (ROOT / f["path"]).exists(), e["id"]  # ports stay out of the repo


def _entry(bench, tmp_path: Path, bad: bytes, fixed: bytes):
    files = {}
    for which, content in (("bad", bad), ("fixed", fixed)):
        (tmp_path / "x").mkdir(exist_ok=True)
        (tmp_path / "x" / f"{which}.py").write_bytes(content)
        files[which] = (f"x/{which}.py", hashlib.sha256(content).hexdigest())
    return bench.Entry(id="x", cls="8", expected=("LL208",), url="https://example.org", title="t", bug="b", files=files)


def _run(bench, *codes: tuple[str, str]):
    return bench.Run(findings=[{"code": c, "severity": s} for c, s in codes],
                     dynamic=[{"code": c, "severity": s} for c, s in codes])


def test_verdicts(tmp_path: Path) -> None:
    bench = _bench()
    entry = _entry(bench, tmp_path, b"a", b"b")
    clean = _run(bench)
    assert bench.Result(entry, _run(bench, ("LL101", "warning"), ("LL208", "error")), clean).verdict() == "right"
    assert bench.Result(entry, _run(bench, ("LL206", "error")), clean).verdict() == "other code"
    # An info finding (the data was stood in) is not a report.
    assert bench.Result(entry, _run(bench, ("LL005", "info")), clean).verdict() == "missed"
    assert not bench.Result(entry, clean, _run(bench, ("LL207", "warning"))).fixed_clean
    assert bench.Result(entry, clean, _run(bench, ("LL005", "info"))).fixed_clean


def test_copy_check(tmp_path: Path) -> None:
    bench = _bench()
    entry = _entry(bench, tmp_path, b"bad", b"fixed")
    assert bench.check_copy(entry, tmp_path)
    (tmp_path / "x" / "fixed.py").write_bytes(b"fixed, then edited")
    assert not bench.check_copy(entry, tmp_path)
    (tmp_path / "x" / "bad.py").unlink()
    with pytest.raises(bench.BenchError):
        bench.check_copy(entry, tmp_path)


def test_refuses_a_cache_inside_the_repository(capsys: pytest.CaptureFixture[str]) -> None:
    assert _bench().main(["--cache", str(ROOT / "bench")]) == 2
    assert "inside the repository" in capsys.readouterr().err
