"""The loops' admin gains "Run now": a tick of each selected loop, as the signed-in user (the
same service as ``POST autonomic/loops/{id}/run``). The loop admin itself is control's; this
part sits above control, so it extends that admin rather than control importing the loops."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from orchestration.autonomic.services import loop_run_now
from orchestration.control.admin.loops import AutonomicLoopAdmin
from orchestration.control.models.loops import AutonomicLoop


class LoopAdmin(AutonomicLoopAdmin):
    actions = (*AutonomicLoopAdmin.actions, "run_now")

    @admin.action(description="Run selected loops now")
    def run_now(self, request: HttpRequest, queryset: QuerySet[AutonomicLoop]) -> None:
        self.service_action(request, queryset, "Ran", loop_run_now)


admin.site.unregister(AutonomicLoop)
admin.site.register(AutonomicLoop, LoopAdmin)
