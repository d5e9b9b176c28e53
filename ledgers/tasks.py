"""Celery tasks: thin wrappers that take a period or a report id and call ledgers.reports.jobs.

The beat schedule in settings names weekly_summaries, monthly_circulars, daily_reminders and
requeue_waiting_reports.
Beat may miss runs (it was down, Redis was down), so each periodic task fills every missing period
since the last report that was done, and every task is safe to run again.
"""

import datetime
import logging

from celery import shared_task
from django.db import DatabaseError
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnavailable

from . import reminders
from .reports import jobs
from .reports.figures import Period
from .models import Report

logger = logging.getLogger(__name__)


def _day(value):
    """Tasks take an optional ISO date (for reruns by hand); the default is today in Asia/Shanghai."""
    return datetime.date.fromisoformat(value) if value else timezone.localdate()


@shared_task(bind=True, autoretry_for=(Exception,), retry_backoff=30, retry_backoff_max=600, retry_jitter=True,
             max_retries=3, acks_late=True)
def build_report(self, report_id, mail=False):
    """Build one Report's workbook. On error the row keeps the reason; after the last retry it is FAILED."""
    try:
        report = jobs.run_report(report_id)
    except Exception as error:
        jobs.record_failure(report_id, error, final=self.request.retries >= self.max_retries)
        raise
    if report is None:
        return "skipped"  # someone else holds it, or it is gone
    if mail and report.kind == Report.Kind.WEEKLY:
        try:
            period = Period.parse(report.kind, report.period)
            jobs.send_weekly_summaries(report.scope, period)
        except Exception:  # the report is done; a mail failure must not rebuild it
            logger.exception("周汇总邮件发送失败：报表 %s", report_id)
    return "done"


# A publish from a web request waits at most about this long per attempt. A broker that accepts
# the connection and never answers (a hung Redis) otherwise holds the request for the full socket
# timeout of every retry (the worker's 5 s, measured 20 s in all); a healthy Redis on the intranet
# answers a publish in milliseconds.
PUBLISH_TIMEOUT = 1.0
PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.1}


def publish(task, *args):
    """Send `task` over a connection of its own with short socket timeouts (the worker keeps the
    settings' longer ones); raises BrokerUnavailable when the broker does not take it in time."""
    if task.app.conf.task_always_eager:
        return task.delay(*args)
    timeouts = {"socket_timeout": PUBLISH_TIMEOUT, "socket_connect_timeout": PUBLISH_TIMEOUT}
    with task.app.connection_for_write(connect_timeout=PUBLISH_TIMEOUT, transport_options=timeouts) as connection:
        return task.apply_async(args, connection=connection, retry=True, retry_policy=PUBLISH_RETRY_POLICY)


def enqueue_report(report_id, mail=False):
    """Send a report to the worker; False when the broker cannot be reached.

    A broker that is down must not fail the request or the periodic job that asked (Celery retries
    the publish briefly, CELERY_TASK_PUBLISH_RETRY_POLICY, then raises): the report stays QUEUED and
    requeue_waiting_reports sends it again once the broker is back.
    """
    try:
        publish(build_report, report_id, mail)
    except BrokerUnavailable:
        logger.warning("任务队列不可用：报表 %s 保持排队，队列恢复后由定时任务补发", report_id, exc_info=True)
        return False
    return True


@shared_task(autoretry_for=(DatabaseError,), retry_backoff=True, max_retries=3)
def weekly_summaries(today=None):
    return jobs.schedule_missing(Report.Kind.WEEKLY, _day(today), enqueue_report)


@shared_task(autoretry_for=(DatabaseError,), retry_backoff=True, max_retries=3)
def monthly_circulars(today=None):
    return jobs.schedule_missing(Report.Kind.MONTHLY, _day(today), enqueue_report)


@shared_task(autoretry_for=(DatabaseError,), retry_backoff=True, max_retries=3)
def daily_reminders(today=None):
    sent = reminders.daily_scan(_day(today))
    return {str(kind): n for kind, n in sent.items()}


@shared_task(autoretry_for=(DatabaseError,), retry_backoff=True, max_retries=3)
def requeue_waiting_reports():
    """Every few minutes (beat): send again the reports whose message was lost or whose worker died."""
    return jobs.requeue_waiting_reports(enqueue_report, max_attempts=build_report.max_retries + 1)


@shared_task(acks_late=True)
def export_ledger(export_id):
    """Build one large ledger export (ledgers.ledger_export.build_export); a rerun does nothing."""
    from .ledger_export import build_export

    build_export(export_id)
    return "done"


def enqueue_export(export_id):
    """Send an export to the worker; when the broker cannot be reached the export is marked failed
    with a reason the user can read, and they can ask again."""
    from .models import LedgerExport

    try:
        publish(export_ledger, export_id)
    except BrokerUnavailable:
        logger.warning("任务队列不可用：台账导出 %s 未能排队", export_id, exc_info=True)
        LedgerExport.objects.filter(pk=export_id, status=LedgerExport.Status.QUEUED).update(
            status=LedgerExport.Status.FAILED, error="任务队列服务暂时不可用，请稍后重新导出。", finished_at=timezone.now())
        return False
    return True


@shared_task(acks_late=True)
def preview_import(batch_id):
    """Read and check an uploaded import (ledgers.imports.run_preview); a rerun does nothing."""
    from . import imports

    imports.run_preview(batch_id)
    return "done"


@shared_task(acks_late=True)
def commit_import(batch_id):
    """Write a confirmed import in one transaction (ledgers.imports.run_commit); a rerun does nothing."""
    from . import imports

    imports.run_commit(batch_id)
    return "done"


def enqueue_import(batch_id, step):
    """Send an import step ("preview" or "commit") to the worker; when the broker cannot be reached
    the batch says so and nothing is written."""
    from .models import ImportBatch

    task = preview_import if step == "preview" else commit_import
    try:
        task.delay(batch_id)
    except BrokerUnavailable:
        logger.warning("任务队列不可用：导入 %s 未能排队", batch_id, exc_info=True)
        back = ImportBatch.Status.MAPPING if step == "preview" else ImportBatch.Status.PREVIEWED
        ImportBatch.objects.filter(pk=batch_id).update(status=back, error="任务队列服务暂时不可用，请稍后重试。")
        return False
    return True


@shared_task(acks_late=True)
def deliver_webhooks():
    """One sweep of the webhook outbox (every minute by beat, and right after a change commits)."""
    from .api.webhooks import sweep

    return sweep()
