"""LL303 symbolic-add-loss: `add_loss` where Keras 3 cannot honour it (seed 001; keras3-facts.md
case 7).

Static part: `model.add_loss(...)` called from outside the model on

* a functional model (`keras.Model(inputs, outputs)`, also a model class of the file built
  with `inputs=`/`outputs=`): Keras 3 raises `NotImplementedError()` with an empty message,
  whatever the argument. When some of the model's `Input`s feed nothing but that term, the
  message says so: seed 001's labels fed as extra inputs;
* a `Sequential` model, or an instance of a subclassed model of the file, outside a `call`
  method: accepted and silently dropped at the next call (`model.losses` is `[]` after fit).

`self.add_loss(...)` inside a layer's or a model's `call` is the Keras 3 way and is never
reported, nor is `add_loss` on anything whose construction is not visible, nor on a model built
with `tf_keras` (Keras 2 supports symbolic add_loss on functional models).
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from losslint.findings import Finding, Pass, Severity
from losslint.rule import Rule
from losslint.static.context import FileContext, code_of
from losslint.static.models import Model, model_of, name_uses, resolve

_FIX_FUNCTIONAL = (
    "compute the term with `self.add_loss(...)` inside the `call` of a layer placed in the model "
    "(labels it needs come in as that layer's inputs), or in a custom `train_step`; for per-output "
    "losses on labels, pass the labels as targets to fit and give one loss per output"
)
_FIX_DROPPED = (
    "call `self.add_loss(...)` inside the `call` of a layer (or of the model class), so Keras adds "
    "the term at every step, or add it to the loss in a custom `train_step`"
)


def check(ctx: FileContext) -> Iterator[Finding]:
    if "add_loss" not in ctx.source:
        return
    for node in ctx.nodes:
        if not (isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)):
            continue
        if node.func.attr.value != "add_loss" or not isinstance(node.func.value, cst.Name):
            continue
        receiver = node.func.value
        if receiver.value in ("self", "cls"):
            continue
        model = model_of(ctx, receiver)
        if model is None or _legacy_keras(ctx, model):
            continue
        if model.kind == "functional":
            yield _functional(ctx, node, receiver, model)
        elif not _inside_call(ctx, node) and (model.cls is None or not _defines(model.cls, "add_loss")):
            what = "the Sequential model" if model.kind == "sequential" else (
                f"the subclassed model `{model.cls.name.value}`" if model.cls is not None else "the model"
            )
            yield ctx.finding(
                RULE, node,
                f"`{receiver.value}.add_loss({_argument(node)})` on {what} `{receiver.value}` (built line "
                f"{ctx.start(model.node)[0]}), outside any `call`: Keras 3 accepts it and silently drops "
                "the term at the next call, so fit never sees it (`model.losses` is [] after fit)",
                _FIX_DROPPED,
                related=(ctx.related(model.node, "model built here"),),
            )


def _functional(ctx: FileContext, call: cst.Call, receiver: cst.Name, model: Model) -> Finding:
    labels = _label_inputs(ctx, call, model)
    extra = ""
    if labels:
        names = ", ".join(f"`{n}`" for n in labels)
        extra = (
            f". {names} {'is a model Input' if len(labels) == 1 else 'are model Inputs'} used only "
            "by this term (seed 001's labels fed as inputs): Keras 3 can add such a term only "
            "from inside a layer's `call`"
        )
    return ctx.finding(
        RULE, call,
        f"`{receiver.value}.add_loss({_argument(call)})` on the "
        f"functional model `{receiver.value}` (built line {ctx.start(model.node)[0]}): Keras 3 raises "
        f"NotImplementedError with an empty message here, for any argument{extra}",
        _FIX_FUNCTIONAL,
        related=(ctx.related(model.node, "functional model built here"),),
    )


def _legacy_keras(ctx: FileContext, model: Model) -> bool:
    """Built with `tf_keras` (Keras 2), where functional models accept symbolic add_loss."""
    api = ctx.call_api(model.node)
    return api is not None and api.root == "tf_keras"


def _argument(call: cst.Call) -> str:
    return code_of(call.args[0].value, 40) if call.args else ""


def _label_inputs(ctx: FileContext, call: cst.Call, model: Model) -> list[str]:
    """The model's `keras.Input`s that are used only in this add_loss call (and in the model's
    inputs): seed 001's labels."""
    found = []
    for expr in model.inputs or ():
        if not isinstance(expr, cst.Name):
            continue
        value = resolve(ctx, expr)
        api = ctx.call_api(value) if isinstance(value, cst.Call) else None
        if api is None or api.family != "keras" or api.leaf != "Input":
            continue
        uses = [u for u in name_uses(ctx, expr) if not _is_target(ctx, u)]
        in_loss = [u for u in uses if ctx.is_within(u, call)]
        elsewhere = [
            u for u in uses
            if not ctx.is_within(u, call) and not ctx.is_within(u, model.node)
            and not any(u is e for e in model.inputs or ())
        ]
        if in_loss and not elsewhere:
            found.append(expr.value)
    return found


def _is_target(ctx: FileContext, name: cst.Name) -> bool:
    parent = ctx.parent(name)
    return isinstance(parent, cst.AssignTarget) and parent.target is name


def _inside_call(ctx: FileContext, node: cst.CSTNode) -> bool:
    fn = ctx.enclosing(node, (cst.FunctionDef,))
    while fn is not None:
        if isinstance(fn, cst.FunctionDef) and fn.name.value == "call":
            return True
        fn = ctx.enclosing(fn, (cst.FunctionDef,))
    return False


def _defines(cls: cst.ClassDef, method: str) -> bool:
    return any(isinstance(s, cst.FunctionDef) and s.name.value == method for s in cls.body.body)


RULE = Rule(
    code="LL303",
    name="symbolic-add-loss",
    severity=Severity.ERROR,
    passes=(Pass.STATIC, Pass.DYNAMIC,),
    summary="model.add_loss on a functional model, or labels fed as Inputs for add_loss.",
    static_check=check,
)
