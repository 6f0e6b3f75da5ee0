from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from maestro.core.actors import Actor
from maestro.core.roles import Role
from maestro.tenancy.services import user_with_token


class Command(BaseCommand):
    help = ("Create an API token (creating the user, tenant and membership when missing). "
            "Prints only the token on stdout.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", required=True)
        parser.add_argument("--tenant", default="default")
        parser.add_argument("--role", default=Role.OPERATOR, choices=Role.values)
        parser.add_argument("--name", default="", help="a label for the token")

    def handle(self, *args: Any, **opts: Any) -> None:
        username = opts["username"].strip()
        if not username:
            raise CommandError("--username must not be empty")
        raw = user_with_token(username=username, tenant_slug=opts["tenant"], role=opts["role"],
                              actor=Actor.system("create_api_token"), token_name=opts["name"])
        self.stdout.write(raw)
