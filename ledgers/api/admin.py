"""Admin pages for tokens and webhooks. A unit's administrator creates them for their own subtree
(ScopedAdmin, with the unit choices limited to it); a token's secret is shown once, on the page
right after it is made, and never stored."""

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..admin import ReadOnlyAdmin, ScopedAdmin
from ..models import Unit
from .auth import issue_token, revoke_token
from .models import ApiToken, ExternalTicket, Scope, WebhookDelivery, WebhookEndpoint, WebhookEvent


class UnitChoicesInScope:
    """The unit field offers only the administrator's subtree, and refuses a forged id on POST."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "unit" and not request.user.is_superuser:
            user = request.user
            kwargs["queryset"] = Unit.objects.subtree(user.unit) if user.unit_id else Unit.objects.none()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ApiTokenForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        label=_("权限范围"), choices=Scope.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = ApiToken
        fields = ["name", "unit", "scopes"]


@admin.register(ApiToken)
class ApiTokenAdmin(UnitChoicesInScope, ScopedAdmin):
    form = ApiTokenForm
    list_display = ["name", "prefix", "unit", "scope_list", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix", "unit__name"]
    list_select_related = ["unit"]
    readonly_fields = ["prefix", "user", "created_by", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    @admin.display(description=_("权限范围"))
    def scope_list(self, token):
        return "，".join(token.scopes)

    def get_readonly_fields(self, request, obj=None):
        # A token's unit and scopes are fixed once it exists: make a new one instead.
        if obj is not None:
            return ["name", "unit", "scopes", *self.readonly_fields]
        return self.readonly_fields

    def get_fields(self, request, obj=None):
        return ["name", "unit", "scopes"] if obj is None else ["name", "unit", "scopes", *self.readonly_fields]

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the journal names the token's account

    def save_model(self, request, obj, form, change):
        if change:
            return
        obj._secret = issue_token(obj, created_by=request.user)

    def response_add(self, request, obj, post_url_continue=None):
        response = TemplateResponse(request, "admin/api/token_created.html", {
            **self.admin_site.each_context(request), "token": obj, "secret": obj._secret,
            "opts": self.model._meta, "title": _("接口令牌已创建")})
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description=_("吊销所选令牌"))
    def revoke(self, request, queryset):
        tokens = list(queryset.filter(revoked_at__isnull=True))
        for token in tokens:
            revoke_token(token)
        self.message_user(request, ngettext("已吊销 %(n)d 个令牌。", "已吊销 %(n)d 个令牌。", len(tokens))
                          % {"n": len(tokens)}, messages.SUCCESS)


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(label=_("接收地址"), max_length=500, assume_scheme="https",
                         help_text=_("只会调用此地址，不跟随重定向。"))
    events = forms.MultipleChoiceField(label=_("订阅事件"), choices=WebhookEvent.choices,
                                       widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = WebhookEndpoint
        fields = ["name", "unit", "url", "events", "is_active"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(UnitChoicesInScope, ScopedAdmin):
    form = WebhookEndpointForm
    list_display = ["name", "unit", "url", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "url", "unit__name"]
    list_select_related = ["unit"]
    readonly_fields = ["secret", "created_at"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["event", "endpoint", "status", "attempts", "last_status_code", "last_error", "next_attempt_at"]
    list_filter = ["status", "event"]
    search_fields = ["delivery_id", "endpoint__name"]
    list_select_related = ["endpoint"]
    scope_through = "endpoint"


@admin.register(ExternalTicket)
class ExternalTicketAdmin(ReadOnlyAdmin):
    list_display = ["external_number", "source", "problem", "token", "received_at"]
    list_filter = ["source"]
    search_fields = ["external_number"]
    list_select_related = ["problem", "token"]
    scope_through = "problem"
