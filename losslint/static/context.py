"""Everything a static rule needs about one parsed file."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import libcst as cst
from libcst._metadata_dependent import LazyValue
from libcst.metadata import (
    CodeRange,
    MetadataWrapper,
    PositionProvider,
    QualifiedNameProvider,
    Scope,
    ScopeProvider,
)

from losslint.findings import Finding, RelatedLocation
from losslint.static.names import Api, parse_api

if TYPE_CHECKING:
    from losslint.rule import Rule
    from losslint.static.discovery import ProgramIndex


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


def code_of(node: cst.CSTNode, limit: int = 60) -> str:
    """The node's source text on one line, shortened for messages."""
    text = " ".join(cst.Module(body=[]).code_for_node(node).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass
class FileContext:
    path: str
    source: str
    module: cst.Module
    _wrapper: MetadataWrapper = field(repr=False)

    @classmethod
    def from_module(cls, path: str, source: str, module: cst.Module) -> FileContext:
        # unsafe_skip_copy: rules compare nodes by identity with the module they walk.
        return cls(path, source, module, MetadataWrapper(module, unsafe_skip_copy=True))

    @cached_property
    def positions(self) -> dict[cst.CSTNode, CodeRange]:
        return dict(self._wrapper.resolve(PositionProvider))

    @cached_property
    def parents(self) -> dict[cst.CSTNode, cst.CSTNode]:
        parents: dict[cst.CSTNode, cst.CSTNode] = {}
        stack: list[cst.CSTNode] = [self.module]
        while stack:
            node = stack.pop()
            for child in children(node):
                parents[child] = node
                stack.append(child)
        return parents

    @cached_property
    def scopes(self) -> dict[cst.CSTNode, Scope | None]:
        return dict(self._wrapper.resolve(ScopeProvider))

    @cached_property
    def _qualified_names(self) -> dict[cst.CSTNode, set]:
        return dict(self._wrapper.resolve(QualifiedNameProvider))

    @cached_property
    def index(self) -> ProgramIndex:
        from losslint.static.discovery import build_index

        return build_index(self)

    # Names and bindings -------------------------------------------------------------------

    def qualified_names(self, node: cst.CSTNode) -> set[str]:
        names = self._qualified_names.get(node, ())
        if isinstance(names, LazyValue):  # libcst computes qualified names on first access
            names = names()
            self._qualified_names[node] = names
        return {q.name for q in names}

    def api(self, node: cst.CSTNode) -> Api | None:
        """The TF/Keras/NumPy object a Name/Attribute refers to, through any import alias."""
        for name in sorted(self.qualified_names(node)):
            api = parse_api(name)
            if api is not None:
                return api
        return None

    def call_api(self, call: cst.Call) -> Api | None:
        return self.api(call.func)

    def bindings(self, name: cst.Name) -> list[cst.CSTNode]:
        """What a Name may refer to at its use site.

        Returns FunctionDef/ClassDef nodes, the value expression of a plain `name = value`
        assignment, or Param nodes; imports and anything more complex are left out.
        """
        scope = self.scopes.get(name)
        if scope is None:
            return []
        found: list[cst.CSTNode] = []
        for assignment in scope[name.value]:
            node = getattr(assignment, "node", None)
            if isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Param)):
                found.append(node)
            elif isinstance(node, cst.Name):
                value = self.assigned_value(node)
                if value is not None:
                    found.append(value)
        return found

    def binding_sites(self, name: cst.Name) -> list[cst.CSTNode]:
        """Every node that binds the name visible at this use: assignments of any shape
        (tuple unpacking, for targets, imports), parameters, defs."""
        scope = self.scopes.get(name)
        if scope is None:
            return []
        return [a.node for a in scope[name.value] if isinstance(getattr(a, "node", None), cst.CSTNode)]

    def assigned_value(self, target: cst.Name) -> cst.BaseExpression | None:
        """The value of `target = value` (also annotated and walrus assignments)."""
        parent = self.parents.get(target)
        if isinstance(parent, cst.AssignTarget):
            assign = self.parents.get(parent)
            if isinstance(assign, cst.Assign):
                return assign.value
        if isinstance(parent, cst.AnnAssign) and parent.target is target:
            return parent.value
        if isinstance(parent, cst.NamedExpr) and parent.target is target:
            return parent.value
        return None

    def is_within(self, node: cst.CSTNode, ancestor: cst.CSTNode) -> bool:
        current: cst.CSTNode | None = node
        while current is not None:
            if current is ancestor:
                return True
            current = self.parents.get(current)
        return False

    def enclosing(self, node: cst.CSTNode, kinds: tuple[type, ...]) -> cst.CSTNode | None:
        current = self.parents.get(node)
        while current is not None and not isinstance(current, kinds):
            current = self.parents.get(current)
        return current

    # Positions and findings ---------------------------------------------------------------

    def start(self, node: cst.CSTNode) -> tuple[int, int]:
        pos = self.positions[node].start
        return pos.line, pos.column + 1

    def related(self, node: cst.CSTNode, message: str) -> RelatedLocation:
        line, column = self.start(node)
        return RelatedLocation(self.path, line, column, message)

    def finding(
        self,
        rule: Rule,
        node: cst.CSTNode,
        message: str,
        fix: str,
        *,
        scope: cst.CSTNode | None = None,
        related: tuple[RelatedLocation, ...] = (),
    ) -> Finding:
        """A finding spanning `node`; `scope` is the loss/layer function it sits in."""
        span = self.positions[node]
        scope_line = None
        if isinstance(scope, cst.FunctionDef):
            scope_line = self.positions[scope.name].start.line
        return Finding(
            code=rule.code,
            name=rule.name,
            severity=rule.severity,
            path=self.path,
            line=span.start.line,
            column=span.start.column + 1,
            end_line=span.end.line,
            end_column=span.end.column + 1,
            message=message,
            fix=fix,
            related=related,
            scope_line=scope_line,
        )
