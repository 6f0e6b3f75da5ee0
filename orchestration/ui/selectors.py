"""What the operators' pages show, read through each part's own selectors and representations
(the same shapes the API answers with), so a page and the API never disagree."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count

from ledger.selectors import checkpoints_list, height
from ledger.status import tenant_backlog
from maestro.core.roles import Role
from maestro.tenancy.models import Membership, OidcIdentity, Tenant
from maestro.write_path.representations import audit_repr
from maestro.write_path.selectors import audit_log
from orchestration.control.representations import agents_repr, experiment_repr, loop_repr
from orchestration.control.selectors.agents import agent_list
from orchestration.control.selectors.experiments import experiment_list
from orchestration.control.selectors.loops import loop_list
from orchestration.engine.representations import dead_letter_repr, graph_repr, step_repr, transition_repr
from orchestration.engine.selectors import dead_letter_list, steps_of, timeline_of, workflow_list
from orchestration.health.selectors import dashboard_stats, health_snapshot
from orchestration.runs.models import Run
from orchestration.runs.representations import run_repr
from orchestration.runs.selectors import run_get, run_list
from orchestration.ui.charts import dag_layout, ledger_throughput, run_outcomes, step_latency, step_outcomes
from orchestration.work.models import Task
from orchestration.work.representations import project_repr, session_repr, task_repr
from orchestration.work.selectors.projects import project_get, project_list
from orchestration.work.selectors.sessions import session_get, session_list
from orchestration.work.selectors.tasks import task_list, task_list_by_ids
from realtime.status import websocket_clients

RECENT_AUDIT = 12


@dataclass(frozen=True)
class TenantChoice:
    tenant: Tenant
    role: str

    @property
    def slug(self) -> str:
        return self.tenant.slug

    @property
    def name(self) -> str:
        return self.tenant.name or self.tenant.slug


def tenants_of(user: AbstractBaseUser) -> list[TenantChoice]:
    """The tenants a signed-in person may open, with their role in each: their memberships, and
    for a superuser every tenant (as admin where no membership says otherwise)."""
    roles = {m.tenant_id: m.role for m in Membership.objects.filter(user_id=user.pk)}
    tenants = Tenant.objects.order_by("slug")
    if not getattr(user, "is_superuser", False):
        tenants = tenants.filter(pk__in=roles)
    return [TenantChoice(tenant=t, role=roles.get(t.pk, Role.ADMIN)) for t in tenants]


def signed_in_as(user: AbstractBaseUser) -> dict[str, str]:
    """How the page names the person: the provider's identity for a single sign-on user (whose
    username is an opaque ``oidc:`` digest), the username otherwise."""
    identity = OidcIdentity.objects.filter(user_id=user.pk).first()
    if identity is not None:
        name = getattr(user, "first_name", "") or getattr(user, "email", "") or identity.subject
        return {"name": name, "via": identity.issuer, "subject": identity.subject}
    return {"name": user.get_username(), "via": "", "subject": ""}


def ledger_summary(*, tenant: Tenant) -> dict[str, Any]:
    last = checkpoints_list(tenant_id=tenant.pk).order_by("-tree_size").first()
    return {"height": height(tenant_id=tenant.pk), **tenant_backlog(tenant_id=tenant.pk),
            "lastCheckpoint": None if last is None else {"treeSize": last.tree_size, "timestamp": last.timestamp,
                                                          "rootHash": last.root_hash}}


def projects_summary(*, tenant: Tenant) -> list[dict[str, Any]]:
    """Each project with its task count per status (one grouped query for all of them)."""
    counts: dict[str, dict[str, int]] = {}
    for row in Task.objects.filter(tenant=tenant).values("project_id", "status").annotate(n=Count("id")):
        counts.setdefault(row["project_id"], {})[row["status"]] = row["n"]
    return [{**project_repr(p), "tasks": counts.get(p.id, {}), "total": sum(counts.get(p.id, {}).values())}
            for p in project_list(tenant=tenant)]


def board(*, tenant: Tenant, project_id: str) -> dict[str, Any]:
    """A project's tasks by status, in the order of the statuses' lifecycle, with subtasks and
    timeline; NotFound for a project of no one or of another tenant."""
    project = project_get(tenant=tenant, project_id=project_id)
    tasks = [task_repr(t) for t in task_list(tenant=tenant).filter(project_id=project.id)]
    titles = {t["id"]: t["title"] for t in tasks}
    columns = [{"status": status, "label": label, "tasks": [dict(t, parentTitle=titles.get(t["parentId"] or ""))
                                                            for t in tasks if t["status"] == status]}
               for status, label in Task.Status.choices]
    return {"project": project_repr(project), "columns": columns, "statuses": Task.Status.choices,
            "priorities": Task.Priority.choices}


def project_sessions(*, tenant: Tenant, project_id: str) -> dict[str, Any]:
    project = project_get(tenant=tenant, project_id=project_id)
    titles = dict(Task.objects.filter(tenant=tenant, project_id=project.id).values_list("id", "title"))
    sessions = [{**session_repr(s), "tasks": [{"id": link.task_id, "title": titles.get(link.task_id, link.task_id)}
                                              for link in s.task_links.all()]}
                for s in session_list(tenant=tenant).filter(project_id=project.id)]
    return {"project": project_repr(project), "sessions": sessions}


def session_page(*, tenant: Tenant, session_id: str) -> dict[str, Any]:
    session = session_get(tenant=tenant, session_id=session_id)
    tasks = [task_repr(t) for t in task_list_by_ids(tenant=tenant, task_ids=[link.task_id for link in
                                                                               session.task_links.all()])]
    return {"session": session_repr(session), "tasks": tasks,
            "project": project_repr(project_get(tenant=tenant, project_id=session.project_id))}


RECENT_RUNS = 12


def runs_summary(*, tenant: Tenant) -> dict[str, Any]:
    """The latest runs, and the workflows a run may be started of (their latest enabled
    version)."""
    names = sorted({wf.name for wf in workflow_list(tenant=tenant) if wf.is_enabled})
    return {"runs": [run_repr(r) for r in run_list(tenant=tenant)[:RECENT_RUNS]], "workflows": names}


def run_page(*, tenant: Tenant, run_id: str) -> dict[str, Any]:
    """A run with its step graph, timeline and dead letters; NotFound for another tenant's."""
    run = run_get(tenant=tenant, run_id=run_id)
    steps = list(steps_of(run_id=run.id))
    return {"run": run_repr(run), "steps": [step_repr(s) for s in steps], "graph": dag_layout(graph_repr(steps)),
            "timeline": [transition_repr(t) for t in timeline_of(run_id=run.id)],
            "deadLetters": [dead_letter_repr(d) for d in dead_letter_list(tenant=tenant).filter(run_id=run.id)],
            "finished": run.status in Run.FINISHED}


