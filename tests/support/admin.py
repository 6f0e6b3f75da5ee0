"""What an admin list page shows: its column names, in order."""

from __future__ import annotations

import re
from typing import Any


def columns(response: Any) -> list[str]:
    """The ``list_display`` names of a changelist page's header (the checkbox column left out)."""
    assert response.status_code == 200, response.status_code
    return re.findall(r'<th scope="col" class="[^"]*column-([\w]+)', response.content.decode())
