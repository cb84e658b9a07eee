"""What the child captures from the user's script: compile and fit calls, with live objects.

Imports nothing from TensorFlow: the records hold whatever objects the script passed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SourceLine:
    """A place in the user's file (1-based line and column)."""

    path: str
    line: int
    column: int = 1


@dataclass
class CompileRecord:
    model: Any  # the live keras.Model, compiled for real
    kwargs: dict[str, Any]  # compile's arguments by name (optimizer, loss, loss_weights, metrics, ...)
    where: SourceLine | None  # the compile call in the user's script


@dataclass
class FitRecord:
    model: Any
    method: str  # "fit", "train_on_batch" or "evaluate"
    x: Any = None
    y: Any = None
    sample_weight: Any = None
    class_weight: Any = None
    batch_size: int | None = None
    validation_data: Any = None
    where: SourceLine | None = None
    # Filled by the child from the data: one real batch of (x, y[, sample_weight]) as NumPy
    # structures, the number of samples when known, and how the data came (array, dataset, ...).
    batch: tuple | None = None
    data_size: int | None = None
    data_kind: str = "unknown"
    extra: dict[str, Any] = field(default_factory=dict)


def user_line(is_user_file: Callable[[str], bool], frame: Any) -> SourceLine | None:
    """The innermost frame from `frame` outwards that is in the user's files."""
    while frame is not None:
        if is_user_file(frame.f_code.co_filename):
            return SourceLine(frame.f_code.co_filename, frame.f_lineno)
        frame = frame.f_back
    return None


def and_join(items: list[str]) -> str:
    """`a`, `a and b`, `a, b and c`: names in a message."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
