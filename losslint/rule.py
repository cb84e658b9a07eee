"""What a rule is: its catalogue entry and its checks, static and dynamic."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from losslint.findings import Pass, Severity

if TYPE_CHECKING:
    from losslint.findings import Finding
    from losslint.static.context import FileContext

StaticCheck = Callable[["FileContext"], Iterator["Finding"]]

PROJECT_URL = "https://github.com/losslint/losslint"
RULES_URL = PROJECT_URL + "/blob/main/rules/"


class Stage(Enum):
    """Where in the dynamic probe of a compiled model a check runs, and what it receives
    (the contexts are in losslint/dynamic/context.py)."""

    MODEL = "model"  # the compiled model, before anything is called: ModelContext
    FORWARD = "forward"  # the model called on the batch's rows (ModelContext.forward_failure)
    STRUCTURE = "structure"  # losses, loss weights, outputs and targets, paired by Keras: ModelContext
    TARGETS = "targets"  # one (output, loss) pair, before the loss runs: PairContext
    RUNS = "runs"  # the loss traced as fit traces it and run at several batch sizes: RunsContext
    BUILTIN = "builtin"  # a Keras built-in loss that ran: PairContext
    GRAPH = "graph"  # the ops of a user-written loss or metric, traced: GraphContext
    VALUES = "values"  # values and gradients of a user-written loss: ValuesContext
    STEP = "step"  # a custom train_step measured on the real batch: StepContext


@dataclass(frozen=True)
class Probe:
    """A dynamic check. The checks of a stage run in the order of (rank, rule code); a check
    that returns True has explained what the later checks of its stage and the later stages
    would see, so the probe of that loss (of the model, for STRUCTURE) stops there."""

    stage: Stage
    check: Callable[[Any], bool | None]
    rank: int = 0


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    severity: Severity
    passes: tuple[Pass, ...]
    summary: str
    # The static check; None while the rule is only found by the dynamic pass (or not yet).
    static_check: StaticCheck | None = None
    # Rules off unless asked for by code or by their own flag (like ruff's RUF100).
    default_enabled: bool = True
    # Reported by the linter itself rather than by a check (LL001 when a file does not parse,
    # LL004 from the suppression comments).
    built_in: bool = False
    # The dynamic pass reports it: through `probes`, or from the runner itself (LL002, LL003,
    # LL005, LL006, about the script's run).
    dynamic: bool = False
    probes: tuple[Probe, ...] = ()
    # Its dynamic findings are about a failure at some shape, which a guessed input shape or
    # size (a script run without its data) could explain: dropped when anything was guessed.
    shape_dependent: bool = False

    @property
    def static_implemented(self) -> bool:
        return self.static_check is not None or self.built_in

    @property
    def status(self) -> str:
        """What is implemented, per pass: the `status` column of the rule pages."""
        parts = []
        if Pass.STATIC in self.passes:
            parts.append(f"static: {'implemented' if self.static_implemented else 'not yet implemented'}")
        if Pass.DYNAMIC in self.passes:
            parts.append(f"dynamic: {'implemented' if self.dynamic else 'not yet implemented'}")
        return "; ".join(parts)

    @property
    def page_name(self) -> str:
        return f"{self.code}-{self.name}.md"

    @property
    def page_url(self) -> str:
        """The rule's page online (SARIF's helpUri, the editor's link on a diagnostic)."""
        return RULES_URL + self.page_name

    @property
    def passes_label(self) -> str:
        return ", ".join(p.value for p in self.passes)
