"""A small LSP client over stdio for the server's tests and bench/server_latency.py: it starts
`losslint server` as a process and speaks JSON-RPC to it (Content-Length framed messages), as an
editor does. Messages from the server are read on a thread and kept with the time they came."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Received:
    message: dict
    at: float  # time.perf_counter() when it was read


@dataclass
class LspClient:
    cwd: Path
    process: subprocess.Popen = field(init=False)
    _inbox: "queue.Queue[Received | None]" = field(init=False, default_factory=queue.Queue)
    _seen: list[Received] = field(init=False, default_factory=list)
    _next_id: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "losslint.cli", "server"], cwd=self.cwd,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        while True:
            length = None
            while True:
                header = stream.readline()
                if not header:
                    self._inbox.put(None)
                    return
                header = header.strip()
                if not header:
                    break
                name, _, value = header.decode("ascii").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            assert length is not None, "a message without Content-Length"
            body = stream.read(length)
            self._inbox.put(Received(json.loads(body), time.perf_counter()))

    def send(self, message: dict) -> float:
        """Write one message; the time it was written."""
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        assert self.process.stdin is not None
        sent = time.perf_counter()
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()
        return sent

    def notify(self, method: str, params: dict) -> float:
        return self.send({"method": method, "params": params})

    def request(self, method: str, params: dict, timeout: float = 30.0) -> Any:
        self._next_id += 1
        ident = self._next_id
        self.send({"id": ident, "method": method, "params": params})
        got = self.wait_for(lambda m: m.get("id") == ident and "method" not in m, timeout)
        if "error" in got.message:
            raise RuntimeError(f"{method}: {got.message['error']}")
        return got.message.get("result")

    def wait_for(self, predicate: Callable[[dict], bool], timeout: float = 30.0) -> Received:
        """The first message (kept or new) that `predicate` accepts; it is used up."""
        for index, kept in enumerate(self._seen):
            if predicate(kept.message):
                return self._seen.pop(index)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no such message within {timeout} s; seen: {[r.message for r in self._seen]}")
            try:
                got = self._inbox.get(timeout=remaining)
            except queue.Empty:
                continue
            if got is None:
                assert self.process.stderr is not None
                raise EOFError(f"the server exited: {self.process.stderr.read().decode(errors='replace')[-2000:]}")
            if predicate(got.message):
                return got
            self._seen.append(got)

    def diagnostics(self, uri: str, version: int | None = None, timeout: float = 30.0) -> Received:
        """The next publishDiagnostics for `uri` (for that document version, if given)."""
        return self.wait_for(
            lambda m: m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri
            and (version is None or m["params"].get("version") == version),
            timeout,
        )

    def initialize(self, root: Path, position_encodings: list[str] | None = None) -> dict:
        capabilities: dict = {"textDocument": {"publishDiagnostics": {"relatedInformation": True}}}
        if position_encodings:
            capabilities["general"] = {"positionEncodings": position_encodings}
        result = self.request("initialize", {"processId": None, "rootUri": root.as_uri(), "capabilities": capabilities})
        self.notify("initialized", {})
        return result

    def open(self, uri: str, text: str, version: int = 1) -> None:
        self.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": version, "text": text}})

    def change(self, uri: str, version: int, text: str) -> float:
        """Replace the whole text; the time the change was sent."""
        return self.notify("textDocument/didChange", {
            "textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}],
        })

    def close(self) -> int:
        """shutdown, exit; the server's exit code."""
        try:
            self.request("shutdown", {}, timeout=10)
            self.notify("exit", {})
            return self.process.wait(timeout=10)
        finally:
            if self.process.poll() is None:
                self.process.kill()
