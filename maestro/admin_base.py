"""The one admin base: a ModelAdmin whose save, delete, inline saves and actions call services,
so an admin edit writes the same audit row, ledger entry and event as the API, and a refusal
becomes a message on the page (nothing saved, nothing logged as saved) instead of an error;
and a form that refuses a stale save (the version it was opened at travels with it as a hidden
field), recorded as a denied change like a stale If-Match."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.db import models
from django.db.models import Count, Model, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.forms.fields import InvalidJSONInput
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import urlencode

from maestro.core.actors import Actor
from maestro.core.exceptions import MaestroError, PreconditionFailed
from maestro.write_path.catalogue import Action, Resource
from maestro.write_path.services import record_denied

if TYPE_CHECKING:
    from django.contrib.admin.models import LogEntry

    from maestro.tenancy.models import Tenant

M = TypeVar("M", bound=Model)
M_contra = TypeVar("M_contra", bound=Model, contravariant=True)
T = TypeVar("T")

STALE = ("{name} was changed by someone else since you opened this form (you edited version {expected}, "
         "it is now version {current}). Nothing was saved: reload the page to see their changes.")


class AdminKind(Protocol[M_contra]):
    """What the admin uses of an entity's kind (``orchestration.base.entities.Kind``)."""

    @property
    def resource(self) -> Resource: ...

    @property
    def update(self) -> Action: ...

    def ident_of(self, obj: M_contra) -> str: ...


class _TenantOwned(Protocol):
    """What the admin reads of the objects a ServiceAdmin edits through the services."""

    tenant: Tenant
    tenant_id: int


class _WithStatus(Protocol):
    """A model whose admin pauses and resumes objects (:meth:`ServiceAdmin.status_action`)."""

    status: str


class _Versioned(_TenantOwned, Protocol):
    """A model a VersionedForm edits."""

    version: int


class VersionedForm(forms.ModelForm[M]):
    expected_version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    # Set by ServiceAdmin.get_form, so a refused stale save is audited with who tried it.
    maestro_request: HttpRequest | None = None
    maestro_kind: AdminKind[M] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["expected_version"].initial = cast(_Versioned, self.instance).version

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        assert data is not None  # ModelForm.clean returns the cleaned data
        if self.instance.pk:
            model = type(self.instance)
            current = model._default_manager.filter(pk=self.instance.pk).values_list("version", flat=True).first()
            expected = data.get("expected_version")
            if current is not None and expected != current:
                self._audit_stale(expected, current)
                raise forms.ValidationError(STALE.format(name=str(model._meta.verbose_name).capitalize(),
                                                         expected=expected, current=current), code="stale")
        return data

    def _audit_stale(self, expected: int | None, current: int) -> None:
        kind = self.maestro_kind
        if self.maestro_request is None or kind is None:
            return
        record_denied(tenant_id=cast(_Versioned, self.instance).tenant_id, actor=actor_of(self.maestro_request),
                      action=kind.update, resource_type=kind.resource, resource_id=kind.ident_of(self.instance),
                      policy_id=PreconditionFailed.policy,
                      details=f"admin form opened at version {expected}, current version {current}")


class JSONTextarea(forms.Textarea):
    """A textarea as tall as the pretty-printed JSON in it (4 to 30 lines), in a fixed-width font."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__({"class": "maestro-json", "spellcheck": "false", "cols": 80,
                          "style": "font-family: monospace; width: 40em; max-width: 100%", **(attrs or {})})

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        lines = str(value or "").count("\n") + 2
        context["widget"]["attrs"]["rows"] = max(4, min(30, lines))
        return context


class PrettyJSONField(forms.JSONField):
    """JSON edited pretty-printed (two-space indent), whose errors say where: a syntax error by
    line and column, a wrong shape by JSON path (``$.KEY``) like the services' schema errors.
    ``shape``: ``"object"`` (a JSON object), ``"string map"`` (an object of strings, e.g. an
    environment) or ``"list"``; ``None`` takes any JSON."""

    widget = JSONTextarea

    def __init__(self, *, shape: str | None = None, **kwargs: Any) -> None:
        self.shape = shape
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False, cls=self.encoder)

    def to_python(self, value: Any) -> Any:
        try:
            return super().to_python(value)
        except forms.ValidationError:
            try:
                json.loads(value)
            except json.JSONDecodeError as exc:
                raise forms.ValidationError(f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).",
                                            code="invalid") from None
            raise

    def validate(self, value: Any) -> None:
        super().validate(value)
        if value is None or self.shape is None:
            return
        if self.shape == "list" and not isinstance(value, list):
            raise forms.ValidationError("$: must be a JSON list ([...]).", code="shape")
        if self.shape in ("object", "string map") and not isinstance(value, dict):
            raise forms.ValidationError("$: must be a JSON object ({...}).", code="shape")
        if self.shape == "string map":
            wrong = [f"{json_path(key)}: must be a string, not {json.dumps(item)}" for key, item in value.items()
                     if not isinstance(item, str)]
            if wrong:
                raise forms.ValidationError(wrong, code="shape")


def json_path(key: str) -> str:
    """``$.key``, or ``$["key"]`` for a key that is not a plain name (the services' notation)."""
    return f"$.{key}" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) else f"$[{json.dumps(key)}]"


