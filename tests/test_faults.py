"""Faults: the broker (Redis) stops while the web app runs, and a worker dies in the middle of a report.

Every test that needs Redis starts its OWN throwaway redis-server on a free loopback port (no
persistence) and kills it at the end, so the shared Redis at 6379 is never touched, and points
Celery at it for the test only. What is proven:

- Redis down: the pages answer 200, asking for a report is accepted (the row stays QUEUED) with a
  Chinese message saying it will be made once the queue service is back, never a 500;
- Redis back: requeue_waiting_reports (beat, every 5 minutes) sends the waiting report again and a
  real worker builds it (PostgreSQL only: the worker is another process and needs a shared database);
- a worker killed (SIGKILL) while it holds a report: after the broker re-delivers the unacknowledged
  message, another worker finishes it: one row, one file, DONE.
"""

import datetime
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest
import redis
from django.db import connection
from django.test import TestCase, TransactionTestCase
from django.urls import reverse
from django.utils import timezone
from kombu import pools

from ledgers import tasks
from ledgers.reports import jobs
from ledgers.models import Report
from ledgers.reports.figures import Period
from ledgers.reports.jobs import ensure_report
from tests.test_tasks_worker import BASE_DIR, database_url
from tests.world import build_world
from walkflow.celery import app

WAIT_SECONDS = 90
QUEUE_DOWN = "任务队列服务暂时不可用"
MAY = "2022-05"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ThrowawayRedis:
    """A redis-server of the test's own: loopback, a free port, nothing written to disk."""

    def __init__(self):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="walkflow-test-redis-")
        self.process = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self):
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.dir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client().ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.05)

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def queued_tasks(self, queue="celery"):
        """Task names and arguments of the messages waiting in a queue (kombu's JSON envelope)."""
        found = []
        for raw in self.client().lrange(queue, 0, -1):
            message = json.loads(raw)
            found.append((message["headers"]["task"], message["headers"]["argsrepr"]))
        return found


def point_celery_at(url, *, eager):
    """Send this process's tasks to `url`; returns what to call to put everything back."""
    previous = app.conf.broker_url, app.conf.task_always_eager

    def forget_pools():
        # The app keeps its connection and producer pools for the broker it first used; kombu keeps
        # them in a registry by broker URL. Drop the app's references so the next publish goes to
        # the URL now configured.
        app._pool = None
        app.amqp._producer_pool = None

    forget_pools()
    app.conf.broker_url, app.conf.task_always_eager = url, eager

    def restore():
        # Close every pooled broker connection of this process (the throwaway's included) and empty
        # kombu's registry: later tests open fresh ones to their own broker.
        pools.reset()
        forget_pools()
        app.conf.broker_url, app.conf.task_always_eager = previous

    return restore


def needs_redis_server(testcase):
    if shutil.which("redis-server") is None:
        testcase.skipTest("未安装 redis-server：故障测试需要自行启动一个临时 Redis（apt-get install redis-server）")


class BrokerTestMixin:
    """A throwaway Redis per test, up at the start, with Celery pointed at it and not eager."""

    def start_broker(self):
        needs_redis_server(self)
        self.broker = ThrowawayRedis()
        self.addCleanup(self.broker.close)
        self.broker.start()
        self.addCleanup(point_celery_at(self.broker.url, eager=False))

    def request_report(self, user, month=MAY):
        self.client.force_login(user)
        return self.client.post(reverse("report_request"), {"kind": "monthly", "month": month,
                                                             "scope": user.unit_id})


