"""Moving AuditEvent from ``orchestration`` to ``write_path`` keeps every row: a database at the
schema before the move, filled with data, migrates forward with nothing lost."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from maestro.write_path.models import AuditEvent
from orchestration.work.models import Project
from tests.support.migrations import latest, migrate

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("orchestration", "0002_control_state"), ("write_path", None)]
# The state those migrations leave (what the old code saw).
OLD_STATE = [("orchestration", "0002_control_state"), ("tenancy", "0002_default_tenant")]
WHEN = datetime(2024, 2, 1, 12, 5, 23, 456000, tzinfo=UTC)



def test_audit_rows_and_their_neighbours_survive_the_move():
    # given: the schema as it was before the move, with audit rows written by the old app
    executor = migrate(BEFORE)
    try:
        old = executor.loader.project_state(OLD_STATE).apps
        tenant = old.get_model("tenancy", "Tenant").objects.create(slug="moved", name="Moved")
        old.get_model("orchestration", "Project").objects.create(
            id="proj_1706789123456_ujzde8gxd", tenant_id=tenant.pk, name="Kept", created_at=WHEN, updated_at=WHEN)
        OldAudit = old.get_model("orchestration", "AuditEvent")
        rows = [OldAudit.objects.create(tenant_id=tenant.pk, actor=f"a{i}", actor_type="api", action="task.update",
                                        resource=f"task_{i}", resource_type="task", details=f"d{i}",
                                        status="denied" if i % 2 else "allowed", policy_id="p" if i % 2 else "",
                                        request_id=f"r{i}", legacy_id="L1" if i == 0 else "") for i in range(5)]
        OldAudit.objects.filter(pk=rows[0].pk).update(timestamp=WHEN)
        before = sorted(OldAudit.objects.values_list(
            "id", "tenant_id", "timestamp", "legacy_id", "actor", "actor_type", "action", "resource",
            "resource_type", "details", "status", "policy_id", "request_id"))
    finally:
        # when: migrated forward to today's schema (also what leaves the database for other tests)
        migrate(latest())

    # then: every row, every column, under the new app; new rows continue the id sequence
    after = sorted(AuditEvent.objects.filter(tenant__slug="moved").values_list(
        "id", "tenant_id", "timestamp", "legacy_id", "actor", "actor_type", "action", "resource",
        "resource_type", "details", "status", "policy_id", "request_id"))
    assert after == before
    assert len(after) == 5 and after[0][2] == WHEN
    newer = AuditEvent.objects.create(tenant_id=after[0][1], actor="b", action="task.update")
    assert newer.pk > max(row[0] for row in after)
    assert Project.objects.get(id="proj_1706789123456_ujzde8gxd").name == "Kept"
    assert AuditEvent._meta.db_table == "write_path_auditevent"
