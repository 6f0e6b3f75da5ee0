"""The Celery jobs of every part of the domain (Celery discovers ``<app>.jobs``; each part
declares its own)."""

from orchestration.engine import jobs as engine_jobs  # noqa: F401
