from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "ledger"
    verbose_name = "Provenance ledger"

    def ready(self) -> None:
        from ledger import metrics

        metrics.register()
