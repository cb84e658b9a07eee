"""Map libcst qualified names onto the APIs losslint knows, whatever alias the user imported.

`tf.reshape`, `tensorflow.compat.v1.reshape`, `K.reshape` (any alias of `keras.backend`,
`tensorflow.keras.backend` or `tensorflow.python.keras.backend`), `keras.ops.reshape` and
`np.reshape` all come out as an `Api` whose `op` is "reshape".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

# Longest first: `tensorflow.keras` must win over `tensorflow`.
_KERAS_ROOTS = (
    "tensorflow.python.keras",
    "keras._tf_keras.keras",
    "tensorflow.keras",
    "tf_keras",
    "keras",
)
_TF_ROOTS = ("tensorflow.compat.v1", "tensorflow.compat.v2", "tensorflow")
_NUMPY_ROOTS = ("numpy",)


@dataclass(frozen=True)
class Api:
    """A resolved reference to a TensorFlow, Keras or NumPy object."""

    family: str  # "tf", "keras" or "np"
    root: str  # the real root module, e.g. "tensorflow.keras"
    path: str  # the dotted rest below the root, e.g. "backend.dot"

    @property
    def qualified(self) -> str:
        return f"{self.root}.{self.path}"

    @property
    def op(self) -> str | None:
        """The tensor operation's name for computational namespaces, else None.

        tf.X -> X (tf.math.log -> "math.log"), K.X / keras.ops.X -> X, np.X -> X.
        """
        if self.family in ("tf", "np"):
            return self.path
        for prefix in ("backend.", "ops.", "src.ops."):
            if self.path.startswith(prefix):
                return self.path[len(prefix) :]
        return None

    @property
    def leaf(self) -> str:
        return self.path.rsplit(".", 1)[-1]

    def short(self) -> str:
        """How users usually spell it, for messages."""
        if self.family == "tf":
            prefix = "tf" if self.root == "tensorflow" else "tf." + self.root.split(".", 1)[1]
            return f"{prefix}.{self.path}"
        if self.family == "np":
            return f"np.{self.path}"
        if self.path.startswith("backend."):
            return f"K.{self.path[len('backend.'):]}"
        if self.root == "keras":
            return f"keras.{self.path}"
        return f"tf.keras.{self.path}" if self.root == "tensorflow.keras" else self.qualified


def parse_api(qualified_name: str) -> Api | None:
    for root in _KERAS_ROOTS:
        if qualified_name.startswith(root + "."):
            return Api("keras", root, qualified_name[len(root) + 1 :])
    for root in _TF_ROOTS:
        if qualified_name.startswith(root + "."):
            return Api("tf", root, qualified_name[len(root) + 1 :])
    for root in _NUMPY_ROOTS:
        if qualified_name.startswith(root + "."):
            return Api("np", root, qualified_name[len(root) + 1 :])
    return None


def op_in(api: Api | None, names: frozenset[str]) -> bool:
    """True when `api` is a tensor op whose name (or its last component) is in `names`."""
    if api is None:
        return False
    op = api.op
    if op is None:
        return False
    return op in names or op.rsplit(".", 1)[-1] in names


# Keras layer and model classes, checked by the last component of a keras path.
def is_keras_path(api: Api | None, *paths: str) -> bool:
    return api is not None and api.family == "keras" and api.path in paths


# Losses that are linear in y_pred on purpose, where the model's output or a constraint bounds
# them: Wasserstein critics (`mean(y_true * y_pred)` with weight clipping or a gradient penalty),
# policy-gradient and actor losses (advantage * log-probability, or the critic's gradient fed
# as y_true), trading objectives on bounded positions, and negative log-likelihoods of a
# log-probability output.
# Output activations whose values are not probabilities: not bounded to [0, 1], not normalised.
NOT_PROBABILITIES = frozenset({
    "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "silu", "swish", "mish", "softplus",
    "exponential",
})

_LINEAR_ON_PURPOSE = re.compile(
    r"(?i)wasserstein|wgan|critic|earth_?mover|(^|_)emd($|_)|policy|actor|ddpg|reinforce|advantage|"
    r"reward|profit|sharpe|portfolio|pnl|(^|_)pg($|_)|nll|likelihood|log_?prob"
)


def linear_on_purpose(name: str) -> bool:
    """A loss whose name (`wasserstein_loss`, `Critic.call`, `policy_loss`) says that it is
    linear in y_pred by design (LL209, both passes)."""
    leaf = name.rsplit(".", 1)[-1]
    if leaf == "call" and "." in name:
        leaf = name.rsplit(".", 2)[-2]
    return bool(_LINEAR_ON_PURPOSE.search(leaf))


# The imports people leave out of what they post and keep: a snippet in an issue thread, a
# notebook cell whose imports are in another cell, a module that gets `K` from a star import.
# Where the file binds such a name nowhere (no import, assignment, parameter, def or class of
# that name in any scope), it is read as its conventional import (`conventional-names`,
# README "Configuration"). `K` stands for `tf.keras.backend`: what LL106 reports as removed
# there is removed in Keras 2 and 3 alike, while `keras.backend.dot` is gone only from Keras 3,
# and a snippet does not say which Keras it imported.
_CONVENTIONAL_MODULES = {
    "tf": "tensorflow",
    "np": "numpy",
    "K": "tensorflow.keras.backend",
    "keras": "keras",
    "layers": "keras.layers",
    "ops": "keras.ops",
    "models": "keras.models",
    "losses": "keras.losses",
    "optimizers": "keras.optimizers",
}
_CONVENTIONAL_OBJECTS = {
    "Sequential": "keras.Sequential",
    "Model": "keras.Model",
    "Input": "keras.Input",
    "load_model": "keras.models.load_model",
    "Layer": "keras.layers.Layer",
    "Loss": "keras.losses.Loss",
    "Metric": "keras.metrics.Metric",
    "to_categorical": "keras.utils.to_categorical",
    "Adam": "keras.optimizers.Adam",
    "SGD": "keras.optimizers.SGD",
    "RMSprop": "keras.optimizers.RMSprop",
    **{
        name: f"keras.layers.{name}"
        for name in (
            "Dense", "Conv1D", "Conv2D", "Conv3D", "Conv2DTranspose", "LSTM", "GRU", "SimpleRNN",
            "Bidirectional", "TimeDistributed", "Embedding", "Dropout", "Flatten", "Reshape",
            "Permute", "RepeatVector", "Lambda", "Activation", "Softmax", "ReLU", "LeakyReLU",
            "BatchNormalization", "LayerNormalization", "MaxPooling1D", "MaxPooling2D",
            "AveragePooling2D", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
            "GlobalMaxPooling1D", "GlobalMaxPooling2D", "UpSampling2D", "ZeroPadding2D",
            "Concatenate", "Add", "Multiply", "InputLayer",
        )
    },
}


def conventional_names() -> dict[str, str]:
    """Local name -> the dotted path it conventionally imports (a fresh dict: callers extend it)."""
    return {**_CONVENTIONAL_MODULES, **_CONVENTIONAL_OBJECTS}


def conventional_pattern(names: Mapping[str, str]) -> re.Pattern[str] | None:
    """A use of one of the names in source text (`tf.x`, `K.x`, `Dense(`): such a file is worth
    parsing even when it mentions no import."""
    if not names:
        return None
    alternatives = "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?<![\w.])(?:{alternatives})\s*[.(]")
