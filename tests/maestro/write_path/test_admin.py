"""The audit log's admin list: the columns an operator scans for, filters and search."""

from __future__ import annotations

import pytest

from tests.factories import make_project
from tests.support.admin import columns

pytestmark = pytest.mark.django_db


def test_the_audit_list_shows_who_did_what_to_which_resource(staff, tenant):
    project = make_project(tenant)

    assert columns(staff.get("/admin/write_path/auditevent/")) == [
        "timestamp", "actor", "action", "resource", "status", "policy_id", "tenant"]
    found = staff.get(f"/admin/write_path/auditevent/?q={project.id}&status__exact=allowed&resource_type=project")
    assert [a.resource for a in found.context["cl"].queryset] == [project.id]
