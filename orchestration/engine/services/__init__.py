"""The workflow engine's services (DESIGN §7.1): definitions, starting runs (of a workflow or a
playbook), executing steps, cancelling, replaying dead letters, reaping lost steps."""

from orchestration.engine.services.runs import dead_letter_replay, playbook_start, run_cancel, run_start
from orchestration.engine.services.workflows import workflow_create, workflow_set_enabled

__all__ = ["dead_letter_replay", "playbook_start", "run_cancel", "run_start", "workflow_create",
           "workflow_set_enabled"]
