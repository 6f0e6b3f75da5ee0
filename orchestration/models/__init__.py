from orchestration.models.audit import AuditEvent
from orchestration.models.project import Project
from orchestration.models.session import Session, SessionEvent, SessionTask, SessionTimelineEvent
from orchestration.models.task import Subtask, Task, TaskTimelineEvent

__all__ = [
    "AuditEvent",
    "Project",
    "Session",
    "SessionEvent",
    "SessionTask",
    "SessionTimelineEvent",
    "Subtask",
    "Task",
    "TaskTimelineEvent",
]
