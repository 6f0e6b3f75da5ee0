import os

from .base import *  # noqa: F403
from .base import DATABASES

SECRET_KEY = "test-secret-key-not-for-production-0123456789"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MAESTRO_DEV_LOOPBACK_AUTH = False
# Concurrent test runs on one server must not share a test database. (SQLite tests use an
# in-memory database, which is private to the run already.)
if DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"]["NAME"] = os.environ.get("MAESTRO_TEST_DB_NAME", "test_maestro")
LOGGING["root"]["level"] = os.environ.get("MAESTRO_LOG_LEVEL", "WARNING")  # noqa: F405
# Jobs published by tests (no worker consumes them) go to a queue of their own, which the test
# session empties at its end (tests/conftest.py), never to a real deployment's queue.
CELERY_TASK_DEFAULT_QUEUE = "maestro-test-" + os.environ.get("MAESTRO_CHANNELS_PREFIX", "maestro")
MAESTRO_METRIC_QUEUES = [CELERY_TASK_DEFAULT_QUEUE]
# The teardown of transactional tests flushes the test database, ledger tables included.
MAESTRO_LEDGER_ALLOW_FLUSH = True
