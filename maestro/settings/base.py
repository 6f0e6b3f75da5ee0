import os
from pathlib import Path
from typing import Any, cast

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

from maestro.core.roles import parse_group_roles

# Django's admin and model-form classes take the type arguments their stubs give them
# (``admin.ModelAdmin[Project]``): django-stubs-ext makes them subscriptable at run time.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("MAESTRO_VAR_DIR", BASE_DIR / "var"))

MAESTRO_ENV = os.environ.get("MAESTRO_ENV", "dev")
SECRET_KEY = os.environ.get("MAESTRO_SECRET_KEY", "")
DEBUG = False
ALLOWED_HOSTS = [h for h in os.environ.get("MAESTRO_ALLOWED_HOSTS", "*").split(",") if h]
MAESTRO_HOST = os.environ.get("MAESTRO_HOST", "127.0.0.1")
MAESTRO_PORT = int(os.environ.get("MAESTRO_PORT", "8000"))
MAESTRO_PUBLIC_URL = os.environ.get("MAESTRO_PUBLIC_URL", f"http://{MAESTRO_HOST}:{MAESTRO_PORT}")
# The processes (bin/web, bin/worker; docs/operations.md).
MAESTRO_WEB_WORKERS = int(os.environ.get("MAESTRO_WEB_WORKERS", "1"))
# Threads per web process serving HTTP requests (maestro.asgi); each holds at most one database
# connection while it serves, so keep it at most MAESTRO_DB_POOL_MAX.
MAESTRO_WEB_THREADS = int(os.environ.get("MAESTRO_WEB_THREADS", "8"))
MAESTRO_WORKER_CONCURRENCY = int(os.environ.get("MAESTRO_WORKER_CONCURRENCY", "4"))
# Proxies whose X-Forwarded-For / -Proto the web process believes (comma-separated, or *).
MAESTRO_FORWARDED_ALLOW_IPS = os.environ.get("MAESTRO_FORWARDED_ALLOW_IPS", "127.0.0.1")
MAESTRO_LOG_LEVEL = os.environ.get("MAESTRO_LOG_LEVEL", "INFO").upper()

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_prometheus",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "maestro.tenancy",
    "maestro.write_path",
    "realtime",
    "orchestration",
    "ledger",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "maestro.middleware.RequestIdMiddleware",
    "maestro.middleware.BodySizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "maestro.middleware.StaticFilesMiddleware",  # WhiteNoise, async capable
    # Django's session, CSRF, auth, messages and frame middleware, skipped by API calls that carry
    # their own credentials (maestro.middleware.carries_credentials); browsers get all of them.
    "maestro.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "maestro.middleware.CsrfViewMiddleware",
    "maestro.middleware.AuthenticationMiddleware",
    "maestro.middleware.MessageMiddleware",
    "maestro.middleware.XFrameOptionsMiddleware",
    "maestro.middleware.ApiErrorMiddleware",
    "maestro.ops.http_metrics.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "maestro.urls"
