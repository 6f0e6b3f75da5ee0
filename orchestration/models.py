"""The models of the ``orchestration`` app, each defined in its part (work, control, runs) and
imported here so Django registers them. Code imports a model from its part, never from here."""

from orchestration.control.models.agents import AgentProfile
from orchestration.control.models.experiments import Experiment, ExperimentObservation, ExperimentVariant
from orchestration.control.models.loops import AutonomicLoop, LoopDecision
from orchestration.control.models.merge_trains import MergeTrain, MergeTrainPullRequest
from orchestration.control.models.playbooks import Playbook
from orchestration.control.models.seed import SeedMarker
from orchestration.runs.models import Run
from orchestration.work.models import (
    Project,
    Session,
    SessionEvent,
    SessionTask,
    SessionTimelineEvent,
    Subtask,
    Task,
    TaskTimelineEvent,
)

__all__ = [
    "AgentProfile",
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
