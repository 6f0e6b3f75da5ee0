from typing import Any


def add_groups(id_token: dict[str, Any], user: Any, **kwargs: Any) -> dict[str, Any]:
    """The user's groups as the ``groups`` claim, as Keycloak, Okta and Entra ID can send them,
    and tenant roles as the ``maestro_roles`` claim."""
    groups = sorted(user.groups.values_list("name", flat=True))
    id_token["groups"] = [g for g in groups if not g.startswith("role:")]
    # A mapper of the kind Keycloak and Okta offer: tenant roles as a claim of their own, here
    # from the user's groups named "role:<tenant>:<role>".
    id_token["maestro_roles"] = [g.removeprefix("role:") for g in groups if g.startswith("role:")]
    return id_token


def userinfo(claims: dict[str, Any], user: Any) -> dict[str, Any]:
    """The standard claims the provider knows of a person (OIDC_USERINFO)."""
    claims["email"] = user.email
    claims["name"] = user.get_full_name()
    claims["preferred_username"] = user.username
    return claims
