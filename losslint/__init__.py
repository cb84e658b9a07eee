"""losslint: catch Keras/TensorFlow loss and shape pitfalls before the training run.

`losslint.probe(model, x, y)` and `losslint.check(model, x, y)` run the dynamic probes on a
live compiled model in process; `losslint.Callback()` runs them on the first batch of the
user's own `fit`. Importing losslint itself never imports TensorFlow or Keras: the callback
class (a keras.callbacks.Callback) is loaded on first use.
"""

from __future__ import annotations

from typing import Any

from losslint.api import LossLintError, LossLintWarning, check, probe

__version__ = "0.1.0"

# Not "Callback": `from losslint import *` would import Keras.
__all__ = ["LossLintError", "LossLintWarning", "__version__", "check", "probe"]


def __getattr__(name: str) -> Any:
    # PEP 562: `losslint.Callback` imports Keras only when someone asks for it.
    if name == "Callback":
        from losslint.callback import Callback

        return Callback
    raise AttributeError(f"module 'losslint' has no attribute {name!r}")
