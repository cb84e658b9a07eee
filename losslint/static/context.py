"""Everything a static rule needs about one parsed file."""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, TypeVar

import libcst as cst
from libcst.metadata import CodePosition, CodeRange, MetadataWrapper, PositionProvider

from losslint.findings import Finding, RelatedLocation
from losslint.static.names import Api, parse_api
from losslint.static.scopes import ScopeIndex

if TYPE_CHECKING:
    from losslint.rule import Rule
    from losslint.static.discovery import ProgramIndex


from losslint.static.tree import children, dotted, is_kind as _is_kind, walk  # noqa: F401 - re-exported for the rules

N = TypeVar("N", bound=cst.CSTNode)


def code_of(node: cst.CSTNode, limit: int = 60) -> str:
    """The node's source text on one line, shortened for messages."""
    text = " ".join(cst.Module(body=[]).code_for_node(node).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


_UNRESOLVED = object()


@dataclass
class _Tree:
    nodes: list[cst.CSTNode]
    # Keyed by id(node): libcst nodes hash by identity through a Python-level __hash__, which
    # costs a function call per lookup in the hottest loops.
    parents: dict[int, cst.CSTNode]
    children: dict[int, list[cst.CSTNode]]
    by_type: dict[type, list[cst.CSTNode]]


@dataclass
class FileContext:
    path: str
    source: str
    module: cst.Module
    _wrapper: MetadataWrapper = field(repr=False)
    # Names the file binds nowhere that stand for their conventional import (`tf`, `K`):
    # Config.conventional_names(), empty when that is off.
    conventional: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_module(
        cls, path: str, source: str, module: cst.Module, conventional: Mapping[str, str] | None = None,
    ) -> FileContext:
        # unsafe_skip_copy: rules compare nodes by identity with the module they walk.
        return cls(path, source, module, MetadataWrapper(module, unsafe_skip_copy=True), conventional or {})

    @cached_property
    def positions(self) -> dict[cst.CSTNode, CodeRange]:
        """Every node's range: a code generation of the whole module (the fixes need them all;
        a finding needs `span`)."""
        return dict(self._wrapper.resolve(PositionProvider))

    def span(self, node: cst.CSTNode) -> CodeRange:
        """The node's range, from a code generation of its top-level statement alone (shifted to
        where CPython's parser puts that statement), not of the whole module: a finding in a
        500-line file costs the statement that holds it."""
        top = node
        while (up := self._tree.parents.get(id(top))) is not None and up is not self.module:
            top = up
        index = self._top_index.get(id(top))
        if index is None:  # the module itself, or a node outside any statement
            return self.positions[node]
        positions, shift = self._statement_positions(index)
        found = positions[node]
        if not shift:
            return found
        return CodeRange(
            CodePosition(found.start.line + shift, found.start.column),
            CodePosition(found.end.line + shift, found.end.column),
        )

    @cached_property
    def _top_index(self) -> dict[int, int]:
        return {id(statement): i for i, statement in enumerate(self.module.body)}

    @cached_property
    def _statement_lines(self) -> list[int]:
        """The first line of each top-level statement of the module, by CPython's parser: a
        `a = 1; b = 2` line is one libcst statement and two of CPython's."""
        tree = ast.parse(self.source)
        starts = [s.lineno for s in tree.body]  # of `def`/`class`, below decorators, as libcst's range
        lines, at = [], 0
        for statement in self.module.body:
            lines.append(starts[at])
            at += len(statement.body) if isinstance(statement, cst.SimpleStatementLine) else 1
        return lines

    def _statement_positions(self, index: int) -> tuple[Mapping[cst.CSTNode, CodeRange], int]:
        """The positions within one top-level statement, and the lines to add to them."""
        found = self._statements.get(index)
        if found is None:
            statement = self.module.body[index]
            alone = self.module.with_changes(header=(), body=(statement,), footer=())
            positions = MetadataWrapper(alone, unsafe_skip_copy=True).resolve(PositionProvider)
            found = self._statements[index] = (positions, self._statement_lines[index] - positions[statement].start.line)
        return found

    @cached_property
    def _tree(self) -> _Tree:
        """Every syntactic node in source order, each one's parent and children, and the nodes
        by class, in one walk."""
        nodes: list[cst.CSTNode] = []
        parents: dict[int, cst.CSTNode] = {}
        kids_of: dict[int, list[cst.CSTNode]] = {}
        by_type: defaultdict[type, list[cst.CSTNode]] = defaultdict(list)
        stack: list[cst.CSTNode] = [self.module]
        while stack:
            node = stack.pop()
            nodes.append(node)
            by_type[type(node)].append(node)
            kids = kids_of[id(node)] = children(node)
            if kids:
                for child in kids:
                    parents[id(child)] = node
                stack.extend(reversed(kids))
        return _Tree(nodes, parents, kids_of, dict(by_type))

    @property
    def nodes(self) -> list[cst.CSTNode]:
        """The whole module's nodes, pre-order (what `walk(ctx.module)` yields), computed once."""
        return self._tree.nodes

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        """The node's syntactic parent (None for the module, or a node outside it)."""
        return self._tree.parents.get(id(node))

    def children(self, node: cst.CSTNode) -> list[cst.CSTNode]:
        """The node's syntactic children, computed once for the module."""
        found = self._tree.children.get(id(node))
        return found if found is not None else children(node)

    @cached_property
    def _order(self) -> dict[int, int]:
        return {id(node): i for i, node in enumerate(self._tree.nodes)}

    def order(self, node: cst.CSTNode) -> int:
        """The node's place in source order (pre-order: a node comes before what it holds).
        Comparing these is what comparing positions would tell, without computing positions,
        which costs a code generation of the whole module."""
        return self._order[id(node)]

    def walk(self, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
        """`walk(node)` through the children computed once for the module."""
        kids = self._tree.children
        stack = [node]
        while stack:
            current = stack.pop()
            yield current
            found = kids.get(id(current))
            stack.extend(reversed(found if found is not None else children(current)))

    def of_type(self, cls: type[N]) -> list[N]:
        """The module's nodes of exactly this (concrete) class, in source order: much faster than
        `isinstance` over `nodes`, as every libcst class is an ABC."""
        return self._tree.by_type.get(cls, [])  # type: ignore[return-value]

    @cached_property
    def names(self) -> ScopeIndex:
        return ScopeIndex(self.module, self.children, self.conventional)

    # The losses, models and compile calls of the file (and the uses of its names by other
    # files of the run): set by losslint.static.discovery.file_context, which builds them.
    index: ProgramIndex = field(init=False, repr=False)
    _apis: dict[int, Api | None] = field(default_factory=dict, init=False, repr=False)
    _statements: dict[int, tuple[Mapping[cst.CSTNode, CodeRange], int]] = field(default_factory=dict, init=False, repr=False)

    def loss_related(self, loss: object, message: str = "loss given to compile here") -> tuple[RelatedLocation, ...]:
        """The compile calls that use a loss: in this file, and in files that import it."""
        local = tuple(self.related(call, message) for call in getattr(loss, "compile_calls", ()))
        return local + tuple(getattr(loss, "external_calls", ()))

    # Names and bindings -------------------------------------------------------------------

    def qualified_names(self, node: cst.CSTNode) -> set[str]:
        return self.names.qualified_names(node)

    def api(self, node: cst.CSTNode) -> Api | None:
        """The TF/Keras/NumPy object a Name/Attribute refers to, through any import alias
        (asked of the same node by discovery and by several rules: resolved once)."""
        key = id(node)
        known = self._apis.get(key, _UNRESOLVED)
        if known is not _UNRESOLVED:
            return known  # type: ignore[return-value]
        found = None
        for name in sorted(self.qualified_names(node)):
            found = parse_api(name)
            if found is not None:
                break
        self._apis[key] = found
        return found

    def call_api(self, call: cst.Call) -> Api | None:
        return self.api(call.func)

    def bindings(self, name: cst.Name) -> list[cst.CSTNode]:
        """What a Name may refer to at its use site.

        Returns FunctionDef/ClassDef nodes, the value expression of a plain `name = value`
        assignment, or Param nodes; imports and anything more complex are left out.
        """
        found: list[cst.CSTNode] = []
        for binding in self.names.lookup(name):
            if isinstance(binding.node, (cst.FunctionDef, cst.ClassDef, cst.Param)):
                found.append(binding.node)
            elif binding.value is not None:
                found.append(binding.value)
        return found

    def binding_sites(self, name: cst.Name) -> list[cst.CSTNode]:
        """Every node that binds the name visible at this use: assignments of any shape
        (tuple unpacking, for targets, imports), parameters, defs."""
        return [binding.node for binding in self.names.lookup(name)]

    def is_within(self, node: cst.CSTNode, ancestor: cst.CSTNode) -> bool:
        current: cst.CSTNode | None = node
        while current is not None:
            if current is ancestor:
                return True
            current = self._tree.parents.get(id(current))
        return False

    def enclosing(self, node: cst.CSTNode, kinds: tuple[type, ...]) -> cst.CSTNode | None:
        parents = self._tree.parents
        current = parents.get(id(node))
        while current is not None and not _is_kind(type(current), kinds):
            current = parents.get(id(current))
        return current

    # Positions and findings ---------------------------------------------------------------

    def start(self, node: cst.CSTNode) -> tuple[int, int]:
        pos = self.span(node).start
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
        """A finding spanning `node`; `scope` is the loss/layer function or the compile call it
        sits in."""
        span = self.span(node)
        scope_line = None
        if isinstance(scope, cst.FunctionDef):
            scope_line = self.span(scope.name).start.line
        elif isinstance(scope, cst.Call):
            scope_line = self.span(scope).start.line
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
