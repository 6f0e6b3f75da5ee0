"""requirements.txt alone must carry everything the production processes import. The test
environment also installs requirements-dev.txt, whose tools bring packages of their own, so a
runtime dependency missing from requirements.txt would pass every other test and fail in
production (it did: kombu's Redis transport imports ``packaging``). Here the production
imports run in a subprocess that cannot see any package outside requirements.txt's
dependency closure; optional imports fall back as they would in production."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
# What every virtualenv has, requirements or not.
VENV_BASE = {"pip", "setuptools", "wheel"}

# The web, worker and scheduler processes' imports, with PostgreSQL and Redis configured.
PROGRAM = r"""
import importlib.abc, json, os, sys

hidden = set(json.loads(os.environ["HIDDEN_MODULES"]))


class Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname.split(".")[0] in hidden:
            raise ModuleNotFoundError(f"No module named {fullname!r} (not in requirements.txt)", name=fullname)
        return None


sys.meta_path.insert(0, Hide())
import django
django.setup()
import maestro.asgi, maestro.celery, maestro.scheduler, maestro.ops.metrics
import maestro.urls  # the URLconf the first request loads (single sign-on, the pages, every API)
from maestro.celery import app
app.connection_for_write().transport  # resolves the broker transport (kombu.transport.redis)
import channels_redis.pubsub, psycopg_pool, uvicorn.main, uvicorn.loops.uvloop
import uvicorn.protocols.http.httptools_impl, uvicorn.protocols.websockets.websockets_impl
import celery.bin.worker, ledger.archive, ledger.signing
# tracing, as a process sets it up when an OTLP endpoint is configured (maestro/tracing.py)
from maestro import tracing
import opentelemetry.exporter.otlp.proto.http.trace_exporter
tracing.instrument(tracing.tracer_provider(tracing.WEB), web=True)
print("ok")
"""


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _closure() -> set[str]:
    """Distributions reachable from requirements.txt, with the extras it asks for."""
    todo = [Requirement(line) for line in (ROOT / "requirements.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    seen: set[str] = set()
    visited: set[tuple[str, frozenset[str]]] = set()
    while todo:
        req = todo.pop()
        extras = frozenset(req.extras)
        if (_norm(req.name), extras) in visited:
            continue
        visited.add((_norm(req.name), extras))
        seen.add(_norm(req.name))
        for raw in metadata.requires(req.name) or []:
            dep = Requirement(raw)
            if dep.marker is None or any(dep.marker.evaluate({"extra": e}) for e in (extras or {""})):
                todo.append(dep)
    return seen


def test_the_processes_start_with_only_what_requirements_txt_installs():
    allowed = _closure() | VENV_BASE
    hidden = sorted(module for module, dists in metadata.packages_distributions().items()
                    if not {_norm(d) for d in dists} & allowed)
    env = {**os.environ, "MAESTRO_ENV": "dev", "DJANGO_SETTINGS_MODULE": "maestro.settings",
           "MAESTRO_DATABASE_URL": "postgres://nobody@127.0.0.1:1/none", "MAESTRO_REDIS_URL": "redis://127.0.0.1:1/0",
           "HIDDEN_MODULES": json.dumps(hidden)}
    out = subprocess.run([sys.executable, "-c", PROGRAM], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert (out.returncode, out.stdout.strip()) == (0, "ok"), out.stderr[-3000:]
    assert "pytest" in hidden  # the dev tools really are out of sight
