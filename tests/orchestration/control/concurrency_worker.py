"""One of the OS processes of test_concurrency_pg: drives the real API (through Django's test
client, so the whole request path runs) against the shared test database and prints what
it saw as JSON. Not collected by pytest (no ``test_`` prefix).

Both processes meet at a file barrier after reading and after writing, so in every round
both write on the same version they both read: with If-Match exactly one of them can win."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def barrier(directory: Path, me: str, name: str) -> None:
    (directory / f"{name}.{me}").touch()
    deadline = time.monotonic() + 60
    while len(list(directory.glob(f"{name}.*"))) < 2:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the other worker never reached {name}")
        time.sleep(0.002)


def main() -> None:
    token, me, sync_dir, rounds, mode = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "maestro.settings")
    import django

    django.setup()
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    seen: dict[str, dict[str, int]] = {"loop": {}, "agent": {}}
    targets = {
        "loop": ("/api/maestro/autonomic/loops/reliability-guardian",
                 lambda n, h: client.post("/api/maestro/autonomic/loops/reliability-guardian/toggle",
                                          {"status": "active" if n % 2 else "paused"}, format="json", **h)),
        "agent": ("/api/maestro/agents/coder",
                  lambda n, h: client.patch("/api/maestro/agents/coder", {"routingWeight": n % 101}, format="json",
                                            **h)),
    }
    for n in range(rounds):
        for resource, (detail, write) in targets.items():
            headers = {"HTTP_IF_MATCH": client.get(detail)["ETag"]} if mode == "if-match" else {}
            barrier(sync_dir, me, f"{resource}-{n}-read")
            code = str(write(n, headers).status_code)
            seen[resource][code] = seen[resource].get(code, 0) + 1
            barrier(sync_dir, me, f"{resource}-{n}-written")
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
