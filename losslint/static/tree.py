"""Fast walking of libcst trees: syntactic children without punctuation and whitespace."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator

import libcst as cst

# Punctuation and whitespace: never what a rule looks for, and most of the tree.
_TOKENS = (
    cst.BaseParenthesizableWhitespace, cst.Comma, cst.Dot, cst.Semicolon, cst.Colon,
    cst.AssignEqual, cst.LeftParen, cst.RightParen, cst.LeftSquareBracket, cst.RightSquareBracket,
    cst.LeftCurlyBrace, cst.RightCurlyBrace, cst.EmptyLine, cst.TrailingWhitespace, cst.Newline,
    cst.Comment, cst.BaseBinaryOp, cst.BaseUnaryOp, cst.BaseBooleanOp, cst.BaseCompOp,
    cst.BaseAugOp, cst.Asynchronous,
)
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}


def _child_fields(cls: type) -> tuple[str, ...]:
    names = _CHILD_FIELDS.get(cls)
    if names is None:
        names = tuple(
            f.name for f in dataclasses.fields(cls)
            if not f.name.startswith(("whitespace", "lpar", "rpar", "leading_lines", "lines_after"))
        )
        _CHILD_FIELDS[cls] = names
    return names


_IS_NODE: dict[type, bool] = {}


def _is_node(cls: type) -> bool:
    """A syntactic node, not a token: cached per class (isinstance on libcst's ABCs is slow)."""
    known = _IS_NODE.get(cls)
    if known is None:
        known = _IS_NODE[cls] = issubclass(cls, cst.CSTNode) and not issubclass(cls, _TOKENS)
    return known


@functools.cache
def is_kind(cls: type, kinds: tuple[type, ...]) -> bool:
    """`issubclass(cls, kinds)`, cached: `isinstance` on libcst's ABCs is slow in hot loops."""
    return issubclass(cls, kinds)


def children(node: cst.CSTNode) -> list[cst.CSTNode]:
    """The node's syntactic children without punctuation and whitespace.

    Much faster than libcst's `node.children`, which re-visits the node to collect them.
    """
    out = []
    for name in _child_fields(type(node)):
        value = getattr(node, name)
        if type(value) in (tuple, list):
            out.extend(item for item in value if _is_node(type(item)))
        elif _is_node(type(value)):
            out.append(value)
    return out


def walk(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """Pre-order walk of a subtree, in source order."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children(current)))


def dotted(node: cst.BaseExpression) -> str | None:
    """`a.b.c` for a Name/Attribute chain, else None."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted(node.value)
        return None if base is None else f"{base}.{node.attr.value}"
    return None
