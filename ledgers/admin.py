from django import forms
from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db import models
from django.utils.translation import gettext_lazy as _

from .roles import manages_global_settings, outranks, role_label
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


class ScopedFormfields:
    """A non-superuser picks a foreign key or many-to-many value only among the rows the related
    model's own admin shows them (the rows its change list and autocomplete offer), so a forged id
    in a POST is refused by the form field itself, on every model, including those registered later."""

    def related_choices(self, request, model):
        if not self.admin_site.is_registered(model):
            return model._default_manager.none()  # a model without an admin has no scope to offer
        return self.admin_site.get_model_admin(model).get_queryset(request)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if not request.user.is_superuser:
            kwargs["queryset"] = self.related_choices(request, db_field.related_model)
            if db_field.related_model is Unit:
                kwargs["required"] = True  # a row under no unit lies outside every subtree
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if not request.user.is_superuser:
            kwargs["queryset"] = self.related_choices(request, db_field.related_model)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class ScopedRelatedFilter(admin.RelatedFieldListFilter):
    """The change list's filter by a related row lists only the rows the user may pick."""

    def field_choices(self, field, request, model_admin):
        ordering = self.field_admin_ordering(field, request, model_admin)
        choices = model_admin.related_choices(request, field.related_model)
        return field.get_choices(include_blank=False, ordering=ordering,
                                 limit_choices_to={"pk__in": choices.values("pk")})


class RoleFilter(ScopedRelatedFilter):
    """The users' filter by role, with the roles' Chinese names."""

    def field_choices(self, field, request, model_admin):
        groups = model_admin.related_choices(request, Group).order_by("name")
        return [(group.pk, role_label(group)) for group in groups]


