"""The circular's document from draft to issued version: the one place that builds it, saves the
clerk's paragraphs, changes a unit's letterhead and issues (freezes) a version. Each change is one
transaction that also writes a CircularEvent."""

import hashlib
from dataclasses import asdict

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import Report
from .document import Letterhead, build_document
from .figures import Period, compute_figures, figures_as_dict
from .models import CircularDraft, CircularEvent, CircularSettings, IssuedCircular
from .narrative import draft, gather
from .workbook import build_workbook

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def settings_for(unit):
    """The unit's letterhead (unsaved and blank when it has none)."""
    return CircularSettings.objects.filter(unit=unit).first() or CircularSettings(unit=unit)


def draft_for(report):
    saved = CircularDraft.objects.filter(report=report).first() if report.pk else None
    return saved or CircularDraft(report=report)


def letterhead(report, circular_draft, day):
    unit_settings = settings_for(report.scope)
    return Letterhead(mark=unit_settings.mark, number=unit_settings.document_number(circular_draft.serial, day.year),
                      recipients=unit_settings.recipients, signature=unit_settings.signature or report.scope.name,
                      date=day)


def compose(report, *, today=None, figures=None):
    """(content, narrative, letterhead) of the report's circular as of `today`."""
    today = today or timezone.localdate()
    period = Period.parse(report.kind, report.period)
    content = gather(report.kind, report.scope, period, today=today, figures=figures)
    circular_draft = draft_for(report)
    return content, draft(content, circular_draft.texts()), letterhead(report, circular_draft, today)


def document_bytes(report, *, today=None):
    return build_document(*compose(report, today=today))


def filename(report, extension, version=None):
    period = Period.parse(report.kind, report.period)
    kind = _("月通报") if report.kind == Report.Kind.MONTHLY else _("周汇总")
    suffix = _("（第%(n)d版）") % {"n": version} if version else _("（草稿）")
    return f"{period.title()}{kind}-{report.scope.name}{suffix}.{extension}"


@transaction.atomic
def save_draft(report, user, values):
    circular_draft = draft_for(report)
    for name, value in values.items():
        setattr(circular_draft, name, value)
    circular_draft.updated_at, circular_draft.updated_by = timezone.now(), user
    circular_draft.save()
    CircularEvent.objects.create(report=report, action=CircularEvent.Action.SAVED, actor=user)
    return circular_draft


@transaction.atomic
def save_settings(report, user, values):
    unit_settings = settings_for(report.scope)
    for name, value in values.items():
        setattr(unit_settings, name, value)
    unit_settings.updated_at, unit_settings.updated_by = timezone.now(), user
    unit_settings.save()
    CircularEvent.objects.create(report=report, action=CircularEvent.Action.SETTINGS, actor=user,
                                 note=_("发文单位：%(unit)s") % {"unit": report.scope.name})
    return unit_settings


def issue(report, user, *, today=None):
    """Freeze the circular as it stands: the document and the workbook from one computation of the
    figures, stored with their SHA-256 and the figures themselves, as the next version."""
    today = today or timezone.localdate()
    period = Period.parse(report.kind, report.period)
    figures = compute_figures(report.scope, period, today=today)
    content, narrative, head = compose(report, today=today, figures=figures)
    document = build_document(content, narrative, head)
    workbook = build_workbook(report.kind, report.scope, period, today=today, figures=figures)
    issued = IssuedCircular(report=report, number=head.number, title=narrative.title, issued_by=user,
                            figures=figures_as_dict(figures), narrative=asdict(narrative),
                            docx_sha256=hashlib.sha256(document).hexdigest(),
                            xlsx_sha256=hashlib.sha256(workbook).hexdigest())
    try:
        with transaction.atomic():
            # The report row is the lock: two clerks issuing at once get versions n and n + 1.
            Report.objects.select_for_update().filter(pk=report.pk).first()
            issued.version = (IssuedCircular.objects.filter(report=report).aggregate(n=Max("version"))["n"] or 0) + 1
            issued.docx.save(f"v{issued.version}.docx", ContentFile(document), save=False)
            issued.xlsx.save(f"v{issued.version}.xlsx", ContentFile(workbook), save=False)
            issued.save()
            CircularEvent.objects.create(report=report, action=CircularEvent.Action.ISSUED, actor=user,
                                         note=_("第%(n)d版 %(number)s") % {"n": issued.version, "number": head.number})
    except Exception:
        for stored in (issued.docx, issued.xlsx):
            if stored.name:
                stored.storage.delete(stored.name)
        raise
    return issued