ASGI_APPLICATION = "maestro.asgi.application"
WSGI_APPLICATION = "maestro.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- stores -------------------------------------------------------------------------------
DATABASE_URL = os.environ.get("MAESTRO_DATABASE_URL", "")
# Django's own shape for it: dj_database_url's DBConfig says NAME is a str, where the SQLite
# backend also takes a Path.
DATABASES: dict[str, dict[str, Any]]
if DATABASE_URL:
    DATABASES = {"default": cast("dict[str, Any]", dj_database_url.parse(DATABASE_URL))}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # A connection pool per process (psycopg_pool, Django's "pool" option). Under ASGI each
        # request runs in a thread of its own, so persistent per-thread connections would pile
        # up until PostgreSQL refuses new clients; pooled ones go back at the end of a request,
        # and a burst waits up to the timeout for one instead of failing. Size it so that
        # processes × MAESTRO_DB_POOL_MAX stays below the server's max_connections. 0 turns the
        # pool off (a connection per request; for an external pooler such as PgBouncer).
        _pool_max = int(os.environ.get("MAESTRO_DB_POOL_MAX", "10"))
        # Server-side binding: values travel apart from the SQL (no quoting in Python), and a
        # statement a connection has run MAESTRO_DB_PREPARE_THRESHOLD times is prepared on it, so
        # PostgreSQL plans it once per connection instead of every time (the engine's and the
        # API's hot statements spent about as long being planned as being run). "off", and
        # always without Maestro's own pool (behind PgBouncer), prepares nothing.
        _prepare = os.environ.get("MAESTRO_DB_PREPARE_THRESHOLD", "5").strip().lower()
        if _prepare != "off" and (not _prepare.isdigit() or int(_prepare) < 1):
            raise ImproperlyConfigured("MAESTRO_DB_PREPARE_THRESHOLD must be a number of executions >= 1, or off")
        # Names the process kind in pg_stat_activity.
        DATABASES["default"]["OPTIONS"] = {
            "application_name": os.environ.get("MAESTRO_DB_APPLICATION_NAME", "maestro"),
            "server_side_binding": True,
            "prepare_threshold": int(_prepare) if _prepare != "off" and _pool_max > 0 else None}
        if _pool_max > 0:
            # Django's backend, whose pool checks a connection it hands out unless it came back
            # healthy within the last second (maestro/db/base.py): a database restart or
            # failover costs no failed request, and a busy process no extra round trip a request.
            DATABASES["default"]["ENGINE"] = "maestro.db"
            DATABASES["default"]["OPTIONS"]["pool"] = {
                "min_size": min(_pool_max, int(os.environ.get("MAESTRO_DB_POOL_MIN", "1"))),
                "max_size": _pool_max,
                "timeout": float(os.environ.get("MAESTRO_DB_POOL_TIMEOUT", "10")),
            }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "maestro.sqlite3",
            # WAL + a busy timeout let the embedded web, worker and scheduler threads share it.
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE",
                        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"},
        }
    }
DATABASES["default"].setdefault("TEST", {})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("MAESTRO_REDIS_URL", "")
if REDIS_URL:
    # Pub/sub: one PUBLISH per commit, received once per web process and fanned out there
    # (the list-based layer pushes and pops one Redis entry per client per event, and drops
    # when a process's shared channel is full). Delivery may still be lost in transit;
    # consumers fill any gap from the event log (realtime/consumers.py). Its names start with
    # the prefix, this installation's id (kept in the database) and the Redis database number:
    # pub/sub ignores the database, and installations sharing a Redis server must not meet.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "realtime.layers.RedisPubSubInstallationLayer",
            "CONFIG": {
                "hosts": [REDIS_URL],
                "prefix": os.environ.get("MAESTRO_CHANNELS_PREFIX", "maestro"),
                # Messages one WebSocket consumer may have waiting; beyond, the oldest is dropped
                # (counted, logged) and read again from the event log.
                "capacity": int(os.environ.get("MAESTRO_WS_CHANNEL_CAPACITY", "1000")),
            },
        }
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- celery -------------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"  # named host: kombu warns on a bare memory://
# kombu's Redis transport with a reconnect fault mended (maestro/broker.py); rediss:// keeps kombu's own.
CELERY_BROKER_TRANSPORT = "maestro.broker:Transport" if REDIS_URL.startswith("redis://") else None
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Workers keep Django's LOGGING (JSON lines with request ids) instead of Celery's own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_DEFAULT_QUEUE = "maestro"
# Celery's Django fix-up closes the process's whole connection pool before and after every job
# in a prefork worker (celery/fixups/django.py), so each job opened a new PostgreSQL connection
# (a backend started, authenticated) and closed it: most of a short workflow step's cost. With a
# reuse count it only does so every 2×this many jobs (in effect never); maestro/celery.py hands
# each job's connection back to the pool instead, dropping one that broke. A new pool process
# still closes what it inherited.
CELERY_DB_REUSE_MAX = 1_000_000_000
# Each job's queue is declared with it (maestro.queue.job); this router reads those.
CELERY_TASK_ROUTES = ("maestro.queue.route",)
# Without a broker the embedded default runs jobs in-process, right after the commit that
# enqueued them (see docs/decisions.md).
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = False

