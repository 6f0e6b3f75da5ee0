"""The two ways an identity provider's configuration names tenant roles: the groups mapping
(MAESTRO_SSO_GROUP_ROLES) and a roles claim (MAESTRO_SSO_ROLES_CLAIM)."""

import pytest

from maestro.core.roles import parse_group_roles, parse_role_claim


def test_group_roles_are_group_equals_tenant_colon_role():
    assert parse_group_roles(" ops=acme:operator, ro=beta:viewer ,") == {
        "ops": ("acme", "operator"), "ro": ("beta", "viewer")}


@pytest.mark.parametrize("spec", ["ops=acme", "ops=acme:owner", "=acme:admin", "ops:acme:admin"])
def test_a_group_roles_pair_that_is_not_one_is_named(spec):
    with pytest.raises(ValueError, match=spec.split(",")[0].replace("=", "=")):
        parse_group_roles(spec)


def test_a_roles_claim_is_a_list_of_tenant_roles_or_an_object_and_the_highest_role_wins():
    assert parse_role_claim(["acme:viewer", "beta:operator", "acme:admin", "acme:operator"]) == {
        "acme": "admin", "beta": "operator"}
    assert parse_role_claim({"acme": "operator"}) == {"acme": "operator"}
    assert parse_role_claim([]) == {}


@pytest.mark.parametrize("claim, named", [
    (["acme:owner"], "'acme': 'owner'"),
    (["acme"], "'acme': ''"),
    ([":admin"], "'': 'admin'"),
    ([7], "7: None"),
    ({"acme": 3}, "'acme': 3"),
    ("acme:admin", "str, not a list"),
    (None, "NoneType, not a list"),
])
def test_a_roles_claim_entry_that_is_not_tenant_colon_role_is_refused_by_name(claim, named):
    with pytest.raises(ValueError, match=named.replace("(", r"\(")):
        parse_role_claim(claim)
