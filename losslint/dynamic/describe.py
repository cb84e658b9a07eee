"""How the dynamic checks name what they saw: shapes, numbers, losses, the layer behind an
output, the user's lines. Plain Python on duck-typed values: the rule modules import this at
load time, and the static pass loads the rule modules, so nothing here imports TensorFlow,
Keras or NumPy."""

from __future__ import annotations

import inspect
import linecache
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from losslint.dynamic.trace import Site, format_shape
from losslint.static.names import NOT_PROBABILITIES


@dataclass(frozen=True)
class LossInfo:
    """The user's code behind a loss or metric: its label, def site and kind."""

    label: str  # "loss `l_1`", "metric `my_metric`"
    name: str
    def_site: Site | None  # the def line in the user's file; None for Keras built-ins
    kind: str  # "function", "loss-subclass", "builtin"
    builtin_fn: Any = None  # the keras function behind a built-in LossFunctionWrapper


def leaves(struct: Any) -> list[Any]:
    """The leaves of a dict/list/tuple structure, in order."""
    if isinstance(struct, dict):
        return [leaf for v in struct.values() for leaf in leaves(v)]
    if isinstance(struct, (list, tuple)):
        return [leaf for v in struct for leaf in leaves(v)]
    return [struct]


def loss_leaves(loss: Any) -> list[Any]:
    """The non-None losses of compile's `loss` structure, in the order Keras numbers them."""
    return [leaf for leaf in leaves(loss) if leaf is not None] if loss is not None else []


def shape_text(shape: Iterable[int | None]) -> str:
    return format_shape(tuple(shape))


def spec_shape(array: Any) -> tuple[int | None, ...]:
    """An array's shape with the batch axis unknown, as Keras' specs show it."""
    return (None, *array.shape[1:])


def fmt(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    return f"{value:.6g}"


def quoted(names: Iterable[Any]) -> str:
    return ", ".join(f"'{n}'" for n in names)


def crossentropy_kind(info: LossInfo) -> str | None:
    """"sparse", "binary" or "categorical" for a built-in crossentropy, else None."""
    name = (getattr(info.builtin_fn, "__name__", "") or info.name).lower()
    if "crossentropy" not in name and name not in ("ce",):
        return None
    if "sparse" in name:
        return "sparse"
    if "binary" in name:
        return "binary"
    if "categorical" in name:
        return "categorical"
    return None


_SHAPE_ONLY_LAYERS = ("Reshape", "Flatten", "Permute", "Lambda", "RepeatVector", "Cropping1D")

BOUNDED_ACTIVATIONS = frozenset({"softmax", "sigmoid", "tanh", "hard_sigmoid", "softsign", "hard_tanh"})


def output_activation(layer: Any) -> tuple[str | None, list[str]]:
    """The activation that produces an output ('softmax', 'sigmoid', 'linear'), looking back
    through shape-only layers (named in the second value)."""
    through: list[str] = []
    for _ in range(6):
        if layer is None:
            return None, through
        kind = type(layer).__name__
        if kind in ("Softmax",):
            return "softmax", through
        if kind == "Activation" or hasattr(layer, "activation"):
            activation = getattr(layer, "activation", None)
            name = getattr(activation, "__name__", None) or str(activation)
            if name in ("softmax", "sigmoid", "linear") or name in BOUNDED_ACTIVATIONS or name in NOT_PROBABILITIES:
                return name, through
            return None, through
        if kind not in _SHAPE_ONLY_LAYERS:
            return None, through
        through.append(f"a {kind} layer")
        try:
            nodes = layer._inbound_nodes
            parents = nodes[0].parent_nodes
            if len(parents) != 1:
                return None, through
            layer = parents[0].operation
        except Exception:  # noqa: BLE001
            return None, through
    return None, through


def first_use(def_site: Site, names: list[str]) -> Site | None:
    """The first line after a `def` that mentions one of `names` (`self.kg_raw`, `inp`)."""
    patterns = [re.compile(rf"(?<![\w.]){re.escape(name)}(?!\w)") for name in names]
    indent = None
    for line in range(def_site.line + 1, def_site.line + 200):
        text = linecache.getline(def_site.path, line)
        if not text:
            return None
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        current = len(text) - len(text.lstrip())
        if indent is None:
            indent = current
        elif current < indent:
            return None
        if any(p.search(text) for p in patterns):
            return Site(def_site.path, line, def_site.function)
    return None


def first_line_with(code: Any, needles: tuple[str, ...]) -> int | None:
    """The first line of a function's source that contains one of `needles`."""
    try:
        source, start = inspect.getsourcelines(code)
    except (OSError, TypeError):
        return None
    for offset, text in enumerate(source):
        if any(needle in text for needle in needles):
            return start + offset
    return None
