"""Report records: one row per (kind, period, scope), claimed with a conditional UPDATE, built by the
worker (ledgers/tasks.py) from the figures and the writers, and the periodic jobs that fill in missing periods."""

import datetime
import logging
import os
import time

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import Campaign, Report, Role, Unit, User
from ..workdays import WorkCalendar
from .figures import Period, compute_figures
from .workbook import build_workbook, weekly_title

logger = logging.getLogger(__name__)

# A report found RUNNING for longer than this was left by a worker that died; it may be claimed again.
# Read at call time, so a test worker (tests/test_faults.py) can shorten it to seconds.
STALE_RUNNING = datetime.timedelta(minutes=30)
# A report still QUEUED this long after it was asked for was probably never sent (the broker was
# down); requeue_waiting_reports sends it again. A second message for the same report is harmless:
# claim_report lets only one run build it, the other finds it taken or done and stops.
REQUEUE_AFTER = datetime.timedelta(minutes=5)
# Test-only hook: a worker started with this variable waits that many seconds after claiming a
# report and before building it, so tests/test_faults.py can kill it in the middle of a report.
PAUSE_ENV = "WALKFLOW_TEST_REPORT_PAUSE"
# The periodic jobs fill at most this many missing periods per scope in one run.
MAX_BACKFILL = {Report.Kind.WEEKLY: 26, Report.Kind.MONTHLY: 12}


# ---------------------------------------------------------------------------------------------
# Report records: one row per (kind, period, scope), claimed with a conditional UPDATE
# ---------------------------------------------------------------------------------------------


def ensure_report(kind, period, scope, requested_by=None):
    """The Report row for (kind, period, scope), queued again unless a worker is on it right now.

    Returns (report, queued): `queued` is False when a fresh run is in progress, in which case
    nothing changes. Running a report twice therefore replaces its file and keeps one row.
    """
    now = timezone.now()
    with transaction.atomic():
        report, created = Report.objects.select_for_update().get_or_create(
            kind=kind, period=period.label, scope=scope,
            defaults=dict(period_start=period.start, period_end=period.end, requested_by=requested_by,
                          requested_at=now),
        )
        if created:
            return report, True
        if report.status == Report.Status.RUNNING and report.started_at and now - report.started_at < STALE_RUNNING:
            return report, False
        report.status, report.progress, report.error, report.attempts = Report.Status.QUEUED, 0, "", 0
        report.requested_at, report.period_start, report.period_end = now, period.start, period.end
        fields = ["status", "progress", "error", "attempts", "requested_at", "period_start", "period_end"]
        if requested_by is not None:
            report.requested_by = requested_by
            fields.append("requested_by")
        report.save(update_fields=fields)
    return report, True


def claim_report(report_id):
    """Mark the report RUNNING if nobody else is running it; True when this caller got it."""
    now = timezone.now()
    claimable = Q(status__in=[Report.Status.QUEUED, Report.Status.FAILED]) | Q(
        status=Report.Status.RUNNING, started_at__lt=now - STALE_RUNNING)
    return bool(Report.objects.filter(claimable, pk=report_id).update(
        status=Report.Status.RUNNING, started_at=now, progress=1, error="", attempts=F("attempts") + 1))


def set_progress(report_id, percent):
    Report.objects.filter(pk=report_id, status=Report.Status.RUNNING).update(progress=percent)


def run_report(report_id, *, today=None):
    """Build the workbook of a claimed report and store it, replacing any earlier file.

    Returns the report, or None when someone else holds it. Exceptions propagate to the caller
    (the task), which records them and retries.
    """
    from django.core.files.base import ContentFile


    if not claim_report(report_id):
        return None
    if os.environ.get(PAUSE_ENV):
        time.sleep(float(os.environ[PAUSE_ENV]))
    report = Report.objects.select_related("scope").get(pk=report_id)
    period = Period.parse(report.kind, report.period)
    content = build_workbook(report.kind, report.scope, period, today=today,
                             progress=lambda percent: set_progress(report_id, percent))
    old_name = report.file.name if report.file else ""
    report.file.save(report_filename(report), ContentFile(content), save=False)
    report.status, report.progress, report.finished_at, report.error = Report.Status.DONE, 100, timezone.now(), ""
    report.save(update_fields=["file", "status", "progress", "finished_at", "error"])
    if old_name and old_name != report.file.name:
        report.file.storage.delete(old_name)
    return report


def record_failure(report_id, error, *, final):
    """Keep the reason on the row; a report that will be retried goes back to the queue."""
    text = f"{type(error).__name__}: {error}"[:2000]
    if final:
        message = _("生成失败（已重试，不再自动重试）：%(error)s") % {"error": text}
        status = Report.Status.FAILED
    else:
        message = _("生成出错，将自动重试：%(error)s") % {"error": text}
        status = Report.Status.QUEUED
    Report.objects.filter(pk=report_id).update(status=status, error=message, finished_at=timezone.now())


def report_filename(report):
    period = Period.parse(report.kind, report.period)
    kind = _("月通报") if report.kind == Report.Kind.MONTHLY else _("周汇总")
    return f"{period.title()}{kind}-{report.scope.name}.xlsx"