@pytest.mark.redis
class BrokerDownTests(BrokerTestMixin, TransactionTestCase):
    # Real commits (no test transaction around the view): the enqueue runs where it does in
    # production, at the commit inside the view, before the view picks its message.

    def setUp(self):
        self.start_broker()
        self.w = build_world()

    def test_it_sends_a_report_request_to_a_running_broker(self):
        # The control case: the throwaway broker is really the one in use.
        response = self.request_report(self.w.erin)
        report = Report.objects.get(kind="monthly", period=MAY, scope=self.w.P)
        self.assertRedirects(response, reverse("report_detail", args=[report.pk]), fetch_redirect_response=False)
        self.assertEqual(self.broker.queued_tasks(), [("ledgers.tasks.build_report", f"({report.pk}, False)")])
        page = self.client.get(response.url)
        self.assertContains(page, "已提交生成")

    def test_it_keeps_pages_working_and_the_report_queued_while_redis_is_down(self):
        self.broker.stop()
        self.client.force_login(self.w.bob)
        for name in ("home", "ledger", "reports"):
            self.assertEqual(self.client.get(reverse(name)).status_code, 200, name)

        with self.assertLogs("ledgers.tasks", "WARNING") as logs:
            response = self.request_report(self.w.erin)
        report = Report.objects.get(kind="monthly", period=MAY, scope=self.w.P)
        self.assertRedirects(response, reverse("report_detail", args=[report.pk]), fetch_redirect_response=False)
        self.assertEqual(report.status, Report.Status.QUEUED)
        self.assertIn(f"报表 {report.pk} 保持排队", logs.output[0])
        page = self.client.get(response.url)
        self.assertContains(page, QUEUE_DOWN)
        self.assertContains(page, "排队中")
        self.assertEqual(self.client.get(reverse("reports")).status_code, 200)

        # Asking again while it is down: still one row, still queued, still no error page.
        with self.assertLogs("ledgers.tasks", "WARNING"):
            again = self.request_report(self.w.erin)
        self.assertEqual(again.status_code, 302)
        self.assertEqual(Report.objects.filter(kind="monthly", period=MAY, scope=self.w.P).count(), 1)

    def test_it_sends_the_waiting_report_once_redis_is_back(self):
        self.broker.stop()
        with self.assertLogs("ledgers.tasks", "WARNING"):
            self.request_report(self.w.erin)
        report = Report.objects.get(kind="monthly", period=MAY, scope=self.w.P)
        later = timezone.now() + jobs.REQUEUE_AFTER + datetime.timedelta(minutes=1)

        # Beat's next run while Redis is still down: nothing sent, nothing raised, still queued.
        with self.assertLogs("ledgers.tasks", "WARNING"):
            self.assertEqual(jobs.requeue_waiting_reports(tasks.enqueue_report, max_attempts=4, now=later), [])
        report.refresh_from_db()
        self.assertEqual(report.status, Report.Status.QUEUED)

        self.broker.start()
        self.assertEqual(jobs.requeue_waiting_reports(tasks.enqueue_report, max_attempts=4, now=later),
                         [report.pk])
        self.assertEqual(self.broker.queued_tasks(), [("ledgers.tasks.build_report", f"({report.pk}, False)")])


class RequeueTests(TestCase):
    """Which reports requeue_waiting_reports sends again, with a stand-in for the broker."""

    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()

    def setUp(self):
        self.sent = []
        self.now = timezone.now()

    def enqueue(self, report_id, mail):
        self.sent.append((report_id, mail))
        return True

    def report(self, period, kind=Report.Kind.MONTHLY, **fields):
        report, _queued = ensure_report(kind, Period.parse(kind, period), self.w.P)
        Report.objects.filter(pk=report.pk).update(**fields)
        return report

    def requeue(self):
        return jobs.requeue_waiting_reports(self.enqueue, max_attempts=4, now=self.now)

    def test_it_sends_reports_left_waiting_and_leaves_fresh_or_finished_ones(self):
        ago = lambda **delta: self.now - datetime.timedelta(**delta)  # noqa: E731
        lost = self.report("2022-04", requested_at=ago(minutes=6))
        orphan = self.report("2022-03", status=Report.Status.RUNNING, requested_at=ago(minutes=40),
                             started_at=ago(minutes=31), attempts=1)
        self.report("2022-05", requested_at=ago(minutes=1))  # just asked for: its message is on its way
        self.report("2022-06", status=Report.Status.RUNNING, started_at=ago(minutes=2), attempts=1)
        self.report("2022-07", status=Report.Status.DONE, requested_at=ago(days=3))
        self.report("2022-08", status=Report.Status.FAILED, requested_at=ago(days=3))
        self.assertEqual(self.requeue(), [orphan.pk, lost.pk])  # oldest request first
        self.assertEqual(self.sent, [(orphan.pk, False), (lost.pk, False)])

    def test_it_gives_up_on_a_report_that_keeps_killing_its_worker(self):
        report = self.report("2022-04", status=Report.Status.RUNNING, attempts=4,
                             started_at=self.now - datetime.timedelta(hours=1))
        self.assertEqual(self.requeue(), [])
        report.refresh_from_db()
        self.assertEqual(report.status, Report.Status.FAILED)
        self.assertIn("不再自动重试", report.error)

    def test_it_mails_the_scheduler_s_last_weekly_summary_when_it_is_sent_again(self):
        last = Period.last_complete(Report.Kind.WEEKLY, timezone.localdate(self.now))
        older = last.previous()
        earlier = self.now - datetime.timedelta(hours=1)
        newest = self.report(last.label, kind=Report.Kind.WEEKLY, requested_at=earlier)
        backlog = self.report(older.label, kind=Report.Kind.WEEKLY, requested_at=earlier)
        self.requeue()
        self.assertEqual(sorted(self.sent), sorted([(newest.pk, True), (backlog.pk, False)]))

    def test_it_stops_at_the_first_refused_send(self):
        first = self.report("2022-03", requested_at=self.now - datetime.timedelta(hours=2))
        self.report("2022-04", requested_at=self.now - datetime.timedelta(hours=1))
        refused = []
        self.enqueue = lambda report_id, mail: refused.append(report_id) or False
        self.assertEqual(self.requeue(), [])
        self.assertEqual(refused, [first.pk])  # no point hammering a broker that just refused


