"""Walk the graph of a traced loss: which ops depend on `y_true`/`y_pred`, which shapes they
see, and where in the user's file each op was created.

A loss is traced with `tf.function(..., autograph=False)` (Keras 3 does not autograph user
losses, keras3-facts.md case 12) at concrete shapes; the placeholders of the concrete
function are labelled with their role, and the labels are propagated through every op,
including the branch/body graphs of `tf.cond`/`tf.while_loop`/nested `tf.function` calls
(keras3-facts.md case 11). Op locations come from `op.traceback`, scanned from the innermost
frame outwards for a frame in one of the user's files.
"""

from __future__ import annotations

import io
import linecache
import tokenize
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

TRUE = "y_true"
PRED = "y_pred"

# Ops that pass a tensor through unchanged in value (for "is this y_pred itself?").
_TRANSPARENT = frozenset({
    "Identity", "IdentityN", "Cast", "StopGradient", "ExpandDims", "Squeeze",
    "EnsureShape", "CheckNumerics", "PreventGradient",
})
@dataclass(frozen=True)
class Site:
    """Where an op was created in the user's code."""

    path: str
    line: int
    function: str

    @property
    def text(self) -> str:
        """The line's code, without its comment, for messages."""
        return _without_comment(linecache.getline(self.path, self.line).strip())


def _without_comment(text: str) -> str:
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.COMMENT:
                return text[: token.start[1]].rstrip()
    except (tokenize.TokenError, SyntaxError):  # an unclosed bracket: the statement goes on
        pass
    return text


class UserFiles:
    """Membership test for the user's files, tolerant of relative/non-normalised paths."""

    def __init__(self, files: Iterable[str]) -> None:
        self.files = frozenset(_norm(f) for f in files)

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and bool(path) and _norm(path) in self.files


def _norm(path: str) -> str:
    return os.path.normcase(os.path.abspath(path))


def op_site(op: Any, user: UserFiles) -> Site | None:
    """The innermost frame of the op's creation stack that lies in a user file."""
    try:
        frames = list(op.traceback)
    except Exception:  # noqa: BLE001 - ops without a traceback (e.g. imported graphs)
        return None
    for frame in reversed(frames):
        if frame.filename in user:
            return Site(_norm(frame.filename), int(frame.lineno), str(frame.name))
    return None


def shape_of(tensor: Any) -> tuple[int | None, ...] | None:
    shape = tensor.shape
    if shape.rank is None:
        return None
    return tuple(shape.as_list())


def num_elements(shape: tuple[int | None, ...] | None) -> int | None:
    if shape is None or any(d is None for d in shape):
        return None
    n = 1
    for d in shape:
        n *= d
    return n


@dataclass
class OpInfo:
    """One op of the traced loss (from any nested graph), with role information."""

    op: Any
    site: Site | None
    in_roles: list[frozenset[str]]  # the roles each input depends on
    in_direct: list[str | None]  # the role an input *is* (the placeholder itself), if any
    out_roles: frozenset[str] = field(default_factory=frozenset)

    @property
    def type(self) -> str:
        return self.op.type

    def in_shapes(self) -> list[tuple[int | None, ...] | None]:
        return [shape_of(t) for t in self.op.inputs]

    def out_shape(self, index: int = 0) -> tuple[int | None, ...] | None:
        return shape_of(self.op.outputs[index]) if len(self.op.outputs) > index else None


def walk(
    concrete: Any, roles: list[str | None], user: UserFiles, marks: dict[str, str] | None = None,
) -> list[OpInfo]:
    """Every op of `concrete`'s graph and of the graphs it calls, in creation order, with the
    roles of its inputs. `roles[i]` labels the i-th placeholder of the concrete function;
    `marks` labels the outputs of ops whose name (below its scopes) starts with a key (a tensor computed inside
    the traced function, such as the model's output in a train_step) with that key's role."""
    graph = concrete.graph
    seeds: dict[str, tuple[frozenset[str], str | None]] = {}
    for tensor, role in zip(graph.inputs, roles):
        if role is not None:
            seeds[tensor.name] = (frozenset({role}), role)
    out: list[OpInfo] = []
    _walk_graph(graph, seeds, user, out, [graph], depth=0, marks=marks or {})
    return out


