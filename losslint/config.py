"""`[tool.losslint]` in pyproject.toml, or a losslint.toml, found upward from the linted paths."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath

from losslint import registry
from losslint.static.names import conventional_names

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

DEFAULT_EXCLUDE = (
    ".git", ".hg", ".svn", ".venv", "venv", ".tox", ".nox", "build", "dist", "__pycache__",
    ".mypy_cache", ".pytest_cache", ".ruff_cache", ".losslint_cache", "node_modules",
    "site-packages", ".eggs", "*.egg-info", ".ipynb_checkpoints",
)
CONFIG_FILES = ("losslint.toml", ".losslint.toml", "pyproject.toml")


class ConfigError(Exception):
    """A configuration problem, with a one-line message that names the file and the key."""


@dataclass(frozen=True)
class Config:
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()
    per_file_ignores: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    extend_exclude: tuple[str, ...] = ()
    warn_unused_suppressions: bool = False
    dynamic: bool = False
    # Read `tf`, `K`, `np`, `layers`, `Dense`, ... as their conventional imports where a file
    # binds them nowhere (snippets, notebook cells, star imports); extend-conventional-names
    # adds local name -> dotted module path.
    conventional_names_enabled: bool = True
    extend_conventional_names: Mapping[str, str] = field(default_factory=dict)
    # [tool.losslint.probe]: the dynamic pass's settings (losslint.dynamic.runner.DynamicOptions)
    probe: Mapping[str, object] = field(default_factory=dict)
    root: Path = field(default_factory=Path.cwd)  # patterns are relative to this folder
    source: Path | None = None  # the file the settings came from

    def enabled_codes(self) -> frozenset[str]:
        extend = self.extend_select + (("LL004",) if self.warn_unused_suppressions else ())
        return registry.enabled_codes(self.select, self.ignore, extend)

    def conventional_names(self) -> dict[str, str]:
        """Local name -> dotted path, for the names a file leaves unbound; empty when off."""
        if not self.conventional_names_enabled:
            return {}
        return {**conventional_names(), **self.extend_conventional_names}

    def ignored_for(self, path: Path) -> frozenset[str]:
        rel = relative_posix(path, self.root)
        codes: set[str] = set()
        for pattern, selectors in self.per_file_ignores.items():
            if path_matches(rel, pattern):
                for selector in selectors:
                    codes.update(rule.code for rule in registry.expand(selector))
        return frozenset(codes)

    def is_excluded(self, path: Path, base: Path) -> bool:
        """`base` is the folder being searched: paths outside the config's folder match from it.

        Only the entry itself is matched (its whole relative path, or its name): the folders
        below `base` were matched, and pruned, on the way down, and `base` itself and its
        parents were named on the command line, so `losslint build/` lints build/ (as ruff does)
        instead of silently linting nothing.
        """
        rel = relative_posix(path, self.root, base)
        return any(
            fnmatch(rel, p.rstrip("/")) or fnmatch(path.name, p.rstrip("/"))
            for p in (*self.exclude, *self.extend_exclude)
        )


def relative_posix(path: Path, root: Path, fallback: Path | None = None) -> str:
    # abspath, not resolve(): no symlink walk per file (it dominated a warm run of 800 files).
    absolute = Path(os.path.abspath(path))
    for anchor in (root, fallback):
        if anchor is None:
            continue
        try:
            return absolute.relative_to(os.path.abspath(anchor)).as_posix()
        except ValueError:
            continue
    return path.name


def path_matches(rel: str, pattern: str) -> bool:
    """A glob matches the whole relative path, any leading folder of it, or a path component."""
    pattern = pattern.rstrip("/")
    pure = PurePosixPath(rel)
    candidates = [rel, *(p.as_posix() for p in pure.parents if p.as_posix() != "."), *pure.parts]
    return any(fnmatch(candidate, pattern) for candidate in candidates)


# key -> (attribute, expected type description)
_LIST_KEYS = {"select": "select", "ignore": "ignore", "extend-select": "extend_select",
              "exclude": "exclude", "extend-exclude": "extend_exclude"}
_CODE_KEYS = {"select", "ignore", "extend-select"}
_BOOL_KEYS = {"warn-unused-suppressions": "warn_unused_suppressions", "dynamic": "dynamic",
              "conventional-names": "conventional_names_enabled"}


def find_config_file(start: Path) -> Path | None:
    folder = start if start.is_dir() else start.parent
    for candidate_dir in (folder.resolve(), *folder.resolve().parents):
        for name in CONFIG_FILES:
            candidate = candidate_dir / name
            if not candidate.is_file():
                continue
            if name != "pyproject.toml":
                return candidate
            if "losslint" in _read_toml(candidate).get("tool", {}):
                return candidate
    return None


def _read_toml(path: Path) -> dict:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML: {error}") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror}") from None


def load(path: Path) -> Config:
    """Read and validate one config file (pyproject.toml's [tool.losslint], or losslint.toml)."""
    data = _read_toml(path)
    if path.name == "pyproject.toml":
        table = data.get("tool", {}).get("losslint", {})
        where = f"{path}: [tool.losslint]"
    else:
        table = data
        where = str(path)
    return from_table(table, where, root=path.parent.resolve(), source=path)


def from_table(table: Mapping, where: str, root: Path, source: Path | None = None) -> Config:
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where}: expected a table")
    values: dict = {}
    known = set(_LIST_KEYS) | {
        "per-file-ignores", "warn-unused-suppressions", "dynamic", "probe", "conventional-names",
        "extend-conventional-names",
    }
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    for key, attribute in _LIST_KEYS.items():
        if key in table:
            items = _string_list(table[key], f"{where}: `{key}`")
            if key in _CODE_KEYS:
                _check_selectors(items, f"{where}: `{key}`")
            values[attribute] = items
    if "per-file-ignores" in table:
        raw = table["per-file-ignores"]
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{where}: `per-file-ignores` must be a table of glob = [codes]")
        pfi = {}
        for pattern, codes in raw.items():
            items = _string_list(codes, f"{where}: `per-file-ignores.\"{pattern}\"`")
            _check_selectors(items, f"{where}: `per-file-ignores.\"{pattern}\"`")
            pfi[pattern] = items
        values["per_file_ignores"] = pfi
    for key, attribute in _BOOL_KEYS.items():
        if key in table:
            flag = table[key]
            if not isinstance(flag, bool):
                raise ConfigError(f"{where}: `{key}` must be true or false, got {flag!r}")
            values[attribute] = flag
    if "extend-conventional-names" in table:
        values["extend_conventional_names"] = _name_table(table["extend-conventional-names"], f"{where}: `extend-conventional-names`")
    if "probe" in table:
        values["probe"] = _probe_table(table["probe"], f"{where}.probe")
    return Config(root=root, source=source, **values)


