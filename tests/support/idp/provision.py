"""Stores the provider's signing key, one client and its users, from a JSON document on stdin:
``{"key": true, "clients": [{...}], "users": [{"username", "password", "email", "name", "groups"}]}``."""

import json
import sys

import django

django.setup()

from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from oidc_provider.models import Client, ResponseType  # noqa: E402

spec = json.load(sys.stdin)
if spec.get("key"):
    call_command("creatersakey")
for client in spec.get("clients", []):
    row = Client.objects.create(
        name=client["name"], client_type="confidential", client_id=client["client_id"],
        client_secret=client["client_secret"], jwt_alg="RS256", require_consent=False, reuse_consent=True,
        _redirect_uris="\n".join(client["redirect_uris"]),
        _post_logout_redirect_uris="\n".join(client["post_logout_redirect_uris"]),
    )
    row.response_types.set([ResponseType.objects.get(value="code")])
for person in spec.get("users", []):
    user = User.objects.filter(username=person["username"]).first() or User(username=person["username"])
    user.email = person.get("email", "")
    user.first_name = person.get("name", "")
    user.set_password(person["password"])
    user.save()
    user.groups.set([Group.objects.get_or_create(name=name)[0] for name in person.get("groups", [])])
