"""What a rule is: its catalogue entry and, where it has one, its static check."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from losslint.findings import Pass, Severity

if TYPE_CHECKING:
    from losslint.findings import Finding
    from losslint.static.context import FileContext

StaticCheck = Callable[["FileContext"], Iterator["Finding"]]


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    severity: Severity
    passes: tuple[Pass, ...]
    summary: str
    # The static check; None while the rule is only found by the dynamic pass (or not yet).
    static_check: StaticCheck | None = None
    # Rules off unless asked for by code or by their own flag (like ruff's RUF100).
    default_enabled: bool = True
    # Reported by the linter itself rather than by a check (LL001 when a file does not parse,
    # LL004 from the suppression comments).
    built_in: bool = False
    # The dynamic pass reports it (its checks live in losslint/dynamic/).
    dynamic: bool = False

    @property
    def static_implemented(self) -> bool:
        return self.static_check is not None or self.built_in

    @property
    def status(self) -> str:
        """What is implemented, per pass: the `status` column of the rule pages."""
        parts = []
        if Pass.STATIC in self.passes:
            parts.append(f"static: {'implemented' if self.static_implemented else 'not yet implemented'}")
        if Pass.DYNAMIC in self.passes:
            parts.append(f"dynamic: {'implemented' if self.dynamic else 'not yet implemented'}")
        return "; ".join(parts)

    @property
    def page_name(self) -> str:
        return f"{self.code}-{self.name}.md"

    @property
    def passes_label(self) -> str:
        return ", ".join(p.value for p in self.passes)
