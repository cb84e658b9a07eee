"""Run a script statement by statement, and go on past what the environment lacks.

A real training script fails before `fit` in a linter's sandbox for reasons that are not its
bug: its data file is not there, downloads are off, pandas is not installed. The executor runs
the module's statements one at a time; when one fails for such a reason (see `environment`),
the names it would have bound become stand-ins and the next statement runs. A failure deep in
`main()` resumes in `main`'s own frame, after the statement that failed, with the locals the
frame had: the model, the losses and `compile` are still reached.

A statement that fails for any other reason is the user's bug: execution stops there.
"""

from __future__ import annotations

import ast
import builtins
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from losslint.dynamic.environment import Reason, environment_reason
from losslint.dynamic.standins import SAMPLE_SHAPES, GuessedShape, Ledger, StandIn, is_standin, standin_for

_RESUME = "__losslint_resume__"
_VALUE = "__losslint_value__"
_CO_GENERATOR_LIKE = 0x20 | 0x80 | 0x100 | 0x200  # generator, coroutine, iterable coroutine, async gen


@dataclass
class Skip:
    """A statement the environment stopped; its names were bound to stand-ins."""

    path: str
    line: int  # the user's statement that failed (its names were bound to stand-ins)
    reason: Reason
    names: list[str]
    origin: int = 0  # the script's innermost line in the traceback: where the need arose


@dataclass
class Execution:
    skips: list[Skip] = field(default_factory=list)
    # The user's own failure that stopped the script: (exception, traceback).
    failure: tuple[BaseException, Any] | None = None


