"""LL004 unused-suppression: a losslint suppression comment that suppresses nothing.

Off by default, like ruff's RUF100: `--warn-unused-suppressions` or selecting LL004 turns it on.
The check itself lives in losslint.suppression, which knows which comments were used.
"""

from __future__ import annotations

from losslint.findings import Pass, Severity
from losslint.rule import Rule

RULE = Rule(
    code="LL004",
    name="unused-suppression",
    severity=Severity.WARNING,
    passes=(Pass.STATIC,),
    built_in=True,
    summary="A `# noqa`/`# losslint: ignore[...]` code that suppressed nothing, or is unknown.",
    default_enabled=False,
)
