"""Name resolution for the static pass: which imports, definitions and assignments a name refers
to, in one pass over the tree.

libcst's ScopeProvider and QualifiedNameProvider do this in general, but cost ~80% of the static
pass on real files (measured on keras-hub: 10.1 s of 12.7 s for 60 files). losslint only needs
Python's lexical scoping of module, function, lambda and class bodies, import aliases, and the
value of plain `name = value` assignments, which this module computes in a single walk.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import libcst as cst

from losslint.static.tree import children, dotted


@dataclass
class Binding:
    node: cst.CSTNode  # FunctionDef, ClassDef, Param, the Name target, or the ImportAlias
    value: cst.BaseExpression | None = None  # for `name = value`
    qualified: str | None = None  # for imports: the dotted module path the name stands for


@dataclass
class Scope:
    owner: cst.CSTNode
    parent: Scope | None
    is_class: bool = False
    names: dict[str, list[Binding]] = field(default_factory=dict)

    def bind(self, name: str, binding: Binding) -> None:
        self.names.setdefault(name, []).append(binding)


def _target_names(target: cst.BaseExpression) -> list[cst.Name]:
    if isinstance(target, cst.Name):
        return [target]
    if isinstance(target, (cst.Tuple, cst.List)):
        return [n for element in target.elements for n in _target_names(element.value)]
    if isinstance(target, cst.StarredElement):
        return _target_names(target.value)
    return []


class ScopeIndex:
    """Every Name's scope, and every scope's bindings."""

    def __init__(
        self,
        module: cst.Module,
        children_of: Callable[[cst.CSTNode], list[cst.CSTNode]] = children,
        conventional: Mapping[str, str] | None = None,
    ) -> None:
        self.scope_of: dict[cst.Name, Scope] = {}
        self.star_imports: list[str] = []  # modules of `from module import *`
        # Names read as their conventional import where the file binds them nowhere (`tf`,
        # `K`, `Dense`: losslint.static.names.conventional_names), and every name the file
        # binds in any scope, which is never read so.
        self.conventional: Mapping[str, str] = conventional or {}
        self._scopes: list[Scope] = []
        root = self._new_scope(module, None)
        stack: list[tuple[cst.CSTNode, Scope]] = [(module, root)]
        while stack:
            node, scope = stack.pop()
            kind = type(node)
            if kind is cst.Name:
                self.scope_of[node] = scope
                continue  # a Name has no syntactic children
            if kind in _BINDERS:
                inner = self._enter(node, scope)
                if inner is not None:
                    stack.extend(inner)
                    continue
            stack.extend((child, scope) for child in children_of(node))
        self.bound_anywhere: frozenset[str] = frozenset(name for scope in self._scopes for name in scope.names)
        del self._scopes

    def _new_scope(self, owner: cst.CSTNode, parent: Scope | None, is_class: bool = False) -> Scope:
        scope = Scope(owner, parent, is_class)
        self._scopes.append(scope)
        return scope

    def _enter(self, node: cst.CSTNode, scope: Scope) -> list[tuple[cst.CSTNode, Scope]] | None:
        """Bind what `node` binds; the children to visit with their scopes, or None for the
        default (every child in the same scope)."""
        if isinstance(node, cst.FunctionDef):
            scope.bind(node.name.value, Binding(node))
            self.scope_of[node.name] = scope
            inner = self._new_scope(node, scope)
            outer = [(d, scope) for d in node.decorators]
            outer += [(p.default, scope) for p in _params(node.params) if p.default is not None]
            outer += [(p.annotation, scope) for p in _params(node.params) if p.annotation is not None]
            if node.returns is not None:
                outer.append((node.returns, scope))
            for param in _params(node.params):
                inner.bind(param.name.value, Binding(param))
                self.scope_of[param.name] = inner
            return outer + [(node.body, inner)]
        if isinstance(node, cst.Lambda):
            inner = self._new_scope(node, scope)
            outer = [(p.default, scope) for p in _params(node.params) if p.default is not None]
            for param in _params(node.params):
                inner.bind(param.name.value, Binding(param))
                self.scope_of[param.name] = inner
            return outer + [(node.body, inner)]
        if isinstance(node, cst.ClassDef):
            scope.bind(node.name.value, Binding(node))
            self.scope_of[node.name] = scope
            inner = self._new_scope(node, scope, is_class=True)
            outer = [(d, scope) for d in node.decorators] + [(a, scope) for a in (*node.bases, *node.keywords)]
            return outer + [(node.body, inner)]
        if isinstance(node, cst.Import):
            for alias in node.names:
                full = dotted(alias.name) or ""
                if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                    scope.bind(alias.asname.name.value, Binding(alias, qualified=full))
                else:
                    top = full.split(".")[0]
                    scope.bind(top, Binding(alias, qualified=top))
            return []
        if isinstance(node, cst.ImportFrom):
            module = "." * len(node.relative) + (dotted(node.module) or "" if node.module else "")
            if isinstance(node.names, cst.ImportStar):
                self.star_imports.append(module)
                return []
            for alias in node.names:
                name = dotted(alias.name) or ""
                local = alias.asname.name.value if alias.asname and isinstance(alias.asname.name, cst.Name) else name
                scope.bind(local, Binding(alias, qualified=f"{module}.{name}" if module else name))
            return []
        if isinstance(node, cst.Assign):
            for target in node.targets:
                value = node.value if isinstance(target.target, cst.Name) else None
                for name in _target_names(target.target):
                    scope.bind(name.value, Binding(name, value))
            return None
        if isinstance(node, cst.AnnAssign) and isinstance(node.target, cst.Name):
            scope.bind(node.target.value, Binding(node.target, node.value))
            return None
        if isinstance(node, cst.AugAssign) and isinstance(node.target, cst.Name):
            scope.bind(node.target.value, Binding(node.target))
            return None
        if isinstance(node, cst.NamedExpr) and isinstance(node.target, cst.Name):
            scope.bind(node.target.value, Binding(node.target, node.value))
            return None
        if isinstance(node, (cst.For, cst.CompFor)):
            for name in _target_names(node.target):
                scope.bind(name.value, Binding(name))
            return None
        if isinstance(node, cst.WithItem) and node.asname is not None:
            for name in _target_names(node.asname.name):
                scope.bind(name.value, Binding(name))
            return None
        if isinstance(node, cst.ExceptHandler) and node.name is not None and isinstance(node.name.name, cst.Name):
            scope.bind(node.name.name.value, Binding(node.name.name))
            return None
        return None

    def lookup(self, name: cst.Name) -> list[Binding]:
        """The bindings a name refers to where it is used (Python's LEGB minus builtins: a class
        body is not visible from the functions inside it)."""
        scope = self.scope_of.get(name)
        first = True
        while scope is not None:
            if (first or not scope.is_class) and name.value in scope.names:
                return scope.names[name.value]
            first = False
            scope = scope.parent
        return []

    def qualified_names(self, node: cst.CSTNode, depth: int = 0) -> set[str]:
        """`tf.nn.relu` -> {"tensorflow.nn.relu"} through the imports the leftmost name refers to,
        through plain aliases of them (`K = tf.keras.backend`), and, for a conventional name
        the file binds nowhere, through its conventional import."""
        parts: list[str] = []
        current = node
        while isinstance(current, cst.Attribute):
            parts.append(current.attr.value)
            current = current.value
        if not isinstance(current, cst.Name):
            return set()
        rest = ".".join(reversed(parts))
        bindings = self.lookup(current)
        if not bindings:
            base = self.conventional_base(current.value)
            return set() if base is None else {f"{base}.{rest}" if rest else base}
        names = set()
        for binding in bindings:
            if binding.qualified is not None:
                bases = {binding.qualified}
            elif type(binding.value) in (cst.Name, cst.Attribute) and depth < 4:
                bases = self.qualified_names(binding.value, depth + 1)
            else:
                continue
            names.update(f"{base}.{rest}" if rest else base for base in bases)
        return names

    def conventional_base(self, name: str) -> str | None:
        """The module path a name bound nowhere in the file conventionally stands for."""
        if name in self.bound_anywhere:
            return None
        return self.conventional.get(name)


# The node classes `_enter` handles; every other node only passes its scope on.
_BINDERS = frozenset({
    cst.FunctionDef, cst.Lambda, cst.ClassDef, cst.Import, cst.ImportFrom, cst.Assign, cst.AnnAssign,
    cst.AugAssign, cst.NamedExpr, cst.For, cst.CompFor, cst.WithItem, cst.ExceptHandler,
})


def _params(parameters: cst.Parameters) -> list[cst.Param]:
    found = [*parameters.posonly_params, *parameters.params, *parameters.kwonly_params]
    for star in (parameters.star_arg, parameters.star_kwarg):
        if isinstance(star, cst.Param):
            found.append(star)
    return found
