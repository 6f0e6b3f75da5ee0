"""A sample workflow, seeded once per tenant beside the control-state defaults (``maestro_seed``,
which ``./bin/run`` calls), so a fresh Maestro shows a workflow to start. Like the other
defaults it is seeded once: an operator's later versions or a disabled sample stay as they are."""

from __future__ import annotations

from django.db import transaction

from maestro.core.actors import Actor
from maestro.tenancy.models import Tenant
from maestro.write_path.catalogue import Action
from orchestration.control.models.seed import SeedMarker
from orchestration.engine.models import WorkflowDefinition
from orchestration.engine.services.workflows import workflow_create

SAMPLE_NAME = "sample-pipeline"
SAMPLE_YAML = """\
description: Build, test in parallel, then deploy; the flaky check fails once and is retried.
steps:
  - id: checkout
    action: noop
  - id: build
    action: sleep
    params: {seconds: 1}
    dependsOn: [checkout]
  - id: unit-tests
    action: sleep
    params: {seconds: 1}
    dependsOn: [build]
  - id: flaky-check
    action: fail
    params: {times: 1}
    dependsOn: [build]
    retry: {maxAttempts: 3, initialInterval: 0.5, backoffCoefficient: 2}
  - id: deploy
    action: noop
    dependsOn: [unit-tests, flaky-check]
    timeout: 60
"""


def workflow_seed_defaults(*, tenant: Tenant, actor: Actor) -> dict[str, list[str]]:
    with transaction.atomic():
        Tenant.objects.select_for_update(no_key=True).filter(pk=tenant.pk).first()
        if SeedMarker.objects.filter(tenant=tenant, kind="workflow", slug=SAMPLE_NAME).exists():
            return {"created": [], "skipped": [f"workflow:{SAMPLE_NAME}"]}
        created = not WorkflowDefinition.objects.filter(tenant=tenant, name=SAMPLE_NAME).exists()
        if created:
            workflow_create(tenant=tenant, actor=actor, name=SAMPLE_NAME, spec_yaml=SAMPLE_YAML,
                            action=Action.WORKFLOW_SEED)
        SeedMarker.objects.create(tenant=tenant, kind="workflow", slug=SAMPLE_NAME)
    key = f"workflow:{SAMPLE_NAME}"
    return {"created": [key], "skipped": []} if created else {"created": [], "skipped": [key]}
