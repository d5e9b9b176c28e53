"""Reports (office staff), the weekly summary page and the dashboard (leaders and supervisors).

Office staff ask for a circular or a summary; it is queued for the worker, the page follows its
progress and then offers the download. Every report, figure and download is limited to the
user's own unit and the units under it.
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from ..inputs import query_text
from ..reports.workbook import weekly_title
from ..models import Problem, Report, Role, Unit
from ..reports.dashboard import dashboard_figures
from ..reports.figures import Period, PeriodError, compute_figures
from ..reports.jobs import ensure_report, report_filename
from .common import get_visible_or_404, role_required

READERS = (Role.OFFICE, Role.LEADER, Role.SUPERVISOR, Role.ADMIN)
REQUESTERS = (Role.OFFICE, Role.ADMIN)
# Units offered as a report scope: down to counties; townships are read in their county's report.
SCOPE_LEVELS = (Unit.Level.PROVINCE, Unit.Level.CITY, Unit.Level.COUNTY)


def scope_units(user):
    if not user.unit_id:
        return Unit.objects.none()
    return Unit.objects.subtree(user.unit).filter(level__in=SCOPE_LEVELS, is_active=True).order_by("path")


class ReportRequestForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("报表类型"), choices=Report.Kind.choices)
    month = forms.CharField(label=gettext_lazy("月份"), required=False,
                            widget=forms.TextInput(attrs={"type": "month"}))
    week = forms.CharField(label=gettext_lazy("周次"), required=False,
                           widget=forms.TextInput(attrs={"type": "week"}))
    scope = forms.ModelChoiceField(label=gettext_lazy("范围"), queryset=Unit.objects.none(),
                                   error_messages={"invalid_choice": gettext_lazy("请选择本单位或下级单位。")})

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["scope"].queryset = scope_units(user)
        self.fields["scope"].initial = user.unit_id

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if not kind:
            return data
        text = data.get("month") if kind == Report.Kind.MONTHLY else data.get("week")
        try:
            period = Period.parse(kind, text)
        except PeriodError as error:
            raise forms.ValidationError({"month" if kind == Report.Kind.MONTHLY else "week": str(error)}) from None
        if period.start > timezone.localdate():
            raise forms.ValidationError(_("%(period)s尚未开始，不能生成报表。") % {"period": period.title()})
        data["period"] = period
        return data


def _default_form_data(user):
    today = timezone.localdate()
    return {"kind": Report.Kind.MONTHLY, "scope": user.unit_id,
            "month": Period.last_complete(Report.Kind.MONTHLY, today).label,
            "week": Period.last_complete(Report.Kind.WEEKLY, today).label}


def _render_list(request, form, status=200):
    reports = (Report.objects.visible_to(request.user).select_related("scope", "requested_by")
               .order_by("-requested_at", "-id"))
    page = Paginator(reports, 30).get_page(request.GET.get("page"))
    can_request = request.user.has_role(*REQUESTERS)
    return render(request, "ledgers/reports/list.html",
                  {"page": page, "form": form if can_request else None}, status=status)


@login_required
@role_required(*READERS)
def report_list(request):
    return _render_list(request, ReportRequestForm(user=request.user, initial=_default_form_data(request.user)))


@login_required
@role_required(*REQUESTERS)
@require_POST
def report_request(request):
    form = ReportRequestForm(request.POST, user=request.user)
    if not form.is_valid():
        return _render_list(request, form, status=400)
    from ..tasks import enqueue_report

    period, scope = form.cleaned_data["period"], form.cleaned_data["scope"]
    sent = {}
    with transaction.atomic():
        report, queued = ensure_report(form.cleaned_data["kind"], period, scope, requested_by=request.user)
        if queued:
            # After commit, or the worker could look for a row it cannot see yet. A broker that is
            # down makes enqueue_report answer False: the report stays queued, never an error page.
            transaction.on_commit(lambda: sent.update(ok=enqueue_report(report.pk)), robust=True)
    if not queued:
        messages.warning(request, _("该报表正在生成中，请稍候。"))
    elif sent.get("ok", True):
        messages.success(request, _("已提交生成，完成后可在本页下载。"))
    else:
        messages.warning(request, _("报表已登记，但任务队列服务暂时不可用；服务恢复后将自动生成，无需重复提交。"))
    return redirect("report_detail", pk=report.pk)


@login_required
@role_required(*READERS)
def report_detail(request, pk):
    from .circulars import circular_summary

    report = get_visible_or_404(Report, request.user, pk=pk)
    return render(request, "ledgers/reports/detail.html", {
        "report": report, "working": report.status in (Report.Status.QUEUED, Report.Status.RUNNING),
        "can_request": request.user.has_role(*REQUESTERS), **circular_summary(report),
    })


@login_required
@role_required(*READERS)
def report_download(request, pk):
    report = get_visible_or_404(Report, request.user, pk=pk)
    if report.status != Report.Status.DONE or not report.file:
        raise Http404
    try:
        handle = report.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    return FileResponse(handle, as_attachment=True, filename=report_filename(report),
                        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def _scope_from_request(request):
    """The unit asked for with ?unit=CODE, within the user's subtree (404 outside it)."""
    code = query_text(request.GET.get("unit"))
    if not code:
        if not request.user.unit_id:
            raise Http404
        return request.user.unit
    unit = scope_units(request.user).filter(code=code).first()
    if unit is None:
        raise Http404
    return unit