class ScopedAdmin(ScopedFormfields, admin.ModelAdmin):
    """An administrator who is not a superuser manages only their own unit's subtree: through the
    model's own `visible_to`, or through the relation named in `scope_through` for rows that belong
    to something else (a journal row to its item, a notification to its recipient). They may change
    or delete a row only when every relation of it points inside their choices, so a row of a unit
    above them (the province's campaign, seen by its cities) is read-only."""

    show_full_result_count = False
    scope_through = None
    # Many-to-many fields whose rows outside the acting user's choices are kept as they are (a
    # user's roles that the acting administrator does not hold) instead of making the row read-only.
    keeps_outside_scope = ()

    def get_exclude(self, request, obj=None):
        # Stored files are served only by the scoped download views; the admin's own link would point
        # at MEDIA_URL, which nothing serves: the change page shows the file's name instead.
        return [*(super().get_exclude(request, obj) or ()), *self.file_fields()]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        return [*readonly, "stored_files"] if self.file_fields() else readonly

    def file_fields(self):
        return [f.name for f in self.model._meta.fields if isinstance(f, models.FileField)]

    @admin.display(description=_("存储的文件"))
    def stored_files(self, obj):
        names = [getattr(obj, name).name for name in self.file_fields() if getattr(obj, name)]
        return "、".join(name.rsplit("/", 1)[-1] for name in names) or "—"

    def scope(self, request, queryset):
        if self.scope_through:
            related = queryset.model._meta.get_field(self.scope_through).related_model
            return queryset.filter(**{f"{self.scope_through}__in": related.objects.visible_to(request.user)})
        return queryset.visible_to(request.user)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset if request.user.is_superuser else self.scope(request, queryset)

    def relations_outside_scope(self, request, obj):
        skipped = set(self.get_readonly_fields(request, obj)) | set(self.keeps_outside_scope)
        outside = []
        for field in obj._meta.fields + obj._meta.many_to_many:
            if not field.is_relation or field.name in skipped:
                continue
            choices = self.related_choices(request, field.related_model)
            if field.many_to_many:
                if getattr(obj, field.name).exclude(pk__in=choices.values("pk")).exists():
                    outside.append(field.name)
            elif getattr(obj, field.attname) is not None:
                if not choices.filter(**{field.target_field.attname: getattr(obj, field.attname)}).exists():
                    outside.append(field.name)
        return outside

    def editable(self, request, obj):
        """Whether a non-superuser may change or delete `obj` (None: rows of this model at all)."""
        if obj is None:
            return True
        return self.get_queryset(request).filter(pk=obj.pk).exists() and not self.relations_outside_scope(request, obj)

    def may_edit(self, request, obj):
        if request.user.is_superuser:
            return True
        if obj is None:
            return self.editable(request, None)
        # The admin asks several times per page; the answer for the row as it was loaded stands.
        memo = request.__dict__.setdefault("_walkflow_may_edit", {})
        key = (obj._meta.label, obj.pk)
        if key not in memo:
            memo[key] = self.editable(request, obj)
        return memo[key]

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self.may_edit(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self.may_edit(request, obj)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if not request.user.is_superuser and not self.editable(request, form.instance):
            # The form fields should have refused it already; should one ever let an outside value
            # through, the admin's transaction around the whole form rolls the save back.
            raise PermissionDenied

    def get_list_filter(self, request):
        filters = []
        for entry in super().get_list_filter(request):
            if isinstance(entry, str) and get_fields_from_path(self.model, entry)[-1].is_relation:
                entry = (entry, ScopedRelatedFilter)
            filters.append(entry)
        return filters


class GlobalSettingsAdmin(ScopedAdmin):
    """Rows that apply to every unit: everyone with access reads them, `manages_global_settings`
    decides who writes them."""

    def scope(self, request, queryset):
        return queryset

    def editable(self, request, obj):
        return manages_global_settings(request.user)

    def has_add_permission(self, request):
        return super().has_add_permission(request) and manages_global_settings(request.user)


class ReadOnlyAdmin(ScopedAdmin):
    """The journal and closure records are append-only: nobody edits or deletes them here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(ScopedAdmin, DjangoGroupAdmin):
    """The role groups' permissions decide what each role may open here, in every unit: only a
    superuser changes them. Anyone else sees (and may hand out) only the groups they hold."""

    def scope(self, request, queryset):
        return queryset.filter(user=request.user)

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


@admin.register(Unit)
class UnitAdmin(ScopedAdmin):
    list_display = ["name", "code", "level", "kind", "parent", "is_active"]
    list_filter = ["level", "kind", "is_active"]
    search_fields = ["name", "code", "short_name"]
    list_select_related = ["parent"]
    autocomplete_fields = ["parent"]
    readonly_fields = ["path", "depth"]

    def scope(self, request, queryset):
        # A unit's administrator manages its own subtree only (this also limits every unit choice).
        # Their own unit hangs from a parent outside it, so it is read-only to them.
        return queryset.subtree(request.user.unit) if request.user.unit_id else queryset.none()

    def save_model(self, request, obj, form, change):
        if change and "parent" in form.changed_data:
            move_unit(obj, obj.parent)  # rewrites the whole subtree's paths
            return
        if not change:
            obj.assign_path()
        super().save_model(request, obj, form, change)


@admin.register(User)
class UserAdmin(ScopedAdmin, DjangoUserAdmin):
    list_display = ["username", "last_name", "first_name", "unit", "title", "is_active", "is_staff"]
    list_filter = [("groups", RoleFilter), "is_active", "is_staff"]
    list_select_related = ["unit"]
    search_fields = ["username", "first_name", "last_name", "unit__name"]
    autocomplete_fields = ["unit"]
    fieldsets = DjangoUserAdmin.fieldsets + ((_("单位与职务"), {"fields": ("unit", "title", "phone")}),)
    add_fieldsets = DjangoUserAdmin.add_fieldsets + ((_("单位与职务"), {"fields": ("unit", "title")}),)
    keeps_outside_scope = ("groups",)
    filter_horizontal = ["user_permissions"]  # roles are ticks (five of them); permissions keep the two lists

    # Privileges are a superuser's to give: a unit administrator hands out only the roles they hold
    # (the group choices), and their own account's roles and unit are not theirs to change.
    PRIVILEGES = ["is_staff", "is_superuser", "last_login", "date_joined"]
    OWN_ACCOUNT = ["unit", "groups", "is_active"]
    # How a non-superuser reads what they cannot set: words rather than icons with English alt text.
    SHOWN_AS_TEXT = {"is_active": "active_status", "is_staff": "staff_status", "is_superuser": "superuser_status"}

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.is_superuser or obj is None:
            return fieldsets
        readonly = set(self.get_readonly_fields(request, obj))

        def fields(names):
            for name in names:
                if name == "user_permissions":
                    continue
                if name == "groups":
                    yield "role_names"  # the roles the account holds, then the ones they may give
                    if name not in readonly:
                        yield name
                elif name in readonly and name in self.SHOWN_AS_TEXT:
                    yield self.SHOWN_AS_TEXT[name]
                else:
                    yield name

        return [(title, {**options, "fields": list(fields(options["fields"]))}) for title, options in fieldsets]

    @admin.display(description=_("现有角色"))
    def role_names(self, obj):
        return "、".join(role_label(group) for group in obj.groups.order_by("name")) or "—"

    @admin.display(description=User._meta.get_field("is_active").verbose_name)
    def active_status(self, obj):
        return _("是") if obj.is_active else _("否")

    @admin.display(description=User._meta.get_field("is_staff").verbose_name)
    def staff_status(self, obj):
        return _("是") if obj.is_staff else _("否")

    @admin.display(description=User._meta.get_field("is_superuser").verbose_name)
    def superuser_status(self, obj):
        return _("是") if obj.is_superuser else _("否")

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name != "groups":
            return super().formfield_for_manytomany(db_field, request, **kwargs)
        field = super().formfield_for_manytomany(db_field, request, widget=forms.CheckboxSelectMultiple, **kwargs)
        field.label_from_instance = role_label
        if not request.user.is_superuser:
            field.label = _("授予角色")
            field.help_text = _("只能授予您本人持有的角色；其他角色由上级管理员设置，保存时保持不变。")
        return field

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if request.user.is_superuser:
            return fields
        fields += self.PRIVILEGES + ["role_names", *self.SHOWN_AS_TEXT.values()]
        if obj is not None and obj.pk == request.user.pk:
            fields += self.OWN_ACCOUNT
        return fields

    def editable(self, request, obj):
        # An API token's account is managed on the token's page: a password or a role given here
        # would let the integration's account sign in to the site, or act beyond its scopes.
        if obj is not None and (outranks(obj, request.user) or hasattr(obj, "api_token")):
            return False
        return super().editable(request, obj)

    def has_delete_permission(self, request, obj=None):
        own = obj is not None and obj.pk == request.user.pk
        return super().has_delete_permission(request, obj) and (request.user.is_superuser or not own)

    def save_related(self, request, form, formsets, change):
        # The group choices hold only the acting user's own roles: the account's other roles are not
        # in the form, and are saved along with the chosen ones rather than dropped.
        if change and "groups" in form.cleaned_data and not request.user.is_superuser:
            held = self.related_choices(request, Group).values("pk")
            kept = form.instance.groups.exclude(pk__in=held)
            form.cleaned_data["groups"] = [*form.cleaned_data["groups"], *kept]
        super().save_related(request, form, formsets, change)


@admin.register(CalendarOverride)
class CalendarOverrideAdmin(GlobalSettingsAdmin):
    list_display = ["date", "is_workday", "source"]
    list_filter = ["is_workday"]
    search_fields = ["source"]
    date_hierarchy = "date"


@admin.register(ServiceItem)
class ServiceItemAdmin(ScopedAdmin):
    list_display = ["name", "competent_unit", "catalogue_level", "origin", "time_limit_days", "is_active"]
    list_filter = ["origin", "catalogue_level", "is_active"]
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
class SubCategoryAdmin(GlobalSettingsAdmin):
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


class ItemEventInline(ScopedFormfields, admin.TabularInline):
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
    autocomplete_fields = ["recipient", "item"]
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
    autocomplete_fields = ["user"]
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

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


from .imports import admin as _imports_admin  # noqa: E402,F401  (registers the import records)
from .api import admin as _api_admin  # noqa: E402, F401  tokens and webhooks register their admins
from .reports import admin as reports_admin  # noqa: E402, F401  (the circular's models)
