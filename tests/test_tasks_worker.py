"""A real Celery worker against Redis builds a report queued through the broker (CI runs this).

The worker is a subprocess (`celery -A walkflow worker`, solo pool) pointed at this test's own
database and at a queue of its own, so that nobody else's worker on the same Redis takes the task.
"""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.test import TransactionTestCase

from ledgers import tasks
from ledgers.models import Report
from ledgers.reports.figures import Period
from ledgers.reports.jobs import ensure_report
from tests.world import build_world

BASE_DIR = Path(__file__).resolve().parent.parent
WAIT_SECONDS = 60


def database_url():
    """The URL of the database this test runs in (the test database, not the configured one)."""
    db = connection.settings_dict
    user = quote(db.get("USER") or "")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{user}{password}@{host}{port}/{db['NAME']}"


@pytest.mark.redis
class RealWorkerTestCase(TransactionTestCase):
    def setUp(self):
        if not settings.REDIS_URL:
            self.skipTest("未设置 REDIS_URL：真实 Celery worker 测试需要 Redis（CI 中设置并运行）")
        if connection.vendor != "postgresql":
            self.skipTest("测试数据库在内存中（SQLite），worker 子进程无法访问：请用 DATABASE_URL=postgres://… 运行")
        self.w = build_world()

    def test_it_builds_a_report_queued_through_the_broker(self):
        queue = f"walkflow-test-{uuid.uuid4().hex[:12]}"
        env = dict(os.environ, DATABASE_URL=database_url(), REDIS_URL=settings.REDIS_URL,
                   MEDIA_ROOT=str(settings.MEDIA_ROOT), DATABASE_CONN_MAX_AGE="0")
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "walkflow", "worker", "--pool", "solo", "--concurrency", "1",
             "--queues", queue, "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
             "--without-heartbeat"],
            cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            report, queued = ensure_report(Report.Kind.MONTHLY, Period.parse("monthly", "2022-05"), self.w.P)
            self.assertTrue(queued)
            tasks.build_report.apply_async(args=[report.pk], queue=queue)
            deadline = time.monotonic() + WAIT_SECONDS
            while time.monotonic() < deadline and worker.poll() is None:
                report.refresh_from_db()
                if report.status in (Report.Status.DONE, Report.Status.FAILED):
                    break
                time.sleep(0.5)
        finally:
            worker.terminate()
            try:
                output, _ = worker.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
                output, _ = worker.communicate()
        self.assertEqual(report.status, Report.Status.DONE, output.decode(errors="replace")[-3000:])
        self.assertEqual(report.attempts, 1)
        self.assertTrue(report.file.storage.exists(report.file.name))
        with report.file.open("rb") as handle:
            self.assertEqual(handle.read(2), b"PK")
