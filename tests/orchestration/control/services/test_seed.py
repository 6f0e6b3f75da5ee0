from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from orchestration.control.models.agents import AgentProfile
from orchestration.control.models.experiments import Experiment
from orchestration.control.models.loops import AutonomicLoop
from orchestration.control.models.merge_trains import MergeTrain
from orchestration.control.models.playbooks import Playbook
from orchestration.control.models.seed import SeedMarker
from orchestration.control.services.seed import seed_defaults
from tests.factories import SYSTEM
from tests.support.writes import Mark

pytestmark = pytest.mark.django_db

ALL = ["loop:cost-optimization", "loop:reliability-guardian", "loop:safety-sentinel", "agent:planner", "agent:coder",
       "agent:reviewer", "experiment:exp-001", "playbook:pb-restart-pods", "merge_train:mt-main"]


def test_a_fresh_tenant_gets_the_old_defaults(api_client, tenant, legacy_db):
    # when
    report = seed_defaults(tenant=tenant, actor=SYSTEM)

    # then
    assert report == {"created": ALL, "skipped": []}
    assert api_client.get("/api/maestro/autonomic/loops").json() == [{**x, "version": 1} for x in legacy_db["loops"]]
    no_runs = {"successRate": 100.0, "latencyP95": 0.0, "costPerTask": 0.0, "sampleSize": 0}
    assert api_client.get("/api/maestro/agents").json() == [{**x, "metrics": no_runs, "version": 1}
                                                            for x in legacy_db["agents"]]
    assert api_client.get("/api/maestro/playbooks").json() == [{**x, "version": 1} for x in legacy_db["playbooks"]]
    experiment = api_client.get("/api/maestro/experiments/exp-001").json()
    assert {k: experiment[k] for k in legacy_db["experiments"][0]} == legacy_db["experiments"][0]
    assert api_client.get("/api/maestro/merge-trains").json()["activePRs"] == []


def test_seeding_twice_changes_nothing(tenant):
    # given
    seed_defaults(tenant=tenant, actor=SYSTEM)
    mark = Mark(tenant)

    # when
    report = seed_defaults(tenant=tenant, actor=SYSTEM)

    # then
    assert report == {"created": [], "skipped": ALL}
    mark.assert_nothing_written()


def test_seeding_never_undoes_an_operators_edit_or_deletion(tenant):
    from orchestration.control.services.agents import agent_update
    from orchestration.control.services.playbooks import playbook_delete

    # given
    seed_defaults(tenant=tenant, actor=SYSTEM)
    agent_update(tenant=tenant, actor=SYSTEM, agent_id="coder", changes={"routing_weight": 5})
    playbook_delete(tenant=tenant, actor=SYSTEM, playbook_id="pb-restart-pods")

    # when
    seed_defaults(tenant=tenant, actor=SYSTEM)

    # then
    assert AgentProfile.objects.get(tenant=tenant, slug="coder").routing_weight == 5
    assert not Playbook.objects.filter(tenant=tenant, slug="pb-restart-pods").exists()


def test_seeding_after_an_import_keeps_the_imported_objects(tenant, legacy_db):
    from orchestration.legacy.control import import_maestro_db

    # given
    data = {**legacy_db, "loops": [{**legacy_db["loops"][0], "name": "Imported cost loop"}]}
    import_maestro_db(tenant=tenant, data=data, actor=SYSTEM, dry_run=False)

    # when
    report = seed_defaults(tenant=tenant, actor=SYSTEM)

    # then
    assert report["created"] == ["loop:reliability-guardian", "loop:safety-sentinel", "merge_train:mt-main"]
    assert AutonomicLoop.objects.get(tenant=tenant, slug="cost-optimization").name == "Imported cost loop"
    assert SeedMarker.objects.filter(tenant=tenant).count() == len(ALL)


def test_seed_writes_the_write_path_for_what_it_creates(tenant):
    # given
    mark = Mark(tenant)

    # when
    seed_defaults(tenant=tenant, actor=SYSTEM)

    # then
    assert [a.action for a in mark.audits()] == ["loop.seed"] * 3 + ["agent.seed"] * 3 + [
        "experiment.seed", "playbook.seed", "merge_train.seed"]
    assert len(mark.intakes()) == 9


def test_tenants_are_seeded_independently(tenant, other_tenant):
    # given
    seed_defaults(tenant=tenant, actor=SYSTEM)

    # when
    report = seed_defaults(tenant=other_tenant, actor=SYSTEM)

    # then
    assert report["created"] == ALL
    assert Experiment.objects.filter(slug="exp-001").count() == 2


def test_maestro_seed_command(db):
    # given
    out = StringIO()

    # when
    call_command("maestro_seed", "--tenant", "acme", stdout=out)
    call_command("maestro_seed", "--tenant", "acme", stdout=out)

    # then
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("Seeded tenant acme: created loop:cost-optimization,")
    assert lines[0].endswith(", merge_train:mt-main, workflow:sample-pipeline; 0 already seeded or present.")
    assert lines[1] == "Seeded tenant acme: created nothing; 10 already seeded or present."
    assert MergeTrain.objects.filter(tenant__slug="acme").count() == 1
