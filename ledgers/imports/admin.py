"""Admin pages for the import records: read-only, each scoped like the rest of the admin."""

from django.contrib import admin

from ..admin import ReadOnlyAdmin
from ..models import ActivationCode, ImportBatch, ImportKey, ImportMapping


@admin.register(ImportBatch)
class ImportBatchAdmin(ReadOnlyAdmin):
    list_display = ["original_name", "kind", "status", "unit", "created_by", "created_at", "committed_at"]
    list_filter = ["kind", "status"]
    search_fields = ["original_name"]
    list_select_related = ["unit", "created_by"]
    exclude = ["summary", "result"]


@admin.register(ImportMapping)
class ImportMappingAdmin(ReadOnlyAdmin):
    list_display = ["unit", "kind", "updated_by", "updated_at"]
    list_select_related = ["unit", "updated_by"]

    def scope(self, request, queryset):
        path = request.user.unit_path()
        return queryset.filter(unit__path__startswith=path) if path else queryset.none()


@admin.register(ImportKey)
class ImportKeyAdmin(ReadOnlyAdmin):
    list_display = ["key", "unit", "item", "batch"]
    search_fields = ["key"]
    list_select_related = ["unit", "item", "batch"]
    scope_through = "item"


@admin.register(ActivationCode)
class ActivationCodeAdmin(ReadOnlyAdmin):
    list_display = ["user", "created_at", "expires_at", "used_at"]
    list_select_related = ["user"]
    exclude = ["digest", "salt"]
