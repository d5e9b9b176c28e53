"""The circular as a document: each unit's letterhead, the clerk's draft of a report's narrative,
the issued versions (frozen files and figures) and the journal of every step.

Imported at the bottom of ledgers/models.py, so they belong to the ledgers app and its migrations.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..models import Report, Unit, _scope_q


class CircularSettingsQuerySet(models.QuerySet):
    def visible_to(self, user):
        return self.filter(_scope_q(user, "unit"))


class CircularSettings(models.Model):
    """What an issuing unit prints around its circulars (GB/T 9704 版头 and 署名)."""

    unit = models.OneToOneField(Unit, verbose_name=_("发文单位"), on_delete=models.CASCADE,
                                related_name="circular_settings")
    mark = models.CharField(_("发文机关标志"), max_length=40, blank=True,
                            help_text=_("红色版头文字，如：湖南省优化营商环境办公室；不填则不印版头。"))
    number_prefix = models.CharField(_("发文机关代字"), max_length=30, blank=True,
                                     help_text=_("如：湘优化办；发文字号印为“湘优化办〔2026〕12号”。"))
    recipients = models.CharField(_("主送机关"), max_length=200, blank=True,
                                  help_text=_("如：各市州、县市区优化办，省直有关单位"))
    signature = models.CharField(_("发文机关署名"), max_length=60, blank=True,
                                 help_text=_("不填则署本单位名称。"))
    updated_at = models.DateTimeField(_("修改时间"), default=timezone.now)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("修改人"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")

    objects = CircularSettingsQuerySet.as_manager()

    class Meta:
        verbose_name = _("通报发文设置")
        verbose_name_plural = _("通报发文设置")

    def __str__(self):
        return str(self.unit)

    def document_number(self, serial, year):
        """发文字号, e.g. 湘优化办〔2026〕12号; blank unless both the prefix and the serial are set."""
        if not self.number_prefix or not serial:
            return ""
        return f"{self.number_prefix}〔{year}〕{serial}号"


class ReportScopedQuerySet(models.QuerySet):
    def visible_to(self, user):
        return self.filter(_scope_q(user, "report__scope"))


class CircularDraft(models.Model):
    """The clerk's paragraphs of a report's narrative; the drafted paragraphs are never stored here:
    they are written from the figures each time, so they cannot disagree with them."""

    report = models.OneToOneField(Report, verbose_name=_("报表"), on_delete=models.CASCADE,
                                  related_name="circular_draft")
    serial = models.PositiveIntegerField(_("发文序号"), null=True, blank=True,
                                         help_text=_("发文字号中的序号，如 12。"))
    opening = models.TextField(_("开头语"), blank=True)
    overall_note = models.TextField(_("总体情况补充"), blank=True)
    effects_note = models.TextField(_("整改成效补充"), blank=True)
    problems_note = models.TextField(_("存在问题补充"), blank=True)
    next_steps = models.TextField(_("下步工作"), blank=True)
    updated_at = models.DateTimeField(_("修改时间"), default=timezone.now)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("修改人"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")

    objects = ReportScopedQuerySet.as_manager()

    TEXT_FIELDS = ("opening", "overall_note", "effects_note", "problems_note", "next_steps")

    class Meta:
        verbose_name = _("通报草稿")
        verbose_name_plural = _("通报草稿")

    def __str__(self):
        return str(self.report)

    def texts(self):
        return {name: getattr(self, name) for name in self.TEXT_FIELDS}


def issued_path(instance, filename):
    extension = filename.rsplit(".", 1)[-1]
    return f"circulars/{instance.report.period}/{uuid.uuid4().hex}.{extension}"


class IssuedCircular(models.Model):
    """One issued version of a circular: its files and figures as they were when it was issued.
    Later changes to the ledger never touch it; issuing again makes the next version."""

    report = models.ForeignKey(Report, verbose_name=_("报表"), on_delete=models.PROTECT, related_name="issued")
    version = models.PositiveIntegerField(_("版本"))
    number = models.CharField(_("发文字号"), max_length=80, blank=True)
    title = models.CharField(_("标题"), max_length=200)
    docx = models.FileField(_("公文（Word）"), upload_to=issued_path, max_length=255)
    xlsx = models.FileField(_("通报表（Excel）"), upload_to=issued_path, max_length=255)
    docx_sha256 = models.CharField(_("公文SHA-256"), max_length=64)
    xlsx_sha256 = models.CharField(_("通报表SHA-256"), max_length=64)
    figures = models.JSONField(_("数据"), help_text=_("签发时的全部统计数据"))
    narrative = models.JSONField(_("正文"), help_text=_("签发时的正文段落"))
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("签发人"), null=True,
                                  on_delete=models.SET_NULL, related_name="+")
    issued_at = models.DateTimeField(_("签发时间"), default=timezone.now)

    objects = ReportScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("已签发通报")
        verbose_name_plural = _("已签发通报")
        ordering = ["report", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["report", "version"], name="issued_circular_unique_version"),
            models.CheckConstraint(condition=Q(version__gte=1), name="issued_circular_version_positive"),
        ]

    def __str__(self):
        return _("%(report)s 第%(version)d版") % {"report": self.report, "version": self.version}


class CircularEvent(models.Model):
    """The journal of a circular: who saved, issued or changed its letterhead, and when."""

    class Action(models.TextChoices):
        SAVED = "saved", _("保存草稿")
        ISSUED = "issued", _("签发")
        SETTINGS = "settings", _("修改发文设置")

    report = models.ForeignKey(Report, verbose_name=_("报表"), on_delete=models.CASCADE, related_name="circular_events")
    action = models.CharField(_("操作"), max_length=20, choices=Action.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("操作人"), null=True,
                              on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(_("时间"), default=timezone.now)
    note = models.CharField(_("说明"), max_length=200, blank=True)

    objects = ReportScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("通报操作记录")
        verbose_name_plural = _("通报操作记录")
        ordering = ["-at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(action__in=["saved", "issued", "settings"]),
                                              name="circular_event_action_valid")]

    def __str__(self):
        return f"{self.get_action_display()} · {self.actor}"
