"""The file parser on its own: no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from maestro.core.wire import from_ms as ms_to_datetime
from maestro.core.wire import to_ms
from orchestration.legacy.format import Invalid, parse_session, parse_task

TASK = {"id": "task_1_a", "projectId": "proj_1_a", "title": "t", "status": "pending", "createdAt": 1706789133456}
SESSION = {"id": "sess_1_a", "projectId": "proj_1_a", "status": "running", "startedAt": 1706789173456}


@pytest.mark.parametrize("value", [0, 1078625331860, 1706789133456, 2150752631226, 253402300799999])
def test_epoch_ms_round_trips_exactly(value):
    # 1078625331860 and 2150752631226 came back 1 ms short when to_ms() used float seconds
    assert to_ms(ms_to_datetime(value)) == value
    assert ms_to_datetime(value) == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=value)


def test_integral_float_timestamps_are_accepted():
    record = parse_task({**TASK, "createdAt": 1706789133456.0}, "tasks/task_1_a.json")
    assert to_ms(record.fields["created_at"]) == 1706789133456


@pytest.mark.parametrize(("value", "reason"), [
    (1706789133456.5, "field 'createdAt': 1706789133456.5 is not a whole number of epoch milliseconds "
                      "between 0 and 253402300799999"),
    (True, "field 'createdAt': expected epoch milliseconds (a number), got boolean"),
    ("1706789133456", "field 'createdAt': expected epoch milliseconds (a number), got string"),
    (None, "missing required field 'createdAt'"),
])
def test_bad_timestamps_are_refused_with_the_field_named(value, reason):
    with pytest.raises(Invalid) as exc:
        parse_task({**TASK, "createdAt": value}, "tasks/task_1_a.json")
    assert str(exc.value) == reason


def test_todo_is_the_old_name_of_pending():
    assert parse_task({**TASK, "status": "todo"}, "tasks/task_1_a.json").fields["status"] == "pending"


def test_an_unknown_timeline_type_is_refused():
    with pytest.raises(Invalid) as exc:
        parse_task({**TASK, "timeline": [{"id": "evt_1", "type": "party", "timestamp": 1}]}, "tasks/task_1_a.json")
    assert str(exc.value).startswith("field 'timeline[0].type': unknown value 'party'")


def test_a_path_as_id_is_refused():
    with pytest.raises(Invalid) as exc:
        parse_task({**TASK, "id": "../etc/passwd"}, "tasks/x.json")
    assert str(exc.value) == ("field 'id': '../etc/passwd' is not a valid id "
                              "(1-40 letters, digits, '_', '-' or '.', not starting with '.')")


def test_session_task_ids_win_over_a_stale_task_id_as_in_the_old_loader():
    record = parse_session({**SESSION, "taskId": "task_1_old", "taskIds": ["task_1_new"]}, "sessions/sess_1_a.json")
    assert record.refs == ["task_1_new"]


def test_an_empty_session_name_becomes_session_id():
    record = parse_session({**SESSION, "name": "", "env": None}, "sessions/sess_1_a.json")
    assert (record.fields["name"], record.fields["env"]) == ("Session sess_1_a", {})


def test_entries_without_ids_get_the_same_derived_id_every_time():
    # given
    data = {**TASK, "timeline": [{"type": "created", "timestamp": 1706789133456, "message": "m"}],
            "subtasks": [{"title": "s"}]}

    # when
    first = parse_task(data, "tasks/task_1_a.json")
    second = parse_task(data, "tasks/task_1_a.json")

    # then
    assert first.children == second.children
    assert first.children["timeline"][0]["id"].startswith("evt_1706789133456_")
    assert first.children["subtasks"][0]["id"].startswith("sub_1706789133456_")
    assert len(first.children["subtasks"][0]["id"]) == len("sub_1706789133456_") + 9
    assert first.warnings == [f"timeline[0] has no id; using {first.children['timeline'][0]['id']}",
                              f"subtasks[0] has no id; using {first.children['subtasks'][0]['id']}"]


def test_a_file_name_that_differs_from_the_id_is_a_warning():
    record = parse_task(TASK, "tasks/proj_1_b/other.json")
    assert record.warnings == [
        "file name does not match its id 'task_1_a'; the id is used",
        "stored under tasks/proj_1_b/ but its projectId is 'proj_1_a'; the projectId is used",
    ]
