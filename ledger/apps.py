from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "ledger"
    verbose_name = "Provenance ledger"

    def ready(self) -> None:
        # Scrape-time gauges read the database; imported here, once the app registry is ready.
        from ledger import status

        status.register()