# --- auth / API ---------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "maestro.auth.backends.ApiTokenAuthentication",
        "maestro.auth.backends.OidcJwtAuthentication",
        "maestro.auth.backends.SessionAuthentication",
        "maestro.auth.backends.DevLoopbackAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["maestro.auth.permissions.TenantRolePermission"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["maestro.api.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "maestro.api.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "maestro.api.autoschema.MaestroAutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Maestro API",
    "DESCRIPTION": "Orchestration control plane: projects, tasks, sessions, control state, ledger. Every error "
                   "is one JSON envelope (ErrorOut). No string may carry a NUL character (U+0000): PostgreSQL "
                   "cannot store one, so a path, query or body holding one is refused (400).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The docs page loads Swagger UI from Maestro's static files, pinned with the package, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Response shapes come from the representations' TypedDicts (maestro.api.openapi.shape).
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "maestro.api.openapi.add_shapes"],
    "ENUM_NAME_OVERRIDES": {
        "TaskStatusEnum": "orchestration.work.models.Task.Status",
        "TaskPriorityEnum": "orchestration.work.models.Task.Priority",
        "SessionStatusEnum": "orchestration.work.models.Session.Status",
        "LoopStatusEnum": "orchestration.control.models.loops.AutonomicLoop.Status",
        "LoopUpdateInTypeEnum": "orchestration.control.models.loops.AutonomicLoop.Type",
        "TaskTimelineInTypeEnum": "orchestration.work.models.TaskTimelineEvent.Type",
        # A task's sessionStatus is not a session's status (the field names alone would collide).
        "TaskSessionStatusEnum": "orchestration.work.api.serializers.SESSION_STATUSES",
    },
}
MAESTRO_DEV_LOOPBACK_AUTH = False
# Token-authenticated plain GETs of one object answered without DRF (maestro.auth.reads): the
# same bytes either way; 0 rules the fast path out (a suspected difference, a benchmark's A/B).
MAESTRO_LEAN_READS = os.environ.get("MAESTRO_LEAN_READS", "1") != "0"
# API tokens a web process has read are kept until PostgreSQL notifies a credential change
# (maestro.tenancy.credential_cache), and read again after this many seconds at the latest; 0 reads
# every token from the database on every request. Only on PostgreSQL through Maestro's pool.
MAESTRO_TOKEN_CACHE_SECONDS = float(os.environ.get("MAESTRO_TOKEN_CACHE_SECONDS", "30"))
MAESTRO_MAX_BODY_BYTES = int(os.environ.get("MAESTRO_MAX_BODY_BYTES", str(1024 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = MAESTRO_MAX_BODY_BYTES
# Request headers, checked in front of Django (maestro.header_limit): in all, and per field.
MAESTRO_MAX_HEADER_BYTES = int(os.environ.get("MAESTRO_MAX_HEADER_BYTES", str(16 * 1024)))
MAESTRO_MAX_HEADER_FIELD_BYTES = int(os.environ.get("MAESTRO_MAX_HEADER_FIELD_BYTES", str(8 * 1024)))
MAESTRO_LIST_DEFAULT_LIMIT = 500
MAESTRO_LIST_MAX_LIMIT = 5000
MAESTRO_EVENT_RETENTION_SECONDS = int(os.environ.get("MAESTRO_EVENT_RETENTION_SECONDS", str(7 * 24 * 3600)))
MAESTRO_EVENT_RETENTION_COUNT = int(os.environ.get("MAESTRO_EVENT_RETENTION_COUNT", "100000"))
# An open WebSocket re-checks its credential (revoked token, removed membership, inactive
# user, expired JWT) at least this often, and at once when its tenant's access changes.
MAESTRO_WS_AUTH_RECHECK_SECONDS = float(os.environ.get("MAESTRO_WS_AUTH_RECHECK_SECONDS", "60"))

OIDC_ISSUER = os.environ.get("MAESTRO_OIDC_ISSUER", "")
OIDC_AUDIENCE = os.environ.get("MAESTRO_OIDC_AUDIENCE", "")
OIDC_JWKS_URL = os.environ.get("MAESTRO_OIDC_JWKS_URL", "")
OIDC_TENANT_CLAIM = os.environ.get("MAESTRO_OIDC_TENANT_CLAIM", "maestro_tenant")
OIDC_ROLE_CLAIM = os.environ.get("MAESTRO_OIDC_ROLE_CLAIM", "maestro_role")
# Off: a token's tenant and role claims grant nothing, and the user its (issuer, subject) is
# linked to acts with that user's memberships. On: the issuer is trusted to grant the tenant
# its tenant claim names, with the role its role claim names (in that tenant only).
OIDC_CLAIMS_GRANT_ACCESS = os.environ.get("MAESTRO_OIDC_CLAIMS_GRANT_ACCESS", "").lower() in {"1", "true", "yes"}
OIDC_LEEWAY_SECONDS = int(os.environ.get("MAESTRO_OIDC_LEEWAY_SECONDS", "60"))  # clock skew allowed on exp/nbf/iat
OIDC_JWKS_TIMEOUT_SECONDS = float(os.environ.get("MAESTRO_OIDC_JWKS_TIMEOUT_SECONDS", "3"))
OIDC_JWKS_REFRESH_SECONDS = float(os.environ.get("MAESTRO_OIDC_JWKS_REFRESH_SECONDS", "300"))
OIDC_JWKS_MIN_REFRESH_SECONDS = float(os.environ.get("MAESTRO_OIDC_JWKS_MIN_REFRESH_SECONDS", "30"))

# Single sign-on for people (maestro/auth/sso.py; docs/operations.md "Single sign-on"): on when
# an issuer and a client id are set. Memberships come from the groups claim through
# MAESTRO_SSO_GROUP_ROLES ("group=tenant:role,..."), recomputed at each sign-in.
SSO_ISSUER = os.environ.get("MAESTRO_SSO_ISSUER", "").rstrip("/")
SSO_CLIENT_ID = os.environ.get("MAESTRO_SSO_CLIENT_ID", "")
SSO_CLIENT_SECRET = os.environ.get("MAESTRO_SSO_CLIENT_SECRET", "")
SSO_PROVIDER_NAME = os.environ.get("MAESTRO_SSO_PROVIDER_NAME", "single sign-on")
SSO_SCOPES = os.environ.get("MAESTRO_SSO_SCOPES", "openid profile email")
SSO_GROUPS_CLAIM = os.environ.get("MAESTRO_SSO_GROUPS_CLAIM", "groups")
SSO_GROUP_ROLES = os.environ.get("MAESTRO_SSO_GROUP_ROLES", "")
# A claim naming tenants and roles directly (["acme:operator", ...] or {"acme": "operator"}); when
# set, the provider manages every membership of its users (one it no longer names is removed).
SSO_ROLES_CLAIM = os.environ.get("MAESTRO_SSO_ROLES_CLAIM", "")
try:
    parse_group_roles(SSO_GROUP_ROLES)  # a mistake stops every process at start, not a sign-in
except ValueError as exc:
    raise ImproperlyConfigured(str(exc)) from None
SSO_STAFF_GROUPS = [g for g in os.environ.get("MAESTRO_SSO_STAFF_GROUPS", "").split(",") if g]
SSO_SUPERUSER_GROUPS = [g for g in os.environ.get("MAESTRO_SSO_SUPERUSER_GROUPS", "").split(",") if g]
# Off: the admin login page offers single sign-on only and refuses a posted password.
MAESTRO_LOCAL_LOGIN = os.environ.get("MAESTRO_LOCAL_LOGIN", "true").lower() not in {"0", "false", "no"}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# The operators' pages keep their stylesheet and script beside their views.
STATICFILES_DIRS = [BASE_DIR / "orchestration" / "ui" / "static"]
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
LOGIN_URL = "/admin/login/"

LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "maestro.logging.RequestIdFilter"},
                "trace": {"()": "maestro.logging.TraceContextFilter"}},
    "formatters": {
        # Every handler formats through it: it redacts credentials (tokens, cookies) from every line.
        "json": {
            "()": "maestro.logging.RedactingJsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "ts", "levelname": "level", "name": "logger"},
        }
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request_id", "trace"]}
    },
    "root": {"handlers": ["console"], "level": MAESTRO_LOG_LEVEL},
    "loggers": {
        # No handlers but ours: Django's defaults (a console handler when DEBUG, mail to ADMINS)
        # would write records, with their request, past the redacting formatter.
        "django": {"handlers": []},
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "WARNING"},
        # Lines per job ("Task … received", "… succeeded"): the periodic sweeps alone would log
        # several a minute. Failures and retries are logged at WARNING/ERROR regardless.
        "celery.app.trace": {"level": os.environ.get("MAESTRO_JOB_LOG_LEVEL", "WARNING")},
        "celery.worker.strategy": {"level": os.environ.get("MAESTRO_JOB_LOG_LEVEL", "WARNING")},  # "received"
    },
}
WHITENOISE_USE_FINDERS = True

