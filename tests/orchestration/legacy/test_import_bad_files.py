from __future__ import annotations

import os
from pathlib import Path

import pytest

from maestro.write_path.models import AuditEvent
from orchestration.work.models import Project, Session, Task
from tests.orchestration.legacy.helpers import DOCS, PAYMENTS, dump, files, run, write_json
from tests.support.writes import store_counts

pytestmark = pytest.mark.django_db

GOOD_TASK = {"id": "task_1706789999000_aaaaaaaaa", "projectId": PAYMENTS, "title": "fine",
             "status": "pending", "createdAt": 1706789999000}


def test_each_bad_file_is_reported_with_its_path_and_reason_and_the_rest_is_imported(tenant, legacy_copy: Path):
    # given
    bad = {
        write_json(legacy_copy / "projects" / "broken.json", '{"id": "proj_1_x", "name": '):
            "invalid JSON: Expecting value at line 1 column 28",
        write_json(legacy_copy / "projects" / "list.json", [1, 2]): "not a JSON object (found array)",
        write_json(legacy_copy / "tasks" / PAYMENTS / "task_1706789999001_bbbbbbbbb.json",
                   {**GOOD_TASK, "id": "task_1706789999001_bbbbbbbbb", "status": "banana"}):
            "field 'status': unknown value 'banana' (expected one of pending, in_progress, blocked, completed, "
            "cancelled)",
        write_json(legacy_copy / "tasks" / "proj_1_gone" / "task_1706789999002_ccccccccc.json",
                   {**GOOD_TASK, "id": "task_1706789999002_ccccccccc", "projectId": "proj_1_gone"}):
            "its project proj_1_gone does not exist",
        write_json(legacy_copy / "tasks" / "task_1706789999003_ddddddddd.json",
                   {**GOOD_TASK, "id": "task_1706789999003_ddddddddd", "title": 42}):
            "field 'title': expected a string, got number",
        write_json(legacy_copy / "sessions" / "sess_1706789999004_eeeeeeeee.json",
                   {"id": "sess_1706789999004_eeeeeeeee", "status": "running", "startedAt": 1706789999004}):
            "missing required field 'projectId'",
        write_json(legacy_copy / "sessions" / "sess_1706789999005_fffffffff.json",
                   {"id": "sess_1706789999005_fffffffff", "projectId": PAYMENTS, "status": "running",
                    "startedAt": "2024-02-01"}):
            "field 'startedAt': expected epoch milliseconds (a number), got string",
    }
    # unreadable files: chmod 000 does not stop root, a directory or a dangling symlink does
    directory = legacy_copy / "sessions" / "sess_1706789999006_ggggggggg.json"
    directory.mkdir()
    bad[directory] = "unreadable: is a directory, not a file"
    link = legacy_copy / "tasks" / "task_1706789999007_hhhhhhhhh.json"
    os.symlink(legacy_copy / "nowhere.json", link)
    bad[link] = "unreadable: broken symbolic link"
    write_json(legacy_copy / "tasks" / PAYMENTS / "notes.txt", "not json, not read")
    audits = AuditEvent.objects.count()

    # when
    result = run("maestro_import", "--data-dir", str(legacy_copy))

    # then: a non-zero exit, every bad file named once with its reason, the good ones imported
    assert result.error is not None
    assert str(result.error) == "some input was skipped (see above); everything else was imported"
    skipped = sorted(line for line in result.err.splitlines() if line.startswith("SKIPPED "))
    assert skipped == sorted(f"SKIPPED {path}: {reason}" for path, reason in bad.items())
    assert "  projects: 2 created, 0 updated, 0 unchanged, 2 skipped" in result.out
    assert "  tasks: 12 created, 0 updated, 0 unchanged, 4 skipped" in result.out
    assert "  sessions: 5 created, 0 updated, 0 unchanged, 3 skipped" in result.out
    assert Project.objects.count() == 2
    assert Task.objects.count() == 12
    assert Session.objects.count() == 5
    assert AuditEvent.objects.count() == audits + 19


def test_a_task_of_a_skipped_project_is_skipped_with_that_reason(tenant, legacy_copy: Path):
    # given: the Docs Site project file is broken; its six tasks cannot be imported
    project = files(legacy_copy, "project")[DOCS]
    write_json(legacy_copy / "projects" / f"{DOCS}.json", {**project, "createdAt": -5})

    # when
    result = run("maestro_import", "--data-dir", str(legacy_copy))

    # then
    assert result.error is not None
    assert (f"SKIPPED {legacy_copy / 'projects' / (DOCS + '.json')}: field 'createdAt': -5 is not a whole "
            f"number of epoch milliseconds between 0 and 253402300799999") in result.err
    assert result.err.count(f"its project {DOCS} was skipped (see that file)") == 6
    assert "  tasks: 6 created, 0 updated, 0 unchanged, 6 skipped" in result.out
    assert not Task.objects.filter(project_id=DOCS).exists()


