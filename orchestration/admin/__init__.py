"""Admin registrations; each module registers its own models."""

from orchestration.admin import audit, control, core, experiments, merge_trains, runs  # noqa: F401
