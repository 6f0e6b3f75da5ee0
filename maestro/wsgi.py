"""The WSGI application: Django's HTTP side, synchronous, as Maestro's views are.

Served inside the web process by :mod:`maestro.asgi` (each request in one thread of a pool, no
async middleware chain), or by any WSGI server for HTTP alone (``bench/read_api.py --server``
measures them side by side)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "maestro.settings")
application = get_wsgi_application()
