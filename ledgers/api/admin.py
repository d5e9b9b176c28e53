"""Admin pages for tokens and webhooks. A unit's administrator creates them for their own subtree
(ScopedAdmin: the unit choices are their subtree, a forged id is a form error). A token's secret and
a receiver's signing secret are shown once, on the page right after they are made (or renewed):
the token's is never stored, the receiver's is kept only to sign with."""

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..admin import ReadOnlyAdmin, ScopedAdmin
from .auth import SCOPE_ROLES, issue_token, revoke_token
from .models import (
    ApiToken,
    ExternalTicket,
    Scope,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    new_webhook_secret,
)


def grantable_scopes(user):
    """The scopes `user` may put on a token. A scope that gives the token's account a role needs
    that role held by the user, as on the user form: no administrator hands out, through an
    integration, a role they could not give a person."""
    return [(value, label) for value, label in Scope.choices
            if user.is_superuser or value not in SCOPE_ROLES or user.has_role(SCOPE_ROLES[value])]


def shown_once(response):
    response["Cache-Control"] = "no-store"
    return response


@admin.register(ApiToken)
class ApiTokenAdmin(ScopedAdmin):
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

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name != "scopes":
            return super().formfield_for_dbfield(db_field, request, **kwargs)
        # The choices are the acting user's: a scope they may not give is refused on POST too.
        help_text = "" if request.user.is_superuser else _(
            "报送进展、销号、统计数据三项会给接口账号相应角色：只列出您本人持有的角色。")
        return forms.MultipleChoiceField(label=_("权限范围"), choices=grantable_scopes(request.user),
                                         widget=forms.CheckboxSelectMultiple, help_text=help_text)

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the journal names the token's account

    def save_model(self, request, obj, form, change):
        if change:
            return
        obj._secret = issue_token(obj, created_by=request.user)

    def response_add(self, request, obj, post_url_continue=None):
        return shown_once(TemplateResponse(request, "admin/api/token_created.html", {
            **self.admin_site.each_context(request), "token": obj, "secret": obj._secret,
            "opts": self.model._meta, "title": _("接口令牌已创建")}))

    @admin.action(description=_("吊销所选令牌"), permissions=["change"])
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
class WebhookEndpointAdmin(ScopedAdmin):
    form = WebhookEndpointForm
    list_display = ["name", "unit", "url", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "url", "unit__name"]
    list_select_related = ["unit"]
    readonly_fields = ["secret_note", "created_at"]  # the secret itself is shown once, when made or renewed
    actions = ["renew_secret"]

    @admin.display(description=_("签名密钥"))
    def secret_note(self, endpoint):
        if endpoint is None or endpoint.pk is None:
            return _("保存后显示一次，请立即复制。")
        return _("只在创建或更换时显示一次；遗失时在列表中勾选本地址，执行“更换所选推送地址的签名密钥”。")

    def secrets_page(self, request, endpoints, title):
        return shown_once(TemplateResponse(request, "admin/api/webhook_secrets.html", {
            **self.admin_site.each_context(request), "endpoints": endpoints, "opts": self.model._meta,
            "title": title}))

    def response_add(self, request, obj, post_url_continue=None):
        return self.secrets_page(request, [obj], _("推送地址已创建"))

    @admin.action(description=_("更换所选推送地址的签名密钥"), permissions=["change"])
    @transaction.atomic
    def renew_secret(self, request, queryset):
        endpoints = list(queryset)
        for endpoint in endpoints:
            endpoint.secret = new_webhook_secret()
            endpoint.save(update_fields=["secret"])
        return self.secrets_page(request, endpoints, _("签名密钥已更换"))


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