# --- scheduler ------------------------------------------------------------------------------
# Periodic jobs by stable Celery name -> interval in seconds. Apps add theirs here.
MAESTRO_PERIODIC_JOBS = {
    # Finds the autonomic loops whose interval has passed and enqueues their ticks.
    "autonomic.dispatch": float(os.environ.get("MAESTRO_LOOP_DISPATCH_SECONDS", "5")),
    "realtime.prune_events": 300.0,
    "write_path.prune_audit": 3600.0,
    "write_path.prune_idempotency_keys": 3600.0,
}
# Audit rows older than this are deleted by the hourly write_path.prune_audit job (0: keep all).
# The ledger keeps its own tamper-evident copy of every row regardless.
MAESTRO_AUDIT_RETENTION_DAYS = int(os.environ.get("MAESTRO_AUDIT_RETENTION_DAYS", "0"))
# How long a write's Idempotency-Key is remembered (a retry after that is a new request).
MAESTRO_IDEMPOTENCY_KEY_HOURS = int(os.environ.get("MAESTRO_IDEMPOTENCY_KEY_HOURS", "24"))
MAESTRO_SCHEDULER_STANDBY_RETRY = float(os.environ.get("MAESTRO_SCHEDULER_STANDBY_RETRY", "5"))
# Touched at every turn of the scheduler's loop, leader or standby (the container's liveness
# probe: python3 -m maestro.ops.heartbeat FILE MAX_AGE); empty: none.
MAESTRO_SCHEDULER_HEARTBEAT_FILE = os.environ.get("MAESTRO_SCHEDULER_HEARTBEAT_FILE", "")
# Agent metrics (successRate, latencyP95, costPerTask) are counted over the runs that finished
# in this many seconds (DESIGN §7.2).
MAESTRO_AGENT_METRICS_WINDOW_SECONDS = int(os.environ.get("MAESTRO_AGENT_METRICS_WINDOW_SECONDS", "3600"))
# Broker queues whose depth /metrics reports; empty: every queue of maestro.queue.Queue.
MAESTRO_METRIC_QUEUES: list[str] = []
# /metrics names every tenant: when MAESTRO_METRICS_TOKEN is set a scrape needs it as a Bearer
# token; without one the page is open, except in production, which then serves no metrics.
MAESTRO_METRICS_TOKEN = os.environ.get("MAESTRO_METRICS_TOKEN", "")
MAESTRO_METRICS_OPEN = True

