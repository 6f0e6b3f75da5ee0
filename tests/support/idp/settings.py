"""A tiny Django project serving django-oidc-provider: the real OpenID provider the SSO tests
start (tests/support/oidc_provider.py). Its database is a SQLite file in the test's tmp dir."""

import os
from pathlib import Path

SECRET_KEY = "idp-test-only-" + "x" * 40
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
SITE_URL = os.environ["IDP_SITE_URL"]
ROOT_URLCONF = "tests.support.idp.urls"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "oidc_provider",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["IDP_DATABASE"]}}
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [Path(__file__).parent / "templates"],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": ["django.template.context_processors.request",
                                       "django.contrib.auth.context_processors.auth"]},
}]
USE_TZ = True
LOGIN_URL = "/accounts/login/"
# A cookie name of its own: the provider and Maestro both run on 127.0.0.1 (cookies ignore ports).
SESSION_COOKIE_NAME = "idp_sessionid"
CSRF_COOKIE_NAME = "idp_csrftoken"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
OIDC_IDTOKEN_PROCESSING_HOOK = "tests.support.idp.hooks.add_groups"
OIDC_IDTOKEN_INCLUDE_CLAIMS = True
OIDC_USERINFO = "tests.support.idp.hooks.userinfo"
