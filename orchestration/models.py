"""The models of the ``orchestration`` app are defined in its parts (work, control, runs);
importing their modules here is what registers them with Django. Code imports a model from its
part, never from here."""

from orchestration.control.models import agents, experiments, loops, merge_trains, playbooks, seed
from orchestration.engine import models as engine
from orchestration.runs import models as runs
from orchestration.work import models as work

__all__ = ["agents", "engine", "experiments", "loops", "merge_trains", "playbooks", "runs", "seed", "work"]
