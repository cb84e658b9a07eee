"""LL106 removed-api: TF1 and Keras 2 APIs that are gone, or broken, in TF 2.16+ / Keras 3.

Every entry was checked against tensorflow-cpu 2.21 / keras 3.15 (attribute missing, module
not importable, TypeError/ValueError on use); see rules/LL106-removed-api.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import libcst as cst

from losslint.findings import Finding, Pass, Severity
from losslint.rule import Rule
from losslint.static.context import FileContext, dotted, walk
from losslint.static.discovery import classes_instantiated
from losslint.static.names import Api, parse_api

# tf.X -> replacement (AttributeError: module 'tensorflow' has no attribute X).
_TF_REMOVED = {
    "log": "tf.math.log",
    "log1p": "tf.math.log1p",
    "log_sigmoid": "tf.math.log_sigmoid",
    "placeholder": "`keras.Input(...)` for model inputs, or arguments of a `tf.function`",
    "Session": "eager execution (call the model directly) or `tf.function`",
    "InteractiveSession": "eager execution (call the model directly) or `tf.function`",
    "to_float": "tf.cast(x, tf.float32)",
    "to_double": "tf.cast(x, tf.float64)",
    "to_int32": "tf.cast(x, tf.int32)",
    "to_int64": "tf.cast(x, tf.int64)",
    "random_normal": "tf.random.normal",
    "random_uniform": "tf.random.uniform",
    "truncated_normal": "tf.random.truncated_normal",
    "multinomial": "tf.random.categorical",
    "matrix_band_part": "tf.linalg.band_part",
    "matrix_transpose": "tf.linalg.matrix_transpose",
    "matrix_inverse": "tf.linalg.inv",
    "matrix_diag": "tf.linalg.diag",
    "diag": "tf.linalg.diag",
    "trace": "tf.linalg.trace",
    "batch_matmul": "tf.matmul",
    "div": "tf.math.divide",
    "floordiv": "tf.math.floordiv",
    "mul": "tf.multiply",
    "sub": "tf.subtract",
    "neg": "tf.negative",
    "select": "tf.where",
    "arg_max": "tf.math.argmax",
    "arg_min": "tf.math.argmin",
    "squared_difference": "tf.math.squared_difference",
    "count_nonzero": "tf.math.count_nonzero",
    "is_nan": "tf.math.is_nan",
    "sparse_to_dense": "tf.sparse.to_dense",
    "space_to_depth": "tf.nn.space_to_depth",
    "py_func": "tf.py_function",
    "get_variable": "`tf.Variable` or `self.add_weight` in a layer",
    "variable_scope": "`tf.name_scope`, or Keras layers",
    "global_variables_initializer": "nothing: TF2 variables are initialised when created",
    "reset_default_graph": "keras.backend.clear_session()",
    "layers": "keras.layers",
    "contrib": "a maintained package (tf.contrib was removed in TF 2.0)",
    "logging": "tf.get_logger() or absl.logging",
    "gfile": "tf.io.gfile",
    "app": "absl.app",
    "flags": "absl.flags",
    "train.AdamOptimizer": "keras.optimizers.Adam",
    "train.GradientDescentOptimizer": "keras.optimizers.SGD",
    "train.RMSPropOptimizer": "keras.optimizers.RMSprop",
    "train.MomentumOptimizer": "keras.optimizers.SGD(momentum=...)",
    "train.AdagradOptimizer": "keras.optimizers.Adagrad",
    "train.Saver": "tf.train.Checkpoint or model.save(...)",
    "nn.softmax_cross_entropy_with_logits_v2": "tf.nn.softmax_cross_entropy_with_logits",
    "losses.mean_squared_error": "keras.losses.MeanSquaredError() or tf.losses.mse",
    "losses.absolute_difference": "keras.losses.MeanAbsoluteError()",
    "losses.softmax_cross_entropy": "keras.losses.CategoricalCrossentropy(from_logits=True)",
    "losses.sparse_softmax_cross_entropy": "keras.losses.SparseCategoricalCrossentropy(from_logits=True)",
    "losses.sigmoid_cross_entropy": "keras.losses.BinaryCrossentropy(from_logits=True)",
    "losses.log_loss": "keras.losses.BinaryCrossentropy()",
    "losses.huber_loss": "keras.losses.Huber()",
}

# Keras 3's own `keras.backend` keeps only these; `K.dot` & co. through `import keras` are gone.
_KERAS3_BACKEND = frozenset(
    {
        "backend", "clear_session", "epsilon", "floatx", "get_uid", "image_data_format",
        "is_float_dtype", "is_int_dtype", "is_keras_tensor", "result_type", "set_epsilon",
        "set_floatx", "set_image_data_format", "standardize_dtype",
    }
)
_BACKEND_OPS_RENAMED = {
    "dot": "keras.ops.matmul (or keras.ops.dot)",
    "batch_dot": "keras.ops.matmul or keras.ops.einsum",
    "permute_dimensions": "keras.ops.transpose",
    "int_shape": "x.shape",
    "variable": "keras.Variable",
    "placeholder": "keras.Input(...)",
    "function": "a tf.function or model.predict",
    "learning_phase": "the `training` argument of call()",
    "set_learning_phase": "the `training` argument of call()",
    "get_session": "eager execution",
    "set_session": "eager execution",
    "tf": "`import tensorflow as tf`",
    "identity": "keras.ops.copy or tf.identity",
}
# `tf.keras` is Keras 3 by default but tf_keras (Keras 2) under TF_USE_LEGACY_KERAS=1, and
# libraries written for tf_keras are correct code: under `tensorflow.keras` only what is gone in
# both is reported. Its backend (a legacy shim in Keras 3) lacks these in both.
_TF_KERAS_BACKEND_MISSING = frozenset({"get_session", "set_session", "tf"})
# Keras 2 names missing from Keras 3's namespaces (under `tensorflow.keras` only the ones that
# tf_keras lacks too).
_KERAS_NAMESPACE_GAPS = {
    ("keras", "losses.mse"): "keras.losses.mean_squared_error (or the string \"mse\")",
    ("keras", "losses.mae"): "keras.losses.mean_absolute_error (or the string \"mae\")",
    ("keras", "losses.mape"): "keras.losses.mean_absolute_percentage_error",
    ("keras", "losses.msle"): "keras.losses.mean_squared_logarithmic_error",
    ("keras", "losses.kld"): "keras.losses.kl_divergence",
    ("keras", "metrics.mse"): "keras.metrics.mean_squared_error",
    ("keras", "metrics.mae"): "keras.metrics.mean_absolute_error",
    ("keras", "preprocessing.image.ImageDataGenerator"): "keras.utils.image_dataset_from_directory with preprocessing layers",
    ("keras", "layers.CuDNNLSTM"): "keras.layers.LSTM (it uses cuDNN by itself)",
    ("keras", "layers.CuDNNGRU"): "keras.layers.GRU (it uses cuDNN by itself)",
    ("tensorflow.keras", "layers.CuDNNLSTM"): "keras.layers.LSTM (it uses cuDNN by itself)",
    ("tensorflow.keras", "layers.CuDNNGRU"): "keras.layers.GRU (it uses cuDNN by itself)",
    ("keras", "utils.multi_gpu_model"): "tf.distribute.MirroredStrategy",
    ("tensorflow.keras", "utils.multi_gpu_model"): "tf.distribute.MirroredStrategy",
}
# Keras 2 module paths that no longer import (ModuleNotFoundError); the key is below a keras root.
_REMOVED_MODULES = {
    "layers.core": "keras.layers",
    "layers.advanced_activations": "keras.layers",
    "layers.convolutional": "keras.layers",
    "layers.recurrent": "keras.layers",
    "layers.normalization": "keras.layers",
    "layers.embeddings": "keras.layers",
    "layers.merge": "keras.layers",
    "layers.pooling": "keras.layers",
    "layers.wrappers": "keras.layers",
    "engine": "keras.Model / keras.layers.Layer",
    "wrappers.scikit_learn": "keras.wrappers.SKLearnClassifier / SKLearnRegressor",
    "utils.np_utils": "keras.utils (e.g. keras.utils.to_categorical)",
    "utils.generic_utils": "keras.utils / keras.saving",
    "objectives": "keras.losses",
}
# Gone from Keras 3 only: tf_keras still has them, and tf.keras keeps a legacy copy of some.
_REMOVED_MODULES_KERAS_ONLY = {
    "preprocessing.text": "keras.layers.TextVectorization",
    "layers.experimental": "keras.layers",
}
# Keras 3 modules that still import (Keras re-exports them itself) but whose contents raise
# ImportError when used: only names below them are reported.
_UNUSABLE_MODULES_KERAS_ONLY = {
    "optimizers.legacy": "keras.optimizers (Keras 3 raises ImportError on the legacy optimizers)",
}
_PRIVATE_KERAS = "tensorflow.python.keras"

_COMPILE_REMOVED = {
    "experimental_run_tf_function": "drop it (Keras 3 always runs the train step as a tf.function)",
    "target_tensors": "drop it and pass the targets to fit()",
    "sample_weight_mode": "drop it and pass sample_weight to fit()",
}
_FIT_REMOVED = {
    "nb_epoch": "epochs=",
    "workers": "a keras.utils.PyDataset(workers=...) as the data",
    "use_multiprocessing": "a keras.utils.PyDataset(use_multiprocessing=...) as the data",
    "max_queue_size": "a keras.utils.PyDataset(max_queue_size=...) as the data",
}
_GENERATOR_METHODS = {
    "fit_generator": "model.fit (it takes generators and datasets)",
    "evaluate_generator": "model.evaluate",
    "predict_generator": "model.predict",
    "predict_classes": "np.argmax(model.predict(x), axis=-1)",
    "predict_proba": "model.predict",
}
_OPTIMIZERS = frozenset(
    {"Adam", "SGD", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam", "AdamW", "Ftrl", "Lion", "Adafactor", "LossScaleOptimizer"}
)


def check(ctx: FileContext) -> Iterator[Finding]:
    imports = [*ctx.of_type(cst.Import), *ctx.of_type(cst.ImportFrom)]
    for node in imports:
        yield from _check_import(ctx, node)
    in_imports = {id(n) for node in imports for n in walk(node)}
    for node in [*ctx.of_type(cst.Name), *ctx.of_type(cst.Attribute)]:
        if id(node) not in in_imports:
            yield from _check_reference(ctx, node)
    for node in ctx.of_type(cst.Call):
        yield from _check_call(ctx, node)


def _removed_module(qualified: str) -> tuple[str, str] | None:
    """(module, replacement) when `qualified` is a removed Keras 2 module or below one."""
    if qualified == _PRIVATE_KERAS or qualified.startswith(_PRIVATE_KERAS + "."):
        return _PRIVATE_KERAS, "`import keras` or `from tensorflow import keras`"
    api = parse_api(qualified)
    if api is None or api.family != "keras" or api.root == _PRIVATE_KERAS:
        return None
    removed = dict(_REMOVED_MODULES)
    if api.root == "keras":
        removed.update(_REMOVED_MODULES_KERAS_ONLY)
    for module, replacement in removed.items():
        if api.path == module or api.path.startswith(module + "."):
            return f"{api.root}.{module}", replacement
    if api.root == "keras":
        for module, replacement in _UNUSABLE_MODULES_KERAS_ONLY.items():
            if api.path.startswith(module + "."):  # the module itself imports fine
                return f"{api.root}.{module}", replacement
    return None


def _module_message(module: str, replacement: str) -> tuple[str, str]:
    if module == _PRIVATE_KERAS:
        return (
            f"`{module}` is TensorFlow's private, frozen Keras 2 copy: it imports silently, but "
            "its models are not Keras 3 models and fit()/predict() raise AttributeError "
            "(module 'tensorflow.python.distribute.input_lib' has no attribute ...)",
            f"use {replacement}",
        )
    if module.partition(".")[2] in _UNUSABLE_MODULES_KERAS_ONLY:
        return (
            f"`{module}` still imports in Keras 3, but everything in it raises ImportError when "
            f"used ('`{module}` is not supported in Keras 3')",
            f"use {replacement}",
        )
    return (
        f"`{module}` is a Keras 2 module path: Keras 3 raises ModuleNotFoundError on import",
        f"import from {replacement} instead",
    )


def _check_import(ctx: FileContext, node: cst.Import | cst.ImportFrom) -> Iterator[Finding]:
    if _guarded(ctx, node):
        return
    if isinstance(node, cst.ImportFrom):
        if node.relative or node.module is None:
            return
        base = dotted(node.module) or ""
        names = [] if isinstance(node.names, cst.ImportStar) else [dotted(a.name) or "" for a in node.names]
        candidates = [base] + [f"{base}.{n}" for n in names]
    else:
        base, names = "", []
        candidates = [dotted(a.name) or "" for a in node.names]
    for qualified in candidates:
        removed = _removed_module(qualified)
        if removed is not None:
            message, fix = _module_message(*removed)
            yield ctx.finding(RULE, node, message, fix)
            return
    # `from keras.losses import mse`: the removed name is written here, once; its uses are not
    # reported again (_check_reference).
    for alias, name in zip(node.names if names else (), names):
        api = parse_api(f"{base}.{name}")
        replacement, what = _api_replacement(api) if api is not None else (None, "")
        if replacement is None or what == "module":
            continue
        error = f"(ImportError: cannot import name '{name}' from '{base}')"
        yield ctx.finding(
            RULE, alias,
            f"`from {base} import {name}`: `{api.short()}` {_ATTRIBUTE_ERROR.sub(error, what)}",  # type: ignore[union-attr]
            f"use {replacement}",
        )


# The exception of a removed attribute, at the end of a message: an import raises ImportError.
_ATTRIBUTE_ERROR = re.compile(r"\([^()]*AttributeError[^()]*\)$")
_IMPORT_ERRORS = frozenset({"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})


def _guarded(ctx: FileContext, node: cst.Import | cst.ImportFrom) -> bool:
    """An import in a `try` whose handler catches its ImportError: a compatibility fallback
    (`try: from keras.layers.core import Dense` / `except ImportError: ...`), not a use."""
    current = ctx.enclosing(node, (cst.Try, cst.FunctionDef, cst.ClassDef))
    if not isinstance(current, cst.Try) or not ctx.is_within(node, current.body):
        return False
    for handler in current.handlers:
        if handler.type is None:
            return True
        caught = handler.type.elements if isinstance(handler.type, cst.Tuple) else None
        types = [e.value for e in caught] if caught is not None else [handler.type]
        if any((dotted(t) or "").rsplit(".", 1)[-1] in _IMPORT_ERRORS for t in types):
            return True
    return False


def _reported_at_import(ctx: FileContext, node: cst.Name | cst.Attribute) -> bool:
    """The chain's leftmost name is imported from a removed module (`from tensorflow.python
    import keras`), or is a removed name imported (`from keras.losses import mse`): that import
    is the one finding, not each use."""
    root: cst.BaseExpression = node
    while isinstance(root, cst.Attribute):
        root = root.value
    if not isinstance(root, cst.Name):
        return False
    for binding in ctx.names.lookup(root):
        if binding.qualified is None or not isinstance(binding.node, cst.ImportAlias):
            continue
        if _removed_module(binding.qualified) is not None:
            return True
        api = parse_api(binding.qualified)
        if api is not None and _api_replacement(api)[0] is not None:
            return True
    return False


def _check_reference(ctx: FileContext, node: cst.Name | cst.Attribute) -> Iterator[Finding]:
    if isinstance(node, cst.Attribute):
        if node.attr.value in ("compiled_loss", "compiled_metrics") and dotted(node.value) == "self":
            yield _compiled_shim(ctx, node)
            return
    parent = ctx.parent(node)
    if isinstance(parent, cst.Attribute) and parent.value is node:
        return  # only the whole chain: `tf.train.AdamOptimizer`, not `tf.train`
    if isinstance(parent, cst.AssignTarget):
        return  # `keras.backend.name_scope = keras.name_scope` defines it (a compat shim), no use
    if isinstance(parent, cst.Attribute) and parent.attr is node:
        return
    if isinstance(node, cst.Attribute):
        if node.attr.value == "targets" and _is_model(ctx, node.value):
            yield ctx.finding(
                RULE, node,
                f"`{dotted(node) or 'model.targets'}` was removed: Keras 3 models have no `targets` "
                "(AttributeError), and a loss only ever sees the target of its own output",
                "use the `y_true` passed to each output's loss, or a custom `train_step` that "
                "receives all targets in `data`",
            )
            return
    if isinstance(node, cst.Name) and not any(b.qualified for b in ctx.names.lookup(node)):
        return  # `l = keras.losses.mse` is reported where the removed name is written, not at each alias use
    if _reported_at_import(ctx, node):
        return
    api = ctx.api(node)
    if api is None:
        return
    replacement, what = _api_replacement(api)
    if replacement is None:
        return
    if what == "module":
        if isinstance(node, cst.Attribute):  # a bare Name comes from an import reported there
            removed = _removed_module(api.qualified)
            if removed is not None:
                message, fix = _module_message(*removed)
                yield ctx.finding(RULE, node, message, fix)
        return
    yield ctx.finding(
        RULE, node,
        f"`{api.short()}` {what}",
        f"use {replacement}",
    )


def _api_replacement(api: Api) -> tuple[str | None, str]:
    """(replacement, what is wrong) for a removed API; (None, "") when it is fine."""
    if api.family == "tf" and api.root == "tensorflow":
        parts = api.path.split(".")
        for end in range(len(parts), 0, -1):
            removed = ".".join(parts[:end])
            if removed in _TF_REMOVED:
                return _TF_REMOVED[removed], f"was removed in TF 2 (`tf.{removed}`: AttributeError)"
        return None, ""
    if _removed_module(api.qualified) is not None:
        return "", "module"
    if api.family != "keras":
        return None, ""
    if (api.root, api.path) in _KERAS_NAMESPACE_GAPS:
        return _KERAS_NAMESPACE_GAPS[(api.root, api.path)], "does not exist in Keras 3 (AttributeError)"
    if api.path.startswith("backend.") and api.path.count(".") == 1:
        leaf = api.leaf
        if api.root == "keras" and leaf not in _KERAS3_BACKEND:
            replacement = _BACKEND_OPS_RENAMED.get(leaf, f"keras.ops.{leaf}")
            return replacement, (
                "is gone from Keras 3's `keras.backend` (AttributeError: module 'keras.backend' "
                f"has no attribute '{leaf}')"
            )
        if api.root != "keras" and leaf in _TF_KERAS_BACKEND_MISSING:
            return _BACKEND_OPS_RENAMED[leaf], "was removed with TF1 graph mode (AttributeError in Keras 3)"
    return None, ""


def _compiled_shim(ctx: FileContext, node: cst.Attribute) -> Finding:
    if node.attr.value == "compiled_loss":
        return ctx.finding(
            RULE, node,
            "`self.compiled_loss` is deprecated in Keras 3: it still runs, but the logged `loss` "
            "becomes the running mean of y_pred, not the loss",
            "use `loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sw)`",
        )
    return ctx.finding(
        RULE, node,
        "`self.compiled_metrics` is deprecated in Keras 3: it sends y_pred to every Mean metric, "
        "including the `loss` tracker, so the logged `loss` is wrong",
        "use `return self.compute_metrics(x, y, y_pred, sample_weight=sw)`",
    )


def _is_model(ctx: FileContext, receiver: cst.BaseExpression) -> bool:
    """A Keras model by its construction, else by its name (`model`, `self.model`, `vae_model`)."""
    if isinstance(receiver, cst.Name):
        for bound in ctx.bindings(receiver):
            if isinstance(bound, cst.Call):
                qualified = ctx.qualified_names(bound.func)
                api = ctx.call_api(bound)
                if api is not None and api.family == "keras":
                    return api.leaf in ("Model", "Sequential", "load_model")
                if qualified and all(q.split(".")[0] not in ("keras", "tensorflow") for q in qualified):
                    return False  # e.g. an estimator from sklearn
    name = (dotted(receiver) or "").rsplit(".", 1)[-1]
    return "model" in name.lower()


def _check_call(ctx: FileContext, call: cst.Call) -> Iterator[Finding]:
    func = call.func
    api = ctx.call_api(call)
    if api is not None and api.family == "keras" and api.path.startswith("optimizers.") and api.leaf in _OPTIMIZERS:
        for arg in call.args:
            if arg.keyword is not None and arg.keyword.value == "lr":
                yield ctx.finding(
                    RULE, arg,
                    f"`{api.leaf}(lr=...)`: Keras 3 optimizers raise ValueError: Argument(s) not recognized: {{'lr': ...}}",
                    "use `learning_rate=`", scope=call,
                )
            elif arg.keyword is not None and arg.keyword.value == "decay":
                yield ctx.finding(
                    RULE, arg,
                    f"`{api.leaf}(decay=...)` is ignored by Keras 3 (only a UserWarning): the "
                    "learning rate never decays",
                    "use a schedule: `learning_rate=keras.optimizers.schedules.InverseTimeDecay(lr, 1, decay)`",
                )
        return
    if not isinstance(func, cst.Attribute) or api is not None:
        return
    method = func.attr.value
    if method == "compile" and _is_model_like_receiver(ctx, func.value):
        for arg in call.args:
            if arg.keyword is not None and arg.keyword.value in _COMPILE_REMOVED:
                yield ctx.finding(
                    RULE, arg,
                    f"`compile({arg.keyword.value}=...)`: Keras 3 raises TypeError: Trainer.compile() "
                    f"got an unexpected keyword argument '{arg.keyword.value}'",
                    _COMPILE_REMOVED[arg.keyword.value], scope=call,
                )
    elif method in ("fit", "evaluate", "predict") and _is_model_like_receiver(ctx, func.value):
        for arg in call.args:
            if arg.keyword is not None and arg.keyword.value in _FIT_REMOVED:
                yield ctx.finding(
                    RULE, arg,
                    f"`{method}({arg.keyword.value}=...)` is gone from Keras 3: it fails with "
                    f"{'ValueError' if method == 'evaluate' else 'TypeError'} on the unexpected "
                    f"argument '{arg.keyword.value}'",
                    f"use {_FIT_REMOVED[arg.keyword.value]}", scope=call,
                )
    elif method in _GENERATOR_METHODS and _is_model_like_receiver(ctx, func.value):
        yield ctx.finding(
            RULE, func,
            f"`{method}` was removed from Keras 3 models (AttributeError)",
            f"use {_GENERATOR_METHODS[method]}",
        )


def _is_model_like_receiver(ctx: FileContext, receiver: cst.BaseExpression) -> bool:
    if dotted(receiver) == "self":
        cls = ctx.enclosing(receiver, (cst.ClassDef,))
        return isinstance(cls, cst.ClassDef) and cls in ctx.index.model_classes
    if _is_model(ctx, receiver):
        return True
    return any(cls in ctx.index.model_classes for cls in classes_instantiated(ctx, receiver))


RULE = Rule(
    code="LL106",
    name="removed-api",
    severity=Severity.ERROR,
    passes=(Pass.STATIC,),
    summary="TF1/Keras 2 API removed or broken in TF 2.16+/Keras 3 (names the replacement).",
    static_check=check,
)