class UserFailure(Exception):
    """Private: an exception the environment does not explain unwinds the executor."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


class Executor:
    def __init__(self, script: Path, source: str, ledger: Ledger, is_user_file: Callable[[str], bool]) -> None:
        self.script = script
        self.filename = str(script)
        self.tree = ast.parse(source, self.filename)
        self.ledger = ledger
        self.is_user_file = is_user_file
        self.execution = Execution()
        self._bodies: dict[Any, list[ast.stmt]] = {}  # code object of a resume function -> its body
        self._flags = _future_flags(self.tree)
        self.tainted: set[str] = set()  # names of containers a skipped statement would have filled

    # -- the module ----------------------------------------------------------------------

    def run(self, namespace: dict[str, Any]) -> Execution:
        """Execute the script in `namespace` (the `__main__` module's dict). StopBeforeTraining
        and SystemExit propagate; the user's own failure is recorded and ends the run."""
        self.module_body = _flatten_main(self.tree.body)
        try:
            self._run_block(self.module_body, namespace)
        except UserFailure as failure:
            self.execution.failure = (failure.error, failure.error.__traceback__)
        return self.execution

    def _run_block(self, statements: list[ast.stmt], namespace: dict[str, Any]) -> None:
        for statement in statements:
            code = compile(ast.Module([statement], []), self.filename, "exec", flags=self._flags, dont_inherit=True)
            self._bodies[code] = [statement]
            uses = self.ledger.uses
            try:
                exec(code, namespace)
            except Exception as error:  # noqa: BLE001 - the user's script may raise anything
                self._recover(error, uses)
                continue
            if self.ledger.uses != uses and isinstance(statement, (ast.Assign, ast.AnnAssign)):
                # `users_count = ds.reduce(...).numpy()` on a stand-in data set: a count is a number.
                for name in _bound_names(statement):
                    if isinstance(namespace.get(name), StandIn):
                        namespace[name] = standin_for(name, self.ledger)

    # -- recovery ------------------------------------------------------------------------

    def _recover(self, error: BaseException, uses: int) -> Any:
        """Decide whether `error` is the environment's; if so, resume after it, else raise
        UserFailure. The deepest frame that can be resumed goes on after its failed statement
        (whose names become stand-ins), then each caller after the call that led there, the
        callee's return value bound as the call's result. Returns what the outermost resumed
        function returned (None at module level)."""
        levels: list[tuple[Any, ast.stmt, list[ast.stmt]]] = []  # (frame, failed statement, rest)
        frames = [(f, line) for f, line in _walk(error.__traceback__) if self.is_user_file(f.f_code.co_filename)]
        for index, (frame, line) in enumerate(frames):
            body = self._body_of(frame, line)
            found = _locate(body, line) if body is not None else None
            if found is None:
                break
            levels.append((frame, *found))
            callee = frames[index + 1][0] if index + 1 < len(frames) else None
            if callee is None or not _calls_into(found[0], callee.f_code.co_name):
                break  # its names become stand-ins here
        # After a guessed size every value may derive from it: no failure is surely the user's.
        met_standin = self.ledger.uses != uses or self.ledger.guesses > 0 or any(
            _loads_standin(failed, {**frame.f_globals, **frame.f_locals}, self.tainted) for frame, failed, _ in levels
        )
        reason = environment_reason(error, met_standin, self.ledger, self.is_user_file)
        if reason is None or not levels:
            raise UserFailure(error) from None
        frame, failed, _ = levels[-1]
        names = _bound_names(failed)
        built = self._other_shapes(frame, failed) if reason.kind == "stand-in" and self.ledger.shapes else None
        if built is not None:  # it builds on another guessed sample shape: go on with what it bound
            names = []
            reason = Reason("shape", f"built on a guessed sample shape {self.ledger.sample_shape}")
        origin = [line for f, line in _walk(error.__traceback__) if f.f_code.co_filename == self.filename][-1]
        self.execution.skips.append(Skip(self.filename, failed.lineno, reason, names, origin))
        # The containers it would have filled (`metadata[id] = ...` in a skipped loop) stay
        # empty or partial: a later failure on them is this one's consequence.
        scope = {**frame.f_globals, **frame.f_locals}
        self.tainted.update(
            name for name in _loaded_names(failed) if isinstance(scope.get(name), (list, dict, set)) or _is_array(scope.get(name))
        )
        del error, frames  # the traceback holds every frame: let them go
        value: Any = None
        # A skipped statement that would have returned (`with open(p) as f: return json.load(f)`):
        # the function returns a stand-in.
        skipped_return = any(isinstance(n, ast.Return) and n.value is not None for n in ast.walk(failed))
        for depth in range(len(levels) - 1, -1, -1):
            frame, failed, rest = levels[depth]
            module = frame.f_code.co_name == "<module>"
            local = frame.f_globals if module else {k: v for k, v in frame.f_locals.items() if k.isidentifier()}
            if depth == len(levels) - 1:
                for name in names:
                    local[name] = standin_for(name, self.ledger)
                built = dict(built or {})
                returned = built.pop(_VALUE, None)
                local.update(built)
                if isinstance(failed, ast.Return):
                    value = returned if returned is not None else standin_for(f"{frame.f_code.co_name}()", self.ledger)
                    skipped_return = False
                    continue
            elif isinstance(failed, ast.Return):
                continue  # `return train(...)`: this function returns what the callee returned
            elif isinstance(failed, (ast.Assign, ast.AnnAssign)):
                self._assign(failed, value, local, frame.f_globals)
            if module:
                if rest:
                    self._run_block(rest, frame.f_globals)
                value = None
            else:
                value = self._resume(frame, rest, local)
                if value is None and skipped_return:
                    value = standin_for(f"{frame.f_code.co_name}()", self.ledger)
                skipped_return = False
        return value

    def _other_shapes(self, frame: Any, failed: ast.stmt) -> dict[str, Any] | None:
        """Run `failed` again with each other guessed sample shape (an image model built from
        `x_train.shape[1:]`); on success, what it bound."""
        module = frame.f_code.co_name == "<module>"
        local = frame.f_globals if module else frame.f_locals
        statement: ast.stmt = failed
        if isinstance(failed, ast.Return):  # `return keras.Sequential([...])`: keep the value
            statement = ast.copy_location(
                ast.Assign(targets=[ast.Name(id=_VALUE, ctx=ast.Store())], value=failed.value or ast.Constant(None)), failed,
            )
        try:
            code = compile(ast.fix_missing_locations(ast.Module([statement], [])), self.filename, "exec",
                           flags=self._flags, dont_inherit=True)
        except SyntaxError:  # `yield`, `break` outside their block: not retried
            return None
        first = self.ledger.sample_shape
        for sample in SAMPLE_SHAPES:
            if sample == first:
                continue
            self.ledger.sample_shape = sample
            scope = dict(frame.f_globals) if module else {**frame.f_globals, **local}
            for name, value in list(scope.items()):
                if isinstance(value, GuessedShape) and len(value) in (len(first), len(first) + 1):
                    scope[name] = self.ledger.shape(with_batch=len(value) > len(first))
            try:
                exec(code, scope)
            except Exception:  # noqa: BLE001 - not this shape either
                continue
            return {name: scope[name] for name in [*_bound_names(statement)] if name in scope}
        self.ledger.sample_shape = first
        return None

    def _assign(self, statement: ast.Assign | ast.AnnAssign, value: Any, local: dict[str, Any], globals_: dict[str, Any]) -> None:
        """`targets = <the resumed callee's return value>`, or stand-ins when it does not unpack."""
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        assign = ast.Assign(targets=targets, value=ast.Name(id=_VALUE, ctx=ast.Load()))
        ast.copy_location(assign, statement)
        code = compile(ast.fix_missing_locations(ast.Module([assign], [])), self.filename, "exec", dont_inherit=True)
        module = local is globals_
        scope = globals_ if module else {**local, _VALUE: value}
        scope[_VALUE] = value
        try:
            # In a function frame the names go to `scope`, a copy of its locals.
            exec(code, globals_, None if module else scope)
        except Exception:  # noqa: BLE001 - `a, b, c = <stand-in>`
            for name in _bound_names(statement):
                local[name] = standin_for(name, self.ledger)
        finally:
            scope.pop(_VALUE, None)
        if not module:
            local.update(scope)

    def _resume(self, frame: Any, rest: list[ast.stmt], local: dict[str, Any]) -> Any:
        """Run `rest` as the body of a function whose parameters are the frame's locals; its
        return value."""
        if not rest:
            return None
        original = self._body_of(frame, frame.f_lineno) or []
        global_names = sorted({name for s in original if isinstance(s, ast.Global) for name in s.names})
        params = [name for name in local if name not in global_names]
        args = ast.arguments(
            posonlyargs=[], args=[ast.arg(arg=name) for name in params], vararg=None, kwonlyargs=[],
            kw_defaults=[], kwarg=None, defaults=[],
        )
        body: list[ast.stmt] = [ast.Global(names=global_names)] if global_names else []
        function = ast.FunctionDef(
            name=_RESUME, args=args, body=body + rest, decorator_list=[], returns=None, type_params=[],
        )
        for node in ast.walk(function):  # the synthetic nodes need positions; the user's keep theirs
            if "lineno" in node._attributes and not hasattr(node, "lineno"):
                ast.copy_location(node, rest[0])
        module = ast.fix_missing_locations(ast.Module([function], []))
        scope: dict[str, Any] = {}
        exec(compile(module, self.filename, "exec", flags=self._flags, dont_inherit=True), frame.f_globals, scope)
        resume = scope[_RESUME]
        self._bodies[resume.__code__] = rest
        uses = self.ledger.uses
        try:
            return resume(*(local[name] for name in params))
        except Exception as error:  # noqa: BLE001 - a failure in the resumed body: the same rules
            return self._recover(error, uses)

    def _body_of(self, frame: Any, line: int) -> list[ast.stmt] | None:
        """The statements of the user's function running in `frame`, when it can be resumed."""
        code = frame.f_code
        if code in self._bodies:
            return self._bodies[code]
        if code.co_flags & _CO_GENERATOR_LIKE or code.co_filename != self.filename:
            return None
        for node in ast.walk(self.tree):
            if (
                isinstance(node, ast.FunctionDef) and node.name == code.co_name
                and node.lineno <= line <= (node.end_lineno or node.lineno)
                and not any(isinstance(n, ast.FunctionDef) and n is not node and n.lineno <= line <= (n.end_lineno or n.lineno)
                            for n in ast.walk(node))
            ):
                return node.body
        return None


def _walk(tb: Any) -> list[tuple[Any, int]]:
    frames = []
    while tb is not None:
        frames.append((tb.tb_frame, tb.tb_lineno))
        tb = tb.tb_next
    return frames


def _locate(body: list[ast.stmt], line: int) -> tuple[ast.stmt, list[ast.stmt]] | None:
    """The statement of `body` that holds `line`, and what runs after it. Inside a `with`, an
    `if` or a `try` body the rest of that block runs first (the context manager is not
    re-entered: it is what failed, or it holds nothing the probe needs)."""
    for index, statement in enumerate(body):
        if not statement.lineno <= line <= (statement.end_lineno or statement.lineno):
            continue
        after = body[index + 1:]
        blocks: list[list[ast.stmt]] = []
        if isinstance(statement, (ast.With, ast.AsyncWith)):
            blocks = [statement.body]
        elif isinstance(statement, ast.If):
            blocks = [statement.body, statement.orelse]
        elif isinstance(statement, ast.Try):
            blocks = [statement.body, statement.orelse, statement.finalbody]
        for block in blocks:
            if block and block[0].lineno <= line:
                inner = _locate(block, line)
                if inner is not None:
                    return inner[0], inner[1] + after
        return statement, after
    return None


def _calls_into(statement: ast.stmt, callee: str) -> bool:
    """Whether the failure of `statement` can be resumed in the frame of function `callee`: a
    call whose result is dropped (`main()`, `app.run(main)`: the callee may be called by a
    library), or assigned or returned from a call of the callee itself (`model = build()`)."""
    if isinstance(statement, ast.Expr):
        return isinstance(statement.value, ast.Call)
    if isinstance(statement, (ast.Assign, ast.AnnAssign, ast.Return)) and isinstance(statement.value, ast.Call):
        func = statement.value.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        return name == callee
    return False


def _flatten_main(body: list[ast.stmt]) -> list[ast.stmt]:
    """`if __name__ == "__main__":` blocks run as module-level statements."""
    flat: list[ast.stmt] = []
    for statement in body:
        if isinstance(statement, ast.If) and _is_main_guard(statement.test):
            flat.extend(_flatten_main(statement.body))
        else:
            flat.append(statement)
    return flat


def _is_main_guard(test: ast.expr) -> bool:
    return (
        isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__"
        and len(test.comparators) == 1 and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value == "__main__"
    )


def _bound_names(statement: ast.stmt) -> list[str]:
    """The names a statement binds (for a compound statement: anywhere inside, not in nested defs)."""
    names: list[str] = []

    def add(name: str) -> None:
        if name not in names:
            names.append(name)

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            add(node.name)
            return
        if isinstance(node, ast.Lambda):
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name != "*":
                    add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            add(node.name)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(statement)
    return names


def _loads_standin(statement: ast.stmt, namespace: dict[str, Any], tainted: set[str] = frozenset()) -> bool:
    for name in _loaded_names(statement):
        if name in tainted or (name in namespace and is_standin(namespace[name])):
            return True
    return False


def _loaded_names(statement: ast.stmt) -> list[str]:
    return [node.id for node in ast.walk(statement) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)]


def _is_array(value: Any) -> bool:
    return type(value).__module__ == "numpy" and type(value).__name__ == "ndarray"


def _future_flags(tree: ast.Module) -> int:
    import __future__

    flags = 0
    for statement in tree.body:
        if isinstance(statement, ast.ImportFrom) and statement.module == "__future__":
            for alias in statement.names:
                feature = getattr(__future__, alias.name, None)
                if feature is not None:
                    flags |= feature.compiler_flag
    return flags


def main_module(script: Path) -> types.ModuleType:
    """A fresh `__main__` for the script, as runpy makes one (pickle and dataclasses need it)."""
    module = types.ModuleType("__main__")
    module.__file__ = str(script)
    module.__builtins__ = builtins  # type: ignore[attr-defined]
    module.__package__ = None
    module.__spec__ = None
    module.__loader__ = None
    module.__cached__ = None  # type: ignore[attr-defined]
    sys.modules["__main__"] = module
    return module
