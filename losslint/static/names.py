"""Map libcst qualified names onto the APIs losslint knows, whatever alias the user imported.

`tf.reshape`, `tensorflow.compat.v1.reshape`, `K.reshape` (any alias of `keras.backend`,
`tensorflow.keras.backend` or `tensorflow.python.keras.backend`), `keras.ops.reshape` and
`np.reshape` all come out as an `Api` whose `op` is "reshape".
"""

from __future__ import annotations

import re
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
