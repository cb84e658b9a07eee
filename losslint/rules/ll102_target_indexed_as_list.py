"""LL102 target-indexed-as-list: `y_true[0]` in a loss takes a sample, not an output (seed 002)."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from losslint.findings import Finding, Pass, Severity
from losslint.rule import Rule
from losslint.static.context import FileContext, code_of
from losslint.static.discovery import int_value


def check(ctx: FileContext) -> Iterator[Finding]:
    for loss in ctx.index.losses:
        for node in ctx.walk(loss.node.body):
            if not isinstance(node, cst.Subscript) or not isinstance(node.value, cst.Name):
                continue
            role = loss.tracked.get(node.value.value)
            if role is None or not node.slice:
                continue
            first = node.slice[0].slice
            if not isinstance(first, cst.Index):
                continue
            index = int_value(first.value)
            if index is None:
                continue
            yield ctx.finding(
                RULE,
                node,
                f"`{code_of(node)}` in loss `{loss.name}` indexes the {role} on the batch axis: "
                "Keras calls a loss with one tensor per output, never a list of outputs, so "
                f"this silently takes sample {index}, not output {index} (and fails on a last "
                "batch that is too small)",
                "give each output its own loss (a list or dict in compile) and weigh them with "
                "`loss_weights`",
                scope=loss.node,
                related=ctx.loss_related(loss),
            )


RULE = Rule(
    code="LL102",
    name="target-indexed-as-list",
    severity=Severity.ERROR,
    passes=(Pass.STATIC, Pass.DYNAMIC),
    dynamic=True,
    summary="`y_true[0]`/`y_pred[1]` in a loss takes a sample, not an output.",
    static_check=check,
)
