from django.apps import AppConfig


class OrchestrationConfig(AppConfig):
    name = "orchestration"
    verbose_name = "Orchestration"

    def ready(self) -> None:
        from orchestration.autonomic import guards

        guards.register()  # the safety loop's strict mode refuses writes through the write path
