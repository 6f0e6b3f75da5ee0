"""The step state machine, driven message by message (tests/orchestration/engine/conftest.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from orchestration.engine.models import DeadLetter, RunStep, StepTransition
from orchestration.runs.models import Run
from tests.factories import SYSTEM
from tests.orchestration.engine.conftest import SPEC
from tests.support.writes import Mark

pytestmark = pytest.mark.django_db(transaction=True)


def start(tenant, spec, name="wf", **kw):
    from orchestration.engine.services import run_start, workflow_create

    workflow_create(tenant=tenant, actor=SYSTEM, name=name, spec_json=spec)
    run, created = run_start(tenant=tenant, actor=SYSTEM, workflow=name, **kw)
    assert created
    return run


def statuses(run):
    return {s.step_id: (s.status, s.attempts) for s in RunStep.objects.filter(run=run)}


def timeline(run):
    return [(t.step.step_id, t.status, t.attempt) for t in StepTransition.objects.filter(run=run).order_by("id")]


def test_a_dag_runs_each_step_once_after_its_dependencies_and_the_run_succeeds(tenant, engine):
    # given
    run = start(tenant, SPEC)
    assert engine.pending() == [RunStep.objects.get(run=run, step_id="a").pk]
    mark = Mark(tenant)

    # when
    outcomes = engine.drain()

    # then
    run.refresh_from_db()
    assert outcomes == ["succeeded"] * 4
    assert run.status == "succeeded"
    assert run.output_data == {"a": None, "b": None, "c": None, "d": None}
    assert statuses(run) == {k: ("succeeded", 1) for k in "abcd"}
    order = [(s, st) for s, st, _ in timeline(run)]
    assert order.index(("d", "queued")) > max(order.index(("b", "succeeded")), order.index(("c", "succeeded")))
    events = mark.event_types()
    assert events.count("step:updated") == 4 * 3 - 1  # a was queued before the mark
    assert [e for e in events if e.startswith("run:")] == ["run:updated", "run:updated"]  # running, succeeded
    # the run as the engine broadcast it is the run as stored (it does not read it back after
    # moving it)
    from orchestration.runs.representations import run_repr

    running, finished = [e.data for e in mark.events() if e.type == "run:updated"]
    assert finished == run_repr(Run.objects.select_related("tenant").get(pk=run.pk))
    assert (running["status"], running["started_at"], running["completed_at"]) == (
        "running", finished["started_at"], None)


def test_a_duplicated_step_message_never_runs_the_step_again(tenant, engine):
    # given: the message of step a delivered twice (a redelivery after a lost ack)
    run = start(tenant, {"steps": [{"id": "a", "action": "fail", "params": {"times": 1}}]})
    pk = RunStep.objects.get(run=run).pk
    from orchestration.engine.services.execute import step_run

    # when
    first = step_run(step_pk=pk)
    again = step_run(step_pk=pk)

    # then
    step = RunStep.objects.get(pk=pk)
    assert (first, again) == ("failed", "skipped")
    assert (step.status, step.attempts, step.executions) == ("dead", 1, 1)
    assert DeadLetter.objects.filter(run=run).count() == 1


def test_a_failing_step_is_retried_with_exponential_backoff_and_jitter_then_succeeds(tenant, engine):
    # given: fails twice, three attempts, 0.1 s doubling; the clock's "random" is 0.5 (so each
    # wait is 3/4 of its base: half fixed, half jittered)
    run = start(tenant, {"steps": [{"id": "b", "action": "fail", "params": {"times": 2},
                                    "retry": {"maxAttempts": 3, "initialInterval": 0.1, "backoffCoefficient": 2}}]})
    step = RunStep.objects.get(run=run)
    t0 = engine.clock.now()

    # when / then: the first failure waits 0.075 s, and the step is not run before that
    assert engine.drain() == ["failed", "skipped"]
    step.refresh_from_db()
    assert (step.status, step.attempts, step.available_at - t0) == ("retrying", 1, timedelta(seconds=0.075))
    engine.clock.advance(0.075)
    assert engine.drain() == ["failed", "skipped"]
    step.refresh_from_db()
    assert (step.status, step.attempts) == ("retrying", 2)
    assert step.available_at - engine.clock.now() == timedelta(seconds=0.15)  # 0.2 × 3/4
    engine.clock.advance(0.15)
    assert engine.drain() == ["succeeded"]

    run.refresh_from_db()
    assert run.status == "succeeded"
    assert timeline(run) == [("b", "queued", 0), ("b", "running", 1), ("b", "retrying", 1), ("b", "running", 2),
                             ("b", "retrying", 2), ("b", "running", 3), ("b", "succeeded", 3)]


def test_max_interval_caps_the_backoff(tenant, engine):
    from orchestration.engine.services.steps import backoff

    step = RunStep(initial_interval=1, backoff_coefficient=10, max_interval=5)
    engine.clock._rand = 1.0

    assert [backoff(step, n) for n in (1, 2, 3)] == [1.0, 5.0, 5.0]


def test_exhausted_retries_make_a_dead_letter_fail_the_run_and_skip_what_depends_on_it(tenant, engine):
    # given
    run = start(tenant, {"steps": [{"id": "a", "action": "noop"},
                                   {"id": "b", "action": "fail", "dependsOn": ["a"],
                                    "retry": {"maxAttempts": 2, "initialInterval": 1}},
                                   {"id": "c", "action": "noop", "dependsOn": ["b"]},
                                   {"id": "d", "action": "noop", "dependsOn": ["c"]}]})

    # when
    engine.drain()
    engine.clock.advance(1)
    engine.drain()

    # then
    run.refresh_from_db()
    assert statuses(run) == {"a": ("succeeded", 1), "b": ("dead", 2), "c": ("skipped", 0), "d": ("skipped", 0)}
    assert (run.status, run.error_message) == ("failed", "step b failed: fail: execution 2")
    assert run.failure_details == {"step": "b", "action": "fail", "error": "fail: execution 2"}
    letter = DeadLetter.objects.get(run=run)
    assert (letter.step_id, letter.action, letter.attempts, letter.error, letter.replayed_at) == (
        "b", "fail", 2, "fail: execution 2", None)


def test_a_replayed_dead_letter_runs_the_step_again_with_fresh_attempts_and_finishes_the_run(tenant, engine):
    from maestro.core.exceptions import Conflict
    from orchestration.engine.services import dead_letter_replay

    # given: "fail" with times 1 fails its first execution only (replays count too)
    run = start(tenant, {"steps": [{"id": "a", "action": "fail", "params": {"times": 1}},
                                   {"id": "b", "action": "noop", "dependsOn": ["a"]}]})
    engine.drain()
    letter = DeadLetter.objects.get(run=run)
    assert Run.objects.get(pk=run.pk).status == "failed"

    # when
    replayed = dead_letter_replay(tenant=tenant, actor=SYSTEM, dead_letter_id=letter.id)
    mid = (Run.objects.get(pk=run.pk).status, statuses(run))
    engine.drain()

    # then
    assert replayed.replayed_at is not None
    assert mid == ("running", {"a": ("queued", 0), "b": ("pending", 0)})
    run.refresh_from_db()
    assert (run.status, run.error_message) == ("succeeded", "")
    a = RunStep.objects.get(run=run, step_id="a")
    assert (a.status, a.attempts, a.executions) == ("succeeded", 1, 2)
    with pytest.raises(Conflict) as again:
        dead_letter_replay(tenant=tenant, actor=SYSTEM, dead_letter_id=letter.id)
    assert "already replayed" in again.value.message


def test_cancel_ends_queued_and_running_steps_and_discards_a_late_result(tenant, engine):
    from maestro.core.exceptions import Conflict
    from orchestration.engine.services import run_cancel
    from orchestration.engine.services.steps import step_begin, step_succeed

    # given: a running, b queued (both roots), c pending
    run = start(tenant, {"steps": [{"id": "a", "action": "noop"}, {"id": "b", "action": "noop"},
                                   {"id": "c", "action": "noop", "dependsOn": ["a", "b"]}]})
    a = step_begin(step_pk=RunStep.objects.get(run=run, step_id="a").pk)
    assert a is not None

    # when
    cancelled = run_cancel(tenant=tenant, actor=SYSTEM, run_id=run.id)
    late = step_succeed(a, output={"late": True})
    outcomes = engine.drain()

    # then
    assert cancelled.status == "cancelled"
    assert late is False
    assert set(outcomes) <= {"skipped"}
    assert statuses(run) == {"a": ("cancelled", 1), "b": ("cancelled", 0), "c": ("cancelled", 0)}
    assert RunStep.objects.get(run=run, step_id="a").output is None
    with pytest.raises(Conflict):
        run_cancel(tenant=tenant, actor=SYSTEM, run_id=run.id)


def test_the_reaper_requeues_a_step_whose_worker_vanished_and_it_completes_once(tenant, engine, settings):
    from orchestration.engine.services.steps import step_begin, steps_reap

    # given: a step taken by a worker that then died (no heartbeat, no result)
    settings.MAESTRO_ENGINE_LEASE_SECONDS = 30
    run = start(tenant, {"steps": [{"id": "a", "action": "noop"}]})
    engine.pop()  # the message died with the worker
    lost = step_begin(step_pk=RunStep.objects.get(run=run).pk, worker="gone:1")
    assert lost is not None

    # when: nothing before the lease ends; then the reaper requeues it
    engine.clock.advance(29)
    early = steps_reap()
    engine.clock.advance(2)
    reaped = steps_reap()
    outcomes = engine.drain()

    # then
    step = RunStep.objects.get(run=run)
    assert (early, reaped, outcomes) == (0, 1, ["succeeded"])
    assert (step.status, step.attempts, step.executions) == ("succeeded", 1, 2)
    assert timeline(run) == [("a", "queued", 0), ("a", "running", 1), ("a", "queued", 0), ("a", "running", 1),
                             ("a", "succeeded", 1)]
    assert Run.objects.get(pk=run.pk).status == "succeeded"


def test_a_step_past_its_timeout_fails(tenant, engine):
    run = start(tenant, {"steps": [{"id": "slow", "action": "sleep", "params": {"seconds": 30}, "timeout": 0.2}]})

    assert engine.drain() == ["failed"]

    step = RunStep.objects.get(run=run)
    assert (step.status, step.error) == ("dead", "timed out after 0.2s")


def test_the_tenant_concurrency_limit_holds_a_step_back_until_a_slot_frees(tenant, engine, settings):
    from orchestration.engine.services.steps import step_begin, step_succeed

    # given: one step may run at a time
    settings.MAESTRO_ENGINE_TENANT_CONCURRENCY = 1
    run = start(tenant, {"steps": [{"id": "a", "action": "noop"}, {"id": "b", "action": "noop"}]})
    a, b = (RunStep.objects.get(run=run, step_id=s).pk for s in "ab")
    engine.pop()

    # when
    first = step_begin(step_pk=a)
    held = step_begin(step_pk=b)
    step_succeed(first, output=None)
    then = step_begin(step_pk=b)

    # then
    assert first is not None and held is None and then is not None
    assert b in engine.pending()  # tried again later


def test_the_reaper_sends_a_lost_message_again_once_it_waited_too_long(tenant, engine, settings):
    from orchestration.engine.services.steps import steps_reap

    # given: the first step's message was lost (the broker was down at the commit)
    settings.MAESTRO_ENGINE_RESEND_AFTER_SECONDS = 300
    run = start(tenant, {"steps": [{"id": "a", "action": "noop"}]})
    engine.pop()
    pk = RunStep.objects.get(run=run).pk

    # when
    engine.clock.advance(299)
    steps_reap()
    early = engine.pending()
    engine.clock.advance(2)
    other = start(tenant, {"steps": [{"id": "x", "action": "noop"}]}, name="other")  # a message waits
    steps_reap()
    behind_a_backlog = engine.pending()
    engine.drain()
    steps_reap()
    sent = engine.pending()
    steps_reap()  # just sent: not again
    outcomes = engine.drain()

    # then
    x = RunStep.objects.get(run=other).pk
    assert (early, behind_a_backlog, sent, outcomes) == ([], [x], [pk], ["succeeded"])
    assert Run.objects.get(pk=run.pk).status == "succeeded"


def test_a_step_reads_the_outputs_of_the_steps_it_depends_on(tenant, engine, monkeypatch):
    from orchestration.base.actions import REGISTRY

    monkeypatch.setattr(REGISTRY, "_actions", dict(REGISTRY._actions))
    REGISTRY.register("test.produce", lambda ctx: {"made": ctx.step_id})
    REGISTRY.register("test.consume", lambda ctx: ctx.outputs)
    run = start(tenant, {"steps": [{"id": "p1", "action": "test.produce"}, {"id": "p2", "action": "test.produce"},
                                   {"id": "c", "action": "test.consume", "dependsOn": ["p1", "p2"]}]})

    engine.drain()

    assert RunStep.objects.get(run=run, step_id="c").output == {"p1": {"made": "p1"}, "p2": {"made": "p2"}}


@pytest.fixture
def registry(monkeypatch):
    """The action registry, restored after the test."""
    from orchestration.base.actions import REGISTRY

    monkeypatch.setattr(REGISTRY, "_actions", dict(REGISTRY._actions))
    monkeypatch.setattr(REGISTRY, "_transactional", set(REGISTRY._transactional))
    return REGISTRY


def test_a_transactional_action_that_fails_leaves_none_of_its_writes_and_its_step_retries(
        tenant, project, engine, registry):
    from orchestration.base.actions import ActionFailed, transactional
    from orchestration.work.models import Task
    from orchestration.work.services.tasks import task_create

    @transactional
    def half_done(ctx):
        task_create(tenant=ctx.tenant, actor=ctx.actor, project=project, title=f"attempt {ctx.attempt}")
        if ctx.attempt == 1:
            raise ActionFailed("gave up half way")
        return {"attempt": ctx.attempt}

    registry.register("test.half_done", half_done)
    run = start(tenant, {"steps": [{"id": "h", "action": "test.half_done",
                                    "retry": {"maxAttempts": 2, "initialInterval": 1}}]})

    first = engine.drain()
    engine.clock.advance(1)
    second = engine.drain()

    run.refresh_from_db()
    assert (first, second, run.status) == (["failed", "skipped"], ["succeeded"], "succeeded")  # not due, then due
    assert list(Task.objects.filter(project=project).values_list("title", flat=True)) == ["attempt 2"]
    assert timeline(run) == [("h", "queued", 0), ("h", "running", 1), ("h", "retrying", 1),
                             ("h", "running", 2), ("h", "succeeded", 2)]
    assert RunStep.objects.get(run=run).error == ""


def test_a_step_whose_maestro_action_is_refused_fails_and_the_refusal_is_audited(seeded, engine):
    from maestro.write_path.models import AuditEvent
    from orchestration.control.models.playbooks import Playbook

    playbook = Playbook.objects.filter(tenant=seeded).first()
    Playbook.objects.filter(pk=playbook.pk).update(is_enabled=False)
    run = start(seeded, {"steps": [{"id": "p", "action": "maestro.run_playbook",
                                    "params": {"playbookId": playbook.slug}}]})
    mark = Mark(seeded)

    outcomes = engine.drain()

    run.refresh_from_db()
    step = RunStep.objects.get(run=run)
    assert outcomes == ["failed"]
    assert (run.status, step.status, step.error) == ("failed", "dead", f"Playbook {playbook.slug} is disabled")
    denied = [(a.action, a.status, a.policy_id, a.actor) for a in mark.audits()
              if a.status == AuditEvent.Status.DENIED]
    assert denied == [("run.create", "denied", "playbook_disabled", "engine")]
    assert Run.objects.filter(tenant=seeded).count() == 1  # the playbook's run was not started


def test_a_noop_step_that_releases_the_next_costs_one_transaction_of_few_statements(tenant, engine):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from orchestration.engine.services.execute import step_run

    run = start(tenant, {"steps": [{"id": "a", "action": "noop"}, {"id": "b", "action": "noop", "dependsOn": ["a"]},
                                   {"id": "c", "action": "noop", "dependsOn": ["b"]}]})
    assert step_run(step_pk=RunStep.objects.get(run=run, step_id="a").pk) == "succeeded"  # the run is running

    b = RunStep.objects.get(run=run, step_id="b").pk

    with CaptureQueriesContext(connection) as queries:
        assert step_run(step_pk=b) == "succeeded"

    sql = [q["sql"].split()[0] for q in queries.captured_queries]
    # the step (outside any transaction); BEGIN; the run locked; (the action, no savepoint);
    # b → succeeded with running and succeeded on its timeline (and no waiting for the WAL flush
    # at commit); the run's steps; c → queued; the events (seqs taken and rows inserted in one
    # statement); COMMIT
    assert sql == ["SELECT", "BEGIN", "SELECT", "WITH", "SELECT", "WITH", "WITH", "COMMIT"]
    assert [(s, st) for s, st, _ in timeline(run) if s == "b"] == [("b", "queued"), ("b", "running"),
                                                                   ("b", "succeeded")]
    assert statuses(run) == {"a": ("succeeded", 1), "b": ("succeeded", 1), "c": ("queued", 0)}


def test_a_worker_carries_on_with_the_short_steps_it_released_up_to_the_limit(tenant, engine, settings):
    # given: a chain a → b → c → d of noops and a fork after a (e waits for a too)
    settings.MAESTRO_ENGINE_CARRY_STEPS = 2
    run = start(tenant, {"steps": [{"id": "a", "action": "noop"}, {"id": "b", "action": "noop", "dependsOn": ["a"]},
                                   {"id": "c", "action": "noop", "dependsOn": ["b"]},
                                   {"id": "d", "action": "noop", "dependsOn": ["c"]},
                                   {"id": "e", "action": "noop", "dependsOn": ["a"]}]})
    pk = {s.step_id: s.pk for s in RunStep.objects.filter(run=run)}
    from orchestration.engine.services.execute import step_run

    # when: a's message is run
    assert [pk for _, (pk,) in engine.pop()] == [pk["a"]]
    outcome = step_run(step_pk=pk["a"])

    # then: a, and both steps it released (carried: the limit is two), ran in this job; c,
    # released past the limit, got a message, and the rest runs from it
    assert outcome == "succeeded"
    assert statuses(run) == {"a": ("succeeded", 1), "b": ("succeeded", 1), "c": ("queued", 0),
                             "d": ("pending", 0), "e": ("succeeded", 1)}
    assert engine.pending() == [pk["c"]]
    assert engine.drain() == ["succeeded"]
    run.refresh_from_db()
    assert run.status == "succeeded"
    assert [(s, st) for s, st, _ in timeline(run) if s in "be"] == [
        ("b", "queued"), ("e", "queued"), ("e", "running"), ("e", "succeeded"),
        ("b", "running"), ("b", "succeeded")]


def test_a_fork_and_join_of_short_steps_runs_whole_in_one_job(tenant, engine, settings):
    # given: the benchmark's DAG: a root, four branches of two steps, a join
    settings.MAESTRO_ENGINE_CARRY_STEPS = 20
    spec = {"steps": [{"id": "root", "action": "noop"},
                      *({"id": f"b{i}", "action": "noop", "dependsOn": ["root"]} for i in range(4)),
                      *({"id": f"c{i}", "action": "noop", "dependsOn": [f"b{i}"]} for i in range(4)),
                      {"id": "join", "action": "noop", "dependsOn": [f"c{i}" for i in range(4)]}]}
    run = start(tenant, spec)
    from orchestration.engine.services.execute import step_run

    # when: the root's message is run
    (_, (root,)), = engine.pop()
    assert step_run(step_pk=root) == "succeeded"

    # then: every step ran once in that job, and no message is left
    run.refresh_from_db()
    assert run.status == "succeeded"
    assert set(statuses(run).values()) == {("succeeded", 1)}
    assert engine.pending() == []


@pytest.mark.parametrize("setting", ["off", "on"])
def test_a_transition_that_moves_a_step_commits_without_waiting_for_the_flush_unless_told(
        tenant, engine, settings, setting):
    from django.db import connection

    from orchestration.engine.services.steps import S, move, transition

    settings.MAESTRO_ENGINE_SYNCHRONOUS_COMMIT = setting
    run = start(tenant, {"steps": [{"id": "a", "action": "noop"}]})
    step = RunStep.objects.get(run=run)

    def synchronous_commit():
        with connection.cursor() as cur:
            cur.execute("SHOW synchronous_commit")
            return cur.fetchone()[0]

    with transition():
        before = synchronous_commit()
        moved = move(step, S.RUNNING, sources=(S.QUEUED,), at_attempt=0, attempts=1)
        during = synchronous_commit()
    after = synchronous_commit()

    assert moved
    assert (before, during, after) == ("on", setting, "on")
    assert RunStep.objects.get(pk=step.pk).status == "running"


def test_a_step_taken_after_its_worker_read_it_is_skipped_and_its_action_leaves_nothing(
        tenant, project, engine, registry):
    from orchestration.base.actions import transactional
    from orchestration.engine.selectors import step_get
    from orchestration.engine.services.execute import _run_carrying_on, step_run
    from orchestration.work.models import Task
    from orchestration.work.services.tasks import task_create

    @transactional
    def make(ctx):
        task_create(tenant=ctx.tenant, actor=ctx.actor, project=project, title=f"by {ctx.step_id}")

    registry.register("test.make", make)
    run = start(tenant, {"steps": [{"id": "m", "action": "test.make"}]})
    pk = RunStep.objects.get(run=run).pk
    # given: one worker read the queued step, and another delivery ran it meanwhile
    stale = step_get(step_pk=pk)
    assert step_run(step_pk=pk) == "succeeded"

    # when: the first worker goes on with what it read
    outcome = _run_carrying_on(stale, "late:1")

    # then: its action's writes are rolled back with its unit; the step ran once
    assert outcome == "skipped"
    assert list(Task.objects.filter(project=project).values_list("title", flat=True)) == ["by m"]
    assert timeline(run) == [("m", "queued", 0), ("m", "running", 1), ("m", "succeeded", 1)]