# --- ledger (DESIGN §6) ---------------------------------------------------------------------
# Ed25519 private key: base64 of the 32 raw bytes, or PEM. Empty: dev/test generate one once
# into var/ledger_signing_key; production refuses to start (settings/production.py).
MAESTRO_LEDGER_SIGNING_KEY = os.environ.get("MAESTRO_LEDGER_SIGNING_KEY", "")
MAESTRO_LEDGER_SIGNING_KEY_FILE = VAR_DIR / "ledger_signing_key"
# Public keys (base64 raw) of retired signing keys whose checkpoints still verify.
MAESTRO_LEDGER_TRUSTED_PUBLIC_KEYS = [
    k for k in os.environ.get("MAESTRO_LEDGER_TRUSTED_PUBLIC_KEYS", "").split(",") if k
]
MAESTRO_LEDGER_BATCH_SIZE = int(os.environ.get("MAESTRO_LEDGER_BATCH_SIZE", "10000"))
MAESTRO_LEDGER_MAX_PAYLOAD_BYTES = int(os.environ.get("MAESTRO_LEDGER_MAX_PAYLOAD_BYTES", str(256 * 1024)))
MAESTRO_LEDGER_MAX_METADATA_BYTES = int(os.environ.get("MAESTRO_LEDGER_MAX_METADATA_BYTES", str(16 * 1024)))
MAESTRO_LEDGER_MAX_BATCH_ENTRIES = int(os.environ.get("MAESTRO_LEDGER_MAX_BATCH_ENTRIES", "1000"))
MAESTRO_LEDGER_WAIT_SECONDS = float(os.environ.get("MAESTRO_LEDGER_WAIT_SECONDS", "10"))
MAESTRO_LEDGER_LINGER_SECONDS = float(os.environ.get("MAESTRO_LEDGER_LINGER_SECONDS", "0.02"))
# Embedded default: a tenant's sequencer runs this long after the first write that woke it, so
# the writes of that while share one batch and one signed checkpoint.
MAESTRO_LEDGER_EMBEDDED_DELAY_SECONDS = float(os.environ.get("MAESTRO_LEDGER_EMBEDDED_DELAY_SECONDS", "1"))
MAESTRO_LEDGER_NODE_MIN_LEVEL = int(os.environ.get("MAESTRO_LEDGER_NODE_MIN_LEVEL", "8"))
MAESTRO_ARCHIVE_URL = os.environ.get("MAESTRO_ARCHIVE_URL", "") or (VAR_DIR / "archive").as_uri()
MAESTRO_ARCHIVE_SEGMENT_MAX = int(os.environ.get("MAESTRO_ARCHIVE_SEGMENT_MAX", "10000"))
MAESTRO_ARCHIVE_SEAL_AGE_SECONDS = int(os.environ.get("MAESTRO_ARCHIVE_SEAL_AGE_SECONDS", "3600"))
MAESTRO_ARCHIVE_RETENTION_DAYS = int(os.environ.get("MAESTRO_ARCHIVE_RETENTION_DAYS", "2555"))
MAESTRO_ARCHIVE_PRUNE_PAYLOADS = os.environ.get("MAESTRO_ARCHIVE_PRUNE_PAYLOADS", "true").lower() in {"1", "true"}
MAESTRO_ARCHIVE_S3_ENDPOINT_URL = os.environ.get("MAESTRO_ARCHIVE_S3_ENDPOINT_URL", "") or None
# The longest an entry may go without a signed checkpoint in the WORM archive covering it:
# ledger_verify names older uncovered entries (the archive lags, or checkpoints were removed).
MAESTRO_LEDGER_CHECKPOINT_INTERVAL_SECONDS = float(os.environ.get("MAESTRO_LEDGER_CHECKPOINT_INTERVAL_SECONDS", "900"))
# Let `manage.py flush` empty the append-only ledger tables (ledger/management/commands/flush.py).
# On only in the test settings, for the test database's teardown; not read from the environment.
MAESTRO_LEDGER_ALLOW_FLUSH = False
MAESTRO_PERIODIC_JOBS.update({"ledger.sweep": 5.0, "ledger.archive": 60.0})

