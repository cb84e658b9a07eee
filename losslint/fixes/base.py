"""What a fix is, and the helpers the fix families share.

A fix replaces one node of the parsed module. `replace` receives the node as the transformer
sees it on leaving it (its children already rewritten by other fixes), so fixes on nested nodes
compose: `tf.to_float(tf.log(x))` gets both in one pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import libcst as cst

from losslint.findings import Finding
from losslint.static.context import FileContext
from losslint.static.scopes import Binding

Span = tuple[int, int, int, int]


@dataclass(frozen=True)
class Fix:
    """Replace `node` (a node of `ctx.module`) by `replace(node as rewritten so far)`."""

    finding: Finding  # the finding the fix removes (the rule's own, or built by the fix family)
    node: cst.CSTNode
    replace: Callable[[cst.CSTNode], cst.CSTNode]


# A fix family: the safe fixes for one rule code in one file. The engine drops the fixes whose
# finding is not selected or is suppressed.
Fixer = Callable[[FileContext], Iterator[Fix]]


def span_of(finding: Finding) -> Span:
    return (finding.line, finding.column, finding.end_line, finding.end_column)


def nodes_by_span(ctx: FileContext, kinds: tuple[type, ...]) -> dict[Span, list[cst.CSTNode]]:
    """Nodes of these kinds by the span a finding on them would have."""
    out: dict[Span, list[cst.CSTNode]] = {}
    for node, rng in ctx.positions.items():
        if isinstance(node, kinds):
            key = (rng.start.line, rng.start.column + 1, rng.end.line, rng.end.column + 1)
            out.setdefault(key, []).append(node)
    return out


def node_for(index: dict[Span, list[cst.CSTNode]], finding: Finding, kind: type) -> cst.CSTNode | None:
    """The one node of `kind` a finding spans, else None (none, or ambiguous)."""
    found = [n for n in index.get(span_of(finding), ()) if isinstance(n, kind)]
    return found[0] if len(found) == 1 else None


def single_qualified_name(ctx: FileContext, node: cst.CSTNode) -> str | None:
    """The qualified name of a Name/Attribute when it has exactly one (no other binding of the
    name can reach this use), else None."""
    names = ctx.qualified_names(node)
    return next(iter(names)) if len(names) == 1 else None


def is_store(ctx: FileContext, node: cst.CSTNode) -> bool:
    """The expression is assigned to or deleted (`tf.log = f`, `del tf.log`, `for tf.log in`),
    possibly inside a tuple/list target: renaming it would change what is bound."""
    current = node
    parent = ctx.parent(current)
    while isinstance(parent, (cst.Element, cst.StarredElement, cst.Tuple, cst.List)):
        current, parent = parent, ctx.parent(parent)
    if isinstance(parent, (cst.AssignTarget, cst.Del)):
        return True
    if isinstance(parent, (cst.AnnAssign, cst.AugAssign)) and parent.target is current:
        return True
    if isinstance(parent, (cst.For, cst.CompFor)) and parent.target is current:
        return True
    if isinstance(parent, cst.AsName):  # `with ... as tf.log`, `except ... as`
        return True
    return isinstance(parent, cst.NamedExpr) and parent.target is current


def attribute_chain(node: cst.BaseExpression) -> list[cst.BaseExpression]:
    """`a.b.c` -> [a.b.c, a.b, a]: the node and every prefix of its attribute chain."""
    chain = [node]
    while isinstance(chain[-1], cst.Attribute):
        chain.append(chain[-1].value)
    return chain


def descend(node: cst.BaseExpression, depth: int) -> cst.BaseExpression:
    """The prefix `depth` attribute hops below `node` (in a rewritten copy of the chain)."""
    for _ in range(depth):
        assert isinstance(node, cst.Attribute)
        node = node.value
    return node


def extend(base: cst.BaseExpression, dotted_path: str, dot: cst.Dot | None = None) -> cst.BaseExpression:
    """`base` followed by `.part` for every part of `dotted_path`; the first dot may be the
    user's own (with its spacing)."""
    out = base
    for i, part in enumerate(dotted_path.split(".")):
        out = cst.Attribute(value=out, attr=cst.Name(part), dot=dot if i == 0 and dot is not None else cst.Dot())
    return out


def leftmost_name(node: cst.BaseExpression) -> cst.Name | None:
    """`a` in `a.b.c`, else None."""
    while isinstance(node, cst.Attribute):
        node = node.value
    return node if isinstance(node, cst.Name) else None


def module_alias(ctx: FileContext, at: cst.Name, modules: tuple[str, ...]) -> tuple[str, str] | None:
    """(name, module): a name certainly bound to one of `modules` by the user's own imports
    where the Name `at` is used, in the order of `modules`; None when there is none.

    Every binding of the name in the scope it resolves to from `at` must be an import of that
    module: a parameter, an assignment or another import under the same name rules it out.
    """
    scope = ctx.names.scope_of.get(at)
    visible: dict[str, list[Binding]] = {}
    first = True
    while scope is not None:  # Python's lookup: a class body is not visible from inner functions
        if first or not scope.is_class:
            for name, bindings in scope.names.items():
                visible.setdefault(name, bindings)
        first = False
        scope = scope.parent
    for wanted in modules:
        for name in sorted(visible):
            bindings = visible[name]
            if bindings and all(isinstance(b.node, cst.ImportAlias) and b.qualified == wanted for b in bindings):
                return name, wanted
    return None
