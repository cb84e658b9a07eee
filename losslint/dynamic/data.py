"""One real batch from whatever the script gave `fit`: arrays, lists/dicts of arrays, tensors,
a `tf.data.Dataset`, a Python generator or a `keras.utils.PyDataset`."""

from __future__ import annotations

import inspect
from typing import Any

from losslint.dynamic.capture import FitRecord

DEFAULT_BATCH_SIZE = 32  # what Keras' fit uses for arrays when none is given


def _to_numpy(structure: Any) -> Any:
    import numpy as np
    import tensorflow as tf

    def convert(leaf: Any) -> Any:
        if leaf is None or isinstance(leaf, (str, bytes)):
            return leaf
        if isinstance(leaf, tf.Tensor) or hasattr(leaf, "numpy"):
            return leaf.numpy()
        return np.asarray(leaf)

    return tf.nest.map_structure(convert, structure)


def _first_rows(structure: Any, count: int) -> Any:
    import tensorflow as tf

    return tf.nest.map_structure(lambda leaf: leaf if leaf is None else leaf[:count], structure)


def _length(structure: Any) -> int | None:
    import tensorflow as tf

    for leaf in tf.nest.flatten(structure):
        if hasattr(leaf, "shape") and len(leaf.shape) > 0 and leaf.shape[0] is not None:
            return int(leaf.shape[0])
    return None


def _as_tuple(element: Any) -> tuple:
    """A data element as (x, y[, sample_weight]); a bare x becomes (x, None)."""
    if isinstance(element, tuple) and 1 <= len(element) <= 3:
        return element if len(element) > 1 else (element[0], None)
    if isinstance(element, list) and len(element) in (2, 3):
        return tuple(element)
    return (element, None)


def first_batch(record: FitRecord) -> None:
    """Fill record.batch, data_size, data_kind and batch_size from record.x/y."""
    import tensorflow as tf

    x = record.x
    try:
        import keras

        if isinstance(x, tf.data.Dataset):
            record.data_kind = "tf.data"
            element = next(iter(x.take(1)))
            record.batch = tuple(_to_numpy(part) for part in _as_tuple(element))
            batch_dimension = tf.nest.flatten(x.element_spec)[0].shape
            if batch_dimension.rank and batch_dimension[0] is not None:
                record.extra["static_batch"] = int(batch_dimension[0])  # drop_remainder=True
            cardinality = int(x.cardinality())
            record.extra["batches"] = cardinality if cardinality >= 0 else None
            record.batch_size = record.batch_size or _length(record.batch[0])
            return
        if isinstance(x, keras.utils.PyDataset):
            record.data_kind = "PyDataset"
            element = x[0]
            record.batch = tuple(_to_numpy(part) for part in _as_tuple(element))
            record.extra["batches"] = len(x) if hasattr(x, "__len__") else None
            record.batch_size = record.batch_size or _length(record.batch[0])
            return
        if inspect.isgenerator(x) or (hasattr(x, "__next__") and not hasattr(x, "shape")):
            record.data_kind = "generator"
            element = next(x)
            record.batch = tuple(_to_numpy(part) for part in _as_tuple(element))
            record.batch_size = record.batch_size or _length(record.batch[0])
            return
        record.data_kind = "arrays"
        arrays = _to_numpy((x, record.y) if record.sample_weight is None else (x, record.y, record.sample_weight))
        record.data_size = _length(arrays[0])
        if record.method == "train_on_batch":
            record.batch_size = record.data_size
        record.batch_size = record.batch_size or DEFAULT_BATCH_SIZE
        record.batch = tuple(_first_rows(part, record.batch_size) for part in arrays)
    except StopIteration:
        record.extra["data_error"] = "the data is empty"
    except Exception as error:  # the probe can still run against the model's own specs
        record.extra["data_error"] = f"{type(error).__name__}: {error}"