@login_required
@role_required(*READERS)
def weekly_summary(request):
    today = timezone.localdate()
    scope = _scope_from_request(request)
    error = None
    try:
        period = Period.parse(Report.Kind.WEEKLY, request.GET["week"]) if request.GET.get("week") else \
            Period.last_complete(Report.Kind.WEEKLY, today)
        if period.start > today:
            raise PeriodError(_("%(period)s尚未开始。") % {"period": period.title()})
    except PeriodError as exc:
        error, period = str(exc), Period.last_complete(Report.Kind.WEEKLY, today)
    figures = compute_figures(scope, period, today=today)
    # The tab opens the last complete week; this week so far is one tap away, and each is named.
    last_week, this_week = Period.last_complete(Report.Kind.WEEKLY, today), Period.containing(Report.Kind.WEEKLY, today)
    return render(request, "ledgers/reports/weekly.html", {
        "figures": figures, "title": weekly_title(period), "error": error, "scope": scope,
        "last_week": last_week, "this_week": this_week,
        "categories": _categories(figures),
        "units": scope_units(request.user), "previous": period.previous(),
        "next": period.next() if period.next().start <= today else None,
    }, status=400 if error else 200)


@login_required
@role_required(*READERS)
def dashboard(request):
    scope = _scope_from_request(request)
    data = dashboard_figures(scope, timezone.localdate())
    figures, first_monday = data["figures"], data["first_monday"]
    week_rows = [{"label": _("%(month)d月%(day)d日起") % {"month": monday.month, "day": monday.day},
                  "found": found, "closed": closed}
                 for monday, found, closed in zip(data["weeks"], data["found"], data["closed"])]
    categories = _categories(figures)
    units = [{"label": row.label, "red": row.red, "open": row.open,
              "rate": round(row.closure_rate * 100, 1) if row.closure_rate is not None else None,
              "covered": row.must_walk_covered} for row in figures.rows]
    chart = {"weeks": week_rows, "categories": categories, "units": units,
             "must_walk_total": figures.must_walk_total}
    return render(request, "ledgers/reports/dashboard.html", {
        "figures": figures, "chart": chart, "scope": scope, "units": scope_units(request.user),
        "week_rows": week_rows, "categories": categories, "first_monday": first_monday,
    })


def _categories(figures):
    return [{"label": str(label), "n": figures.total.by_category.get(value, 0)}
            for value, label in Problem.Category.choices]


urlpatterns = [
    path("reports/", report_list, name="reports"),
    path("reports/request/", report_request, name="report_request"),
    path("reports/<int:pk>/", report_detail, name="report_detail"),
    path("reports/<int:pk>/download/", report_download, name="report_download"),
    path("reports/weekly/", weekly_summary, name="weekly_summary"),
    path("reports/dashboard/", dashboard, name="dashboard"),
]
