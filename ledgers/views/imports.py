"""Import pages: upload -> confirm the columns -> preview (run by the worker, with a progress bar)
-> confirm -> done. Administrators import units and users into their subtree; office staff
import ledgers for theirs. Every page about a batch is its importer's only (ImportBatch.visible_to).
Also the activation page where an imported user sets their first password with their code."""

import hashlib

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import SetPasswordForm
from django.core.exceptions import PermissionDenied
from django.core.files import File
from django.db import transaction
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as lazy
from django.views.decorators.http import require_POST

from .. import imports
from ..imports import activation, headers, workbooks
from ..models import Campaign, ImportBatch, Problem, Role, Unit
from ..tasks import enqueue_import
from .common import get_visible_or_404

Kind = ImportBatch.Kind
Status = ImportBatch.Status
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _kinds_for(user):
    kinds = []
    if user.is_superuser or user.has_role(Role.ADMIN):
        kinds += [Kind.UNITS, Kind.USERS]
    if user.is_superuser or user.has_role(Role.OFFICE, Role.ADMIN):
        kinds.append(Kind.LEDGER)
    return kinds


def _require_kind(user, kind):
    if kind not in Kind.values:
        raise Http404
    if kind not in _kinds_for(user):
        raise PermissionDenied


def _ledger_units(user):
    if user.is_superuser and not user.unit_id:
        return Unit.objects.filter(is_active=True)
    if not user.unit_id:
        return Unit.objects.none()
    return Unit.objects.subtree(user.unit).filter(is_active=True)


