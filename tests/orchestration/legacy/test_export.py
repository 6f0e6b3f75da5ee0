from __future__ import annotations

import json
from pathlib import Path

import pytest

from maestro.tenancy.models import Tenant
from maestro.write_path.models import AuditEvent
from orchestration.work.models import Project, Session, SessionTask, Task
from tests.orchestration.legacy.helpers import DOCS, PAYMENTS, dump, run
from tests.support.writes import store_counts

pytestmark = pytest.mark.django_db


def test_export_writes_the_old_layout_with_the_api_shapes(tenant, legacy_dir: Path, tmp_path: Path):
    # given
    run("maestro_import", "--data-dir", str(legacy_dir))
    out = tmp_path / "export"

    # when
    result = run("maestro_export", "--out", str(out))

    # then: one file per entity, tasks under their project, no legacy flat tasks, no version
    assert result.error is None, result.err
    assert result.out == f"{out}: 2 projects, 12 tasks, 5 sessions\n"
    assert sorted(p.name for p in (out / "projects").iterdir()) == [f"{PAYMENTS}.json", f"{DOCS}.json"]
    assert sorted(p.name for p in (out / "tasks").iterdir()) == [PAYMENTS, DOCS]
    assert len(list((out / "tasks" / DOCS).glob("*.json"))) == 6
    assert len(list((out / "sessions").glob("*.json"))) == 5
    data = dump(tenant)
    project = json.loads((out / "projects" / f"{DOCS}.json").read_text())
    assert project == {k: v for k, v in data["projects"][DOCS].items() if k != "version"}
    task = json.loads((out / "tasks" / DOCS / "task_1706789138895_gxbenyjqw.json").read_text())
    assert task == {k: v for k, v in data["tasks"]["task_1706789138895_gxbenyjqw"].items() if k != "version"}
    session = json.loads((out / "sessions" / "sess_1706789173456_kkibj3j4w.json").read_text())
    assert session == {k: v for k, v in data["sessions"]["sess_1706789173456_kkibj3j4w"].items() if k != "version"}
    assert session["startedAt"] == 1706789173456


def test_export_then_import_into_a_fresh_tenant_round_trips(tenant, legacy_dir: Path, tmp_path: Path):
    # given: imported, exported, and the original rows gone (ids are unique across tenants)
    run("maestro_import", "--data-dir", str(legacy_dir))
    original = dump(tenant)
    out = tmp_path / "export"
    run("maestro_export", "--out", str(out))
    SessionTask.objects.all().delete()
    Session.objects.all().delete()
    Task.objects.all().delete()
    Project.objects.all().delete()

    # when
    result = run("maestro_import", "--data-dir", str(out), "--tenant", "restored")

    # then: the same representations, field for field, in another tenant
    assert result.error is None, result.err
    assert result.err == ""
    restored = Tenant.objects.get(slug="restored")
    assert dump(restored) == original
    assert Project.objects.filter(tenant=restored).count() == 2


def test_importing_an_export_into_its_own_tenant_changes_nothing(tenant, legacy_dir: Path, tmp_path: Path):
    # given
    run("maestro_import", "--data-dir", str(legacy_dir))
    out = tmp_path / "export"
    run("maestro_export", "--out", str(out))
    before, rows = dump(tenant), store_counts()

    # when
    result = run("maestro_import", "--data-dir", str(out))

    # then
    assert result.error is None, result.err
    assert store_counts() == rows
    assert dump(tenant) == before


def test_export_refuses_a_non_empty_directory(tenant, legacy_dir: Path, tmp_path: Path):
    # given
    run("maestro_import", "--data-dir", str(legacy_dir))
    (tmp_path / "keep.txt").write_text("mine")

    # when
    result = run("maestro_export", "--out", str(tmp_path))

    # then
    assert str(result.error) == f"{tmp_path} exists and is not an empty directory; refusing to overwrite"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_export_of_an_unknown_tenant_is_an_error(db, tmp_path: Path):
    # when
    result = run("maestro_export", "--out", str(tmp_path / "x"), "--tenant", "nobody")

    # then
    assert str(result.error) == "tenant 'nobody' does not exist"
    assert not (tmp_path / "x").exists()


def test_export_needs_a_target(db):
    # when
    result = run("maestro_export")

    # then
    assert str(result.error) == "give --out DIR and/or --maestro-db FILE"


def test_export_never_writes_outside_its_directory(tenant, tmp_path: Path):
    # given: an id that is a path (the API does not constrain ids the way the import does)
    from django.utils import timezone

    now = timezone.now()
    Project.objects.create(id="../../escaped", tenant=tenant, name="x", created_at=now, updated_at=now)
    Project.objects.create(id="proj_1_ok", tenant=tenant, name="y", created_at=now, updated_at=now)
    out = tmp_path / "a" / "b"

    # when
    result = run("maestro_export", "--out", str(out))

    # then
    assert str(result.error) == "some rows could not be exported (see above)"
    assert "id '../../escaped' cannot be a file name" in result.err
    assert [p.name for p in (out / "projects").iterdir()] == ["proj_1_ok.json"]
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["proj_1_ok.json"]
    assert AuditEvent.objects.filter(action__endswith=".import").count() == 0
