from django.apps import AppConfig


class WritePathConfig(AppConfig):
    name = "maestro.write_path"
    label = "write_path"
    verbose_name = "Audit"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The ledger sequencer hands each signed checkpoint to the write path, which puts it on
        # the event log in the sequencer's transaction: the event log has one entrance, and the
        # ledger (below the write path) never imports it. Imported here: the app registry must
        # be ready before models are imported.
        from ledger.sequencer import announce_checkpoints_to
        from maestro.api import idempotency
        from maestro.write_path.idempotency import DatabaseStore
        from maestro.write_path.services import announce_checkpoint

        announce_checkpoints_to(announce_checkpoint)
        # Likewise the API toolkit (below every app) keeps Idempotency-Key answers here.
        idempotency.use_store(DatabaseStore())
