"""The admin of every part of the domain (Django discovers this module; each part registers
its own models)."""

from orchestration.autonomic import admin as autonomic_admin  # noqa: F401  (after control's loop admin)
from orchestration.control.admin import agents, experiments, loops, merge_trains, playbooks  # noqa: F401
from orchestration.engine import admin as engine_admin  # noqa: F401
from orchestration.runs import admin as runs_admin  # noqa: F401
from orchestration.work import admin as work_admin  # noqa: F401
