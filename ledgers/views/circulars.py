"""The circular's document on the report page: the clerk edits the narrative's own paragraphs
(the drafted ones, which carry the figures, are shown but not editable), sets the unit's
letterhead, downloads the draft as .docx or PDF, and issues it, which freezes a numbered version.

Office staff of the report's scope edit and issue; everyone who may read the report downloads.
Every object is reached through `visible_to` (404 outside the user's subtree); every change is a
POST with CSRF and goes through ledgers/reports/circulars.py, which journals it.
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ..inputs import MAX_INTEGER
from ..models import Report
from ..reports import circulars, pdf
from ..reports.models import CircularDraft, CircularEvent, CircularSettings, IssuedCircular
from ..reports.narrative import EDITABLE, defaults
from .common import get_visible_or_404, role_required
from .reports import READERS, REQUESTERS

MAX_PARAGRAPH_CHARS = 5000
CONTENT_TYPES = {"docx": circulars.DOCX_TYPE, "xlsx": circulars.XLSX_TYPE, "pdf": "application/pdf"}


class DraftForm(forms.ModelForm):
    class Meta:
        model = CircularDraft
        fields = ["serial", *CircularDraft.TEXT_FIELDS]
        widgets = {name: forms.Textarea(attrs={"rows": 3, "maxlength": MAX_PARAGRAPH_CHARS})
                   for name in CircularDraft.TEXT_FIELDS}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["next_steps"].widget.attrs["rows"] = 8
        self.fields["serial"].widget.attrs.update(min=1, max=99999)
        for name in CircularDraft.TEXT_FIELDS:
            self.fields[name].max_length = MAX_PARAGRAPH_CHARS
            self.fields[name].validators.append(forms.fields.validators.MaxLengthValidator(MAX_PARAGRAPH_CHARS))

    def clean_serial(self):
        serial = self.cleaned_data.get("serial")
        if serial is not None and not 1 <= serial <= 99999:
            raise forms.ValidationError(_("发文序号应为 1 至 99999 之间的整数。"))
        return serial


class SettingsForm(forms.ModelForm):
    class Meta:
        model = CircularSettings
        fields = ["mark", "number_prefix", "recipients", "signature"]


def circular_summary(report):
    """What the report page shows of the circular: the issued versions and the journal."""
    return {
        "issued": list(IssuedCircular.objects.filter(report=report).select_related("issued_by").order_by("-version")),
        "circular_events": list(CircularEvent.objects.filter(report=report).select_related("actor")[:50]),
    }


def _render(request, report, *, draft_form=None, settings_form=None, status=200):
    """The circular page; forms not given are made unbound, blank paragraphs showing their default
    text so that the clerk edits the draft rather than a void."""
    content, narrative, head = circulars.compose(report)
    if draft_form is None:
        circular_draft = circulars.draft_for(report)
        drafted = defaults(content)
        draft_form = DraftForm(instance=circular_draft, initial={
            name: drafted[name] for name in EDITABLE if not getattr(circular_draft, name)})
    settings_form = settings_form or SettingsForm(instance=circulars.settings_for(report.scope))
    notes = ("overall_note", "effects_note", "problems_note", "next_steps")
    sections = [{"heading": section.heading, "fixed": [p.text for p in section.paragraphs if p.key is None],
                 "field": draft_form[note]} for section, note in zip(narrative.sections, notes)]
    return render(request, "ledgers/reports/circular.html", {
        "report": report, "narrative": narrative, "letterhead": head, "sections": sections,
        "form": draft_form, "settings_form": settings_form, "pdf_unavailable": pdf.unavailable_reason(),
        "can_edit": request.user.has_role(*REQUESTERS), **circular_summary(report),
    }, status=status)


@login_required
@role_required(*READERS)
def circular_edit(request, pk):
    report = get_visible_or_404(Report, request.user, pk=pk)
    if request.method != "POST":
        return _render(request, report)
    if not request.user.has_role(*REQUESTERS):
        raise PermissionDenied
    form = DraftForm(request.POST, instance=circulars.draft_for(report))
    if not form.is_valid():
        return _render(request, report, draft_form=form, status=400)
    circulars.save_draft(report, request.user, {name: form.cleaned_data[name] for name in form.fields})
    messages.success(request, _("通报正文已保存。"))
    return redirect("report_circular", pk=report.pk)


@login_required
@role_required(*REQUESTERS)
@require_POST
def circular_settings(request, pk):
    report = get_visible_or_404(Report, request.user, pk=pk)
    form = SettingsForm(request.POST, instance=circulars.settings_for(report.scope))
    if not form.is_valid():
        return _render(request, report, settings_form=form, status=400)
    circulars.save_settings(report, request.user, {name: form.cleaned_data[name] for name in form.fields})
    messages.success(request, _("发文设置已保存（%(unit)s）。") % {"unit": report.scope.name})
    return redirect("report_circular", pk=report.pk)


@login_required
@role_required(*REQUESTERS)
@require_POST
def circular_issue(request, pk):
    report = get_visible_or_404(Report, request.user, pk=pk)
    issued = circulars.issue(report, request.user)
    messages.success(request, _("已签发第%(n)d版，文件和数据已固定，今后台账变化不影响本版。") % {"n": issued.version})
    return redirect("report_circular", pk=report.pk)


def _file_response(request, report_pk, content, name, extension):
    """The file as an attachment; for "pdf", `content` (a .docx) converted first, or, when that
    cannot be done, back to the circular page with the reason in its messages."""
    if extension == "pdf":
        try:
            content = pdf.to_pdf(content, "docx")
        except pdf.PdfUnavailable as error:
            messages.error(request, str(error))
            return redirect("report_circular", pk=report_pk)
    response = HttpResponse(content, content_type=CONTENT_TYPES[extension])
    response["Content-Disposition"] = content_disposition_header(True, name)
    return response


@login_required
@role_required(*READERS)
def circular_download(request, pk, extension):
    """The draft as it stands today, regenerated from the current figures."""
    report = get_visible_or_404(Report, request.user, pk=pk)
    if extension not in ("docx", "pdf"):
        raise Http404
    return _file_response(request, report.pk, circulars.document_bytes(report), circulars.filename(report, extension),
                          extension)


@login_required
@role_required(*READERS)
def issued_download(request, pk, version, extension):
    """An issued version's stored file, byte for byte (PDF: converted from the stored document)."""
    if pk > MAX_INTEGER or version > MAX_INTEGER:
        raise Http404  # a foreign-key lookup past the integer columns crashes the database driver
    issued = get_object_or_404(IssuedCircular.objects.visible_to(request.user).select_related("report__scope"),
                               report_id=pk, version=version)
    if extension not in CONTENT_TYPES:
        raise Http404
    stored = issued.xlsx if extension == "xlsx" else issued.docx
    try:
        with stored.open("rb") as handle:
            content = handle.read()
    except FileNotFoundError:
        raise Http404 from None
    return _file_response(request, pk, content, circulars.filename(issued.report, extension, issued.version), extension)


urlpatterns = [
    path("reports/<int:pk>/circular/", circular_edit, name="report_circular"),
    path("reports/<int:pk>/circular/settings/", circular_settings, name="report_circular_settings"),
    path("reports/<int:pk>/circular/issue/", circular_issue, name="report_circular_issue"),
    path("reports/<int:pk>/circular/draft.<str:extension>", circular_download, name="report_circular_download"),
    path("reports/<int:pk>/circular/v<int:version>.<str:extension>", issued_download, name="report_issued_download"),
]
