"""losslint: catch Keras/TensorFlow loss and shape pitfalls before the training run.

`losslint.probe(model, x, y)` and `losslint.check(model, x, y)` run the dynamic probes on a
live compiled model in process; importing losslint itself never imports TensorFlow.
"""

from __future__ import annotations

from losslint.api import LossLintError, check, probe

__version__ = "0.1.0"

__all__ = ["LossLintError", "__version__", "check", "probe"]
