"""Two OS processes toggling the same loop and editing the same agent at the same time, on
PostgreSQL: no lost update. Each accepted change moves the version by exactly one and leaves
exactly one allowed audit row; a change based on a stale read is refused (412, audited)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from maestro.write_path.models import AuditEvent
from orchestration.control.models.agents import AgentProfile
from orchestration.control.models.loops import AutonomicLoop
from realtime.models import Event
from tests.factories import SYSTEM, make_token

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL"),
    pytest.mark.django_db(transaction=True),
]

ROUNDS = 15
# Run as a module: as a script its directory (with the selectors/ and services/ test packages)
# would come first on sys.path and shadow the standard library's modules of those names.
WORKER = "tests.orchestration.control.concurrency_worker"
ROOT = Path(__file__).resolve().parents[3]


def database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def run_workers(tokens: list[str], mode: str, sync_dir: Path) -> list[dict[str, dict[str, int]]]:
    env = {**os.environ, "MAESTRO_ENV": "test", "MAESTRO_DATABASE_URL": database_url(),
           "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-m", WORKER, token, f"w{n}", str(sync_dir), str(ROUNDS), mode],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for n, token in enumerate(tokens)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def totals(results: list[dict[str, dict[str, int]]], resource: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for result in results:
        for code, n in result[resource].items():
            out[code] = out.get(code, 0) + n
    return out


@pytest.fixture
def setup(db):
    from maestro.tenancy.services import default_tenant
    from orchestration.control.services.seed import seed_defaults

    tenant = default_tenant()
    seed_defaults(tenant=tenant, actor=SYSTEM)
    tokens = [make_token(username=f"op{n}", tenant=tenant, role="operator") for n in (1, 2)]
    return tenant, tokens


def audit_counts(resource: str, action: str) -> dict[str, int]:
    rows = AuditEvent.objects.filter(resource=resource, action=action, actor__in=["op1", "op2"])
    return {"allowed": rows.filter(status="allowed").count(),
            "denied": rows.filter(status="denied", policy_id="optimistic_concurrency").count()}


def test_if_match_writers_never_lose_an_update(setup, tmp_path):
    # given
    tenant, tokens = setup

    # when: in each round both processes write on the version they both just read
    results = run_workers(tokens, "if-match", tmp_path)

    # then: one wins and one gets 412, every round
    loop_codes, agent_codes = totals(results, "loop"), totals(results, "agent")
    assert loop_codes == agent_codes == {"200": ROUNDS, "412": ROUNDS}
    loop = AutonomicLoop.objects.get(tenant=tenant, slug="reliability-guardian")
    agent = AgentProfile.objects.get(tenant=tenant, slug="coder")
    assert loop.version - 1 == loop_codes.get("200", 0)
    assert agent.version - 1 == agent_codes.get("200", 0)
    assert audit_counts("reliability-guardian", "loop.set_status") == {"allowed": loop_codes.get("200", 0),
                                                                       "denied": loop_codes.get("412", 0)}
    assert audit_counts("coder", "agent.update") == {"allowed": agent_codes.get("200", 0),
                                                     "denied": agent_codes.get("412", 0)}
    assert Event.objects.filter(tenant=tenant, type="loop:updated").count() == loop_codes.get("200", 0)
    seqs = list(Event.objects.filter(tenant=tenant).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))


def test_blind_writers_are_serialized_not_lost(setup, tmp_path):
    # given
    tenant, tokens = setup

    # when: no If-Match at all, both writing at once
    results = run_workers(tokens, "blind", tmp_path)

    # then: every write was accepted and counted once
    assert totals(results, "loop") == {"200": 2 * ROUNDS}
    assert totals(results, "agent") == {"200": 2 * ROUNDS}
    assert AutonomicLoop.objects.get(tenant=tenant, slug="reliability-guardian").version == 1 + 2 * ROUNDS
    assert AgentProfile.objects.get(tenant=tenant, slug="coder").version == 1 + 2 * ROUNDS
    assert audit_counts("reliability-guardian", "loop.set_status") == {"allowed": 2 * ROUNDS, "denied": 0}
    assert audit_counts("coder", "agent.update") == {"allowed": 2 * ROUNDS, "denied": 0}
