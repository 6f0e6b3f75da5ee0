from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "maestro.tenancy"
    label = "tenancy"
    verbose_name = "Tenants and access"

    def ready(self) -> None:
        from maestro.tenancy.credential_cache import connect_signals

        connect_signals()
