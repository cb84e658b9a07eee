"""Inert stand-ins for what the dynamic pass cannot have: modules that are not installed, data
that is not there.

A `StandIn` accepts every call, attribute, item and operator and returns another stand-in, so
`plt.plot(history)` or `df = pd.read_csv(path)` goes on without the real library or file. Every
use is counted in the `Ledger` it belongs to, so that the executor can tell a statement that
failed *because* it met a stand-in (the environment) from one that failed on its own (the user's
bug).

Modules are stood in only when they are missing and imported from the user's own files: an
optional import inside Keras or TensorFlow still sees its ImportError.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import re
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from losslint.dynamic.capture import SourceLine, user_line

# Modules a training run does not need: plotting, display, progress bars, experiment logging.
# They are stood in silently (a note with -v); any other missing module is stood in too, but
# reported, because the model or the data may need it.
DISPLAY_MODULES = frozenset({
    "matplotlib", "seaborn", "plotly", "bokeh", "altair", "IPython", "ipywidgets", "PIL",
    "cv2", "imgaug", "tqdm", "pydot", "pydotplus", "graphviz", "visualkeras", "livelossplot", "mpl_toolkits", "pylab",
    "wandb", "mlflow", "comet_ml", "neptune", "google.colab", "termcolor", "tabulate",
})

# How many items a stand-in yields when iterated: `fig, ax = plt.subplots()` unpacks two.
_ITEMS = 2
# The number a stand-in gives where a size is needed (`keras.Input((120, data.shape[-1]))`, a
# class count): large enough for a few poolings, and no common size of its own.
GUESS = 32
# Per-sample shapes tried, in order, for data that is not there: a table, an RGB image, a
# grey image, a sequence of vectors.
SAMPLE_SHAPES = ((GUESS,), (GUESS, GUESS, 3), (GUESS, GUESS, 1), (GUESS, GUESS))


@dataclass
class Ledger:
    """What the stand-ins of one script saw: the missing modules and how often a stand-in was used."""

    is_user_file: Callable[[str], bool]
    # module -> ("display" or "missing", where the user's file first imported it)
    missing: dict[str, tuple[str, SourceLine | None]] = field(default_factory=dict)
    # Folders the script listed that are not there: (the user's line, the pattern).
    absent: list[tuple[SourceLine, str]] = field(default_factory=list)
    uses: int = 0
    guesses: int = 0  # times a stand-in had to give a number (a shape, a class count)
    # The per-sample shape given for data that is not there; the executor tries the others
    # (`SAMPLE_SHAPES`) when a model will not build on it.
    sample_shape: tuple[int, ...] = (32,)
    shapes: int = 0  # how many guessed shapes were handed out

    def shape(self, with_batch: bool) -> GuessedShape:
        self.guesses += 1
        self.shapes += 1
        return GuessedShape((GUESS, *self.sample_shape) if with_batch else self.sample_shape)

    def module_kind(self, name: str) -> str:
        top = name.split(".")[0]
        if name in DISPLAY_MODULES or top in DISPLAY_MODULES or ".".join(name.split(".")[:2]) in DISPLAY_MODULES:
            return "display"
        return "missing"


class GuessedShape(tuple):
    """A shape given for data that is not there; slices and sums of it stay guessed, so the
    executor can find them and try another (`SAMPLE_SHAPES`)."""

    def __getitem__(self, index: Any) -> Any:
        item = tuple.__getitem__(self, index)
        return GuessedShape(item) if isinstance(index, slice) else item

    def __add__(self, other: Any) -> GuessedShape:
        return GuessedShape(tuple(self) + tuple(other))

    def __radd__(self, other: Any) -> GuessedShape:
        return GuessedShape(tuple(other) + tuple(self))


# Names that hold a size: a stand-in of the right kind for them is a number (GUESS), so a
# layer's `units=num_classes` or `input_dim=vocab_size` can still be built.
_SIZE_NAME = re.compile(
    r"(^|_)(num|n|number|max|min|total)(_|$)|(^|_)(size|dim|dims|len|length|count|classes|labels|units|"
    r"tokens|words|features|channels|steps|vocab|vocabulary|width|height|depth)$|^(vocab|vocabulary)(_|$)"
    r"|^(max|min)len$",
    re.IGNORECASE,
)
_SHAPE_NAME = re.compile(r"(^|_)shape$", re.IGNORECASE)


def standin_for(name: str, ledger: Ledger | None) -> Any:
    """The stand-in for a value called `name` that the environment could not give: a guessed
    size for a count (`num_classes`), a guessed shape for `x.shape` or `input_shape`, else a
    `StandIn`. `name` may be dotted (`info.features.num_classes`): its last part decides."""
    last = name.rsplit(".", 1)[-1]
    # An attribute (`ds.count`, `df.size`) is as often a method: only compound names count.
    if _SIZE_NAME.search(last) and ("_" in last or "." not in name):
        if ledger is not None:
            ledger.guesses += 1
        return GUESS
    if _SHAPE_NAME.search(last):
        # `x.shape` has a batch axis, `input_shape` not; one feature axis first (a table), then
        # the executor tries images and sequences (SAMPLE_SHAPES) where a model will not build.
        if ledger is None:
            return (GUESS, GUESS) if "." in name else (GUESS,)
        return ledger.shape(with_batch="." in name)
    return StandIn(name, ledger)


class StandIn:
    """Anything: a missing module's attribute, the data a failed statement would have bound."""

    __slots__ = ("_losslint_name", "_losslint_ledger")

    def __init__(self, name: str = "?", ledger: Ledger | None = None, *_: Any, **__: Any) -> None:
        object.__setattr__(self, "_losslint_name", name)
        object.__setattr__(self, "_losslint_ledger", ledger)

    def _use(self, suffix: str) -> StandIn:
        ledger = object.__getattribute__(self, "_losslint_ledger")
        if ledger is not None:
            ledger.uses += 1
        return StandIn(f"{object.__getattribute__(self, '_losslint_name')}{suffix}", ledger)

    def __getattr__(self, name: str) -> Any:
        # Protocol probes (`__array_interface__`, `_keras_history`, `__tf_flatten__`) must fail as on a
        # plain object, or NumPy, tf.nest and Keras would take a stand-in for something it is not.
        if name.startswith("_"):
            raise AttributeError(name)
        self._use("")
        ledger = object.__getattribute__(self, "_losslint_ledger")
        return standin_for(f"{object.__getattribute__(self, '_losslint_name')}.{name}", ledger)

    def __setattr__(self, name: str, value: Any) -> None:
        self._use(f".{name}")

    def __call__(self, *args: Any, **kwargs: Any) -> StandIn:
        return self._use("()")

    def __getitem__(self, key: Any) -> StandIn:
        return self._use("[]")

    def __setitem__(self, key: Any, value: Any) -> None:
        self._use("[]")

    def __iter__(self) -> Iterator[StandIn]:
        self._use("")
        return iter([self._use(f"[{i}]") for i in range(_ITEMS)])

    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        # NumPy (and tf.constant through it) would otherwise take a stand-in for a nested
        # sequence, 2 x 2 x ... 32 levels deep.
        return self._refuse()

    def __enter__(self) -> StandIn:
        return self._use("")

    def __exit__(self, *args: Any) -> bool:
        return False

    def __bool__(self) -> bool:
        self._use("")
        return True

    def __mro_entries__(self, bases: tuple) -> tuple:
        return ()  # `class Plot(keras.callbacks.Callback, standin.Base)`: the stand-in base drops out

    def __repr__(self) -> str:
        return f"<losslint stand-in for {object.__getattribute__(self, '_losslint_name')}>"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: object) -> bool:
        self._use("")
        return other is self

    def _refuse(self, *args: Any) -> Any:
        self._use("")
        raise TypeError(f"{self!r} has no value here")

    def _guess(self) -> int:
        """A size is needed (`int(n)`, `range(n)`, a layer's units, an input dimension): the
        model can still be built, on a guessed size the report names."""
        self._use("")
        ledger = object.__getattribute__(self, "_losslint_ledger")
        if ledger is not None:
            ledger.guesses += 1
        return GUESS

    __int__ = __index__ = _guess
    # No length: TensorFlow's and NumPy's converters would take a stand-in for a nested
    # sequence, 32 x 32 x ... deep (`num_classes = len(names)` gets its guess by its name).
    __len__ = __float__ = __complex__ = _refuse

    def __round__(self, *args: Any) -> StandIn:
        return self._use("")

    __trunc__ = __floor__ = __ceil__ = __round__

    def _op(self, *args: Any) -> StandIn:
        return self._use("")

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _op
    __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = __pow__ = __rpow__ = __matmul__ = _op
    __rmatmul__ = __neg__ = __pos__ = __abs__ = __invert__ = __and__ = __or__ = __xor__ = _op
    __lt__ = __le__ = __gt__ = __ge__ = _op


