"""The --maestro-db wiring: the control-state import/export itself is tested with its module
(orchestration.legacy.control)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestration.work.models import Project
from tests.orchestration.legacy.helpers import LEGACY, run, write_json
from tests.support.writes import store_counts

pytestmark = pytest.mark.django_db



@pytest.fixture
def maestro_db() -> Path:
    return LEGACY / "maestro_db.json"


def test_a_maestro_db_that_is_not_json_is_reported_and_the_data_dir_still_imported(tenant, legacy_dir: Path,
                                                                                    tmp_path: Path):
    # given
    broken = write_json(tmp_path / "maestro_db.json", "{not json")

    # when
    result = run("maestro_import", "--maestro-db", str(broken), "--data-dir", str(legacy_dir))

    # then
    assert result.error is not None
    assert f"SKIPPED {broken}: unreadable or invalid JSON" in result.err
    assert Project.objects.filter(tenant=tenant).count() == 2


def test_maestro_db_and_data_dir_import_together(tenant, maestro_db: Path, legacy_dir: Path):
    # when
    result = run("maestro_import", "--maestro-db", str(maestro_db), "--data-dir", str(legacy_dir))

    # then
    assert result.error is None, result.err
    assert f"control state ({maestro_db}):" in result.out
    assert Project.objects.filter(tenant=tenant).count() == 2


def test_maestro_db_only_does_not_read_the_default_data_dir(tenant, maestro_db: Path, tmp_path: Path, monkeypatch):
    # given: a home with no ~/.maestro/data
    monkeypatch.setenv("HOME", str(tmp_path))

    # when
    result = run("maestro_import", "--maestro-db", str(maestro_db))

    # then
    assert result.error is None, result.err
    assert "data directory" not in result.out
    assert Project.objects.count() == 0


def test_maestro_db_dry_run_writes_nothing(db, maestro_db: Path):
    # given
    rows = store_counts()

    # when
    result = run("maestro_import", "--maestro-db", str(maestro_db), "--tenant", "acme", "--dry-run")

    # then
    assert result.error is None, result.err
    assert store_counts() == rows


def test_export_writes_the_control_state_as_a_json_object(tenant, maestro_db: Path, tmp_path: Path):
    # given
    run("maestro_import", "--maestro-db", str(maestro_db))
    target = tmp_path / "out" / "maestro_db.json"

    # when
    result = run("maestro_export", "--maestro-db", str(target))

    # then
    assert result.error is None, result.err
    data = json.loads(target.read_text())
    assert isinstance(data, dict)
    assert {loop["id"] for loop in data.get("loops", [])} >= {
        loop["id"] for loop in json.loads(maestro_db.read_text())["loops"]}
