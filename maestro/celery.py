import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "maestro.settings")

app = Celery("maestro")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Jobs live in `jobs.py` modules: Maestro has a Task model, and `tasks.py` would confuse.
app.autodiscover_tasks(related_name="jobs")
