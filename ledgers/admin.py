from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from .units import move_unit
from .models import (
    Attachment,
    CalendarOverride,
    Campaign,
    ChangeStamp,
    ClosureRecord,
    ExtensionRequest,
    ItemEvent,
    LedgerExport,
    Notification,
    Problem,
    RectificationItem,
    ReminderLog,
    Report,
    SavedFilter,
    ServiceItem,
    SubCategory,
    Unit,
    User,
    WalkSession,
)


class ScopedAdmin(admin.ModelAdmin):
    """An administrator who is not a superuser manages only their own unit's subtree: through the
    model's own `visible_to`, or through the relation named in `scope_through` for rows that belong
    to something else (a journal row to its item, a notification to its recipient)."""

    show_full_result_count = False
    scope_through = None

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        if self.scope_through:
            related = queryset.model._meta.get_field(self.scope_through).related_model
            return queryset.filter(**{f"{self.scope_through}__in": related.objects.visible_to(request.user)})
        return queryset.visible_to(request.user)


class ReadOnlyAdmin(ScopedAdmin):
    """The journal and closure records are append-only: nobody edits or deletes them here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Unit)
class UnitAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "level", "kind", "parent", "is_active"]
    list_filter = ["level", "kind", "is_active"]
    search_fields = ["name", "code", "short_name"]
    list_select_related = ["parent"]
    autocomplete_fields = ["parent"]
    readonly_fields = ["path", "depth"]
    show_full_result_count = False

    def get_queryset(self, request):
        # A unit's administrator manages its own subtree only (this also limits the parent choices).
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.subtree(request.user.unit) if request.user.unit_id else queryset.none()

    def save_model(self, request, obj, form, change):
        if change and "parent" in form.changed_data:
            move_unit(obj, obj.parent)  # rewrites the whole subtree's paths
            return
        if not change:
            obj.assign_path()
        super().save_model(request, obj, form, change)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "last_name", "first_name", "unit", "title", "is_active", "is_staff"]
    list_filter = ["groups", "is_active", "is_staff"]
    list_select_related = ["unit"]
    search_fields = ["username", "first_name", "last_name", "unit__name"]
    autocomplete_fields = ["unit"]
    fieldsets = DjangoUserAdmin.fieldsets + ((_("单位与职务"), {"fields": ("unit", "title", "phone")}),)
    add_fieldsets = DjangoUserAdmin.add_fieldsets + ((_("单位与职务"), {"fields": ("unit", "title")}),)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset if request.user.is_superuser else queryset.visible_to(request.user)


@admin.register(CalendarOverride)
class CalendarOverrideAdmin(admin.ModelAdmin):
    list_display = ["date", "is_workday", "source"]
    list_filter = ["is_workday"]
    search_fields = ["source"]
    date_hierarchy = "date"


@admin.register(ServiceItem)
class ServiceItemAdmin(ScopedAdmin):
    list_display = ["name", "competent_unit", "origin", "time_limit_days", "is_active"]
    list_filter = ["origin", "is_active"]
    search_fields = ["name", "code"]
    list_select_related = ["competent_unit"]
    autocomplete_fields = ["competent_unit"]


@admin.register(Campaign)
class CampaignAdmin(ScopedAdmin):
    list_display = ["name", "unit", "start_date", "end_date"]
    search_fields = ["name", "plan_document"]
    list_select_related = ["unit"]
    autocomplete_fields = ["unit"]
    filter_horizontal = ["must_walk_items"]


@admin.register(SubCategory)
class SubCategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "category", "sort_order", "is_active"]
    list_filter = ["category", "is_active"]
    search_fields = ["name"]


@admin.register(WalkSession)
class WalkSessionAdmin(ScopedAdmin):
    list_display = ["service_item", "leader", "unit", "identity", "way", "started_at"]
    list_filter = ["identity", "way", "leader_rank", "campaign"]
    search_fields = ["service_item__name", "leader__username", "leader__last_name", "place", "notes"]
    list_select_related = ["service_item", "leader", "unit"]
    autocomplete_fields = ["campaign", "unit", "service_item", "leader", "created_by"]
    date_hierarchy = "started_at"
    readonly_fields = ["client_uuid", "submission_digest"]


@admin.register(Problem)
class ProblemAdmin(ScopedAdmin):
    list_display = ["short_description", "category", "subcategory", "source", "unit", "resolution", "found_at"]
    list_filter = ["category", "source", "resolution", "campaign"]
    search_fields = ["description", "on_spot_action"]
    list_select_related = ["subcategory", "unit"]
    autocomplete_fields = ["walk", "campaign", "unit", "service_item", "responsible_unit", "created_by"]
    date_hierarchy = "found_at"

    @admin.display(description=_("问题描述"))
    def short_description(self, obj):
        return obj.description[:40]


class ItemEventInline(admin.TabularInline):
    model = ItemEvent
    extra = 0
    fields = ["at", "actor", "action", "from_status", "to_status", "note"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(RectificationItem)
class RectificationItemAdmin(ScopedAdmin):
    list_display = ["short_measure", "unit", "lead_unit", "owner", "deadline", "status", "updated_at"]
    list_filter = ["status", "kind", "problem__category", "problem__source"]
    search_fields = ["measure", "problem__description"]
    list_select_related = ["unit", "lead_unit", "owner"]
    autocomplete_fields = ["problem", "unit", "lead_unit", "owner", "cooperating_units"]
    readonly_fields = ["status", "closed_at", "version", "created_at", "updated_at"]
    inlines = [ItemEventInline]

    @admin.display(description=_("整改措施"))
    def short_measure(self, obj):
        return obj.measure[:40]

    def has_change_permission(self, request, obj=None):
        # Status and assignment change only through the ledger's actions, which write the journal.
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


@admin.register(ItemEvent)
class ItemEventAdmin(ReadOnlyAdmin):
    list_display = ["item", "action", "actor", "from_status", "to_status", "at"]
    list_filter = ["action"]
    search_fields = ["note", "item__measure"]
    list_select_related = ["item", "actor"]
    date_hierarchy = "at"
    scope_through = "item"


@admin.register(ClosureRecord)
class ClosureRecordAdmin(ReadOnlyAdmin):
    list_display = ["item", "submitted_by", "submitted_at", "decision", "reviewed_by", "reviewed_at"]
    list_filter = ["decision"]
    search_fields = ["evidence", "reason", "item__measure"]
    list_select_related = ["item", "submitted_by", "reviewed_by"]
    scope_through = "item"


@admin.register(ExtensionRequest)
class ExtensionRequestAdmin(ReadOnlyAdmin):
    list_display = ["item", "requested_by", "old_deadline", "new_deadline", "decision", "decided_by"]
    list_filter = ["decision"]
    search_fields = ["reason", "item__measure"]
    list_select_related = ["item", "requested_by", "decided_by"]
    scope_through = "item"


@admin.register(Attachment)
class AttachmentAdmin(ReadOnlyAdmin):
    list_display = ["original_name", "kind", "content_type", "size", "unit", "uploaded_by", "uploaded_at"]
    list_filter = ["kind", "content_type"]
    search_fields = ["original_name"]
    list_select_related = ["unit", "uploaded_by"]


@admin.register(Notification)
class NotificationAdmin(ScopedAdmin):
    list_display = ["recipient", "message", "created_at", "read_at"]
    search_fields = ["message", "recipient__username"]
    list_select_related = ["recipient"]
    scope_through = "recipient"


@admin.register(Report)
class ReportAdmin(ReadOnlyAdmin):
    list_display = ["kind", "period", "scope", "status", "requested_by", "requested_at", "finished_at"]
    list_filter = ["kind", "status"]
    search_fields = ["period", "scope__name"]
    list_select_related = ["scope", "requested_by"]


@admin.register(SavedFilter)
class SavedFilterAdmin(ScopedAdmin):
    list_display = ["name", "user", "query", "created_at"]
    search_fields = ["name", "user__username"]
    list_select_related = ["user"]
    scope_through = "user"


@admin.register(ReminderLog)
class ReminderLogAdmin(ReadOnlyAdmin):
    list_display = ["item", "kind", "day", "sent_at"]
    list_filter = ["kind"]
    date_hierarchy = "day"
    list_select_related = ["item"]
    scope_through = "item"


@admin.register(LedgerExport)
class LedgerExportAdmin(ReadOnlyAdmin):
    list_display = ["requested_by", "requested_at", "status", "rows", "finished_at"]
    list_filter = ["status"]
    list_select_related = ["requested_by"]


@admin.register(ChangeStamp)
class ChangeStampAdmin(admin.ModelAdmin):
    """Written only by the database's triggers (migration 0006); shown for diagnosis."""

    list_display = ["name", "value"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