Params = Mapping[str, str]

# The pages' sections, each read on its own: a page renders its sections, and a live page
# fetches again only the ones an event concerns (orchestration/ui/static/maestro/ui.js). A
# section reads the tenant and the page's parameters (``project``, ``session``).
SECTIONS: dict[str, Callable[[Tenant, Params], dict[str, Any]]] = {
    "health": lambda tenant, _: {"health": health_snapshot(tenant=tenant)},
    "stats": lambda tenant, _: {"stats": dashboard_stats(tenant=tenant)},
    "ledger": lambda tenant, _: {"ledger": ledger_summary(tenant=tenant)},
    "projects": lambda tenant, _: {"projects": projects_summary(tenant=tenant)},
    "experiments": lambda tenant, _: {"experiments": [experiment_repr(e) for e in experiment_list(tenant=tenant)]},
    "loops": lambda tenant, _: {"loops": [loop_repr(loop) for loop in loop_list(tenant=tenant)]},
    "agents": lambda tenant, _: {"agents": agents_repr(list(agent_list(tenant=tenant)))},
    "charts": lambda tenant, _: {"charts": {"runs": run_outcomes(tenant=tenant),
                                            "steps": step_outcomes(tenant=tenant),
                                            "latency": step_latency(tenant=tenant),
                                            "ledger": ledger_throughput(tenant=tenant),
                                            "websocketClients": websocket_clients(),
                                            "backlog": tenant_backlog(tenant_id=tenant.pk)["backlog"]}},
    "audit": lambda tenant, _: {"audit": [audit_repr(row) for row in audit_log(tenant_id=tenant.pk)[:RECENT_AUDIT]]},
    "board": lambda tenant, params: board(tenant=tenant, project_id=params.get("project", "")),
    "sessions": lambda tenant, params: project_sessions(tenant=tenant, project_id=params.get("project", "")),
    "session": lambda tenant, params: session_page(tenant=tenant, session_id=params.get("session", "")),
    "runs": lambda tenant, _: runs_summary(tenant=tenant),
    "run": lambda tenant, params: run_page(tenant=tenant, run_id=params.get("run", "")),
}
DASHBOARD = ("health", "stats", "ledger", "charts", "runs", "projects", "experiments", "loops", "agents", "audit")
BOARD = ("board", "sessions")


def page_sections(*, tenant: Tenant, names: Iterable[str], params: Params | None = None) -> dict[str, Any]:
    """What the named sections show, together (a page); KeyError for a name that is not one,
    NotFound for a project or session the tenant does not have."""
    page: dict[str, Any] = {}
    for name in names:
        page.update(SECTIONS[name](tenant, params or {}))
    return page
