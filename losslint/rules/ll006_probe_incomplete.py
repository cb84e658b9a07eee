"""LL006 probe-incomplete: reported by the dynamic pass (see rules/LL006-probe-incomplete.md).

The script could not run here as written (no data file, no network, a module not installed)
and, without what was missing, the model or its losses could not be reached: the finding says
what was missing and how far the probe got.
"""

from __future__ import annotations

from losslint.findings import Pass, Severity
from losslint.rule import Rule

RULE = Rule(
    code="LL006",
    name="probe-incomplete",
    severity=Severity.WARNING,
    passes=(Pass.DYNAMIC,),
    dynamic=True,
    summary="The environment lacked what the script needs to build its model: the losses were not probed.",
)