class ListField(forms.CharField):
    """A list of strings (ids, trigger names) edited one per line, or separated by commas when
    the text is a single line (so a multi-line list keeps any commas inside its items). Items
    are held to the API's rule for such lists: at most ``MAX_ITEMS`` of at most ``MAX_ITEM``
    characters each."""

    MAX_ITEMS, MAX_ITEM = 1000, 200
    widget = forms.Textarea(attrs={"rows": 3, "cols": 60, "style": "font-family: monospace"})

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", "One per line, or separated by commas.")
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> str:
        if isinstance(value, str):
            text = value
            try:
                value = json.loads(text)
            except ValueError:
                return text
        return "\n".join(str(v) for v in value or [])

    # A CharField's text, cleaned into the list of its items (the stubs' CharField cleans to a str).
    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        if isinstance(value, str) and value.strip().startswith("["):
            try:  # a JSON list pasted in (what the field showed before) is taken as that list
                value = json.loads(value)
            except ValueError:
                pass
        if isinstance(value, list):
            return [str(v) for v in value]
        text = (value or "").strip()
        items = text.splitlines() if "\n" in text else text.split(",")
        return [item.strip() for item in items if item.strip()]

    def validate(self, value: Any) -> None:
        super().validate(value)
        if len(value) > self.MAX_ITEMS:
            raise forms.ValidationError(f"At most {self.MAX_ITEMS} items, not {len(value)}.", code="max_items")
        long = [i for i, item in enumerate(value, 1) if len(item) > self.MAX_ITEM]
        if long:
            raise forms.ValidationError(f"Item {long[0]} is longer than {self.MAX_ITEM} characters.", code="max_item")

    def has_changed(self, initial: Any, data: Any) -> bool:
        return list(initial or []) != self.to_python(data)


def related_count(model: type[Model], fk: str, **filters: Any) -> Coalesce:
    """How many ``model`` rows point at the listed object through ``fk`` (and match ``filters``):
    a correlated subquery, evaluated for the rows of the page only, for a list column."""
    rows = model._default_manager.filter(**{fk: OuterRef("pk")}, **filters).order_by().values(fk)
    return Coalesce(Subquery(rows.annotate(n=Count("*")).values("n")), 0)


def actor_of(request: HttpRequest) -> Actor:
    return Actor.for_user(request.user, via_api=False)


def records_links(*, tenant_id: int, resource_type: str, resource_id: str) -> list[dict[str, str]]:
    """Links to what was recorded about one object: its audit events and its ledger entries,
    each the admin's list filtered by tenant, resource type and id (exact matches)."""
    query: dict[str, str | int] = {"tenant__id__exact": tenant_id, "resource_type": resource_type}
    return [
        {"label": "Audit events", "id": "maestro-audit-link",
         "url": f"{reverse('admin:write_path_auditevent_changelist')}?{urlencode({**query, 'resource': resource_id})}"},
        {"label": "Ledger entries", "id": "maestro-ledger-link",
         "url": f"{reverse('admin:ledger_ledgerentry_changelist')}?"
                f"{urlencode({**query, 'resource_id': resource_id})}"},
    ]