# A worker of the test's own: the settings' worker with a few Celery knobs shortened so a killed
# worker's message comes back in seconds instead of hours. Run with `python -c`.
WORKER = """
import datetime, sys
import django
django.setup()
from ledgers.reports import jobs
from walkflow.celery import app
app.conf.broker_transport_options = {"visibility_timeout": 3, "unacked_restore_interval": 1,
                                     "unacked_restore_throttle": 1}
jobs.STALE_RUNNING = datetime.timedelta(seconds=2)
app.worker_main(["worker", "--pool", "solo", "--concurrency", "1", "--loglevel", "WARNING",
                 "--without-gossip", "--without-mingle", "--without-heartbeat"])
"""


@pytest.mark.redis
class RealWorkerFaultTests(BrokerTestMixin, TransactionTestCase):
    def setUp(self):
        if connection.vendor != "postgresql":
            self.skipTest("测试数据库在内存中（SQLite），worker 子进程无法访问：请用 DATABASE_URL=postgres://… 运行")
        self.start_broker()
        self.w = build_world()
        self.media = tempfile.mkdtemp(prefix="walkflow-test-faults-media-")
        self.addCleanup(shutil.rmtree, self.media, ignore_errors=True)
        self.logs = []

    def start_worker(self, **extra_env):
        log = tempfile.TemporaryFile()
        env = dict(os.environ, DATABASE_URL=database_url(), REDIS_URL=self.broker.url, MEDIA_ROOT=self.media,
                   DATABASE_CONN_MAX_AGE="0", **extra_env)
        worker = subprocess.Popen([sys.executable, "-c", WORKER], cwd=BASE_DIR, env=env, stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True)
        self.logs.append(log)
        self.addCleanup(self.end_worker, worker, log)
        return worker

    def end_worker(self, worker, log):
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=15)
        log.close()

    def worker_output(self):
        text = []
        for log in self.logs:
            log.seek(0)
            text.append(log.read().decode(errors="replace")[-2000:])
        return "\n---\n".join(text)

    def wait_for(self, report, *statuses):
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            report.refresh_from_db()
            if report.status in statuses:
                return report
            time.sleep(0.3)
        self.fail(f"report still {report.status} after {WAIT_SECONDS} s\n{self.worker_output()}")

    def report_files(self):
        return [os.path.join(root, name) for root, _dirs, names in os.walk(self.media) for name in names]

    def assert_one_done_report(self, report, attempts):
        self.assertEqual(report.status, Report.Status.DONE, self.worker_output())
        self.assertEqual(report.attempts, attempts)
        self.assertEqual(Report.objects.filter(kind=report.kind, period=report.period, scope=report.scope).count(), 1)
        files = self.report_files()
        self.assertEqual(len(files), 1, files)
        self.assertTrue(files[0].endswith(report.file.name))
        with open(files[0], "rb") as handle:
            self.assertEqual(handle.read(2), b"PK")

    def test_it_completes_a_report_asked_for_while_redis_was_down(self):
        self.broker.stop()
        response = self.request_report(self.w.erin)
        self.assertEqual(response.status_code, 302)
        report = Report.objects.get(kind="monthly", period=MAY, scope=self.w.P)
        self.assertEqual(report.status, Report.Status.QUEUED)
        self.assertContains(self.client.get(response.url), QUEUE_DOWN)

        self.broker.start()
        self.start_worker()
        # As beat would run it five minutes later; the worker runs the requeue, then the report.
        Report.objects.filter(pk=report.pk).update(requested_at=timezone.now() - datetime.timedelta(minutes=6))
        tasks.requeue_waiting_reports.delay()
        self.assert_one_done_report(self.wait_for(report, Report.Status.DONE, Report.Status.FAILED), attempts=1)

    def test_it_finishes_a_report_whose_worker_was_killed_in_the_middle(self):
        doomed = self.start_worker(**{jobs.PAUSE_ENV: "300"})
        report, _queued = ensure_report(Report.Kind.MONTHLY, Period.parse("monthly", MAY), self.w.P)
        tasks.build_report.delay(report.pk)
        self.wait_for(report, Report.Status.RUNNING)  # claimed, now paused before writing
        os.killpg(doomed.pid, signal.SIGKILL)
        doomed.wait(timeout=15)
        self.assertEqual(self.report_files(), [])

        # The broker still holds the unacknowledged message (acks_late); a new worker gets it back
        # once the visibility timeout has passed and takes over the report left RUNNING.
        self.start_worker()
        self.assert_one_done_report(self.wait_for(report, Report.Status.DONE, Report.Status.FAILED), attempts=2)
