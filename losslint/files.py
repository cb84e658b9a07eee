"""Which files a run lints: the named files, and the *.py files below the named folders."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from losslint.config import Config

SOURCE_SUFFIXES = (".py", ".ipynb")


@dataclass
class Collected:
    files: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def display_path(path: Path) -> str:
    """Relative to the working directory when below it (as ruff prints paths), else as given."""
    try:
        return Path(os.path.abspath(path)).relative_to(os.getcwd()).as_posix()
    except ValueError:
        return str(path)


def _is_virtualenv(folder: Path) -> bool:
    return (folder / "pyvenv.cfg").is_file()


def collect(paths: list[str], config: Config) -> Collected:
    """Files to lint, sorted and without duplicates.

    A file named on the command line is linted whatever its name or the excludes say; folders
    are searched for *.py, skipping excluded folders and virtualenvs.
    """
    out = Collected()
    seen: set[Path] = set()

    def add(path: Path) -> None:
        key = Path(os.path.abspath(path))
        if key not in seen:
            seen.add(key)
            out.files.append(path)

    for raw in paths:
        path = Path(raw)
        if path.is_file():
            add(path)
        elif path.is_dir():
            for root, dirs, names in os.walk(path):
                here = Path(root)
                dirs[:] = sorted(
                    d for d in dirs
                    if not config.is_excluded(here / d, path) and not _is_virtualenv(here / d)
                )
                for name in sorted(names):
                    candidate = here / name
                    if name.endswith(SOURCE_SUFFIXES) and not config.is_excluded(candidate, path):
                        add(candidate)
        elif path.exists():
            out.errors.append(f"{raw}: not a regular file or folder")
        else:
            out.errors.append(f"{raw}: no such file or folder")
    return out