# --- workflow engine (DESIGN §7.1, orchestration/engine) --------------------------------------
# A running step's lease: its worker extends it every third of this while the action runs; the
# reaper (engine.reap, below) requeues a step whose lease expired (its worker vanished).
MAESTRO_ENGINE_LEASE_SECONDS = float(os.environ.get("MAESTRO_ENGINE_LEASE_SECONDS", "30"))
# Steps one tenant may have running at once (0: no limit); a step over the limit waits and is
# tried again after MAESTRO_ENGINE_BUSY_RETRY_SECONDS.
MAESTRO_ENGINE_TENANT_CONCURRENCY = int(os.environ.get("MAESTRO_ENGINE_TENANT_CONCURRENCY", "100"))
MAESTRO_ENGINE_BUSY_RETRY_SECONDS = float(os.environ.get("MAESTRO_ENGINE_BUSY_RETRY_SECONDS", "1"))
# Hosts the http.request step action may call (comma-separated; "*" any). Empty: none.
MAESTRO_HTTP_ACTION_ALLOWED_HOSTS = [
    h.strip() for h in os.environ.get("MAESTRO_HTTP_ACTION_ALLOWED_HOSTS", "").split(",") if h.strip()
]
# --- policies (docs/operations.md, "Policies") -------------------------------------------------
# Rego policies decide whether a run or playbook may start and whether each step may execute.
# Evaluated in process (the shipped ./policies plus MAESTRO_POLICY_DIR, comma-separated extra
# directories of .rego and .json files), or by an OPA server when MAESTRO_OPA_URL is set.
MAESTRO_POLICY_DEFAULT_DIR = BASE_DIR / "policies"
MAESTRO_POLICY_DIRS = [d.strip() for d in os.environ.get("MAESTRO_POLICY_DIR", "").split(",") if d.strip()]
MAESTRO_OPA_URL = os.environ.get("MAESTRO_OPA_URL", "").strip()
MAESTRO_OPA_TIMEOUT_SECONDS = float(os.environ.get("MAESTRO_OPA_TIMEOUT_SECONDS", "2"))
MAESTRO_PERIODIC_JOBS["engine.reap"] = float(os.environ.get("MAESTRO_ENGINE_REAP_INTERVAL", "10"))
# The reaper sends a waiting step's message again after this long while the steps queue is empty
# (a message lost with a broker outage, or held by a worker that died); a duplicate is harmless.
MAESTRO_ENGINE_RESEND_AFTER_SECONDS = float(os.environ.get("MAESTRO_ENGINE_RESEND_AFTER_SECONDS", "60"))
# Step transitions commit without waiting for their WAL flush (PostgreSQL's synchronous_commit
# off, for those transactions only): the tenant's event counter is held until commit, so a
# flush per step capped one tenant's steps at the disk's flush rate. A database crash may lose
# the last moments of transitions, all of them whole; the reaper runs those steps again
# (docs/decisions.md). "on" waits for the flush, as every other write does.
# A worker that finishes a short step (a transactional action) runs the short steps it released,
# and those they release, itself, up to this many a job, without a broker message each (0: every
# step gets its message). A worker that dies meanwhile leaves them queued; the reaper resends them.
MAESTRO_ENGINE_CARRY_STEPS = int(os.environ.get("MAESTRO_ENGINE_CARRY_STEPS", "20"))
MAESTRO_ENGINE_SYNCHRONOUS_COMMIT = os.environ.get("MAESTRO_ENGINE_SYNCHRONOUS_COMMIT", "off").lower()
if MAESTRO_ENGINE_SYNCHRONOUS_COMMIT not in {"on", "off"}:
    raise ImproperlyConfigured("MAESTRO_ENGINE_SYNCHRONOUS_COMMIT must be on or off")
