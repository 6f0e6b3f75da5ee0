from orchestration.models.agents import AgentProfile
from orchestration.models.audit import AuditEvent
from orchestration.models.experiments import Experiment, ExperimentObservation, ExperimentVariant
from orchestration.models.loops import AutonomicLoop, LoopDecision
from orchestration.models.merge_trains import MergeTrain, MergeTrainPullRequest
from orchestration.models.playbooks import Playbook
from orchestration.models.project import Project
from orchestration.models.runs import Run
from orchestration.models.seed import SeedMarker
from orchestration.models.session import Session, SessionEvent, SessionTask, SessionTimelineEvent
from orchestration.models.task import Subtask, Task, TaskTimelineEvent

__all__ = [
    "AgentProfile",
    "AuditEvent",
    "AutonomicLoop",
    "Experiment",
    "ExperimentObservation",
    "ExperimentVariant",
    "LoopDecision",
    "MergeTrain",
    "MergeTrainPullRequest",
    "Playbook",
    "Project",
    "Run",
    "SeedMarker",
    "Session",
    "SessionEvent",
    "SessionTask",
    "SessionTimelineEvent",
    "Subtask",
    "Task",
    "TaskTimelineEvent",
]
