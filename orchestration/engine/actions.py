"""The built-in step actions (DESIGN §7.1) and the plugins of the ``maestro.actions`` entry-point
group, put into the registry of :mod:`orchestration.base.actions` when Django starts.

An action takes a :class:`StepContext` and returns the step's output (JSON); it fails its step
by raising (:class:`ActionFailed` for an expected failure). The ``maestro.*`` actions call the
same services as the API, as the run's engine actor, so each change is audited, ledgered and
broadcast like any other."""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from functools import cache
from importlib.metadata import entry_points
from typing import Any

from django.conf import settings

from ledger.services import entries_append, idempotency_entry_id
from orchestration.base.actions import REGISTRY, ActionFailed, StepContext, transactional
from orchestration.control.services.agents import agent_update
from orchestration.control.services.loops import loop_set_status
from orchestration.work.selectors.projects import project_get
from orchestration.work.services.tasks import task_create

log = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "maestro.actions"
HTTP_MAX_BODY = 64 * 1024


def _param(ctx: StepContext, name: str, kind: type | tuple[type, ...], required: bool = True, default: Any = None
           ) -> Any:
    value = ctx.params.get(name, default)
    if value is None and not required:
        return None
    if value is None or isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
        raise ActionFailed(f"params.{name} is required ({kind if isinstance(kind, type) else kind[0]})"
                           .replace("<class '", "").replace("'>", ""))
    return value


@transactional
def noop(ctx: StepContext) -> Any:
    return None


def sleep(ctx: StepContext) -> Any:
    seconds = float(_param(ctx, "seconds", (int, float), required=False, default=0) or 0)
    if seconds < 0:
        raise ActionFailed("params.seconds must be >= 0")
    end = time.monotonic() + seconds
    if ctx.deadline is not None:
        end = min(end, ctx.deadline + 0.05)  # the engine gives up at the deadline anyway
    while (left := end - time.monotonic()) > 0:
        time.sleep(min(left, 0.5))
    return {"slept": seconds}


@transactional
def fail(ctx: StepContext) -> Any:
    """Fails the first ``params.times`` executions of its step (replays included), then
    succeeds; without ``times`` it always fails."""
    times = ctx.params.get("times")
    if times is None or isinstance(times, bool) or not isinstance(times, int) or ctx.execution <= times:
        raise ActionFailed(f"fail: execution {ctx.execution}" + (f" of {times}" if isinstance(times, int) else ""))
    return {"execution": ctx.execution}


def _host_allowed(host: str) -> bool:
    allowed = [h.lower() for h in settings.MAESTRO_HTTP_ACTION_ALLOWED_HOSTS]
    return host.lower() in allowed or "*" in allowed


