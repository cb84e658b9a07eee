"""The code's shape: one rule, one module holding its checks for both passes; no import cycles;
no module over ~800 lines; the rule modules load without TensorFlow, Keras or NumPy."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from losslint import registry

PACKAGE = Path(__file__).resolve().parents[1] / "losslint"
MAX_LINES = 800


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules `name` imports, at load time or inside functions, but not under
    `if TYPE_CHECKING:`."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parent = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join(parent + ([child.module] if child.module else []))
                submodules = [f"{base}.{alias.name}" for alias in child.names if f"{base}.{alias.name}" in modules]
                found.update(submodules)
                if len(submodules) < len(child.names):
                    found.add(base)
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return {module for module in found if module in modules and module != name}


def test_no_import_cycles() -> None:
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        stack.append(name)
        for other in sorted(graph[name]):
            if state.get(other) == 1:
                cycles.append([*stack[stack.index(other):], other])
            elif other not in state:
                visit(other)
        stack.pop()
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)
    assert not cycles, "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_the_cycle_check_sees_a_cycle_inside_a_function(tmp_path: Path) -> None:
    a = tmp_path / "a.py"
    a.write_text("import losslint.b\n")
    b = tmp_path / "b.py"
    b.write_text("def f():\n    from losslint import a\n\nif TYPE_CHECKING:\n    import losslint.c\n")
    modules = {"losslint.a": a, "losslint.b": b, "losslint.c": b}
    assert _imports("losslint.a", a, modules) == {"losslint.b"}
    assert _imports("losslint.b", b, modules) == {"losslint.a"}


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_is_over_800_lines(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{path.relative_to(PACKAGE)} has {lines} lines"


@pytest.mark.parametrize("rule", registry.ALL_RULES, ids=lambda r: r.code)
def test_each_check_lives_in_its_rules_module(rule) -> None:
    module = f"losslint.rules.{rule.code.lower()}_{rule.name.replace('-', '_')}"
    assert sys.modules[module].RULE is rule
    checks = [rule.static_check] if rule.static_check else []
    checks += [probe.check for probe in rule.probes]
    for check in checks:
        assert check.__module__ == module, f"{rule.code}'s check {check.__name__} is in {check.__module__}"
    if rule.dynamic and rule.code[2] != "0":
        # Reported by the probe of a model (LL1xx-LL3xx): the rule registers its dynamic check.
        assert rule.probes, f"{rule.code} is reported by the dynamic pass but registers no probe"


def test_probe_machinery_names_no_rule() -> None:
    """The probe and its contexts build what the checks see; which finding that makes is the rules'."""
    for module in ("probe", "context", "describe", "trace", "discrepancy"):
        source = (PACKAGE / "dynamic" / f"{module}.py").read_text(encoding="utf-8")
        tree = ast.parse(source)
        codes = [
            node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value[:2] == "LL"
            and node.value[2:5].isdigit()
        ]
        assert not codes, f"losslint/dynamic/{module}.py names {codes}"


def test_the_static_side_loads_without_tensorflow_keras_or_numpy() -> None:
    code = (
        "import sys, losslint.cli, losslint.registry, losslint.runner\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'numpy') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""

