from django.apps import AppConfig


class OrchestrationConfig(AppConfig):
    name = "orchestration"
    verbose_name = "Orchestration"

    def ready(self) -> None:
        # The step actions' registry (orchestration.base.actions) is filled here, so every part
        # that asks which actions exist (a playbook's save) sees the engine's built-ins and plugins.
        from orchestration.engine import actions, metrics

        actions.load()
        metrics.register()

        from orchestration.autonomic import guards

        guards.register()  # the safety loop's strict mode refuses writes through the write path
