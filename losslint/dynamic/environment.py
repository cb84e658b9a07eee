"""Is a failure the environment's or the user's? The dynamic pass runs where the training data,
the network and the plotting libraries usually are not; what fails for lack of them is not a
bug in the script.
"""

from __future__ import annotations

import errno
import importlib.util
import os
import re
from collections.abc import Callable
from dataclasses import dataclass

from losslint.dynamic.standins import Ledger

# Library code that loads data: an exception raised inside it means the data is not here
# (a folder with no images, a URL, a dataset that needs a download).
_DATA_LOADERS = (
    "keras/src/utils/file_utils.py", "keras/src/utils/image_dataset_utils.py",
    "keras/src/utils/text_dataset_utils.py", "keras/src/utils/audio_dataset_utils.py",
    "keras/src/utils/dataset_utils.py", "keras/src/utils/image_utils.py",
    "keras/src/utils/timeseries_dataset_utils.py", "keras/src/datasets/",
    "tensorflow_datasets/", "pandas/io/", "sklearn/datasets/", "datasets/load.py",
    "huggingface_hub/", "urllib/request.py", "http/client.py", "requests/",
    "tensorflow/python/lib/io/file_io.py", "tensorflow/python/data/experimental/ops/readers.py",
    "numpy/lib/_npyio_impl.py", "numpy/lib/npyio.py", "numpy/lib/_datasource.py",
    "keras_hub/src/utils/preset_utils.py", "kagglehub/", "gdown/", "zipfile", "tarfile.py",
)
# Saved models and weights that are not there (written by a training run, or on another
# machine): Keras and h5py say so in their own words, not with FileNotFoundError.
_SAVED_FILES = ("keras/src/saving/", "keras/src/models/model.py", "h5py/")
_NOT_FOUND = re.compile(r"file not found|no such file|not found|unable to (synchronously )?open file|does not exist", re.I)
_MISSING_FILE_ERRNOS = {errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EACCES}


@dataclass(frozen=True)
class Reason:
    """Why the environment stopped a statement, in words for the report."""

    kind: str  # "network", "module", "file", "data", "stand-in"
    text: str  # the exception, one line
    module: str | None = None  # the missing module


_LONGEST = 300  # characters of a message's first line that a one-line report keeps


def one_line(error: BaseException) -> str:
    """`Type: first line of the message`: Keras' own messages go on for lines (and some print
    whole tensors), the first says what failed."""
    text = str(error).strip().splitlines()
    if not text or not text[0]:
        return type(error).__name__
    first = text[0] if len(text[0]) <= _LONGEST else text[0][: _LONGEST - 3].rstrip() + "..."
    return f"{type(error).__name__}: {first}"


def network_block(error: BaseException) -> str | None:
    """The blocked connection behind an exception, also when a library wrapped it (URLError)."""
    from losslint.dynamic.sandbox import NetworkBlocked

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, NetworkBlocked):
            return str(current).replace("losslint sandbox: ", "")
        reason = getattr(current, "reason", None)  # urllib's URLError keeps the cause here
        if isinstance(reason, NetworkBlocked):
            return str(reason).replace("losslint sandbox: ", "")
        current = current.__cause__ or current.__context__
    return None


def _frames(error: BaseException) -> list[str]:
    files = []
    tb = error.__traceback__
    while tb is not None:
        files.append(tb.tb_frame.f_code.co_filename.replace(os.sep, "/"))
        tb = tb.tb_next
    return files


def asked_backend() -> str | None:
    """The Keras backend other than TensorFlow that the script (or the user's environment, passed
    on by the parent) asks for; the probe runs on TensorFlow whatever it is."""
    for variable in ("KERAS_BACKEND", "LOSSLINT_USER_KERAS_BACKEND"):
        backend = os.environ.get(variable)
        if backend and backend != "tensorflow":
            return backend
    return None


def environment_reason(
    error: BaseException, met_standin: bool, ledger: Ledger, is_user_file: Callable[[str], bool],
) -> Reason | None:
    """The environment's reason for `error`, or None when it is the user's own failure."""
    text = one_line(error)
    blocked = network_block(error)
    if blocked is not None:
        return Reason("network", blocked)
    if isinstance(error, ModuleNotFoundError) and error.name:
        # A package that is not installed at all; a missing submodule of an installed package
        # (`keras.layers.core`) is an API the script should not use: its own bug.
        top = error.name.split(".")[0]
        if top in ledger.missing or importlib.util.find_spec(top) is None:
            return Reason("module", text, top)
    if isinstance(error, ImportError) and re.search(r"\binstall\b", str(error), re.I):
        # A library's own check for an optional package: "You must install pydot (`pip install
        # pydot`) for `plot_model` to work."
        return Reason("module", text)
    if isinstance(error, OSError) and (
        isinstance(error, (FileNotFoundError, NotADirectoryError, IsADirectoryError))
        or getattr(error, "errno", None) in _MISSING_FILE_ERRNOS
    ):
        return Reason("file", text)
    if type(error).__module__.startswith("tensorflow") and (
        type(error).__name__ in ("NotFoundError", "PermissionDeniedError", "UnimplementedError")
        or "No files matched pattern" in str(error)  # tf.data.Dataset.list_files
    ):
        return Reason("file", text)
    if met_standin:
        return Reason("stand-in", text)
    files = _frames(error)
    if _NOT_FOUND.search(str(error)) and any(saved in path for path in files for saved in _SAVED_FILES):
        return Reason("file", text)
    if any(loader in path for path in files for loader in _DATA_LOADERS):
        return Reason("data", text)
    backend = asked_backend()
    if backend is not None:
        # Written for JAX or PyTorch (`inputs.to(device)`), run on TensorFlow: not its bug.
        return Reason("backend", f"{text} (the script is written for the {backend} backend; the probe runs on TensorFlow)")
    return None
