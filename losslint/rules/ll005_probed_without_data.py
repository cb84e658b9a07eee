"""LL005 probed-without-data: reported by the dynamic pass (see rules/LL005-probed-without-data.md).

The script could not run here as written (no data file, no network, a module not installed),
but losslint went on past it with stand-ins and probed every model and loss on targets made
from the outputs' shapes. Information, not a problem in the code: it does not fail the run.
"""

from __future__ import annotations

from losslint.findings import Pass, Severity
from losslint.rule import Rule

RULE = Rule(
    code="LL005",
    name="probed-without-data",
    severity=Severity.INFO,
    passes=(Pass.DYNAMIC,),
    dynamic=True,
    summary="The data or a module was not there: the losses were probed on synthesised targets.",
)
