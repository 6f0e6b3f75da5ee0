from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """Who caused a change: carried into the audit row, the ledger entry and logs.

    ``actor_type`` follows the ledger's vocabulary: user (browser/admin session), api (token or
    JWT), job (a Celery job), system (the scheduler, migrations, seeding, imports)."""

    name: str
    actor_type: str = "user"
    user_id: int | None = None

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        return cls(name=name, actor_type="system")

    @classmethod
    def job(cls, name: str) -> Actor:
        return cls(name=name, actor_type="job")

    @classmethod
    def for_user(cls, user: object, *, via_api: bool) -> Actor:
        return cls(name=getattr(user, "username", str(user)), actor_type="api" if via_api else "user",
                   user_id=getattr(user, "pk", None))

    @classmethod
    def for_identity(cls, user: object, *, issuer: str, subject: str) -> Actor:
        """A caller with an identity provider's token: named by its subject and issuer (the
        username of a user created for it is a digest that tells a reader nothing)."""
        return cls(name=f"{subject} via {issuer}"[:150], actor_type="api", user_id=getattr(user, "pk", None))
