"""The registry of workflow step actions (DESIGN §7.1): name → the function that runs it.

It sits at the bottom of the domain so that every part may ask which actions exist (a playbook
refuses to save an action nobody can run) while the implementations live above them all: the
engine fills this registry when Django starts (``orchestration.engine.actions.load``, from
``OrchestrationConfig.ready``) with its built-ins and the plugins of the ``maestro.actions``
entry-point group."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

from maestro.core.actors import Actor
from maestro.tenancy.models import Tenant


@dataclass
class StepContext:
    """What an action is given: the step's ``params``, the run's ``input``, who the run acts as,
    and how many times this step has executed (``execution``, 1-based, replays included)."""

    tenant: Tenant
    actor: Actor
    run_id: str
    step_id: str
    params: dict[str, Any]
    input: dict[str, Any]
    attempt: int
    execution: int
    deadline: float | None = None  # time.monotonic() by which the step must finish
    # The outputs of the steps this one depends on, read when first asked for (most actions never do).
    load_outputs: Callable[[], dict[str, Any]] = field(default=dict, repr=False)

    @cached_property
    def outputs(self) -> dict[str, Any]:
        """The outputs of the steps this one depends on, by step id."""
        return self.load_outputs()


class ActionFailed(Exception):
    """An action's failure, with the message the step records (``error``)."""


Action = Callable[[StepContext], Any]
A = TypeVar("A", bound=Action)


def transactional(fn: A) -> A:
    """Marks an action that only reads and writes Maestro's own database, quickly (``noop``, the
    ``maestro.*`` actions): the engine runs its step whole in one transaction — begin, the
    action, the result, the steps it releases (rolled back, with the action's writes, when the
    action raises) — instead of two around it with a lease kept meanwhile. An action that waits
    on anything else (the network, a timer) must not be marked: it would hold the run's row and
    a database connection while it waits."""
    fn.maestro_transactional = True  # type: ignore[attr-defined]
    return fn


class Registry:
    def __init__(self) -> None:
        self._actions: dict[str, Action] = {}
        self._transactional: set[str] = set()
        self._lock = threading.Lock()

    def register(self, name: str, fn: Action) -> None:
        with self._lock:
            self._actions[name] = fn
            if getattr(fn, "maestro_transactional", False):
                self._transactional.add(name)
            else:
                self._transactional.discard(name)

    def transactional(self, name: str) -> bool:
        """Whether ``name`` runs in its step's transaction (see :func:`transactional`)."""
        return name in self._transactional

    def get(self, name: str) -> Action | None:
        return self._actions.get(name)

    def names(self) -> list[str]:
        return sorted(self._actions)

    def known(self, name: str) -> bool:
        return name in self._actions


REGISTRY = Registry()


def known(name: str) -> bool:
    return REGISTRY.known(name)


def names() -> list[str]:
    return REGISTRY.names()
