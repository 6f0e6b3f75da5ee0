from typing import Any


def add_groups(id_token: dict[str, Any], user: Any, **kwargs: Any) -> dict[str, Any]:
    """The user's groups as the ``groups`` claim, as Keycloak, Okta and Entra ID can send them."""
    id_token["groups"] = sorted(user.groups.values_list("name", flat=True))
    return id_token
