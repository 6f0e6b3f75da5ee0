from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from maestro.admin_base import ServiceAdmin, actor_of
from maestro.readonly_admin import ReadOnlyAdmin
from maestro.tenancy.models import ApiToken, Membership, OidcIdentity, Tenant
from maestro.tenancy.services import (
    api_token_create,
    api_token_revoke,
    membership_delete,
    membership_set,
    tenant_save,
)


class MembershipInline(admin.TabularInline[Membership, Tenant]):
    model = Membership
    extra = 0
    fields = ("user", "role")
    raw_id_fields = ("user",)


@admin.register(Tenant)
class TenantAdmin(ServiceAdmin[Tenant]):
    """Every save goes through the tenancy services, so it is audited and ledgered like an
    API change. Tenants are not deleted: their ledger is append-only."""

    form = forms.ModelForm[Tenant]
    service_fields = ("name",)
    identity_fields = ("slug",)  # the slug names the tenant in tokens and headers
    bookkeeping = ()
    list_display = ("slug", "name", "created_at")
    search_fields = ("slug", "name")
    inlines = [MembershipInline]

    def has_delete_permission(self, request: HttpRequest, obj: Tenant | None = None) -> bool:
        return False

    def create(self, request: HttpRequest, obj: Tenant, form: forms.ModelForm[Tenant]) -> Tenant:
        return tenant_save(tenant=obj, actor=actor_of(request))

    def update(self, request: HttpRequest, obj: Tenant, changes: dict[str, Any],
               expected_version: int | None) -> Tenant:
        return tenant_save(tenant=obj, actor=actor_of(request))

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        actor = actor_of(request)
        formset.save(commit=False)  # fills new/changed/deleted_objects without writing
        for membership in formset.deleted_objects:
            membership_delete(membership=membership, actor=actor)
        for membership, _fields in formset.changed_objects:
            before = Membership.objects.select_related("user", "tenant").get(pk=membership.pk)
            if before.user_id != membership.user_id:
                membership_delete(membership=before, actor=actor)
            membership_set(user=membership.user, tenant=form.instance, role=membership.role, actor=actor)
        for membership in formset.new_objects:
            membership_set(user=membership.user, tenant=form.instance, role=membership.role, actor=actor)


@admin.register(Membership)
class MembershipAdmin(ServiceAdmin[Membership]):
    form = forms.ModelForm[Membership]
    service_fields = ("role",)
    identity_fields = ("user", "tenant")  # a different user or tenant is a new membership
    bookkeeping = ()
    list_display = ("user", "tenant", "role")
    list_filter = ("role", "tenant")
    search_fields = ("user__username",)
    raw_id_fields = ("user",)

    def create(self, request: HttpRequest, obj: Membership, form: forms.ModelForm[Membership]) -> Membership:
        return membership_set(user=obj.user, tenant=obj.tenant, role=obj.role, actor=actor_of(request))

    def update(self, request: HttpRequest, obj: Membership, changes: dict[str, Any],
               expected_version: int | None) -> Membership:
        return membership_set(user=obj.user, tenant=obj.tenant, role=obj.role, actor=actor_of(request))

    def delete(self, request: HttpRequest, obj: Membership) -> None:
        membership_delete(membership=obj, actor=actor_of(request))


@admin.register(ApiToken)
class ApiTokenAdmin(ServiceAdmin[ApiToken]):
    """Tokens are stored hashed: the raw token is shown once, in the message after creation."""

    form = forms.ModelForm[ApiToken]
    identity_fields = ("user", "tenant", "name")
    bookkeeping = ()

    list_display = ("key_prefix", "name", "user", "tenant", "created_at", "last_used_at", "revoked_at")
    list_filter = ("tenant",)
    search_fields = ("name", "user__username", "key_prefix")
    fields = ("user", "tenant", "name", "key_prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("key_prefix", "created_at", "last_used_at", "revoked_at")
    raw_id_fields = ("user",)
    actions = ["revoke"]

    def create(self, request: HttpRequest, obj: ApiToken, form: forms.ModelForm[ApiToken]) -> ApiToken:
        token, raw = api_token_create(user=obj.user, tenant=obj.tenant, name=obj.name, actor=actor_of(request))
        self.message_user(request, f"Token created — copy it now, it is not shown again: {raw}", messages.WARNING)
        return token

    def has_delete_permission(self, request: HttpRequest, obj: ApiToken | None = None) -> bool:
        return False  # revoke instead, so the audit trail keeps the token's history

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        actor = actor_of(request)
        live = list(queryset.filter(revoked_at__isnull=True).select_related("tenant"))
        for token in live:
            api_token_revoke(token=token, actor=actor)
        self.message_user(request, f"Revoked {len(live)} token(s); {queryset.count() - len(live)} already revoked.")


@admin.register(OidcIdentity)
class OidcIdentityAdmin(ReadOnlyAdmin[OidcIdentity]):
    """Who an ``oidc:…`` user is (its issuer and subject). Links are made by a first allowed
    request or by ``link_oidc_identity``; deactivating the user refuses the identity's tokens."""

    list_display = ("subject", "issuer", "user", "created_at")
    search_fields = ("subject", "issuer", "user__username")
    list_select_related = ("user",)