def _tqdm(iterable: Any = None, *args: Any, **kwargs: Any) -> Any:
    """tqdm's stand-in passes its iterable through: `for x in tqdm(data)` still loops."""
    return iterable if iterable is not None else StandIn("tqdm()")


class StandInModule(types.ModuleType):
    def __init__(self, name: str, ledger: Ledger) -> None:
        super().__init__(name)
        self.__path__: list[str] = []  # a package: `import matplotlib.pyplot` works
        self.__losslint_standin__ = True
        self._ledger = ledger
        if name.split(".")[0] == "tqdm":
            self.tqdm = self.trange = _tqdm  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        self._ledger.uses += 1
        return standin_for(f"{self.__name__}.{name}", self._ledger)


class StandInFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Last on sys.meta_path: reached only for modules no other finder has."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        top = fullname.split(".")[0]
        if top in sys.modules and not getattr(sys.modules[top], "__losslint_standin__", False):
            return None  # a submodule missing from a real package: its own ImportError
        where = self._user_line()
        if where is None:
            return None
        self.ledger.missing.setdefault(top, (self.ledger.module_kind(fullname), where))
        return importlib.machinery.ModuleSpec(fullname, self)

    def _user_line(self) -> SourceLine | None:
        """The user's import statement behind this lookup, or None when a library imports."""
        frame = sys._getframe(2)
        while frame is not None:
            filename = frame.f_code.co_filename
            if not filename.startswith("<frozen importlib"):
                return SourceLine(filename, frame.f_lineno) if self.ledger.is_user_file(filename) else None
            frame = frame.f_back
        return None

    def create_module(self, spec: Any) -> types.ModuleType:
        return StandInModule(spec.name, self.ledger)

    def exec_module(self, module: types.ModuleType) -> None:
        return None


