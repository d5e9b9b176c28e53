"""Integration models: API tokens, pushed tickets, webhook receivers and their outbox.

They live in the `ledgers` app (ledgers/models.py imports them at its end), so one migration
carries them and the project's admin and access tests see them like any other model.
"""

import hashlib
import secrets
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

TOKEN_PREFIX_LENGTH = 8


class Scope(models.TextChoices):
    PROBLEMS_WRITE = "problems:write", _("推送问题（problems:write）")
    ITEMS_READ = "items:read", _("查看整改台账（items:read）")
    ITEMS_WRITE = "items:write", _("责任人报送进展、申请销号（items:write）")
    ITEMS_REVIEW = "items:review", _("督办人员销号、退回（items:review）")
    FIGURES_READ = "figures:read", _("查看统计数据（figures:read）")


def hash_secret(secret):
    # A token is 256 random bits: a fast hash is enough, a slow one would only slow every request.
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def visible_to(self, user):
        from ledgers.models import _scope_q

        return self.filter(_scope_q(user, "unit"))

    def usable(self):
        return self.filter(revoked_at__isnull=True)


class ApiToken(models.Model):
    """An integration's key. Its calls act as `user`, a service account of the token's unit made
    for this token alone, holding the roles its scopes need, so the services' role checks apply
    to integrations exactly as to people."""

    name = models.CharField(_("名称"), max_length=100, help_text=_("例如：12345热线平台"))
    unit = models.ForeignKey("ledgers.Unit", verbose_name=_("所属单位"), on_delete=models.PROTECT,
                             related_name="api_tokens")
    scopes = models.JSONField(_("权限范围"), default=list)
    prefix = models.CharField(_("令牌前缀"), max_length=TOKEN_PREFIX_LENGTH, editable=False, db_index=True)
    secret_hash = models.CharField(_("令牌摘要（SHA-256）"), max_length=64, unique=True, editable=False)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, verbose_name=_("接口账号"), on_delete=models.PROTECT,
                                related_name="api_token", editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("创建人"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+", editable=False)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(_("最近使用"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True, editable=False)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("接口令牌")
        verbose_name_plural = _("接口令牌")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name}（{self.prefix}…）"

    def clean(self):
        unknown = set(self.scopes or []) - set(Scope.values)
        if unknown or not self.scopes:
            raise ValidationError({"scopes": _("请选择至少一项有效的权限范围。")})

    @property
    def is_active(self):
        return self.revoked_at is None

    def has_scope(self, scope):
        return scope in self.scopes


class ExternalTicket(models.Model):
    """A problem pushed from another platform, under its own ticket number. The unique pair makes
    a resend find the record it made instead of making a second one."""

    source = models.CharField(_("问题来源"), max_length=20)
    external_number = models.CharField(_("外部工单编号"), max_length=64)
    problem = models.OneToOneField("ledgers.Problem", verbose_name=_("问题"), on_delete=models.PROTECT,
                                   related_name="external_ticket")
    digest = models.CharField(_("提交摘要"), max_length=64)
    token = models.ForeignKey(ApiToken, verbose_name=_("接口令牌"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="tickets")
    received_at = models.DateTimeField(_("接收时间"), default=timezone.now)

    class Meta:
        verbose_name = _("外部工单")
        verbose_name_plural = _("外部工单")
        ordering = ["-received_at"]
        constraints = [models.UniqueConstraint(fields=["source", "external_number"],
                                               name="external_ticket_unique_number")]

    def __str__(self):
        return f"{self.source} {self.external_number}"


class WebhookEvent(models.TextChoices):
    ITEM_CREATED = "item.created", _("新增整改措施")
    STATUS_CHANGED = "item.status_changed", _("状态变化")
    RED_CARD = "item.red_card", _("亮红牌（逾期）")
    CLOSED = "item.closed", _("销号")


class WebhookEndpointQuerySet(models.QuerySet):
    def visible_to(self, user):
        from ledgers.models import _scope_q

        return self.filter(_scope_q(user, "unit"))


def new_webhook_secret():
    return secrets.token_urlsafe(32)


class WebhookEndpoint(models.Model):
    """A receiver an administrator registered for a unit: it hears about items that unit sees."""

    name = models.CharField(_("名称"), max_length=100)
    unit = models.ForeignKey("ledgers.Unit", verbose_name=_("所属单位"), on_delete=models.PROTECT,
                             related_name="webhook_endpoints")
    url = models.URLField(_("接收地址"), max_length=500, help_text=_("只会调用此地址，不跟随重定向。"))
    secret = models.CharField(_("签名密钥"), max_length=100, default=new_webhook_secret, editable=False)
    events = models.JSONField(_("订阅事件"), default=list)
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now, editable=False)

    objects = WebhookEndpointQuerySet.as_manager()

    class Meta:
        verbose_name = _("推送地址")
        verbose_name_plural = _("推送地址")
        ordering = ["unit", "name"]

    def __str__(self):
        return self.name

    def clean(self):
        if not self.events or set(self.events) - set(WebhookEvent.values):
            raise ValidationError({"events": _("请选择至少一项推送事件。")})
        if self.url and not self.url.lower().startswith(("http://", "https://")):
            raise ValidationError({"url": _("接收地址须以 http:// 或 https:// 开头。")})


class WebhookDeliveryQuerySet(models.QuerySet):
    def visible_to(self, user):
        return self.filter(endpoint__in=WebhookEndpoint.objects.visible_to(user))


class WebhookDelivery(models.Model):
    """One message to one receiver: the outbox row, written in the transaction of the change it
    tells about, sent and retried from here (`next_attempt_at` is its due time)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("待发送")
        DELIVERED = "delivered", _("已送达")
        FAILED = "failed", _("发送失败")

    delivery_id = models.UUIDField(_("推送编号"), default=uuid.uuid4, unique=True, editable=False)
    endpoint = models.ForeignKey(WebhookEndpoint, verbose_name=_("推送地址"), on_delete=models.CASCADE,
                                 related_name="deliveries")
    event = models.CharField(_("事件"), max_length=30, choices=WebhookEvent.choices)
    item = models.ForeignKey("ledgers.RectificationItem", verbose_name=_("整改措施"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+")
    body = models.TextField(_("内容（JSON）"))
    status = models.CharField(_("状态"), max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    next_attempt_at = models.DateTimeField(_("下次发送时间"), default=timezone.now)
    last_attempt_at = models.DateTimeField(_("最近发送时间"), null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(_("最近响应码"), null=True, blank=True)
    last_error = models.CharField(_("最近错误"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    delivered_at = models.DateTimeField(_("送达时间"), null=True, blank=True)

    objects = WebhookDeliveryQuerySet.as_manager()

    class Meta:
        verbose_name = _("推送记录")
        verbose_name_plural = _("推送记录")
        ordering = ["-created_at", "-id"]
        indexes = [
            # The sweep's only question: which pending rows are due.
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="webhook_due_idx"),
        ]
        constraints = [models.CheckConstraint(condition=Q(status__in=["pending", "delivered", "failed"]),
                                              name="webhook_delivery_status_valid")]

    def __str__(self):
        return f"{self.get_event_display()} → {self.endpoint}"