_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


def _name_table(raw: object, where: str) -> dict[str, str]:
    """`{ T = "tensorflow", KB = "keras.backend" }`: Python names to dotted module paths."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} must be a table of name = \"dotted.module.path\"")
    table = {}
    for name, path in raw.items():
        if not name.isidentifier():
            raise ConfigError(f"{where}: {name!r} is not a Python name")
        if not isinstance(path, str) or not _DOTTED.fullmatch(path):
            raise ConfigError(f"{where}: `{name}` must be a dotted module path such as \"tensorflow\", got {path!r}")
        table[name] = path
    return table


# [tool.losslint.probe] key -> (type check, description)
_PROBE_KEYS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "timeout": ((int, float), "a number of seconds"),
    "max-memory": ((int, str), 'a size such as "4GiB" or a number of bytes'),
    "device": (str, '"cpu" or "gpu"'),
    "stub-data": (bool, "true or false"),
    "script-args": (list, "a list of strings"),
    "jobs": (int, "a whole number"),
}


def _probe_table(raw: object, where: str) -> dict[str, object]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a table")
    unknown = sorted(set(raw) - set(_PROBE_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(_PROBE_KEYS))})")
    for key, value in raw.items():
        kind, description = _PROBE_KEYS[key]
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            raise ConfigError(f"{where}: `{key}` must be {description}, got {value!r}")
    if "device" in raw and raw["device"] not in ("cpu", "gpu"):
        raise ConfigError(f"{where}: `device` must be \"cpu\" or \"gpu\", got {raw['device']!r}")
    if "max-memory" in raw:
        try:
            parse_size(raw["max-memory"])
        except ValueError as error:
            raise ConfigError(f"{where}: `max-memory`: {error}") from None
    if "script-args" in raw:
        _string_list(raw["script-args"], f"{where}: `script-args`")
    return dict(raw)


_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 2**10, "m": 10**6, "mb": 10**6, "mib": 2**20,
          "g": 10**9, "gb": 10**9, "gib": 2**30}


def parse_size(value: int | str) -> int:
    """Bytes from 4294967296, "4GiB", "512MiB", "4G", "500MB"."""
    if isinstance(value, int):
        return value
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", value)
    if not match or match[2].lower() not in _UNITS:
        raise ValueError(f"not a size: {value!r} (use e.g. 4GiB, 512MiB)")
    return int(float(match[1]) * _UNITS[match[2].lower()])


def _string_list(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} must be a list of strings, got {value!r}")
    return tuple(value)


def _check_selectors(selectors: Iterable[str], where: str) -> None:
    bad = []
    for selector in selectors:
        try:
            registry.expand(selector)
        except registry.UnknownSelector:
            bad.append(selector)
    if bad:
        raise ConfigError(f"{where}: unknown rule code(s) or name(s): {', '.join(bad)}")


def merged(base: Config, **overrides: object) -> Config:
    """CLI flags override the file: only the values actually given."""
    from dataclasses import replace

    given = {k: v for k, v in overrides.items() if v is not None}
    return replace(base, **given)