class UploadForm(forms.Form):
    file = forms.FileField(label=lazy("表格文件"), help_text=lazy("支持 .xlsx、.xlsm 和 .csv（UTF-8 或 GBK 编码）"))

    def __init__(self, *args, kind, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind
        if kind == Kind.LEDGER:
            self.fields["unit"] = forms.ModelChoiceField(label=lazy("导入到单位"), queryset=_ledger_units(user),
                                                         initial=user.unit_id)
            campaigns = Campaign.objects.visible_to(user)
            self.fields["campaign"] = forms.ModelChoiceField(label=lazy("专项行动"), queryset=campaigns,
                                                             initial=campaigns.current().first())

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = getattr(settings, "IMPORT_MAX_BYTES", 20 * 1024 * 1024)
        if upload.size > limit:
            raise forms.ValidationError(_("文件超过 %(mb)s MB，请拆分后分批导入。") % {"mb": limit // (1024 * 1024)})
        if not upload.name.lower().endswith(imports.readers.SUFFIXES):
            raise forms.ValidationError(_("不是可以导入的表格文件：请上传 .xlsx、.xlsm 或 .csv 文件。"))
        return upload


@login_required
def import_index(request):
    kinds = _kinds_for(request.user)
    if not kinds:
        raise PermissionDenied
    batches = ImportBatch.objects.visible_to(request.user).select_related("unit")[:20]
    return render(request, "ledgers/imports/index.html", {"kinds": [(k, Kind(k).label) for k in kinds],
                                                          "batches": batches})


@login_required
def import_template(request, kind):
    _require_kind(request.user, kind)
    response = HttpResponse(workbooks.template(kind), content_type=XLSX)
    response["Content-Disposition"] = _attachment(str(workbooks.TEMPLATE_NAMES[kind]))
    return response


def _attachment(filename):
    from urllib.parse import quote

    return f"attachment; filename*=UTF-8''{quote(filename)}"


@login_required
def import_new(request, kind):
    user = request.user
    _require_kind(user, kind)
    form = UploadForm(request.POST or None, request.FILES or None, kind=kind, user=user)
    if request.method == "POST" and form.is_valid():
        unit = form.cleaned_data.get("unit") if kind == Kind.LEDGER else imports.import_unit_for(user)
        batch = _stored_batch(user, kind, form.cleaned_data["file"], unit, form.cleaned_data.get("campaign"))
        try:
            _layouts, offered = imports.inspect(imports.job_for(batch))
        except imports.Refused as error:
            batch.file.delete(save=False)
            batch.delete()  # nothing of a file that cannot be read is kept
            form.add_error("file" if isinstance(error, imports.BadFile) else None, error.message)
        else:
            batch.mapping = offered
            batch.save(update_fields=["mapping"])
            return redirect("import_mapping", batch.pk)
    return render(request, "ledgers/imports/new.html", {"form": form, "kind": kind, "kind_label": Kind(kind).label})


def _stored_batch(user, kind, upload, unit, campaign):
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    batch = ImportBatch(kind=kind, created_by=user, unit=unit, campaign=campaign, original_name=upload.name[:255],
                        size=upload.size, sha256=digest.hexdigest())
    batch.file.save(upload.name, File(upload), save=False)
    batch.save()
    return batch


def _batch(request, pk, *statuses):
    batch = get_visible_or_404(ImportBatch, request.user, pk=pk)
    if statuses and batch.status not in statuses:
        return None
    return batch


@login_required
def import_mapping(request, pk):
    batch = _batch(request, pk, Status.MAPPING, Status.PREVIEWED, Status.FAILED)
    if batch is None:
        return redirect("import_status", pk)
    fields = headers.FIELDS[batch.kind]
    choices = [("", _("（不导入）"))] + [(name, str(label)) for name, (label, _s) in fields.items()]
    columns = list(batch.mapping.items())
    if request.method == "POST":
        chosen = {}
        for index, (header, _offered) in enumerate(columns):
            value = request.POST.get(f"col-{index}", "")
            chosen[header] = value if value in fields else ""
        options = {}
        if batch.kind == Kind.LEDGER:
            category = request.POST.get("default_category", "")
            options["default_category"] = category if category in Problem.Category.values else ""
            options["default_owner"] = request.POST.get("default_owner", "").strip()[:150]
        batch.mapping, batch.options = chosen, options
        batch.status, batch.progress, batch.error, batch.summary = Status.PREVIEWING, 0, "", {}
        batch.save(update_fields=["mapping", "options", "status", "progress", "error", "summary"])
        imports.remember(imports.job_for(batch))
        transaction.on_commit(lambda: enqueue_import(batch.pk, "preview"))
        return redirect("import_status", batch.pk)
    rows = [(index, header, offered) for index, (header, offered) in enumerate(columns)]
    return render(request, "ledgers/imports/mapping.html", {
        "batch": batch, "rows": rows, "choices": choices, "categories": Problem.Category.choices,
        "required": [str(fields[name][0]) for name in headers.REQUIRED[batch.kind]]})


@login_required
def import_status(request, pk):
    batch = _batch(request, pk)
    context = {"batch": batch, "summary": batch.result if batch.status == Status.DONE else batch.summary,
               "running": batch.status in (Status.PREVIEWING, Status.COMMITTING)}
    if batch.status == Status.DONE and batch.kind == Kind.USERS:
        context["codes_pending"] = activation.pending(batch)
    return render(request, "ledgers/imports/status.html", context)


@login_required
def import_status_json(request, pk):
    batch = _batch(request, pk)
    return JsonResponse({"status": batch.status, "progress": batch.progress, "label": batch.get_status_display()})


@login_required
@require_POST
def import_confirm(request, pk):
    batch = _batch(request, pk, Status.PREVIEWED)
    if batch is None:  # a second click, or a batch already past its preview: its status page says where it is
        return redirect("import_status", pk)
    if batch.summary.get("errors"):
        messages.error(request, _("预览中有错误的行，请改正文件后重新上传。"))
        return redirect("import_status", pk)
    try:
        imports.check_access(batch.kind, request.user, batch.unit)
    except imports.Refused as error:
        raise PermissionDenied(error.message) from None
    claimed = ImportBatch.objects.filter(pk=batch.pk, status=Status.PREVIEWED).update(
        status=Status.COMMITTING, progress=0, error="")
    if claimed:  # a double click confirms once
        transaction.on_commit(lambda: enqueue_import(batch.pk, "commit"))
    return redirect("import_status", pk)


@login_required
@require_POST
def import_credentials(request, pk):
    """The activation codes of a users import, for its importer, once."""
    batch = _batch(request, pk, Status.DONE)
    if batch is None or batch.kind != Kind.USERS:
        raise Http404
    rows = activation.hand_out(batch)
    if not rows:
        messages.error(request, _("激活码已下载过，不能再次下载。需要时请重新导入该用户，系统会发放新的激活码。"))
        return redirect("import_status", pk)
    content = workbooks.credentials(rows, request.build_absolute_uri(reverse("activate")))
    response = HttpResponse(content, content_type=XLSX)
    response["Content-Disposition"] = _attachment(_("激活码-%(day)s.xlsx") % {"day": f"{timezone.localdate():%Y%m%d}"})
    response["Cache-Control"] = "no-store"
    return response


class ActivationForm(forms.Form):
    username = forms.CharField(label=lazy("用户名"), max_length=150)
    code = forms.CharField(label=lazy("激活码"), max_length=40)


def activate(request):
    """An imported user chooses their own first password with the code the administrator gave them."""
    form = ActivationForm(request.POST or None)
    password_form = SetPasswordForm(None, request.POST or None)
    if request.method == "POST" and form.is_valid():
        user, checked = activation.activate(form.cleaned_data["username"].strip(), form.cleaned_data["code"],
                                            lambda user: SetPasswordForm(user, request.POST))
        if user is None:
            form.add_error("code", _("用户名或激活码不正确，或激活码已使用、已过期。"))
        elif checked.is_valid():
            messages.success(request, _("账号已激活，请用新密码登录。"))
            return redirect("login")
        else:
            password_form = checked
    return render(request, "registration/activate.html", {"form": form, "password_form": password_form})


urlpatterns = [
    path("imports/", import_index, name="imports"),
    path("imports/templates/<slug:kind>.xlsx", import_template, name="import_template"),
    path("imports/<slug:kind>/new/", import_new, name="import_new"),
    path("imports/<int:pk>/mapping/", import_mapping, name="import_mapping"),
    path("imports/<int:pk>/", import_status, name="import_status"),
    path("imports/<int:pk>/status.json", import_status_json, name="import_status_json"),
    path("imports/<int:pk>/confirm/", import_confirm, name="import_confirm"),
    path("imports/<int:pk>/credentials/", import_credentials, name="import_credentials"),
    path("activate/", activate, name="activate"),
]
