"""Admin registrations; each module registers its own models."""

from orchestration.admin import core  # noqa: F401
