"""How long `losslint server` takes from an edit to the diagnostics of the edited text.

    python bench/server_latency.py [--lines 500] [--rounds 40] [--file PATH]

It starts the server as an editor does (a process speaking LSP over stdio, tests/lsp_client.py),
opens a training script of about --lines lines (the bundled fixtures, bad and good, put one after
the other until they are long enough: our own code, with findings; or --file), then edits one
line per round, as a keystroke does, and times each `didChange` to the `publishDiagnostics` of
that version. The debounce (losslint.server.DEBOUNCE_SECONDS) is part of what the user waits
for, so it is part of the figure.

The floor is measured in the same run, round by round in between the edits, because this
machine's speed drifts: `libcst.parse_module` of the same text in this process (the parse that
any libcst-based linter pays), and the static pass's own time (`findings_for`, in process, no
protocol). Printed: the latency's median, 90th percentile and maximum, each floor's median, and
the ratios of the median latency to them. The goal is a median under 250 ms for a 500-line file.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import libcst  # noqa: E402

from lsp_client import LspClient  # noqa: E402

from losslint.config import Config  # noqa: E402
from losslint.server import DEBOUNCE_SECONDS, findings_for  # noqa: E402


def long_script(lines: int) -> str:
    """The fixtures, one after the other, until there are `lines` lines."""
    parts: list[str] = []
    total = 0
    for path in sorted((ROOT / "fixtures").glob("LL1*/*.py")) + sorted((ROOT / "fixtures").glob("LL2*/*.py")):
        text = path.read_text(encoding="utf-8")
        try:
            compile(text, str(path), "exec")
        except SyntaxError:
            continue
        parts.append(f"# ---- {path.relative_to(ROOT)}\n{text}")
        total += text.count("\n") + 1
        if total >= lines:
            break
    return "\n".join(parts)


def edited(text: str, round_: int) -> str:
    """The text with one line changed, as a keystroke changes it (a digit in a comment)."""
    lines = text.splitlines(keepends=True)
    index = (round_ * 37) % len(lines)
    lines[index] = lines[index].rstrip("\n") + f"  # {round_}\n"
    return "".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--file", type=Path, help="edit this file instead of the fixtures put together")
    args = parser.parse_args()

    text = args.file.read_text(encoding="utf-8") if args.file else long_script(args.lines)
    path = (args.file or ROOT / "bench" / "latency_script.py").resolve()  # never written
    client = LspClient(ROOT)
    client.initialize(ROOT)
    uri = path.as_uri()
    client.open(uri, text)
    opened = client.diagnostics(uri, 1)
    count = len(opened.message["params"]["diagnostics"])

    latencies, parses, lints = [], [], []
    for round_ in range(args.rounds):
        version = round_ + 2
        new = edited(text, round_)
        sent = client.change(uri, version, new)
        got = client.diagnostics(uri, version)
        latencies.append(got.at - sent)
        start = time.perf_counter()
        libcst.parse_module(new)
        parses.append(time.perf_counter() - start)
        start = time.perf_counter()
        findings_for(path, new, Config())
        lints.append(time.perf_counter() - start)
    client.close()

    def ms(value: float) -> str:
        return f"{value * 1000:.0f} ms"

    latencies.sort()
    median = statistics.median(latencies)
    parse, lint = statistics.median(parses), statistics.median(lints)
    p90 = latencies[min(len(latencies) - 1, int(0.9 * len(latencies)))]
    print(f"{text.count(chr(10)) + 1} lines, {count} diagnostics, {args.rounds} edits, debounce {ms(DEBOUNCE_SECONDS)}")
    print(f"edit -> diagnostics: median {ms(median)}, p90 {ms(p90)}, max {ms(latencies[-1])}")
    print(f"floor: libcst parse {ms(parse)}, static pass in process {ms(lint)}")
    print(f"ratio: median latency / parse {median / parse:.2f}x, / static pass {median / lint:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
