"""What makes running a user's training script safe and fast enough for a linter, in the child.

- network: any socket connection fails at once with `NetworkBlocked` naming the host, instead
  of hanging on a download;
- data: `keras.datasets.<name>.load_data` returns small synthetic arrays with the real
  per-sample shapes and dtypes, so scripts that download their data run offline;
- interception: `compile` records and really compiles; `fit`/`train_on_batch`/`evaluate`
  record their data and stop the script before anything trains.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable
from typing import Any

from losslint.dynamic.capture import CompileRecord, FitRecord, SourceLine, user_line


class NetworkBlocked(ConnectionRefusedError):
    """Raised by every outgoing connection the script attempts."""


class StopBeforeTraining(BaseException):
    """Private: unwinds the user's script at `fit`. BaseException so `except Exception` in the
    script cannot swallow it."""


def block_network() -> None:
    def refuse(host: object) -> None:
        raise NetworkBlocked(f"losslint sandbox: network access blocked (connection to {host})")

    def connect(self: socket.socket, address: Any) -> None:
        if self.family == getattr(socket, "AF_UNIX", None):
            return original_connect(self, address)
        refuse(address[0] if isinstance(address, tuple) else address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        connect(self, address)
        return 0

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        refuse(address[0] if isinstance(address, tuple) else address)
        raise AssertionError("unreachable")

    original_connect = socket.socket.connect
    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.create_connection = create_connection  # type: ignore[assignment]


# name -> (train samples, x shape per sample, x dtype, y shape per sample, y dtype, classes)
DATASETS: dict[str, tuple[tuple[int, ...], str, tuple[int, ...], str, int | None]] = {
    "mnist": ((28, 28), "uint8", (), "uint8", 10),
    "fashion_mnist": ((28, 28), "uint8", (), "uint8", 10),
    "cifar10": ((32, 32, 3), "uint8", (1,), "uint8", 10),
    "cifar100": ((32, 32, 3), "uint8", (1,), "int64", 100),
    "boston_housing": ((13,), "float64", (), "float64", None),
    "california_housing": ((8,), "float32", (), "float32", None),
}
SEQUENCE_DATASETS = {"imdb": 2, "reuters": 46}
# The real numbers of samples: scripts reshape with them (`x.reshape((60000, 784))`) and slice
# validation sets off them (`x[:-5000]`).
SIZES = {
    "mnist": (60000, 10000), "fashion_mnist": (60000, 10000), "cifar10": (50000, 10000),
    "cifar100": (50000, 10000), "boston_housing": (404, 102), "california_housing": (16512, 4128),
    "imdb": (25000, 25000), "reuters": (8982, 2246),
}


def _stub_loader(name: str, scale: float = 1.0, on_load: Callable[[str], None] | None = None) -> Callable[..., Any]:
    import numpy as np

    def load_data(*args: Any, **kwargs: Any) -> Any:
        if on_load is not None:
            on_load(name)
        rng = np.random.default_rng(0)

        def split(n: int) -> tuple[Any, Any]:
            if name in SEQUENCE_DATASETS:
                vocabulary = kwargs.get("num_words") or 1000
                x = np.empty(n, dtype=object)
                lengths = rng.integers(10, 80, n)
                words = rng.integers(1, vocabulary, int(lengths.sum())).tolist()
                start = 0
                for i, length in enumerate(lengths.tolist()):
                    x[i] = words[start:start + length]
                    start += length
                y = rng.integers(0, SEQUENCE_DATASETS[name], n).astype("int64")
                return x, y
            x_shape, x_dtype, y_shape, y_dtype, classes = DATASETS[name]
            if x_dtype == "uint8":
                # 1,000 random samples repeated: the values do not matter, the time does
                x = np.resize(rng.integers(0, 256, (min(n, 1000), *x_shape), dtype=np.uint8), (n, *x_shape))
            else:
                x = rng.normal(size=(n, *x_shape)).astype(x_dtype)
            if classes is None:
                y = rng.normal(size=(n, *y_shape)).astype(y_dtype)
            else:
                y = rng.integers(0, classes, (n, *y_shape)).astype(y_dtype)
            return x, y

        train, test = (max(64, int(n * scale)) for n in SIZES[name])
        return split(train), split(test)

    load_data.__losslint_stub__ = True  # type: ignore[attr-defined]
    return load_data


def stub_datasets(scale: float = 1.0, on_load: Callable[[str], None] | None = None) -> None:
    """Replace load_data in every imported keras/tf.keras datasets namespace: the real numbers
    of samples times `scale`; `on_load(name)` is told of each use."""
    import keras  # noqa: F401 - imports the public namespaces
    import tensorflow as tf

    tf.keras.datasets  # noqa: B018 - tf.keras loads its namespaces lazily
    for module_name, module in list(sys.modules.items()):
        if module is None or ".datasets." not in module_name or "keras" not in module_name:
            continue
        dataset = module_name.rsplit(".", 1)[-1]
        if (dataset in DATASETS or dataset in SEQUENCE_DATASETS) and hasattr(module, "load_data"):
            module.load_data = _stub_loader(dataset, scale, on_load)


def _holds_standin(value: Any, is_standin: Callable[[Any], bool], depth: int = 0) -> bool:
    """A stand-in, or a tuple/list/dict holding one (`validation_data=(x_val, y_val)`)."""
    if is_standin(value):
        return True
    if depth < 3 and isinstance(value, (tuple, list)):
        return any(_holds_standin(v, is_standin, depth + 1) for v in value)
    if depth < 3 and isinstance(value, dict):
        return any(_holds_standin(v, is_standin, depth + 1) for v in value.values())
    return False


def adapt_without_data(on_skip: Callable[[str], None]) -> None:
    """`Normalization.adapt(x_train)` where `x_train` is a stand-in would build the layer on a
    guessed shape and then fail: the layer keeps its initial state instead (mean 0, variance 1,
    an empty vocabulary), and `on_skip(layer name)` is told."""
    import keras

    from losslint.dynamic.standins import is_standin

    for name in dir(keras.layers):
        cls = getattr(keras.layers, name)
        if not isinstance(cls, type) or "adapt" not in cls.__dict__:
            continue

        def adapt(self: Any, data: Any = None, *args: Any, _real: Callable[..., Any] = cls.__dict__["adapt"], **kwargs: Any) -> Any:
            if _holds_standin(data, is_standin):
                on_skip(getattr(self, "name", type(self).__name__))
                return None
            return _real(self, data, *args, **kwargs)

        cls.adapt = adapt


class Interceptor:
    """Patches keras.Model so the script's compile and fit calls are recorded."""

    def __init__(self, user_files: Callable[[str], bool]) -> None:
        self.is_user_file = user_files
        self.compiles: list[CompileRecord] = []
        self.fits: list[FitRecord] = []
        self._originals: dict[str, Any] = {}

    def caller(self) -> SourceLine | None:
        """The innermost frame of the call stack that is in the user's files."""
        return user_line(self.is_user_file, sys._getframe(1))

    def install(self) -> None:
        import keras

        interceptor = self
        model_class = keras.Model
        original_compile = model_class.compile
        for name in ("compile", "fit", "train_on_batch", "evaluate", "__init_subclass__"):
            self._originals[name] = model_class.__dict__.get(name)

        def compile(self: Any, *args: Any, **kwargs: Any) -> Any:
            names = ("optimizer", "loss", "loss_weights", "metrics", "weighted_metrics")
            recorded = dict(zip(names, args))
            recorded.update(kwargs)
            interceptor.compiles.append(CompileRecord(self, recorded, interceptor.caller()))
            return original_compile(self, *args, **kwargs)

        def stop_at(method: str) -> Callable[..., Any]:
            def intercepted(self: Any, *args: Any, **kwargs: Any) -> Any:
                interceptor.fits.append(interceptor.fit_record(self, method, args, kwargs))
                raise StopBeforeTraining(method)

            intercepted.__losslint_intercepted__ = True  # type: ignore[attr-defined]
            return intercepted

        model_class.compile = compile
        for method in ("fit", "train_on_batch", "evaluate"):
            setattr(model_class, method, stop_at(method))

        # A subclass that overrides fit without calling super().fit is stopped at its own fit.
        previous = model_class.__dict__.get("__init_subclass__")

        def init_subclass(cls: type, **kwargs: Any) -> None:
            if previous is not None:
                previous.__func__(cls, **kwargs)
            else:
                super(model_class, cls).__init_subclass__(**kwargs)
            for method in ("fit", "train_on_batch"):
                if method in cls.__dict__:
                    setattr(cls, method, stop_at(method))

        model_class.__init_subclass__ = classmethod(init_subclass)

    def uninstall(self) -> None:
        """Put keras.Model back as it was (for in-process use, e.g. the tests)."""
        import keras

        for name, original in self._originals.items():
            if original is None:
                if name in keras.Model.__dict__:
                    delattr(keras.Model, name)
            else:
                setattr(keras.Model, name, original)
        self._originals.clear()

    def fit_record(self, model: Any, method: str, args: tuple, kwargs: dict) -> FitRecord:
        names = {
            "fit": ("x", "y", "batch_size", "epochs"),
            "train_on_batch": ("x", "y", "sample_weight", "class_weight"),
            "evaluate": ("x", "y", "batch_size"),
        }[method]
        given = dict(zip(names, args))
        given.update(kwargs)
        from losslint.dynamic.standins import is_standin

        standins = sorted(key for key, value in given.items() if _holds_standin(value, is_standin))
        for key in standins:  # data the environment did not have: the probe synthesises it
            given[key] = None
        if is_standin(given.get("batch_size")):
            given["batch_size"] = None
        record = FitRecord(
            model=model,
            method=method,
            x=given.get("x"),
            y=given.get("y"),
            sample_weight=given.get("sample_weight"),
            class_weight=given.get("class_weight"),
            batch_size=given.get("batch_size"),
            validation_data=given.get("validation_data"),
            where=self.caller(),
        )
        if standins:
            record.extra["standins"] = standins
        if record.x is None and standins:
            return record
        from losslint.dynamic.data import first_batch

        first_batch(record)
        return record
