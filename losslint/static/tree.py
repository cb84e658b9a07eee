"""Fast walking of libcst trees: syntactic children without punctuation and whitespace."""

from __future__ import annotations

import dataclasses
import functools
import typing
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
_NEVER_NODES = (str, int, bool, type(None))
_SKIPPED_FIELDS = ("whitespace", "lpar", "rpar", "leading_lines", "lines_after")


def _may_hold_a_node(annotation: object) -> bool:
    """Whether a dataclass field of this type can hold a syntactic node: not a str, not a
    token (a Comma, a Dot, an operator), not a sequence or union of those."""
    args = typing.get_args(annotation)
    if args:
        return any(_may_hold_a_node(arg) for arg in args)
    if not isinstance(annotation, type):
        return True  # a forward reference or a type variable: look at the value
    if issubclass(annotation, _NEVER_NODES):
        return False
    return not issubclass(annotation, _TOKENS)


@functools.cache
def _child_fields(cls: type) -> tuple[str, ...]:
    """The fields of a libcst class that can hold syntactic children, in source order."""
    hints = typing.get_type_hints(cls)
    return tuple(
        f.name for f in dataclasses.fields(cls)
        if not f.name.startswith(_SKIPPED_FIELDS) and _may_hold_a_node(hints.get(f.name, object))
    )


@functools.cache
def _is_node(cls: type) -> bool:
    """A syntactic node, not a token: cached per class (isinstance on libcst's ABCs is slow)."""
    return issubclass(cls, cst.CSTNode) and not issubclass(cls, _TOKENS)


@functools.cache
def is_kind(cls: type, kinds: tuple[type, ...]) -> bool:
    """`issubclass(cls, kinds)`, cached: `isinstance` on libcst's ABCs is slow in hot loops."""
    return issubclass(cls, kinds)


def children(node: cst.CSTNode) -> list[cst.CSTNode]:
    """The node's syntactic children without punctuation and whitespace.

    Much faster than libcst's `node.children`, which re-visits the node to collect them.
    """
    out = []
    is_node = _is_node
    for name in _child_fields(type(node)):
        value = getattr(node, name)
        kind = type(value)
        if kind is tuple or kind is list:
            out.extend([item for item in value if is_node(type(item))])
        elif is_node(kind):
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
