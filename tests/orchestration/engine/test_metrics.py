from __future__ import annotations

import re

import pytest

from tests.factories import SYSTEM

pytestmark = pytest.mark.django_db(transaction=True)


def value(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_metrics_count_runs_and_steps_by_status_retries_dead_letters_and_step_durations(client, tenant, engine):
    from orchestration.engine.services import run_start, workflow_create

    # given
    before = client.get("/metrics").content.decode()
    workflow_create(tenant=tenant, actor=SYSTEM, name="w", spec_json={"steps": [
        {"id": "ok", "action": "noop"},
        {"id": "bad", "action": "fail", "retry": {"maxAttempts": 2, "initialInterval": 1}}]})
    run_start(tenant=tenant, actor=SYSTEM, workflow="w")

    # when
    engine.drain()
    engine.clock.advance(1)
    engine.drain()
    after = client.get("/metrics").content.decode()

    # then
    def delta(name: str) -> float:
        return value(after, name) - value(before, name)

    assert value(after, 'maestro_runs{status="failed"}') == 1
    assert value(after, 'maestro_run_steps{status="succeeded"}') == 1
    assert value(after, 'maestro_run_steps{status="dead"}') == 1
    assert delta("maestro_engine_step_retries_total") == 1
    assert delta("maestro_engine_dead_letters_total") == 1
    assert delta('maestro_engine_step_transitions_total{status="running"}') == 3
    assert delta('maestro_engine_step_duration_seconds_count{action="fail"}') == 1  # the dead end of it
    assert delta('maestro_engine_runs_finished_total{status="failed"}') == 1
