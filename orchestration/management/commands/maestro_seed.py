"""``maestro_seed [--tenant T]``: the old system's default loops, agents, experiment, playbook
(and an empty default merge train) and a sample workflow, once per tenant; never over an
operator's edits."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand

from maestro.core.actors import Actor
from maestro.tenancy.models import DEFAULT_TENANT_SLUG
from maestro.tenancy.services import tenant_get_or_create
from orchestration.control.services.seed import seed_defaults
from orchestration.engine.services.seed import workflow_seed_defaults


class Command(BaseCommand):
    help = "Seed the old system's default control state into a tenant (idempotent)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--tenant", default=DEFAULT_TENANT_SLUG, help="tenant slug (created when missing)")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = tenant_get_or_create(slug=options["tenant"])
        actor = Actor.system("maestro_seed")
        report = seed_defaults(tenant=tenant, actor=actor)
        workflows = workflow_seed_defaults(tenant=tenant, actor=actor)
        report = {key: report[key] + workflows[key] for key in ("created", "skipped")}
        if options["json"]:
            self.stdout.write(json.dumps({"tenant": tenant.slug, **report}))
            return
        if options["verbosity"] < 1:
            return
        created = ", ".join(report["created"]) or "nothing"
        self.stdout.write(f"Seeded tenant {tenant.slug}: created {created}; "
                          f"{len(report['skipped'])} already seeded or present.")
