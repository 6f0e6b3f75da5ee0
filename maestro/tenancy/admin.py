from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest

from maestro.core.actors import Actor
from maestro.tenancy.models import ApiToken, Membership, Tenant
from maestro.tenancy.services import (
    api_token_create,
    api_token_revoke,
    membership_delete,
    membership_set,
    tenant_save,
)


def _actor(request: HttpRequest) -> Actor:
    return Actor.for_user(request.user, via_api=False)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ("user", "role")
    raw_id_fields = ("user",)


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    """Every save goes through the tenancy services, so it is audited and ledgered like an
    API change. Tenants are not deleted: their ledger is append-only."""

    list_display = ("slug", "name", "created_at")
    search_fields = ("slug", "name")
    inlines = [MembershipInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("slug",) if obj else ()  # the slug names the tenant in tokens and headers

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Tenant, form: Any, change: bool) -> None:
        tenant_save(tenant=obj, actor=_actor(request))

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        actor = _actor(request)
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
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "tenant", "role")
    list_filter = ("role", "tenant")
    search_fields = ("user__username",)
    raw_id_fields = ("user",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("user", "tenant") if obj else ()  # a different user or tenant is a new membership

    def save_model(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        saved = membership_set(user=obj.user, tenant=obj.tenant, role=obj.role, actor=_actor(request))
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        membership_delete(membership=obj, actor=_actor(request))

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for membership in queryset.select_related("user", "tenant"):
            membership_delete(membership=membership, actor=_actor(request))


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are stored hashed: the raw token is shown once, in the message after creation."""

    list_display = ("key_prefix", "name", "user", "tenant", "created_at", "last_used_at", "revoked_at")
    list_filter = ("tenant",)
    search_fields = ("name", "user__username", "key_prefix")
    fields = ("user", "tenant", "name", "key_prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("key_prefix", "created_at", "last_used_at", "revoked_at")
    raw_id_fields = ("user",)
    actions = ["revoke"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [*self.readonly_fields, "user", "tenant", "name"] if obj else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: ApiToken, form: Any, change: bool) -> None:
        if change:
            return
        token, raw = api_token_create(user=obj.user, tenant=obj.tenant, name=obj.name, actor=_actor(request))
        obj.pk = token.pk
        self.message_user(request, f"Token created — copy it now, it is not shown again: {raw}", messages.WARNING)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoke instead, so the audit trail keeps the token's history

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request: HttpRequest, queryset: Any) -> None:
        actor = _actor(request)
        live = list(queryset.filter(revoked_at__isnull=True).select_related("tenant"))
        for token in live:
            api_token_revoke(token=token, actor=actor)
        self.message_user(request, f"Revoked {len(live)} token(s); {queryset.count() - len(live)} already revoked.")
