"""Settings are chosen by ``MAESTRO_ENV`` (dev | production | test); everything else comes
from ``MAESTRO_*`` environment variables (12-factor), read in :mod:`maestro.settings.base`."""

import os

_env = os.environ.get("MAESTRO_ENV", "dev")
if _env == "production":
    from .production import *  # noqa: F403
elif _env == "test":
    from .test import *  # noqa: F403
elif _env == "dev":
    from .dev import *  # noqa: F403
else:
    raise RuntimeError(f"MAESTRO_ENV must be dev, production or test, not {_env!r}")