def missing_periods(kind, scope, today):
    """Periods from the one after the last DONE report up to the last complete one, oldest first.

    With no DONE report yet, filling starts at the period in which the scope's earliest campaign
    started. At most MAX_BACKFILL periods, the most recent ones.
    """
    last = Period.last_complete(kind, today)
    done = (Report.objects.filter(kind=kind, scope=scope, status=Report.Status.DONE)
            .order_by("-period_start").values_list("period_start", flat=True).first())
    if done is not None:
        start = Period.containing(kind, done).next()
    else:
        first_campaign = (Campaign.objects.filter(unit__path__startswith=scope.path).order_by("start_date")
                          .values_list("start_date", flat=True).first())
        start = Period.containing(kind, first_campaign) if first_campaign else last
    periods = []
    period = last
    while period.start >= start.start and len(periods) < MAX_BACKFILL[kind]:
        periods.append(period)
        period = period.previous()
    return periods[::-1]


def top_scopes():
    return list(Unit.objects.filter(parent__isnull=True, is_active=True).order_by("sort_order", "path"))


def schedule_missing(kind, today, enqueue):
    """Queue a report for every missing period of every top-level scope; safe to run again.

    `enqueue(report_id, mail)` is called after commit. Only the newest period of a weekly backlog
    is mailed: after an outage the leaders get this week's summary, not a pile of old ones.
    """
    queued = []
    for scope in top_scopes():
        periods = missing_periods(kind, scope, today)
        for period in periods:
            report, fresh = ensure_report(kind, period, scope)
            if not fresh:
                continue
            mail = kind == Report.Kind.WEEKLY and period == periods[-1]
            transaction.on_commit(lambda pk=report.pk, mail=mail: enqueue(pk, mail), robust=True)
            queued.append(report.pk)
    return queued


def requeue_waiting_reports(enqueue, *, max_attempts, now=None):
    """Send again every report left waiting: QUEUED since before REQUEUE_AFTER (its message was lost
    or never sent, e.g. the broker was down when it was asked for) or RUNNING since before
    STALE_RUNNING (its worker died). Returns the ids sent; safe to run as often as wanted.

    A report already tried `max_attempts` times is marked FAILED instead: a report that kills its
    worker every time must not be sent again forever. `enqueue(report_id, mail)` as in
    schedule_missing; a weekly report of the scheduler (nobody asked for it) for the last complete
    week is mailed when done, as schedule_missing would have done.
    """
    now = now or timezone.now()
    waiting = Report.objects.filter(
        Q(status=Report.Status.QUEUED, requested_at__lt=now - REQUEUE_AFTER)
        | Q(status=Report.Status.RUNNING, started_at__lt=now - STALE_RUNNING))
    waiting.filter(attempts__gte=max_attempts).update(
        status=Report.Status.FAILED, finished_at=now,
        error=_("生成多次中断（已尝试 %(n)d 次），不再自动重试。") % {"n": max_attempts})
    last_week = Period.last_complete(Report.Kind.WEEKLY, timezone.localdate(now)).label
    sent = []
    for pk, kind, period, requested_by in (waiting.filter(attempts__lt=max_attempts).order_by("requested_at", "id")
                                           .values_list("pk", "kind", "period", "requested_by")):
        mail = kind == Report.Kind.WEEKLY and requested_by is None and period == last_week
        if enqueue(pk, mail) is False:
            break  # the broker is still down: the next run tries again
        sent.append(pk)
    return sent


# ---------------------------------------------------------------------------------------------
# The weekly e-mail
# ---------------------------------------------------------------------------------------------


def send_weekly_summaries(scope, period, *, today=None):
    """Mail each unit's leaders and supervisors the week's figures of their own unit's subtree,
    as an HTML page with the xlsx attached. Returns the number of messages sent."""
    from django.conf import settings
    from django.core.mail import EmailMultiAlternatives
    from django.template.loader import render_to_string


    today = today or timezone.localdate()
    calendar = WorkCalendar()
    users = (User.objects.filter(is_active=True, groups__name__in=[Role.LEADER, Role.SUPERVISOR],
                                 unit__path__startswith=scope.path)
             .exclude(email="").select_related("unit").distinct().order_by("unit__path", "id"))
    by_unit = {}
    for user in users:
        by_unit.setdefault(user.unit, []).append(user)
    sent = 0
    for unit, recipients in by_unit.items():
        figures = compute_figures(unit, period, today=today, calendar=calendar)
        content = build_workbook(Report.Kind.WEEKLY, unit, period, today=today, figures=figures)
        context = {"figures": figures, "title": weekly_title(period), "unit": unit,
                   "site_url": getattr(settings, "SITE_URL", "")}
        message = EmailMultiAlternatives(
            subject=_("【走流程台账】%(title)s（%(unit)s）") % {"title": weekly_title(period), "unit": unit.name},
            body=render_to_string("ledgers/email/weekly_summary.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL, to=[user.email for user in recipients])
        message.attach_alternative(render_to_string("ledgers/email/weekly_summary.html", context), "text/html")
        message.attach(f"{period.title()}周汇总-{unit.name}.xlsx", content,
                       "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        try:
            message.send()
            sent += 1
        except Exception:  # a mail server that is down must not fail the report; the next unit may go through
            logger.exception("周汇总邮件发送失败：%s", unit.name)
    return sent
