"""What one WebSocket client asked to see: topics (``task:*``, exact names, ``*``) and
optionally one project. Pure: no I/O, so the consumer stays a translator."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MAX_TOPICS = 64
_TOPIC = re.compile(r"^(\*|[a-z][a-z0-9_]*:(\*|[a-z][a-z0-9_]*))$")


class BadSubscription(ValueError):
    """A subscribe message the server cannot honour; the previous subscription stays."""


@dataclass(frozen=True)
class Subscription:
    topics: tuple[str, ...] = ()  # empty: every event type
    project_id: str | None = None  # None: every project (and tenant-wide events)

    def matches(self, event_type: str, project_id: str) -> bool:
        # A project subscription shows that project's events only: tenant-wide events (no
        # project) are not "about" it, and showing them would make the filter leak.
        if self.project_id is not None and project_id != self.project_id:
            return False
        if not self.topics:
            return True
        for topic in self.topics:
            if topic == "*" or topic == event_type:
                return True
            if topic.endswith(":*") and event_type.startswith(topic[:-1]):
                return True
        return False

    def describe(self) -> dict[str, Any]:
        return {"topics": list(self.topics) or ["*"], "projectId": self.project_id}


def parse_subscribe(content: dict[str, Any]) -> tuple[tuple[str, ...], str | None]:
    """``(topics, projectId)`` of a subscribe message, or :class:`BadSubscription`."""
    topics = content.get("topics")
    if topics is None:
        topics = []
    if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
        raise BadSubscription("topics must be a list of strings")
    if len(topics) > MAX_TOPICS:
        raise BadSubscription(f"at most {MAX_TOPICS} topics")
    bad = [t for t in topics if not _TOPIC.match(t)]
    if bad:
        raise BadSubscription(f"topics must look like 'task:*', 'task:created' or '*', not {bad[0]!r}")
    project_id = content.get("projectId")
    if project_id is not None and (not isinstance(project_id, str) or not project_id):
        raise BadSubscription("projectId must be a non-empty string or null")
    return tuple(dict.fromkeys(topics)), project_id
