"""The one place rules are registered. CLI, config validation, SARIF and the docs test read it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from losslint.rule import Rule, Stage
from losslint.rules import (
    ll001_syntax_error,
    ll002_script_failed,
    ll003_script_timeout,
    ll004_unused_suppression,
    ll005_probed_without_data,
    ll006_probe_incomplete,
    ll101_reshape_in_loss,
    ll102_target_indexed_as_list,
    ll103_hardcoded_batch_size,
    ll104_batched_dot,
    ll105_symbolic_tensor_in_loss,
    ll106_removed_api,
    ll107_swapped_loss_arguments,
    ll108_numpy_in_loss,
    ll109_non_differentiable_loss,
    ll110_batch_reduced_loss,
    ll111_tensor_python_control_flow,
    ll201_target_shape_mismatch,
    ll202_silent_broadcast,
    ll203_loss_output_mismatch,
    ll204_from_logits_mismatch,
    ll205_label_encoding_mismatch,
    ll206_loss_probe_failed,
    ll207_non_finite_loss,
    ll208_batch_mixing_loss,
    ll209_unbounded_loss,
    ll301_train_step_ignores_compiled_loss,
    ll302_loss_discrepancy,
    ll303_symbolic_add_loss,
    ll304_custom_objects_missing,
    ll305_metric_reset_states,
)

ALL_RULES: tuple[Rule, ...] = tuple(
    module.RULE
    for module in (
        ll001_syntax_error,
        ll002_script_failed,
        ll003_script_timeout,
        ll004_unused_suppression,
        ll005_probed_without_data,
        ll006_probe_incomplete,
        ll101_reshape_in_loss,
        ll102_target_indexed_as_list,
        ll103_hardcoded_batch_size,
        ll104_batched_dot,
        ll105_symbolic_tensor_in_loss,
        ll106_removed_api,
        ll107_swapped_loss_arguments,
        ll108_numpy_in_loss,
        ll109_non_differentiable_loss,
        ll110_batch_reduced_loss,
        ll111_tensor_python_control_flow,
        ll201_target_shape_mismatch,
        ll202_silent_broadcast,
        ll203_loss_output_mismatch,
        ll204_from_logits_mismatch,
        ll205_label_encoding_mismatch,
        ll206_loss_probe_failed,
        ll207_non_finite_loss,
        ll208_batch_mixing_loss,
        ll209_unbounded_loss,
        ll301_train_step_ignores_compiled_loss,
        ll302_loss_discrepancy,
        ll303_symbolic_add_loss,
        ll304_custom_objects_missing,
        ll305_metric_reset_states,
    )
)

_BY_CODE = {rule.code: rule for rule in ALL_RULES}
_BY_NAME = {rule.name: rule for rule in ALL_RULES}


def dynamic_checks(stage: Stage) -> list[Callable[[Any], bool | None]]:
    """The rules' dynamic checks of a stage, in the order they run: by rank, then by code."""
    found = [(probe.rank, rule.code, probe.check) for rule in ALL_RULES for probe in rule.probes if probe.stage is stage]
    return [check for _, _, check in sorted(found, key=lambda entry: (entry[0], entry[1]))]


class UnknownSelector(ValueError):
    """A code, name or prefix that matches no rule."""


def get(code_or_name: str) -> Rule | None:
    key = code_or_name.strip()
    return _BY_CODE.get(key.upper()) or _BY_NAME.get(key.lower())


def expand(selector: str) -> list[Rule]:
    """The rules a selector names: "ALL", a code, a rule name, or a code prefix ("LL1")."""
    key = selector.strip()
    if key.upper() == "ALL":
        return list(ALL_RULES)
    rule = get(key)
    if rule is not None:
        return [rule]
    matches = [r for r in ALL_RULES if r.code.startswith(key.upper())] if key.upper().startswith("LL") else []
    if not matches:
        raise UnknownSelector(key)
    return matches


def enabled_codes(
    select: Iterable[str] | None,
    ignore: Iterable[str] = (),
    extend_select: Iterable[str] = (),
) -> frozenset[str]:
    """Codes that run: the selection (default: every default-enabled rule) minus the ignores.

    A rule that is off by default runs only when named by its own code or name, or by ALL.
    """
    if select is None:
        chosen = {r.code for r in ALL_RULES if r.default_enabled}
    else:
        chosen = set()
        for selector in select:
            explicit = get(selector) is not None or selector.strip().upper() == "ALL"
            chosen.update(r.code for r in expand(selector) if r.default_enabled or explicit)
    for selector in extend_select:
        chosen.update(rule.code for rule in expand(selector))
    for selector in ignore:
        chosen.difference_update(rule.code for rule in expand(selector))
    return frozenset(chosen)
