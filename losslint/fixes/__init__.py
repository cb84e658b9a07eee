"""Safe, mechanical fixes (`losslint --fix` / `--diff`), one module per fix family.

`FIXERS` maps a rule code to its fix family, so the fix for a finding is found from its code:
LL104 -> batched_dot, LL106 -> removed_api, LL305 -> metric_reset. A family only ever rewrites
what is certainly equivalent (or, for LL104/LL305, certainly the intended behaviour), and
refuses everything else; see each module's docstring. The engine (`losslint.fixes.engine`)
applies them with one libcst transformer, so everything outside the rewritten nodes is kept
byte for byte.
"""

from __future__ import annotations

from losslint.fixes.base import Fix, Fixer
from losslint.fixes import batched_dot, metric_reset, removed_api

# In this order: when two fixes claim the same node, the first wins.
FIXERS: dict[str, Fixer] = {
    batched_dot.CODE: batched_dot.fixes,
    removed_api.CODE: removed_api.fixes,
    metric_reset.CODE: metric_reset.fixes,
}

__all__ = ["FIXERS", "Fix", "Fixer"]