def _walk_graph(
    graph: Any,
    seeds: dict[str, tuple[frozenset[str], str | None]],
    user: UserFiles,
    out: list[OpInfo],
    graphs: list[Any],
    depth: int,
    marks: dict[str, str],
) -> None:
    roles: dict[str, frozenset[str]] = {name: r for name, (r, _) in seeds.items()}
    direct: dict[str, str | None] = {name: d for name, (_, d) in seeds.items()}
    for op in graph.get_operations():
        in_roles = [roles.get(t.name, frozenset()) for t in op.inputs]
        in_direct = [direct.get(t.name) for t in op.inputs]
        union = frozenset().union(*in_roles) if in_roles else frozenset()
        info = OpInfo(op, op_site(op, user), in_roles, in_direct, union)
        out.append(info)
        base = op.name.rsplit("/", 1)[-1]  # below the name scopes (a Keras model opens its own)
        mark = next((role for prefix, role in marks.items() if base.startswith(prefix)), None)
        if mark is not None:
            for t in op.outputs:
                roles[t.name] = frozenset({mark})
                direct[t.name] = mark
        elif union:
            for t in op.outputs:
                roles[t.name] = union
        if mark is None and op.type in _TRANSPARENT and in_direct and in_direct[0] is not None:
            for t in op.outputs:
                direct[t.name] = in_direct[0]
        if depth < 8:
            for inner in _called_graphs(op, graphs):
                offset = len(op.inputs) - len(inner.inputs)
                inner_seeds: dict[str, tuple[frozenset[str], str | None]] = {}
                if offset >= 0:
                    for i, t in enumerate(inner.inputs):
                        r = in_roles[i + offset]
                        if r:
                            inner_seeds[t.name] = (r, in_direct[i + offset])
                _walk_graph(inner, inner_seeds, user, out, [inner, *graphs], depth + 1, marks)


def _called_graphs(op: Any, graphs: list[Any]) -> Iterator[Any]:
    """The FuncGraphs an op calls (cond branches, loop bodies, nested tf.functions)."""
    names: list[str] = []
    for attr in op.node_def.attr.values():
        if attr.HasField("func") and attr.func.name:
            names.append(attr.func.name)
        elif attr.HasField("list") and attr.list.func:
            names.extend(f.name for f in attr.list.func)
    for name in names:
        inner = _find_function(name, graphs)
        if inner is not None:
            yield inner


def _find_function(name: str, graphs: list[Any]) -> Any | None:
    for graph in graphs:
        while graph is not None:
            functions = getattr(graph, "_functions", None) or {}
            fn = functions.get(name)
            if fn is not None and getattr(fn, "graph", None) is not None:
                return fn.graph
            graph = getattr(graph, "outer_graph", None)
    return None


_NODE = re.compile(r"\{\{node ([^}]+)\}\}")


def node_names(message: str) -> list[str]:
    """The `{{node name}}` mentions of a TF runtime error message."""
    return _NODE.findall(message)


def find_op(concrete: Any, name: str) -> Any | None:
    """The op called `name` in the concrete function's graph or a nested one."""
    graphs = [concrete.graph]
    seen: set[int] = set()
    while graphs:
        graph = graphs.pop()
        if id(graph) in seen:
            continue
        seen.add(id(graph))
        try:
            return graph.get_operation_by_name(name)
        except (KeyError, ValueError):
            pass
        for fn in (getattr(graph, "_functions", None) or {}).values():
            inner = getattr(fn, "graph", None)
            if inner is not None:
                graphs.append(inner)
    return None


def format_shape(shape: tuple[int | None, ...] | None) -> str:
    if shape is None:
        return "(unknown rank)"
    inner = ", ".join("None" if d is None else str(d) for d in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"
