"""Faults: a broker that hangs. Unlike a stopped Redis (tests/test_faults.py), it accepts the TCP
connection and then never answers, so nothing fails until a socket timeout runs out: with the
worker's timeouts and publish retries that held a report request for 20 s. A web request publishes
over its own connection with short timeouts (ledgers.tasks.PUBLISH_TIMEOUT) and answers, as when
Redis is down, that the report stays queued and will be built later.

The silent broker is a plain socket of the test's own on a free loopback port: it accepts every
connection, reads what it is sent and never writes a byte."""

import socket
import threading
import time

from django.test import TransactionTestCase
from django.urls import reverse

from ledgers import tasks
from ledgers.models import LedgerExport, Report
from tests.test_faults import MAY, QUEUE_DOWN, point_celery_at
from tests.world import build_world


class SilentBroker:
    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.accepted = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def _accept(self):
        while True:
            try:
                connection, _address = self.server.accept()
            except OSError:
                return  # closed
            self.accepted.append(connection)  # held open, never answered

    def close(self):
        self.server.close()
        for connection in self.accepted:
            connection.close()


class HungBrokerTests(TransactionTestCase):
    def setUp(self):
        self.broker = SilentBroker()
        self.addCleanup(self.broker.close)
        self.addCleanup(point_celery_at(self.broker.url, eager=False))
        self.w = build_world()

    def test_a_report_request_returns_and_stays_queued_when_the_broker_hangs(self):
        self.client.force_login(self.w.erin)
        started = time.monotonic()
        with self.assertLogs("ledgers.tasks", "WARNING") as logs:
            response = self.client.post(reverse("report_request"), {"kind": "monthly", "month": MAY,
                                                                     "scope": self.w.P.pk})
        elapsed = time.monotonic() - started
        print(f"\nreport request against a hung broker answered in {elapsed:.2f} s")
        report = Report.objects.get(kind="monthly", period=MAY, scope=self.w.P)
        self.assertRedirects(response, reverse("report_detail", args=[report.pk]), fetch_redirect_response=False)
        self.assertEqual(report.status, Report.Status.QUEUED)
        self.assertIn(f"报表 {report.pk} 保持排队", logs.output[0])
        self.assertTrue(self.broker.accepted, "the publish never reached the silent broker")
        page = self.client.get(response.url)
        self.assertContains(page, QUEUE_DOWN)
        self.assertContains(page, "排队中")

    def test_a_large_ledger_export_is_marked_failed_with_a_reason_when_the_broker_hangs(self):
        export = LedgerExport.objects.create(requested_by=self.w.bob)
        started = time.monotonic()
        with self.assertLogs("ledgers.tasks", "WARNING"):
            self.assertFalse(tasks.enqueue_export(export.pk))
        print(f"\nledger export enqueue against a hung broker gave up after {time.monotonic() - started:.2f} s")
        export.refresh_from_db()
        self.assertEqual(export.status, export.Status.FAILED)
        self.assertIn("任务队列服务暂时不可用", export.error)
