"""The catalogue of everything the write path records: event types (what WebSocket and REST
clients see, DESIGN §5), audit actions and resource types. Each name is written here once;
code uses the constants, and :func:`event_type` / :func:`audit_action` refuse anything else,
so a typo fails loudly instead of inventing a new type that no client listens for.

Event payloads (DESIGN §5): ``*:deleted`` carries ``{id}``; the pair events carry
``{sessionId, taskId}``; the rest carry the full object as the REST API returns it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Resource(StrEnum):
    PROJECT = "project"
    TASK = "task"
    SUBTASK = "subtask"
    SESSION = "session"
    LOOP = "loop"
    AGENT = "agent"
    EXPERIMENT = "experiment"
    PLAYBOOK = "playbook"
    MERGE_TRAIN = "merge_train"
    RUN = "run"
    WORKFLOW = "workflow"
    STEP = "step"
    DEAD_LETTER = "dead_letter"
    AUDIT_LOG = "audit_log"
    LEDGER = "ledger"
    LEDGER_ENTRY = "ledger_entry"
    TENANT = "tenant"
    MEMBERSHIP = "membership"
    API_TOKEN = "api_token"
    USER = "user"
    # What an HTTP request refused by role before any service ran is about (maestro.auth.permissions).
    API = "api"


class Event(StrEnum):
    PROJECT_CREATED = "project:created"
    PROJECT_UPDATED = "project:updated"
    PROJECT_DELETED = "project:deleted"
    TASK_CREATED = "task:created"
    TASK_UPDATED = "task:updated"
    TASK_DELETED = "task:deleted"
    TASK_SESSION_ADDED = "task:session_added"
    TASK_SESSION_REMOVED = "task:session_removed"
    SUBTASK_CREATED = "subtask:created"
    SUBTASK_UPDATED = "subtask:updated"
    SUBTASK_DELETED = "subtask:deleted"
    SESSION_CREATED = "session:created"
    SESSION_UPDATED = "session:updated"
    SESSION_DELETED = "session:deleted"
    SESSION_SPAWN_REQUEST = "session:spawn_request"
    SESSION_TASK_ADDED = "session:task_added"
    SESSION_TASK_REMOVED = "session:task_removed"
    LOOP_CREATED = "loop:created"
    LOOP_UPDATED = "loop:updated"
    LOOP_DELETED = "loop:deleted"
    LOOP_DECISION = "loop:decision"
    AGENT_CREATED = "agent:created"
    AGENT_UPDATED = "agent:updated"
    AGENT_DELETED = "agent:deleted"
    EXPERIMENT_CREATED = "experiment:created"
    EXPERIMENT_UPDATED = "experiment:updated"
    EXPERIMENT_DELETED = "experiment:deleted"
    EXPERIMENT_OBSERVATION = "experiment:observation"
    PLAYBOOK_CREATED = "playbook:created"
    PLAYBOOK_UPDATED = "playbook:updated"
    PLAYBOOK_DELETED = "playbook:deleted"
    MERGE_TRAIN_CREATED = "merge_train:created"
    MERGE_TRAIN_UPDATED = "merge_train:updated"
    MERGE_TRAIN_DELETED = "merge_train:deleted"
    RUN_CREATED = "run:created"
    RUN_UPDATED = "run:updated"
    STEP_UPDATED = "step:updated"
    WORKFLOW_CREATED = "workflow:created"
    WORKFLOW_UPDATED = "workflow:updated"
    AUDIT_CREATED = "audit:created"
    LEDGER_CHECKPOINT = "ledger:checkpoint"


# What the old system's clients see on ``/`` (DESIGN §5): the events the old server sent. Audit,
# ledger, loop, run and the other control-plane events are for ``/ws`` clients only.
OLD_STREAM_EVENTS = frozenset({
    Event.PROJECT_CREATED, Event.PROJECT_UPDATED, Event.PROJECT_DELETED,
    Event.TASK_CREATED, Event.TASK_UPDATED, Event.TASK_DELETED,
    Event.TASK_SESSION_ADDED, Event.TASK_SESSION_REMOVED,
    Event.SUBTASK_CREATED, Event.SUBTASK_UPDATED, Event.SUBTASK_DELETED,
    Event.SESSION_CREATED, Event.SESSION_UPDATED, Event.SESSION_DELETED, Event.SESSION_SPAWN_REQUEST,
    Event.SESSION_TASK_ADDED, Event.SESSION_TASK_REMOVED,
})


class Action(StrEnum):
    """Audit actions: ``<resource>.<verb>``. ``*.seed`` and ``*.import`` are creations by
    ``maestro_seed`` and ``maestro_import``."""

    PROJECT_CREATE = "project.create"
    PROJECT_UPDATE = "project.update"
    PROJECT_DELETE = "project.delete"
    PROJECT_IMPORT = "project.import"
    TASK_CREATE = "task.create"
    TASK_UPDATE = "task.update"
    TASK_DELETE = "task.delete"
    TASK_TIMELINE_ADD = "task.timeline_add"
    TASK_IMPORT = "task.import"
    SUBTASK_CREATE = "subtask.create"
    SUBTASK_UPDATE = "subtask.update"
    SUBTASK_DELETE = "subtask.delete"
    SESSION_CREATE = "session.create"
    SESSION_UPDATE = "session.update"
    SESSION_DELETE = "session.delete"
    SESSION_SPAWN = "session.spawn"
    SESSION_EVENT_ADD = "session.event_add"
    SESSION_TIMELINE_ADD = "session.timeline_add"
    SESSION_TASK_ADD = "session.task_add"
    SESSION_TASK_REMOVE = "session.task_remove"
    SESSION_IMPORT = "session.import"
    SESSION_QUEUE_PUSH = "session.queue_push"
    SESSION_QUEUE_START = "session.queue_start"
    SESSION_QUEUE_COMPLETE = "session.queue_complete"
    SESSION_QUEUE_FAIL = "session.queue_fail"
    SESSION_QUEUE_SKIP = "session.queue_skip"
    LOOP_CREATE = "loop.create"
    LOOP_UPDATE = "loop.update"
    LOOP_DELETE = "loop.delete"
    LOOP_SET_STATUS = "loop.set_status"
    LOOP_DECISION = "loop.decision"
    LOOP_SEED = "loop.seed"
    LOOP_IMPORT = "loop.import"
    AGENT_CREATE = "agent.create"
    AGENT_UPDATE = "agent.update"
    AGENT_DELETE = "agent.delete"
    AGENT_SEED = "agent.seed"
    AGENT_IMPORT = "agent.import"
    EXPERIMENT_CREATE = "experiment.create"
    EXPERIMENT_UPDATE = "experiment.update"
    EXPERIMENT_DELETE = "experiment.delete"
    EXPERIMENT_RUN = "experiment.run"
    EXPERIMENT_STOP = "experiment.stop"
    EXPERIMENT_OBSERVE = "experiment.observe"
    EXPERIMENT_COMPLETE = "experiment.complete"
    EXPERIMENT_SEED = "experiment.seed"
    EXPERIMENT_IMPORT = "experiment.import"
    PLAYBOOK_CREATE = "playbook.create"
    PLAYBOOK_UPDATE = "playbook.update"
    PLAYBOOK_DELETE = "playbook.delete"
    PLAYBOOK_ENABLE = "playbook.enable"
    PLAYBOOK_DISABLE = "playbook.disable"
    PLAYBOOK_SEED = "playbook.seed"
    PLAYBOOK_IMPORT = "playbook.import"
    MERGE_TRAIN_CREATE = "merge_train.create"
    MERGE_TRAIN_DELETE = "merge_train.delete"
    MERGE_TRAIN_SET_STATUS = "merge_train.set_status"
    MERGE_TRAIN_PR_UPSERT = "merge_train.pr_upsert"
    MERGE_TRAIN_PR_REMOVE = "merge_train.pr_remove"
    MERGE_TRAIN_SEED = "merge_train.seed"
    RUN_CREATE = "run.create"
    RUN_UPDATE = "run.update"
    RUN_CANCEL = "run.cancel"
    WORKFLOW_CREATE = "workflow.create"
    WORKFLOW_UPDATE = "workflow.update"
    WORKFLOW_SEED = "workflow.seed"
    STEP_DEAD = "step.dead"
    STEP_EXECUTE = "step.execute"  # only ever denied: a step the policy refused to run
    DEAD_LETTER_REPLAY = "dead_letter.replay"
    AUDIT_IMPORT = "audit.import"
    TENANT_CREATE = "tenant.create"
    TENANT_UPDATE = "tenant.update"
    MEMBERSHIP_SET = "membership.set"
    MEMBERSHIP_DELETE = "membership.delete"
    API_TOKEN_CREATE = "api_token.create"
    API_TOKEN_REVOKE = "api_token.revoke"
    USER_SIGN_IN = "user.sign_in"
    USER_SIGN_OUT = "user.sign_out"
    USER_IDENTITY_LINK = "user.identity_link"


# The one action that is not a constant: an HTTP request refused by role before any service
# ran is recorded under its request line (``POST /api/tasks``), cut to the audit column width.
_REQUEST_LINE = re.compile(r"^(GET|HEAD|OPTIONS|POST|PUT|PATCH|DELETE) /")
ACTION_MAX_LENGTH = 100


def request_action(method: str, path: str) -> str:
    return f"{method} {path}"[:ACTION_MAX_LENGTH]


def event_type(value: str) -> Event:
    """``value`` as a catalogue event; anything else is a programming error."""
    try:
        return Event(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an event type of the catalogue (write_path/catalogue.py)") from None


def audit_action(value: str) -> str:
    """``value`` as a catalogue action, or an HTTP request line (see :func:`request_action`)."""
    try:
        return Action(value)
    except ValueError:
        if _REQUEST_LINE.match(value):
            return value
        raise ValueError(f"{value!r} is not an audit action of the catalogue (write_path/catalogue.py)") from None


def resource(value: str) -> Resource:
    try:
        return Resource(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a resource type of the catalogue (write_path/catalogue.py)") from None


@dataclass(frozen=True)
class Lifecycle:
    """The events and audit actions of creating, updating and deleting one resource."""

    created: Event
    updated: Event
    create: Action
    update: Action
    deleted: Event | None  # None: the resource is never deleted
    delete: Action | None


def lifecycle(of: Resource, *, update: Action | None = None) -> Lifecycle:
    """The catalogue's ``<resource>:created|updated|deleted`` events and ``<resource>.create|
    update|delete`` actions of ``of`` (``update`` names another action its updates are audited
    under). Creation and update must be in the catalogue (else this fails at import); a resource
    with neither delete entry is one that is never deleted, and one with only one is an error."""
    deleted = next((e for e in Event if e == f"{of}:deleted"), None)
    delete = next((a for a in Action if a == f"{of}.delete"), None)
    if (deleted is None) != (delete is None):
        raise ValueError(f"{of}: the catalogue has one of {of}:deleted and {of}.delete without the other")
    return Lifecycle(created=event_type(f"{of}:created"), updated=event_type(f"{of}:updated"),
                     create=Action(audit_action(f"{of}.create")), update=update or Action(audit_action(f"{of}.update")),
                     deleted=deleted, delete=delete)
