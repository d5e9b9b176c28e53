"""Admin for the circular's letterhead, drafts, issued versions and journal (imported once at the
bottom of ledgers/admin.py). A unit administrator sees only their subtree's rows; issued versions
and the journal are read-only."""

from django.contrib import admin

from ..admin import ReadOnlyAdmin, ScopedAdmin
from ..models import Unit
from .models import CircularDraft, CircularEvent, CircularSettings, IssuedCircular


@admin.register(CircularSettings)
class CircularSettingsAdmin(ScopedAdmin):
    list_display = ["unit", "mark", "number_prefix", "signature", "updated_at"]
    search_fields = ["unit__name", "mark", "number_prefix"]
    list_select_related = ["unit"]
    readonly_fields = ["updated_at", "updated_by"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # The choices (and the ids a POST may carry) are the administrator's own subtree.
        if db_field.name == "unit" and not request.user.is_superuser:
            unit = request.user.unit
            kwargs["queryset"] = Unit.objects.subtree(unit) if unit else Unit.objects.none()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(CircularDraft)
class CircularDraftAdmin(ReadOnlyAdmin):
    list_display = ["report", "serial", "updated_by", "updated_at"]
    list_select_related = ["report__scope", "updated_by"]


@admin.register(IssuedCircular)
class IssuedCircularAdmin(ReadOnlyAdmin):
    list_display = ["report", "version", "number", "issued_by", "issued_at", "docx_sha256"]
    search_fields = ["number", "report__period", "report__scope__name"]
    list_select_related = ["report__scope", "issued_by"]


@admin.register(CircularEvent)
class CircularEventAdmin(ReadOnlyAdmin):
    list_display = ["report", "action", "actor", "at", "note"]
    list_filter = ["action"]
    list_select_related = ["report__scope", "actor"]
