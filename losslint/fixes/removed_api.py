"""LL106 fixes: removed TF1/Keras 2 names with a one-to-one replacement.

Only where LL106 itself reports the name (its check runs here), and only for the entries below
whose equivalence was checked against tensorflow-cpu 2.21 (`tf.compat.v1.<old>` against the
replacement; see each table). The replacements are read from LL106's own table, `_TF_REMOVED`.

The user's alias is kept: with `import tensorflow as T`, `T.log(x)` becomes `T.math.log(x)`;
with `from tensorflow import nn`, `nn.softmax_cross_entropy_with_logits_v2` keeps `nn.`.
Refused: a name imported by itself (`from tensorflow import log`: the import would have to
change too), a name another binding may shadow, an assignment or `del` target, and any call
whose arguments the new signature would read differently.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst

from losslint.findings import Finding
from losslint.fixes.base import (
    Fix,
    attribute_chain,
    descend,
    extend,
    is_store,
    node_for,
    nodes_by_span,
    single_qualified_name,
)
from losslint.rules import ll106_removed_api as ll106
from losslint.static.context import FileContext

CODE = ll106.RULE.code

# `tf.compat.v1.<old> is tf.<new>` in TF 2.21: the same function object, so every use (call,
# reference, any arguments) is the same after the rename.
_SAME_FUNCTION = frozenset(
    {
        "log", "log1p", "log_sigmoid", "matrix_band_part", "random_normal", "random_uniform",
        "truncated_normal", "matrix_transpose", "matrix_inverse", "squared_difference", "is_nan",
    }
)


@dataclass(frozen=True)
class _Signature:
    """How a call of the old function maps onto the new one (fixed only in call position)."""

    renames: dict[str, str]  # old keyword -> new keyword
    params: tuple[str, ...]  # the new function's parameters, which the old one takes in this order
    required: tuple[tuple[str, ...], ...] = ()  # old required parameters, by their keyword names


# Different functions with compatible signatures (TF 2.21, tf.compat.v1 vs the replacement):
# arg_max(input, dimension, output_type, name) vs math.argmax(input, axis=None, ...): a call
# without `dimension` failed before and would silently reduce axis 0 after, so it is refused.
# count_nonzero(input_tensor, axis, keepdims, dtype, name, reduction_indices, keep_dims, input)
# vs math.count_nonzero(input, axis, keepdims, dtype, name).
# nn.softmax_cross_entropy_with_logits_v2(labels, logits, axis=None (-1), name, dim) vs
# nn.softmax_cross_entropy_with_logits(labels, logits, axis=-1, name).
_ARG_MAX = _Signature({"dimension": "axis"}, ("input", "axis", "output_type", "name"), (("input",), ("dimension", "axis")))
_SIGNATURES = {
    "arg_max": _ARG_MAX,
    "arg_min": _ARG_MAX,
    "count_nonzero": _Signature(
        {"input_tensor": "input", "reduction_indices": "axis", "keep_dims": "keepdims"},
        ("input", "axis", "keepdims", "dtype", "name"), (("input_tensor", "input"),),
    ),
    "nn.softmax_cross_entropy_with_logits_v2": _Signature(
        {"dim": "axis"}, ("labels", "logits", "axis", "name"), (("labels",), ("logits",)),
    ),
}
# to_float(x, name) -> cast(x, dtype, name): the dtype goes in as the second argument. Only the
# op's default graph name differs ("ToFloat" vs "Cast").
_CASTS = frozenset({"to_float", "to_double", "to_int32", "to_int64"})
_CAST_SIGNATURE = _Signature({}, ("x", "name"), (("x",),))

_DOTTED = re.compile(r"tf\.([A-Za-z_][\w.]*)")
_CAST = re.compile(r"tf\.cast\(x, tf\.(\w+)\)")


def _replacements() -> dict[str, tuple[str, str]]:
    """old path -> (kind, new path or dtype), from LL106's table."""
    out: dict[str, tuple[str, str]] = {}
    for old, replacement in ll106._TF_REMOVED.items():
        if old in _CASTS:
            match = _CAST.fullmatch(replacement)
            if match:
                out[old] = ("cast", match.group(1))
            continue
        match = _DOTTED.fullmatch(replacement)
        if match is None:
            continue
        if old in _SAME_FUNCTION:
            out[old] = ("rename", match.group(1))
        elif old in _SIGNATURES:
            out[old] = ("call", match.group(1))
    return out


