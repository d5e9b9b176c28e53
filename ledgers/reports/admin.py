"""Admin for the circular's letterhead, drafts, issued versions and journal (imported once at the
bottom of ledgers/admin.py). A unit administrator sees only their subtree's rows and changes only
their subtree's letterheads. Drafts, issued versions (frozen, their SHA-256 recorded) and the journal
are read-only here, for everyone: only the circular page writes them, each step with its journal row."""

from django.contrib import admin
from django.utils import timezone

from ..admin import ReadOnlyAdmin, ScopedAdmin
from .models import CircularDraft, CircularEvent, CircularSettings, IssuedCircular


@admin.register(CircularSettings)
class CircularSettingsAdmin(ScopedAdmin):
    list_display = ["unit", "mark", "number_prefix", "signature", "updated_at"]
    search_fields = ["unit__name", "mark", "number_prefix"]
    list_select_related = ["unit"]
    readonly_fields = ["updated_at", "updated_by"]

    def save_model(self, request, obj, form, change):
        # A form saved as it was shown changes nothing, not even who last changed it.
        if form.has_changed():
            obj.updated_at, obj.updated_by = timezone.now(), request.user
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