def test_a_task_with_a_subtask_of_another_task_is_skipped(tenant, legacy_copy: Path):
    # given: a second task claims the subtask id of task_..ywb3wkh5d
    write_json(legacy_copy / "tasks" / PAYMENTS / "task_1706789999010_kkkkkkkkk.json", {
        **GOOD_TASK, "id": "task_1706789999010_kkkkkkkkk",
        "subtasks": [{"id": "sub_1706789136564_2z9ri19r0", "title": "mine"}]})

    # when
    result = run("maestro_import", "--data-dir", str(legacy_copy))

    # then: the first in path order keeps it; the other file is reported; nothing of it remains
    path = legacy_copy / "tasks" / PAYMENTS / "task_1706789999010_kkkkkkkkk.json"
    assert (f"SKIPPED {path}: subtask sub_1706789136564_2z9ri19r0 already belongs to task "
            "task_1706789136564_ywb3wkh5d") in result.err
    assert not Task.objects.filter(id="task_1706789999010_kkkkkkkkk").exists()
    assert dump(tenant)["tasks"]["task_1706789136564_ywb3wkh5d"]["subtasks"][0]["title"] == "write tests"


def test_a_second_file_with_the_same_id_is_reported_not_merged(tenant, legacy_copy: Path):
    # given: a copy of a task under another name, with a different title
    source = files(legacy_copy, "task")["task_1706789141226_wbbr4qmw2"]
    copy = write_json(legacy_copy / "tasks" / PAYMENTS / "zz-copy.json", {**source, "title": "the copy"})

    # when
    result = run("maestro_import", "--data-dir", str(legacy_copy))

    # then
    first = legacy_copy / "tasks" / PAYMENTS / "task_1706789141226_wbbr4qmw2.json"
    assert f"SKIPPED {copy}: duplicate id task_1706789141226_wbbr4qmw2 (already read from {first})" in result.err
    assert Task.objects.get(id="task_1706789141226_wbbr4qmw2").title == "Task 10: do thing 10"


def test_a_value_too_long_for_the_database_is_a_skipped_file_not_a_crash(tenant, legacy_copy: Path):
    # given
    path = write_json(legacy_copy / "sessions" / "sess_1706789999011_lllllllll.json", {
        "id": "sess_1706789999011_lllllllll", "projectId": PAYMENTS, "status": "running",
        "startedAt": 1706789999011, "events": [{"type": "x" * 101, "timestamp": 1706789999011}]})

    # when
    result = run("maestro_import", "--data-dir", str(legacy_copy))

    # then
    assert f"SKIPPED {path}: field 'events[0].type': longer than 100 characters" in result.err
    assert not Session.objects.filter(id="sess_1706789999011_lllllllll").exists()
    assert Session.objects.count() == 5


def test_dangling_references_are_warnings_and_the_import_succeeds(tenant, legacy_copy: Path):
    # given: a session naming a missing task and a task of the other project; a task naming a
    # missing session and a missing parent
    session = write_json(legacy_copy / "sessions" / "sess_1706789999020_mmmmmmmmm.json", {
        "id": "sess_1706789999020_mmmmmmmmm", "projectId": PAYMENTS, "status": "running",
        "startedAt": 1706789999020,
        "taskIds": ["task_1_missing", "task_1706789134233_9lgmxg9ed", "task_1706789133456_91dhodzdo"]})
    task = write_json(legacy_copy / "tasks" / PAYMENTS / "task_1706789999021_nnnnnnnnn.json", {
        **GOOD_TASK, "id": "task_1706789999021_nnnnnnnnn", "parentId": "task_1_gone",
        "sessionIds": ["sess_1_missing"]})

    # when
    result = run("maestro_import", "--data-dir", str(legacy_copy))

    # then
    assert result.error is None, result.err
    warnings = [line for line in result.err.splitlines() if line.startswith("WARNING ")]
    assert sorted(warnings) == sorted([
        f"WARNING {session}: taskIds names task task_1_missing, but task task_1_missing does not exist; "
        "no link made",
        f"WARNING {session}: taskIds names task task_1706789134233_9lgmxg9ed, but session "
        f"sess_1706789999020_mmmmmmmmm (project {PAYMENTS}) and task task_1706789134233_9lgmxg9ed "
        f"(project {DOCS}) are in different projects; no link made",
        f"WARNING {task}: parentId task_1_gone does not exist; imported as a root task",
        f"WARNING {task}: sessionIds names session sess_1_missing, but session sess_1_missing does not exist; "
        "no link made",
    ])
    data = dump(tenant)
    assert data["sessions"]["sess_1706789999020_mmmmmmmmm"]["taskIds"] == ["task_1706789133456_91dhodzdo"]
    assert data["tasks"]["task_1706789999021_nnnnnnnnn"]["parentId"] is None
    assert data["tasks"]["task_1706789999021_nnnnnnnnn"]["sessionIds"] == []


def test_dry_run_with_bad_files_reports_them_writes_nothing_and_fails(tenant, legacy_copy: Path):
    # given
    path = write_json(legacy_copy / "projects" / "broken.json", "{")
    rows = store_counts()

    # when
    result = run("maestro_import", "--data-dir", str(legacy_copy), "--dry-run")

    # then
    assert str(result.error) == "some input was skipped (see above); everything else was validated"
    assert f"SKIPPED {path}: invalid JSON: Expecting property name enclosed in double quotes at line 1 column 2" \
        in result.err
    assert "  projects: 2 created, 0 updated, 0 unchanged, 1 skipped" in result.out
    assert store_counts() == rows


def test_a_directory_that_is_not_a_maestro_data_dir_is_refused(db, tmp_path: Path):
    # given
    (tmp_path / "something").mkdir()
    rows = store_counts()

    # when
    result = run("maestro_import", "--data-dir", str(tmp_path))

    # then
    assert str(result.error) == (f"{tmp_path} has none of projects/, tasks/, sessions/; "
                                 "is it a Maestro data directory?")
    assert store_counts() == rows