_REPLACEMENTS = _replacements()
_OPTIMIZERS_WITH_LEARNING_RATE = ll106._OPTIMIZERS - {"LossScaleOptimizer"}  # it takes no learning rate
_FIT_POSITIONAL_BEFORE_EPOCHS = 3  # fit(x, y, batch_size, epochs, ...)


def fixes(ctx: FileContext) -> Iterator[Fix]:
    findings = list(ll106.check(ctx))
    if not findings:
        return
    index = nodes_by_span(ctx, (cst.Attribute, cst.Arg))
    for finding in findings:
        attribute = node_for(index, finding, cst.Attribute)
        if attribute is not None:
            fix = _reference_fix(ctx, finding, attribute)
        else:
            arg = node_for(index, finding, cst.Arg)
            fix = _keyword_fix(ctx, finding, arg) if isinstance(arg, cst.Arg) else None
        if fix is not None:
            yield fix


# tf.X references --------------------------------------------------------------------------------


def _reference_fix(ctx: FileContext, finding: Finding, node: cst.Attribute) -> Fix | None:
    qualified = single_qualified_name(ctx, node)
    if qualified is None or not qualified.startswith("tensorflow."):
        return None
    old = qualified[len("tensorflow.") :]
    entry = _REPLACEMENTS.get(old)
    if entry is None or is_store(ctx, node):
        return None
    kind, new = entry
    if kind == "cast":
        return _cast_fix(ctx, finding, node, old, new)
    found = _rebase(ctx, node, old, new)
    if found is None:
        return None
    depth, suffix = found
    if kind == "rename":
        return Fix(finding, node, lambda updated: _renamed(updated, depth, suffix))
    call = _called(ctx, node)
    signature = _SIGNATURES[old]
    if call is None or not _fits(call, signature):
        return None

    def replace(updated: cst.CSTNode) -> cst.CSTNode:
        assert isinstance(updated, cst.Call)
        args = [_rename_keyword(a, signature.renames) for a in updated.args]
        return updated.with_changes(func=_renamed(updated.func, depth, suffix), args=args)

    return Fix(finding, call, replace)


def _rebase(ctx: FileContext, node: cst.Attribute, old: str, new: str) -> tuple[int, str] | None:
    """(depth, suffix): the outermost prefix of the user's chain (`depth` hops down) that is a
    tensorflow module the new path also lives in, and the rest of the new path below it."""
    chain = attribute_chain(node)
    for depth in range(1, len(chain)):
        prefix = chain[depth]
        qualified = single_qualified_name(ctx, prefix)
        if qualified is None:
            continue
        if qualified == "tensorflow":
            module = ""
        elif qualified.startswith("tensorflow."):
            module = qualified[len("tensorflow.") :]
        else:
            continue
        below = ".".join(n.attr.value for n in reversed(chain[:depth]))  # type: ignore[attr-defined]
        if (f"{module}.{below}" if module else below) != old:
            continue
        if not module:
            return depth, new
        if new.startswith(module + "."):
            return depth, new[len(module) + 1 :]
    return None


def _renamed(updated: cst.CSTNode, depth: int, suffix: str) -> cst.BaseExpression:
    assert isinstance(updated, cst.Attribute)
    base = descend(updated, depth)
    first = descend(updated, depth - 1)
    assert isinstance(first, cst.Attribute)
    return extend(base, suffix, first.dot).with_changes(lpar=updated.lpar, rpar=updated.rpar)


