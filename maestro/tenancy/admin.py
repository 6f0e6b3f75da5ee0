from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest

from maestro.actors import Actor
from maestro.tenancy.models import ApiToken, Membership, Tenant
from maestro.tenancy.services import api_token_create, api_token_revoke, membership_set


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ("user", "role")
    raw_id_fields = ("user",)


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "created_at")
    search_fields = ("slug", "name")


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "tenant", "role")
    list_filter = ("role", "tenant")
    search_fields = ("user__username",)
    raw_id_fields = ("user",)

    def save_model(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        saved = membership_set(user=obj.user, tenant=obj.tenant, role=obj.role,
                               actor=Actor.for_user(request.user, via_api=False))
        obj.pk = saved.pk


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
        token, raw = api_token_create(user=obj.user, tenant=obj.tenant, name=obj.name,
                                      actor=Actor.for_user(request.user, via_api=False))
        obj.pk = token.pk
        self.message_user(request, f"Token created — copy it now, it is not shown again: {raw}", messages.WARNING)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoke instead, so the audit trail keeps the token's history

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request: HttpRequest, queryset: Any) -> None:
        actor = Actor.for_user(request.user, via_api=False)
        for token in queryset.filter(revoked_at__isnull=True):
            api_token_revoke(token=token, actor=actor)
        self.message_user(request, "Revoked.")
