"""Channel-layer group names, built here and nowhere else."""


def tenant_group(tenant_id: int) -> str:
    return f"tenant.{tenant_id}"
