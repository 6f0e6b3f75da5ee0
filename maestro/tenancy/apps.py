from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "maestro.tenancy"
    label = "tenancy"
    verbose_name = "Tenants and access"