def _listings(ledger: Ledger) -> Callable[[], None]:
    """`glob("data/train/*.png")` of a folder that is not there matches nothing, and the script
    fails later on an empty list (`paths[9]`): it gets GUESS stand-ins for the files instead."""
    import glob
    import pathlib

    real_glob, real_iglob, real_path_glob, real_rglob = glob.glob, glob.iglob, pathlib.Path.glob, pathlib.Path.rglob

    def absent(pattern: Any, root: Any = None) -> bool:
        text = os.fspath(pattern) if isinstance(pattern, (str, os.PathLike)) else str(pattern)
        base = text.split("*")[0].split("?")[0].split("[")[0]
        folder = os.path.dirname(base) if not base.endswith(os.sep) else base
        if root is not None:
            folder = os.path.join(os.fspath(root), folder)
        folder = folder.rstrip(os.sep) or folder
        if not folder or os.path.isdir(folder):
            return False
        where = user_line(ledger.is_user_file, sys._getframe(1))
        if where is None:
            return False
        ledger.absent.append((where, f"`{text}` matches nothing: {folder!r} is not there"))
        ledger.guesses += 1  # how many files there are is a guess too
        return True

    def checked(found: list, pattern: Any, kwargs: dict) -> list:
        if not found and absent(pattern, kwargs.get("root_dir")):
            return [StandIn(f"glob({pattern!r})[{i}]", ledger) for i in range(GUESS)]
        return found

    def path_glob(real: Callable[..., Any]) -> Callable[..., Any]:
        def globbed(self: pathlib.Path, pattern: str, *args: Any, **kwargs: Any) -> Any:
            found = list(real(self, pattern, *args, **kwargs))
            if not found and absent(pattern, self):
                return iter([StandIn(f"{self}.glob({pattern!r})[{i}]", ledger) for i in range(GUESS)])
            return iter(found)

        return globbed

    # glob.glob calls the module's iglob: each checks its own result once.
    glob.iglob = lambda pattern, *a, **k: iter(checked(list(real_iglob(pattern, *a, **k)), pattern, k))  # type: ignore[assignment]
    glob.glob = lambda pattern, *a, **k: checked(real_glob(pattern, *a, **k), pattern, k)  # type: ignore[assignment]
    pathlib.Path.glob = path_glob(real_path_glob)  # type: ignore[method-assign]
    pathlib.Path.rglob = path_glob(real_rglob)  # type: ignore[method-assign]

    def restore() -> None:
        glob.glob, glob.iglob, pathlib.Path.glob, pathlib.Path.rglob = real_glob, real_iglob, real_path_glob, real_rglob

    return restore