class RecordsLinksMixin(admin.ModelAdmin[M]):
    """Every object's change page links to its audit events and ledger entries (object tools,
    templates/admin/change_form.html); the admin names the object's ``kind``."""

    kind: AdminKind[M] | None = None

    def records_id(self, obj: M) -> str:
        """The id the services record ``obj`` under (``resource_id``): the kind's, unless the
        admin names objects otherwise in its messages."""
        assert self.kind is not None
        return self.kind.ident_of(obj)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id)) if self.kind is not None else None
        if obj is not None and self.kind is not None:
            extra_context = {**(extra_context or {}), "maestro_records": records_links(
                tenant_id=cast(_TenantOwned, obj).tenant_id, resource_type=str(self.kind.resource.value),
                resource_id=self.records_id(obj))}
        return super().change_view(request, object_id, form_url, extra_context)


class ServiceAdmin(RecordsLinksMixin[M]):
    """Subclasses name their entity's ``kind`` (orchestration.base.entities.Kind: its resource,
    actions and how clients name an object), ``service_fields`` (form fields an edit may change)
    and the keyword their services take the object's id by (``service_id_arg``), and either set
    ``create_service`` / ``update_service`` / ``delete_service`` (``staticmethod(loop_update)``,
    called with the ``service_fields`` / ``changes`` and ``expected_version`` / nothing more) or
    override ``create`` / ``update`` / ``delete``. Models without a ``version`` use a plain ModelForm."""

    form: type[forms.ModelForm[M]] = VersionedForm
    formfield_overrides = {models.JSONField: {"form_class": PrettyJSONField}}
    service_id_arg = ""
    service_fields: tuple[str, ...] = ()
    identity_fields: tuple[str, ...] = ("tenant", "slug")
    bookkeeping: tuple[str, ...] = ("version", "created_at", "updated_at")
    create_service: Callable[..., M] | None = None
    update_service: Callable[..., M] | None = None
    delete_service: Callable[..., object] | None = None

    def call_service(self, request: HttpRequest, obj: M, service: Callable[..., T], **kwargs: Any) -> T:
        """``service`` on ``obj``'s tenant and id, as the signed-in user."""
        assert self.kind is not None  # an admin that calls services names its kind
        return service(tenant=cast(_TenantOwned, obj).tenant, actor=actor_of(request),
                       **{self.service_id_arg: self.kind.ident_of(obj)}, **kwargs)

    def create(self, request: HttpRequest, obj: M, form: forms.ModelForm[M]) -> M:
        """``create_service`` with the new object's id and its ``service_fields`` as the form has them."""
        if self.create_service is None:
            raise NotImplementedError
        values = {name: form.cleaned_data[name] if name in form.cleaned_data else getattr(obj, name)
                  for name in self.service_fields}
        return self.call_service(request, obj, self.create_service, **values)

    def update(self, request: HttpRequest, obj: M, changes: dict[str, Any], expected_version: int | None) -> M:
        if self.update_service is None:
            raise NotImplementedError
        return self.call_service(request, obj, self.update_service, changes=changes,
                                 expected_version=expected_version)

    def delete(self, request: HttpRequest, obj: M) -> None:
        if self.delete_service is None:
            raise NotImplementedError
        self.call_service(request, obj, self.delete_service)

    def changes_elsewhere(self, form: forms.ModelForm[M]) -> bool:
        """Whether the form changed something outside ``service_fields`` that ``update`` saves."""
        return False

    def get_form(self, request: HttpRequest, obj: M | None = None, change: bool = False,
                 **kwargs: Any) -> type[forms.ModelForm[M]]:
        form = super().get_form(request, obj, change=change, **kwargs)
        if issubclass(form, VersionedForm):
            form = type(form.__name__, (form,), {"maestro_request": request, "maestro_kind": self.kind})
        return form

    def get_readonly_fields(self, request: HttpRequest, obj: M | None = None) -> list[str]:
        fields = [*super().get_readonly_fields(request, obj), *self.bookkeeping]
        if obj is not None:
            fields += list(self.identity_fields)
        return fields

    def save_model(self, request: HttpRequest, obj: M, form: forms.ModelForm[M], change: bool) -> None:
        try:
            if change:
                changes = {f: form.cleaned_data[f] for f in form.changed_data if f in self.service_fields}
                if not changes and not self.changes_elsewhere(form):
                    return
                saved = self.update(request, obj, changes, form.cleaned_data.get("expected_version"))
            else:
                saved = self.create(request, obj, form)
        except MaestroError as exc:
            request._maestro_refused = exc  # type: ignore[attr-defined]
            self.message_user(request, f"Not saved: {exc.message}", messages.ERROR)
            return
        obj.__dict__.update(saved.__dict__)

    def refused(self, request: HttpRequest) -> bool:
        return getattr(request, "_maestro_refused", None) is not None

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        if not self.refused(request):
            super().save_related(request, form, formsets, change)

    # None when the services refused the save: nothing is logged (Django ignores what these return).
    def log_addition(self, request: HttpRequest, obj: M, message: Any) -> LogEntry | None:  # type: ignore[override]
        return None if self.refused(request) else super().log_addition(request, obj, message)

    def log_change(self, request: HttpRequest, obj: M, message: Any) -> LogEntry | None:  # type: ignore[override]
        return None if self.refused(request) else super().log_change(request, obj, message)

    def response_add(self, request: HttpRequest, obj: M, post_url_continue: str | None = None) -> HttpResponse:
        if self.refused(request):
            return HttpResponseRedirect(request.path)
        return super().response_add(request, obj, post_url_continue)

    def response_change(self, request: HttpRequest, obj: M) -> HttpResponse:
        if self.refused(request):
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)

    def delete_model(self, request: HttpRequest, obj: M) -> None:
        try:
            self.delete(request, obj)
        except MaestroError as exc:
            self.message_user(request, f"{obj} was not deleted: {exc.code}: {exc.message}", messages.ERROR)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[M]) -> None:
        for obj in queryset:
            self.delete_model(request, obj)

    def run_action(self, request: HttpRequest, queryset: Iterable[M], verb: str,
                   call: Callable[[M], object], skip: Callable[[M], str | None] | None = None) -> None:
        """Calls ``call(obj)`` for each selected object and reports what happened to which."""
        done, skipped, failed = [], [], []
        for obj in queryset:
            name = self.kind.ident_of(obj) if self.kind is not None else str(obj.pk)
            reason = skip(obj) if skip else None
            if reason:
                skipped.append(f"{name} ({reason})")
                continue
            try:
                call(obj)
                done.append(name)
            except MaestroError as exc:
                failed.append(f"{name}: {exc.message}")
        if done:
            self.message_user(request, f"{verb} {len(done)}: {', '.join(done)}.", messages.SUCCESS)
        if skipped:
            self.message_user(request, f"Unchanged {len(skipped)}: {', '.join(skipped)}.", messages.INFO)
        if failed:
            self.message_user(request, f"Refused {len(failed)}: {'; '.join(failed)}.", messages.ERROR)

    def service_action(self, request: HttpRequest, queryset: Iterable[M], verb: str, service: Callable[..., object],
                       *, skip: Callable[[M], str | None] | None = None, **kwargs: Any) -> None:
        """An admin action that calls ``service(..., **kwargs)`` on each selected object."""
        self.run_action(request, queryset, verb, lambda obj: self.call_service(request, obj, service, **kwargs),
                        skip=skip)

    def status_action(self, request: HttpRequest, queryset: Iterable[M], verb: str, service: Callable[..., object],
                      status: str) -> None:
        """Pause / resume: ``service(status=...)`` on each selected object not already there."""
        self.service_action(request, queryset, verb, service, status=status,
                            skip=lambda obj: f"already {status}" if cast(_WithStatus, obj).status == status else None)


    def call_quietly(self, request: HttpRequest, what: str, service: Callable[..., T], **kwargs: Any) -> T | None:
        """A service call whose refusal is reported on the page (inline rows): None then."""
        try:
            return service(**kwargs)
        except MaestroError as exc:
            self.message_user(request, f"{what} not saved: {exc.code}: {exc.message}", messages.ERROR)
            return None

    @staticmethod
    def saved_by_services(formset: Any) -> None:
        """An inline whose rows the services wrote (and audited): the admin's change message
        reads these lists, which must not claim a save of their own."""
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
