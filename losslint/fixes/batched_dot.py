"""LL104 fix: `K.dot(a, b)` on two batched tensors -> `tf.matmul(a, b)` (or `keras.ops.matmul`).

Only where LL104 itself fires (its check runs here: both operands visibly of rank >= 3), for
`K.dot` (any Keras backend) and `keras.ops.dot`: `dot` takes an outer product over every
leading axis, `matmul` treats them all as batch axes, which is the per-sample product meant.
Never `K.batch_dot`, which treats only axis 0 as a batch axis and is wrong on 4-D inputs too.

The replacement needs a name the file already binds, so no import is ever added: `tf.matmul`
when a name is bound to `tensorflow` where the call is (the user's alias), else `ops.matmul` /
`keras.ops.matmul` through an existing `keras.ops` / `keras` import (`keras.ops.dot` keeps its
own prefix). Otherwise the finding is left as it is. Refused too: `tensordot` and `np.dot`
(not the same contraction), and calls with keywords, `*args` or other than two arguments.
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from losslint.findings import Finding
from losslint.fixes.base import Fix, leftmost_name, module_alias, node_for, nodes_by_span, single_qualified_name
from losslint.rules import ll104_batched_dot as ll104
from losslint.static.context import FileContext

CODE = ll104.RULE.code
# Names that may stand for the replacement, best first: (module bound to a name, path below it).
_TARGETS = (("tensorflow", "matmul"), ("keras.ops", "matmul"), ("keras", "ops.matmul"))


def fixes(ctx: FileContext) -> Iterator[Fix]:
    findings = list(ll104.check(ctx))
    if not findings:
        return
    index = nodes_by_span(ctx, (cst.Call,))
    for finding in findings:
        call = node_for(index, finding, cst.Call)
        if isinstance(call, cst.Call):
            fix = _fix(ctx, finding, call)
            if fix is not None:
                yield fix


def _fix(ctx: FileContext, finding: Finding, call: cst.Call) -> Fix | None:
    if len(call.args) != 2 or any(a.keyword is not None or a.star for a in call.args):
        return None
    api = ctx.call_api(call)
    if api is None or api.family != "keras" or api.path not in ("backend.dot", "ops.dot"):
        return None
    func = call.func
    if api.path == "ops.dot" and isinstance(func, cst.Attribute) and single_qualified_name(ctx, func.value) == "keras.ops":
        new_func: cst.BaseExpression = func.with_changes(attr=func.attr.with_changes(value="matmul"))
    else:
        new_func = _matmul(ctx, call)
        if new_func is None:
            return None
        new_func = new_func.with_changes(lpar=func.lpar, rpar=func.rpar)
    return Fix(finding, call.func, lambda _updated: new_func)


def _matmul(ctx: FileContext, call: cst.Call) -> cst.BaseExpression | None:
    at = leftmost_name(call.func)
    found = module_alias(ctx, at, tuple(module for module, _ in _TARGETS)) if at is not None else None
    if found is None:
        return None
    name, module = found
    below = dict(_TARGETS)[module]
    out: cst.BaseExpression = cst.Name(name)
    for part in below.split("."):
        out = cst.Attribute(value=out, attr=cst.Name(part))
    return out
