from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from maestro.core.actors import Actor
from maestro.tenancy.services import oidc_identity_link


class Command(BaseCommand):
    help = ("Link an identity provider's (issuer, subject) to an existing user: that identity's JWTs then act "
            "as the user, with the user's memberships (when claims do not grant access).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--issuer", required=True, help="the tokens' iss, exactly")
        parser.add_argument("--subject", required=True, help="the tokens' sub, exactly")
        parser.add_argument("--username", required=True, help="an existing Maestro user")

    def handle(self, *args: Any, **opts: Any) -> None:
        user = get_user_model().objects.filter(username=opts["username"]).first()
        if user is None:
            raise CommandError(f"no user {opts['username']!r}")
        try:
            oidc_identity_link(issuer=opts["issuer"], subject=opts["subject"], user=user,
                               actor=Actor.system("manage.py link_oidc_identity"))
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(f"{opts['subject']} via {opts['issuer']} is now {user.username}")