def http_request(ctx: StepContext) -> Any:
    """``params``: ``url``, ``method`` (GET), ``headers`` {}, ``json`` (a body), ``timeout`` (10 s).
    The URL's host must be in ``MAESTRO_HTTP_ACTION_ALLOWED_HOSTS``; a 4xx/5xx answer fails."""
    url = _param(ctx, "url", str)
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ActionFailed(f"http.request: {url!r} is not an http(s) URL")
    if not _host_allowed(parts.hostname):
        raise ActionFailed(f"http.request: host {parts.hostname} is not allowed "
                           f"(MAESTRO_HTTP_ACTION_ALLOWED_HOSTS)")
    method = str(ctx.params.get("method", "GET")).upper()
    headers = {str(k): str(v) for k, v in (ctx.params.get("headers") or {}).items()}
    data = None
    if "json" in ctx.params:
        data = json.dumps(ctx.params["json"]).encode()
        headers.setdefault("Content-Type", "application/json")
    timeout = float(ctx.params.get("timeout", 10))
    if ctx.deadline is not None:
        timeout = max(0.1, min(timeout, ctx.deadline - time.monotonic()))
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as response:
            body = response.read(HTTP_MAX_BODY).decode("utf-8", "replace")
            return {"status": response.status, "body": body}
    except urllib.error.HTTPError as exc:
        raise ActionFailed(f"http.request: {method} {url} answered {exc.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise ActionFailed(f"http.request: {method} {url} failed: {getattr(exc, 'reason', exc)}") from None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect could lead off the allow-list: it is the answer, not followed."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@transactional
def create_task(ctx: StepContext) -> Any:
    project = project_get(tenant=ctx.tenant, project_id=_param(ctx, "projectId", str))
    task = task_create(tenant=ctx.tenant, actor=ctx.actor, project=project, title=_param(ctx, "title", str),
                       description=str(ctx.params.get("description", "")),
                       priority=str(ctx.params.get("priority", "medium")))
    return {"taskId": task.id}


@transactional
def set_loop_status(ctx: StepContext) -> Any:
    loop = loop_set_status(tenant=ctx.tenant, actor=ctx.actor, loop_id=_param(ctx, "loopId", str),
                           status=_param(ctx, "status", str))
    return {"loopId": loop.slug, "status": loop.status}


@transactional
def set_agent(ctx: StepContext) -> Any:
    changes = {k: v for k, v in ctx.params.items() if k != "agentId"}
    names = {"routingWeight": "routing_weight"}  # metrics are counted from runs, never set
    agent = agent_update(tenant=ctx.tenant, actor=ctx.actor, agent_id=_param(ctx, "agentId", str),
                         changes={names.get(k, k): v for k, v in changes.items()})
    return {"agentId": agent.slug, "status": agent.status, "routingWeight": agent.routing_weight}


@transactional
def run_playbook(ctx: StepContext) -> Any:
    from orchestration.engine.services.runs import playbook_start

    run, _ = playbook_start(tenant=ctx.tenant, actor=ctx.actor, playbook=_param(ctx, "playbookId", str),
                            input=ctx.params.get("input"),
                            idempotency_key=f"run:{ctx.run_id}:{ctx.step_id}")  # a retried step starts it once
    return {"runId": run.id}


@transactional
def ledger_append(ctx: StepContext) -> Any:
    # One entry per step however often it runs: the id derives from the run and the step.
    entry_id = idempotency_entry_id(tenant_id=ctx.tenant.pk, key=f"run:{ctx.run_id}:{ctx.step_id}")
    entry = {"id": entry_id, "action_type": ctx.params.get("actionType", "workflow.step"),
             "resource_type": ctx.params.get("resourceType", "run"),
             "resource_id": ctx.params.get("resourceId", ctx.run_id), "actor_id": ctx.actor.name,
             "actor_type": ctx.actor.actor_type, "payload": ctx.params.get("payload", {}),
             "metadata": {"runId": ctx.run_id, "stepId": ctx.step_id}}
    stored = entries_append(tenant_id=ctx.tenant.pk, items=[entry], submitted_by=ctx.actor)
    return {"entryIds": [str(getattr(e, "id", "")) for e, _ in stored]}


BUILT_INS = {
    "noop": noop, "sleep": sleep, "fail": fail, "http.request": http_request,
    "maestro.create_task": create_task, "maestro.set_loop_status": set_loop_status, "maestro.set_agent": set_agent,
    "maestro.run_playbook": run_playbook, "maestro.ledger_append": ledger_append,
}


@cache
def load() -> list[str]:
    """Registers the built-ins, then each ``maestro.actions`` entry point (``name = module:fn``);
    a plugin that fails to load is logged and left out, never stopping the process."""
    for name, fn in BUILT_INS.items():
        REGISTRY.register(name, fn)
    loaded = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            REGISTRY.register(ep.name, ep.load())
            loaded.append(ep.name)
        except Exception:
            log.exception("could not load step action plugin", extra={"event": "engine.plugin_failed",
                                                                       "plugin": ep.name})
    return loaded


