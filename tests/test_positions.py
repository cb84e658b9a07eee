"""FileContext.span (positions from a code generation of the node's top-level statement alone,
shifted by CPython's line of that statement) agrees with libcst's PositionProvider over the
whole module, for every node."""

from __future__ import annotations

import pytest

import libcst as cst

from conftest import FIXTURES
from losslint.static.context import FileContext

TRICKY = {
    "header-and-semicolons": "# header comment\n\n# more\nimport keras; import numpy as np\nx = 1 ; y = [\n  2,\n]; z = 3\n",
    "decorators": "import keras\n\n\n@keras.saving.register_keras_serializable(\n    package='p')\n@staticmethod\nclass A:\n    @property\n    def f(self):  # c\n        return 1\n",
    "crlf": "import keras\r\nx = 1 ; y = 2\r\n\r\n# c\r\ndef f(a,\r\n      b):\r\n    return a\r\n",
    "form-feed-and-tabs": "\x0cimport os\n\n\x0c\ndef g():\n\tif 1:\n\t\treturn 2\nx = (1 +\n 2)\n",
    "continuation": "import keras\nx = 1 + \\\n    2\nif x:\n    pass\nelse:\n    y = 3\n",
}


def _assert_same(path: str, source: str) -> int:
    module = cst.parse_module(source)
    ctx = FileContext.from_module(path, source, module)
    checked = 0
    for node, expected in ctx.positions.items():
        if node is module:
            continue
        got = ctx.span(node)
        assert (got.start, got.end) == (expected.start, expected.end), (path, type(node).__name__)
        checked += 1
    return checked


@pytest.mark.parametrize("name", sorted(TRICKY))
def test_span_agrees_on_tricky_layouts(name: str) -> None:
    assert _assert_same(name, TRICKY[name]) > 5


def test_span_agrees_on_every_fixture() -> None:
    checked = sum(_assert_same(str(p), p.read_text(encoding="utf-8")) for p in sorted(FIXTURES.glob("*/*.py"))
                  if not p.parent.name.startswith("LL001"))
    assert checked > 50_000
