"""losslint: catch Keras/TensorFlow loss and shape pitfalls before the training run."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