def _called(ctx: FileContext, node: cst.BaseExpression) -> cst.Call | None:
    parent = ctx.parent(node)
    return parent if isinstance(parent, cst.Call) and parent.func is node else None


def _fits(call: cst.Call, signature: _Signature) -> bool:
    """The call's arguments mean the same to the new function once the keywords are renamed."""
    if any(a.star for a in call.args):
        return False
    positional = sum(1 for a in call.args if a.keyword is None)
    if positional > len(signature.params):
        return False
    old_keywords = [a.keyword.value for a in call.args if a.keyword is not None]
    new_keywords = [signature.renames.get(k, k) for k in old_keywords]
    if len(set(new_keywords)) != len(new_keywords) or not set(new_keywords) <= set(signature.params[positional:]):
        return False  # unknown, given twice, or also given positionally
    for position, names in enumerate(signature.required):
        if position >= positional and not set(names) & set(old_keywords):
            return False
    return True


def _rename_keyword(arg: cst.Arg, renames: dict[str, str]) -> cst.Arg:
    if arg.keyword is not None and arg.keyword.value in renames:
        return arg.with_changes(keyword=arg.keyword.with_changes(value=renames[arg.keyword.value]))
    return arg


def _cast_fix(ctx: FileContext, finding: Finding, node: cst.Attribute, old: str, dtype: str) -> Fix | None:
    """`T.to_float(x)` -> `T.cast(x, T.float32)`, with the user's alias `T` for both."""
    if not isinstance(node.value, cst.Name) or single_qualified_name(ctx, node.value) != "tensorflow":
        return None
    call = _called(ctx, node)
    if call is None or not _fits(call, _CAST_SIGNATURE):
        return None
    alias = node.value.value

    def replace(updated: cst.CSTNode) -> cst.CSTNode:
        assert isinstance(updated, cst.Call)
        args = list(updated.args)
        x = next(i for i, a in enumerate(args) if a.keyword is None or a.keyword.value == "x")
        value = cst.Attribute(value=cst.Name(alias), attr=cst.Name(dtype))
        if args[x].keyword is None:
            added = cst.Arg(value=value, comma=args[x].comma)
        else:
            added = cst.Arg(
                value=value, keyword=cst.Name("dtype"), comma=args[x].comma,
                equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")),
            )
        args[x : x + 1] = [args[x].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))), added]
        return updated.with_changes(func=_renamed(updated.func, 1, "cast"), args=args)

    return Fix(finding, call, replace)


# Keyword arguments: Adam(lr=...), fit(nb_epoch=...) --------------------------------------------


def _keyword_fix(ctx: FileContext, finding: Finding, arg: cst.Arg) -> Fix | None:
    call = ctx.parent(arg)
    if arg.keyword is None or not isinstance(call, cst.Call) or any(a.star for a in call.args):
        return None
    keywords = {a.keyword.value for a in call.args if a.keyword is not None}
    positional = sum(1 for a in call.args if a.keyword is None)
    old = arg.keyword.value
    if old == "lr":
        api = ctx.call_api(call)
        if (
            api is None or api.family != "keras" or not api.path.startswith("optimizers.")
            or api.leaf not in _OPTIMIZERS_WITH_LEARNING_RATE or positional or "learning_rate" in keywords
        ):
            return None
        new = "learning_rate"
    elif old == "nb_epoch":
        # LL106 has checked the receiver is a model; only fit() ever meant epochs by it.
        if not isinstance(call.func, cst.Attribute) or call.func.attr.value != "fit":
            return None
        if "epochs" in keywords or positional > _FIT_POSITIONAL_BEFORE_EPOCHS:
            return None
        new = "epochs"
    else:
        return None

    def replace(updated: cst.CSTNode) -> cst.CSTNode:
        assert isinstance(updated, cst.Arg) and updated.keyword is not None
        return updated.with_changes(keyword=updated.keyword.with_changes(value=new))

    return Fix(finding, arg, replace)
