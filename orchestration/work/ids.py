"""The old system's string ids: ``<prefix>_<epoch ms>_<9 base-36 chars>``. Clients and
imported data depend on the shape, so it is kept."""

import secrets
import time

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def new_id(prefix: str) -> str:
    rand = "".join(secrets.choice(_ALPHABET) for _ in range(9))
    return f"{prefix}_{int(time.time() * 1000)}_{rand}"

