"""LL304 custom-objects-missing: `load_model` of a model with custom objects, without
`custom_objects=` or `compile=False` (seed 004; keras3-facts.md case 9).

Static part: a `keras.models.load_model` / `keras.saving.load_model` / `tf.keras.models.load_model`
call without `custom_objects=` (and outside a `custom_object_scope`), in a function (or at the
module level) that also visibly saves a whole model (`model.save(...)`,
`keras.saving.save_model(...)`, a `ModelCheckpoint` that is not weights-only) and there puts
into a model

* a custom loss or metric of the file (a function, a factory's inner function, a
  `Loss`/`Metric` subclass) given to `compile`: the load fails unless `compile=False`;
* a custom layer or model class of the file: the load fails even with `compile=False`.

"There" is the function itself or a function of the file it calls by name, so a helper class
that only another test of the file uses is not taken for what this test loads.

Objects decorated with `@keras.saving.register_keras_serializable` (or
`keras.utils.register_keras_serializable`, or a library's register/export decorator) are found
by the loader and not reported; a file that fills `get_custom_objects()` is not checked.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst

from losslint.findings import Finding, Pass, Severity
from losslint.rule import Rule
from losslint.static.context import FileContext, code_of, dotted
from losslint.static.models import arg, in_file_class, in_file_function, keras_path

_LOADERS = frozenset({"models.load_model", "saving.load_model", "saving.saving_api.load_model", "models.saving.load_model"})
_SCOPES = frozenset({"custom_object_scope", "CustomObjectScope"})


@dataclass(frozen=True)
class _Custom:
    kind: str  # "loss", "metric", "layer", "model"
    name: str
    node: cst.FunctionDef | cst.ClassDef  # its definition
    compile_only: bool  # only needed to restore the compiled loss/metrics
    uses: tuple[cst.CSTNode, ...] = ()  # the compile calls / constructions that put it in a model


def check(ctx: FileContext) -> Iterator[Finding]:
    if "load_model" not in ctx.source or "get_custom_objects" in ctx.source:
        return
    loads = [node for node in ctx.nodes if isinstance(node, cst.Call) and _is_loader(ctx, node)]
    if not loads:
        return
    customs = _customs(ctx)
    if not customs:
        return
    for call in loads:
        if any(a.star for a in call.args) or arg(call, "custom_objects", 2) is not None or _in_scope(ctx, call):
            continue
        compile_value = arg(call, "compile", 1)
        if compile_value is not None and not (
            isinstance(compile_value, cst.Name) and compile_value.value in ("True", "False")
        ):
            continue  # computed: not visible
        no_compile = isinstance(compile_value, cst.Name) and compile_value.value == "False"
        scope = _scope_of(ctx, call)
        saves = _saves(ctx, scope)
        # A notebook saves and loads several models: only the saves of the file loaded count.
        loaded = _literal_path(arg(call, "filepath", 0))
        saves = [s for s in saves if loaded is None or _literal_path(_saved_path(s)) in (None, loaded)]
        if not saves:
            continue  # nothing visibly saved here: what is loaded may hold no custom object
        if scope is None:  # the module (a script, a notebook) runs in order: what comes later is not loaded
            saves = [s for s in saves if ctx.order(s) < ctx.order(call)]
            if not saves:
                continue
        written = [_written(ctx, save, call) for save in saves]
        needed = [
            c for c in customs
            if not (c.compile_only and no_compile)
            and any(
                _reaches(ctx, use, scope) and (scope is not None or ctx.order(use) < ctx.order(call))
                and _into(ctx, use, written)
                for use in c.uses
            )
        ]
        if needed:
            yield _finding(ctx, call, needed, no_compile, saves[0])


def _is_loader(ctx: FileContext, call: cst.Call) -> bool:
    api = ctx.call_api(call)
    return keras_path(api) in _LOADERS


def _in_scope(ctx: FileContext, node: cst.CSTNode) -> bool:
    """Inside `with keras.saving.custom_object_scope(...)`."""
    current = ctx.enclosing(node, (cst.With,))
    while current is not None:
        for item in current.items:  # type: ignore[union-attr]
            if isinstance(item.item, cst.Call):
                api = ctx.call_api(item.item)
                leaf = api.leaf if api is not None else (dotted(item.item.func) or "").rsplit(".", 1)[-1]
                if leaf in _SCOPES:
                    return True
        current = ctx.enclosing(current, (cst.With,))
    return False


def _scope_of(ctx: FileContext, node: cst.CSTNode) -> cst.FunctionDef | None:
    found = ctx.enclosing(node, (cst.FunctionDef,))
    return found if isinstance(found, cst.FunctionDef) else None


def _reaches(ctx: FileContext, use: cst.CSTNode, scope: cst.FunctionDef | None) -> bool:
    """The use happens in `scope` (a function, or the module for None), or in a function of the
    file that `scope` calls by name."""
    owner = _scope_of(ctx, use)
    if owner is scope:
        return True
    if owner is None:
        return False
    for node in ctx.walk(ctx.module if scope is None else scope.body):
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == owner.name.value:
            if in_file_function(ctx, node.func) is owner:
                return True
    return False


def _saves(ctx: FileContext, scope: cst.FunctionDef | None) -> list[cst.Call]:
    """Whole-model saves in the scope: `model.save(path)`, `keras.saving.save_model(...)`, a
    `ModelCheckpoint` that is not weights-only."""
    found = []
    for node in ctx.walk(ctx.module if scope is None else scope.body):
        if not isinstance(node, cst.Call):
            continue
        api = ctx.call_api(node)
        if api is None:
            if isinstance(node.func, cst.Attribute) and node.func.attr.value == "save" and node.args:
                found.append(node)
        elif api.family == "keras" and api.leaf == "save_model":
            found.append(node)
        elif api.family == "keras" and api.leaf == "ModelCheckpoint":
            weights_only = arg(node, "save_weights_only")
            if not (isinstance(weights_only, cst.Name) and weights_only.value == "True"):
                found.append(node)
    return found


def _saved_model(ctx: FileContext, call: cst.Call, load: cst.Call) -> tuple[str, cst.Call] | None:
    """The name of the model a save writes: `wide.save(...)`, `save_model(wide, ...)`, or a
    `ModelCheckpoint` given to `wide.fit(callbacks=...)` (in the list, or in a list bound to a
    name given there), and the call that writes it (the save, or that fit); None when it is not
    a plain name (`self.model.save`, a checkpoint made in a helper)."""
    writer = call
    if isinstance(call.func, cst.Attribute) and call.func.attr.value == "save":
        model = call.func.value
    elif (dotted(call.func) or "").rsplit(".", 1)[-1] == "save_model":
        model = arg(call, "model", 0)
    else:
        fit = _fit_with(ctx, call, load)
        if fit is None:
            return None
        writer, model = fit, fit.func.value  # type: ignore[attr-defined]
    return (model.value, writer) if isinstance(model, cst.Name) else None


def _fit_with(ctx: FileContext, checkpoint: cst.Call, load: cst.Call) -> cst.Call | None:
    """The one `X.fit(callbacks=...)` that gets this checkpoint between it and the load (a
    notebook gives the same list to later fits too)."""
    holder = ctx.enclosing(checkpoint, (cst.Assign,))
    names = {
        t.target.value for t in holder.targets if isinstance(t.target, cst.Name)
    } if isinstance(holder, cst.Assign) else set()
    receivers = []
    for call in ctx.of_type(cst.Call):
        if not (isinstance(call.func, cst.Attribute) and call.func.attr.value == "fit"):
            continue
        if not ctx.order(checkpoint) < ctx.order(call) < ctx.order(load):
            continue
        given = arg(call, "callbacks")
        if given is None:
            continue
        if ctx.is_within(checkpoint, given) or any(
            isinstance(n, cst.Name) and n.value in names for n in ctx.walk(given)
        ):
            receivers.append(call)
    return receivers[0] if len(receivers) == 1 else None


def _written(ctx: FileContext, save: cst.Call, load: cst.Call) -> tuple[str, cst.Assign | None] | None:
    """The model name a save writes and the last binding of that name before it is written;
    None when the model is not visible."""
    saved = _saved_model(ctx, save, load)
    if saved is None:
        return None
    model, writer = saved
    return model, _last_binding(ctx, model, before=writer)


def _into(ctx: FileContext, use: cst.CSTNode, written: list[tuple[str, cst.Assign | None] | None]) -> bool:
    """The use may put its object into a model one of the saves writes (`_written`). No when it
    visibly goes to another model: when the saved name is bound anew between the use and the
    save (a notebook reuses `model` for the next experiment) to a value that does not take what
    the use's statement made, or when the use visibly puts it into a model no save writes
    (`other.compile(loss=custom)`, `other = CustomModel(...)`). A layer built in an expression
    flows through the functional API: yes, unless the saved model was built anew since."""
    made = _made_by(ctx, use)
    for saved in written:
        if saved is None:
            return True
        model, last = saved
        if last is not None and ctx.order(use) < ctx.order(last):
            # Built anew after the use: only what its value takes from the use's statement.
            taken = {n.value for n in ctx.walk(last.value) if isinstance(n, cst.Name)}
            if made is None or taken & made:
                return True
            continue
        if made is None or model in made:
            return True
    return False


def _made_by(ctx: FileContext, use: cst.CSTNode) -> set[str] | None:
    """The names a use puts its object into: `X` of `X.compile(...)`, the targets of the
    assignment that holds a construction; None when it is not visible."""
    if isinstance(use, cst.Call) and isinstance(use.func, cst.Attribute) and use.func.attr.value == "compile":
        owner = use.func.value
        return {owner.value} if isinstance(owner, cst.Name) else None
    statement = ctx.enclosing(use, (cst.Assign,))
    if not isinstance(statement, cst.Assign):
        return None
    targets = [t.target for t in statement.targets]
    if not all(isinstance(t, cst.Name) for t in targets):
        return None
    return {t.value for t in targets}  # type: ignore[union-attr]


def _last_binding(ctx: FileContext, name: str, before: cst.CSTNode) -> cst.Assign | None:
    """The last module-level `name = ...` before `before`."""
    found = None
    for assign in ctx.of_type(cst.Assign):
        if ctx.order(assign) >= ctx.order(before) or ctx.enclosing(assign, (cst.FunctionDef,)) is not None:
            continue
        if any(isinstance(t.target, cst.Name) and t.target.value == name for t in assign.targets):
            if found is None or ctx.order(assign) > ctx.order(found):
                found = assign
    return found


def _saved_path(call: cst.Call) -> cst.BaseExpression | None:
    """The file a save writes: `model.save(path)`, `save_model(model, path)`, `ModelCheckpoint(path)`."""
    if isinstance(call.func, cst.Attribute) and call.func.attr.value == "save":
        return arg(call, "filepath", 0)
    leaf = (dotted(call.func) or "").rsplit(".", 1)[-1]
    return arg(call, "filepath", 1 if leaf == "save_model" else 0)


def _literal_path(expr: cst.BaseExpression | None) -> str | None:
    if isinstance(expr, cst.SimpleString):
        value = expr.evaluated_value
        return value if isinstance(value, str) else None
    return None


def _registered(node: cst.FunctionDef | cst.ClassDef, by_call: set[str]) -> bool:
    if node.name.value in by_call:
        return True
    for decorator in node.decorators:
        target = decorator.decorator
        func = target.func if isinstance(target, cst.Call) else target
        text = (dotted(func) or "").lower()
        if "register" in text or "serializable" in text or text.endswith("_export"):
            return True
    return False


def _registered_by_call(ctx: FileContext) -> set[str]:
    """Names passed to `register_keras_serializable(...)(Name)`."""
    found: set[str] = set()
    if "register" not in ctx.source:
        return found
    for node in ctx.nodes:
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Call) and node.args:
            if "register" in (dotted(node.func.func) or "").lower() and isinstance(node.args[0].value, cst.Name):
                found.add(node.args[0].value.value)
    return found


def _customs(ctx: FileContext) -> list[_Custom]:
    """The unregistered custom objects of the file, with the places that put them in a model."""
    by_call = _registered_by_call(ctx)
    found: dict[str, tuple[str, cst.FunctionDef | cst.ClassDef, bool, list[cst.CSTNode]]] = {}

    def add(kind: str, node: cst.FunctionDef | cst.ClassDef, compile_only: bool, use: cst.CSTNode) -> None:
        if not _registered(node, by_call):
            found.setdefault(node.name.value, (kind, node, compile_only, []))[3].append(use)

    for loss in ctx.index.losses:
        if not loss.compile_calls or loss.origin not in ("compile", "factory", "subclass"):
            continue
        definition = ctx.enclosing(loss.node, (cst.ClassDef,)) if loss.origin == "subclass" else loss.node
        if isinstance(definition, (cst.ClassDef, cst.FunctionDef)):
            for call in loss.compile_calls:
                add("loss", definition, True, call)
    for call in ctx.index.compile_calls:
        for expr in _flatten(arg(call, "metrics")):
            fn = in_file_function(ctx, expr)
            if fn is not None:
                add("metric", fn, True, call)
            elif isinstance(expr, cst.Call):
                cls = in_file_class(ctx, expr.func)
                if cls is not None and cls in ctx.index.metric_classes:
                    add("metric", cls, True, call)
    classes = ctx.index.layer_classes | ctx.index.model_classes
    if classes:
        for node in ctx.nodes:
            if isinstance(node, cst.Call) and isinstance(node.func, cst.Name):
                cls = in_file_class(ctx, node.func)
                if cls is not None and cls in classes:
                    add("layer" if cls in ctx.index.layer_classes else "model", cls, False, node)
    return [_Custom(kind, name, node, only, tuple(uses)) for name, (kind, node, only, uses) in found.items()]


def _flatten(expr: cst.BaseExpression | None) -> Iterator[cst.BaseExpression]:
    if expr is None:
        return
    if isinstance(expr, (cst.List, cst.Tuple)):
        for element in expr.elements:
            yield from _flatten(element.value)
    elif isinstance(expr, cst.Dict):
        for element in expr.elements:
            if isinstance(element, cst.DictElement):
                yield from _flatten(element.value)
    else:
        yield expr


def _finding(ctx: FileContext, call: cst.Call, needed: list[_Custom], no_compile: bool, save: cst.Call) -> Finding:
    shown = needed[:3]
    items = [f"the custom {c.kind} `{c.name}` (line {ctx.start(c.node.name)[0]})" for c in shown]
    if len(needed) > 3:
        items.append(f"{len(needed) - 3} more")
    listed = items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
    structural = [c for c in needed if not c.compile_only]
    first = needed[0]
    if structural:
        what = (
            "Keras 3 raises TypeError: <class 'Functional'> could not be deserialized properly "
            f"(Could not locate class '{structural[0].name}'), with or without compile=False"
        )
    elif isinstance(first.node, cst.ClassDef):
        what = f"Keras 3 raises TypeError: Could not locate class '{first.name}', even in the process that defined it"
    else:
        what = f"Keras 3 raises TypeError: Could not locate function '{first.name}', even in the process that defined it"
    objects = ", ".join(f'"{c.name}": {c.name}' for c in needed)
    fix = (
        f"pass `custom_objects={{{objects}}}`, or decorate {'them' if len(needed) > 1 else 'it'} with "
        "`@keras.saving.register_keras_serializable()`"
    )
    if not structural:
        fix += "; for inference only, `compile=False` loads the model without its loss and metrics"
    gets = "no `custom_objects=`" if no_compile else "neither `custom_objects=` nor `compile=False`"
    return ctx.finding(
        RULE, call,
        f"`{code_of(call, 50)}` gets {gets}, and the model saved at line {ctx.start(save)[0]} uses "
        f"{listed}: {what}",
        fix,
        related=(ctx.related(save, "model saved here"),)
        + tuple(ctx.related(c.node.name, f"custom {c.kind} defined here") for c in shown),
    )


RULE = Rule(
    code="LL304",
    name="custom-objects-missing",
    severity=Severity.WARNING,
    passes=(Pass.STATIC,),
    summary="load_model of a model with custom objects, without custom_objects or compile=False.",
    static_check=check,
)
