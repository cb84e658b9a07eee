"""Issue 14, points 3, 5, 6 and 7 on small snippets, both ways: LL104 (contractions over the
batch axis), LL107 (TF1 positional arguments), LL301 (`compute_loss` through any name of the
model), LL106 (one finding per removed import) and LL105 (a model's inputs given to a loss)."""

from __future__ import annotations

import textwrap

import pytest

from losslint.config import Config
from losslint.static.linter import lint_source


def codes_at(source: str, select: tuple[str, ...]) -> list[tuple[int, str]]:
    report = lint_source("snippet.py", textwrap.dedent(source), Config(select=(*select, "LL001")))
    assert not report.errors, report.errors
    assert all(f.code != "LL001" for f in report.findings), "the snippet does not parse"
    return sorted((f.line, f.code) for f in report.findings)


def step(body: str) -> str:
    """A model whose train_step runs `body` (unindented lines), compiled with a loss."""
    return _STEP.format(body=textwrap.indent(textwrap.dedent(body), " " * 12))


# LL301: any `<name>.compute_loss(...)` of the model uses the compiled loss (point 5) ------------

_STEP = """
    import keras
    class M(keras.Model):
        def train_step(self, data):
            x, y = data
{body}
            return {{"loss": loss}}
    model = M(inp, out)
    model.compile("adam", loss="mse")
"""


@pytest.mark.parametrize(
    "body",
    [
        "model = self\nloss = model.compute_loss(x=x, y=y, y_pred=model(x))",
        "loss = self.model.compute_loss(x=x, y=y, y_pred=self.model(x))",
        "loss = super().compute_loss(x=x, y=y, y_pred=self(x))",
        "loss = self.compute_loss(x=x, y=y, y_pred=self(x))",
    ],
)
def test_compute_loss_through_any_name_uses_the_compiled_loss(body: str) -> None:
    assert codes_at(step(body), ("LL301",)) == []


@pytest.mark.parametrize(
    "body",
    [
        "model = self\nloss = keras.ops.mean(keras.ops.abs(y - model(x)))",
        # `loss(...)` of another object is that object's own function, not the compiled loss
        "loss = self.critic.loss(y, self(x))",
    ],
)
def test_own_loss_is_still_reported_whatever_the_model_is_called(body: str) -> None:
    assert codes_at(step(body), ("LL301",)) == [(4, "LL301")]
