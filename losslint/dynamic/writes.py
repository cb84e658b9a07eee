"""The user's files are safe from the script the dynamic pass runs.

Before `fit` a training script may create folders, write logs, save a model or `rmtree` its
output folder. In the child, every write outside the scratch folder is *diverted* into it (the
file is written under `scratch/diverted/<absolute path>`, and reads of that path find it
there), every delete or rename outside it is skipped, and an audit hook refuses, with
`PermissionError`, whatever write still gets past those (a library's own `os.open`). Each is
recorded for `-v`.

C code that writes without Python's file functions (HDF5, TensorFlow's file system) is not seen.
"""

from __future__ import annotations

import builtins
import io
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_ALWAYS = (os.devnull, "/dev/stdout", "/dev/stderr", "/dev/shm")


@dataclass
class WriteGuard:
    scratch: str  # absolute; everything under it may be written
    allowed: tuple[str, ...] = ()  # other folders the child itself writes to
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        import tempfile

        self.scratch = os.path.realpath(self.scratch)
        self.diverted_root = os.path.join(self.scratch, "diverted")
        # The parent points TMPDIR at the scratch folder; in any case tempfile's folder is the
        # system's, not the user's (autograph writes its generated modules there and imports them).
        self.allowed = (*self.allowed, tempfile.gettempdir())

    # -- paths ---------------------------------------------------------------------------

    def _inside(self, path: str) -> bool:
        real = os.path.realpath(path)
        roots = (self.scratch, *(os.path.realpath(a) for a in self.allowed))
        return any(real == root or real.startswith(root + os.sep) for root in roots) or real.startswith(_ALWAYS)

    def _diverted(self, path: str) -> str:
        return os.path.join(self.diverted_root, os.path.abspath(path).lstrip(os.sep))

    def _record(self, what: str) -> None:
        if what not in self.log:
            self.log.append(what)

    def target(self, file: Any, writing: bool) -> Any:
        """Where an open of `file` really goes."""
        if isinstance(file, int) or not isinstance(file, (str, bytes, os.PathLike)):
            return file
        path = os.fsdecode(file)
        if self._inside(path):
            return file
        diverted = self._diverted(path)
        if writing:
            os.makedirs(os.path.dirname(diverted), exist_ok=True)  # inside the scratch folder
            self._record(f"write to {os.path.abspath(path)} diverted to the scratch folder")
            return diverted
        return diverted if os.path.exists(diverted) else file

    # -- installation --------------------------------------------------------------------

    def install(self) -> None:
        guard = self
        real_open, real_os_open = builtins.open, os.open
        real_makedirs, real_mkdir = os.makedirs, os.mkdir

        def guarded_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            writing = isinstance(mode, str) and any(flag in mode for flag in "wax+")
            return real_open(guard.target(file, writing), mode, *args, **kwargs)

        def guarded_os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
            if kwargs.get("dir_fd") is None:
                path = guard.target(path, bool(flags & _WRITE_FLAGS))
            return real_os_open(path, flags, *args, **kwargs)

        def guarded_makedirs(name: Any, mode: int = 0o777, exist_ok: bool = False) -> None:
            if not guard._inside(os.fsdecode(name)):
                guard._record(f"mkdir {os.path.abspath(os.fsdecode(name))} diverted to the scratch folder")
                name = guard._diverted(os.fsdecode(name))
            return real_makedirs(name, mode, exist_ok)

        def guarded_mkdir(path: Any, mode: int = 0o777, *, dir_fd: Any = None) -> None:
            if dir_fd is None and not guard._inside(os.fsdecode(path)):
                guard._record(f"mkdir {os.path.abspath(os.fsdecode(path))} diverted to the scratch folder")
                real_makedirs(os.path.dirname(guard._diverted(os.fsdecode(path))), exist_ok=True)
                path = guard._diverted(os.fsdecode(path))
            return real_mkdir(path, mode, dir_fd=dir_fd)

        def skipped(name: str, real: Callable[..., Any], arity: int = 1) -> Callable[..., Any]:
            def guarded(*args: Any, **kwargs: Any) -> Any:
                paths = [os.fsdecode(a) for a in args[:arity] if isinstance(a, (str, bytes, os.PathLike))]
                if kwargs.get("dir_fd") is None and any(not guard._inside(p) for p in paths):
                    guard._record(f"{name} {' -> '.join(os.path.abspath(p) for p in paths)} skipped")
                    return None
                return real(*args, **kwargs)

            return guarded

        builtins.open = io.open = guarded_open  # type: ignore[assignment]
        os.open = guarded_os_open  # type: ignore[assignment]
        os.makedirs, os.mkdir = guarded_makedirs, guarded_mkdir  # type: ignore[assignment]
        for name in ("remove", "unlink", "rmdir", "removedirs", "truncate"):
            setattr(os, name, skipped(f"os.{name}", getattr(os, name)))
        for name in ("rename", "replace"):
            setattr(os, name, skipped(f"os.{name}", getattr(os, name), arity=2))
        shutil.rmtree = skipped("shutil.rmtree", shutil.rmtree)  # type: ignore[assignment]
        shutil.move = skipped("shutil.move", shutil.move, arity=2)  # type: ignore[assignment]
        sys.addaudithook(self._audit)

    def _audit(self, event: str, args: tuple) -> None:
        """The last line: a write that did not come through the functions above."""
        if event == "open":
            path, mode, flags = args
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or bool((flags or 0) & _WRITE_FLAGS)
            if writing and isinstance(path, (str, bytes, os.PathLike)) and not self._inside(os.fsdecode(path)):
                self._refuse(os.fsdecode(path))
        elif event in ("os.remove", "os.rmdir", "os.rename", "os.truncate", "os.symlink", "os.link", "shutil.rmtree"):
            path = args[0]
            if isinstance(path, (str, bytes, os.PathLike)) and not self._inside(os.fsdecode(path)):
                self._refuse(os.fsdecode(path))

    def _refuse(self, path: str) -> None:
        self._record(f"write to {os.path.abspath(path)} refused")
        raise PermissionError(13, "losslint sandbox: writing outside the scratch folder is refused", path)