def _arguments(ledger: Ledger) -> Callable[[], None]:
    """A script run without the command-line arguments it requires (`--data-dir` is given on the
    training machine) gets its parser's defaults, and stand-ins for the required ones, instead
    of argparse's exit 2."""
    import argparse

    real = argparse.ArgumentParser.parse_known_args

    def parse_known_args(self: argparse.ArgumentParser, args: Any = None, namespace: Any = None) -> Any:
        errors: list[str] = []
        real_error = self.error

        def error(message: str) -> Any:
            errors.append(message)
            raise _ArgumentsMissing(message)

        self.error = error  # type: ignore[method-assign]
        try:
            return real(self, args, namespace)
        except _ArgumentsMissing:
            pass
        finally:
            self.error = real_error  # type: ignore[method-assign]
        where = user_line(ledger.is_user_file, sys._getframe(1))
        if where is None:  # a library's own parser: as it was
            return real(self, args, namespace)
        ledger.absent.append((where, f"the script needs its command-line arguments ({errors[0]}): "
                                     "their defaults and stand-ins were used (pass them with --script-args)"))
        values = namespace if namespace is not None else argparse.Namespace()
        for action in self._actions:
            if action.dest in (argparse.SUPPRESS, "help") or hasattr(values, action.dest):
                continue
            value = action.default
            if value is None and action.required or (value is None and not action.option_strings):
                value = standin_for(action.dest, ledger)
            setattr(values, action.dest, value)
        return values, []

    argparse.ArgumentParser.parse_known_args = parse_known_args  # type: ignore[method-assign]

    def restore() -> None:
        argparse.ArgumentParser.parse_known_args = real  # type: ignore[method-assign]

    return restore


class _ArgumentsMissing(Exception):
    pass


def install(ledger: Ledger) -> Callable[[], None]:
    """Stand-ins for missing modules and unlisted folders; returns what undoes it (for tests)."""
    finder = StandInFinder(ledger)
    sys.meta_path.append(finder)
    restores = [_listings(ledger), _arguments(ledger)]

    def uninstall() -> None:
        if finder in sys.meta_path:
            sys.meta_path.remove(finder)
        for restore in restores:
            restore()

    return uninstall


def is_standin(value: Any) -> bool:
    return isinstance(value, StandIn) or getattr(value, "__losslint_standin__", False) is True
