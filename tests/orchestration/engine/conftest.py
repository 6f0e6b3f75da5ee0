"""The engine under test: step jobs go to the broker's steps queue (no worker consumes it) and
:meth:`Engine.drain` runs them here, one message at a time, as a worker would; time is a
:class:`FixedClock` that moves only when the test says so."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.utils import timezone

from orchestration.engine.clock import FixedClock, use
from tests.support.jobs import _broker, _decode, celery_eager, purge


@dataclass
class Engine:
    queue: str
    clock: FixedClock

    def pop(self) -> list[tuple[str, list[Any]]]:
        client = _broker()
        try:
            out = []
            while (raw := client.rpop(self.queue)) is not None:
                out.append(_decode(raw))
            return out
        finally:
            client.close()

    def pending(self) -> list[int]:
        from tests.support.jobs import queued

        return [args[0] for _, args in queued(self.queue)]

    def drain(self, limit: int = 1000) -> list[str]:
        """Runs the waiting step messages (and those they enqueue) until none is left or only
        steps not due yet remain; what became of each, in order."""
        from orchestration.engine.services.execute import step_run

        outcomes: list[str] = []
        while len(outcomes) < limit:
            batch = self.pop()
            if not batch:
                return outcomes
            results = [step_run(step_pk=args[0]) for name, args in batch if name == "engine.step"]
            outcomes += results
            if all(r == "skipped" for r in results) and self.pending():
                return outcomes  # what is left waits for its time
        raise AssertionError("the engine did not settle")


@pytest.fixture
def engine(settings) -> Iterator[Engine]:
    from maestro.queue import Queue, queue_name

    # Message by message: a worker carrying on with the steps it released is tested on its own.
    settings.MAESTRO_ENGINE_CARRY_STEPS = 0
    with celery_eager(False):
        name = queue_name(Queue.STEPS)
        purge(name)
        clock = FixedClock(start=timezone.now(), rand=0.5)
        with use(clock):
            yield Engine(name, clock)
        purge(name)


SPEC = {"steps": [{"id": "a", "action": "noop"}, {"id": "b", "action": "noop", "dependsOn": ["a"]},
                  {"id": "c", "action": "noop", "dependsOn": ["a"]}, {"id": "d", "action": "noop",
                                                                      "dependsOn": ["b", "c"]}]}
