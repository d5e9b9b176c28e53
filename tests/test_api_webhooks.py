"""Webhooks against a real HTTP receiver on 127.0.0.1, started by the test in a thread."""

import datetime
import hashlib
import hmac
import json
import socket
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import TestCase, TransactionTestCase, override_settings
from django.utils import timezone

from ledgers import reminders, services
from ledgers.api import webhooks
from ledgers.api.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from ledgers.models import ClosureRecord, RectificationItem
from tests.base import AppendOnlyFlushMixin
from tests.world import build_world, make_item

ALL_EVENTS = list(WebhookEvent.values)


class Receiver:
    """An HTTP server answering `status` (and `location` for a redirect), keeping what it got."""

    def __init__(self, port=0, status=200, location=None):
        self.received = []
        self.status, self.location = status, location
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append({"path": self.path, "headers": dict(self.headers), "body": body})
                self.send_response(receiver.status)
                if receiver.location:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path="/hook"):
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def verify(secret, headers, body):
    """What the README tells a receiver to do."""
    timestamp = headers["X-Walkflow-Timestamp"]
    expected = "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["X-Walkflow-Signature"])


class WebhookTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()

    def setUp(self):
        self.receiver = Receiver()
        self.addCleanup(self.receiver.stop)

    def endpoint(self, unit, url, events=ALL_EVENTS):
        return WebhookEndpoint.objects.create(name="一体化平台", unit=unit, url=url, events=events)

    def closable(self):
        item = make_item(self.w, status=RectificationItem.Status.CLOSURE_REQUESTED)
        ClosureRecord.objects.create(item=item, submitted_by=self.w.carol, evidence="已整改")
        return item

    def test_a_closure_is_signed_and_sent_to_the_units_that_see_the_item_only(self):
        city = self.endpoint(self.w.C1, self.receiver.url(), [WebhookEvent.STATUS_CHANGED, WebhookEvent.CLOSED])
        sibling = self.endpoint(self.w.K2, self.receiver.url("/sibling"))
        item = self.closable()
        with self.captureOnCommitCallbacks() as callbacks:
            services.approve_closure(self.w.bob, item.pk, note="同意")
        self.assertIn(webhooks.kick, callbacks, "the outbox is kicked after commit")
        rows = WebhookDelivery.objects.filter(item=item)
        self.assertEqual(sorted(rows.values_list("endpoint_id", "event")),
                         [(city.pk, "item.closed"), (city.pk, "item.status_changed")])
        self.assertFalse(sibling.deliveries.exists())

        self.assertEqual(webhooks.sweep(), {"delivered": 2})
        self.assertEqual([r["path"] for r in self.receiver.received], ["/hook", "/hook"])
        for request in self.receiver.received:
            headers, body = request["headers"], request["body"]
            self.assertTrue(verify(city.secret, headers, body))
            self.assertFalse(verify("another secret", headers, body))
            payload = json.loads(body)
            self.assertEqual(payload["delivery_id"], headers["X-Walkflow-Delivery"])
            self.assertEqual(payload["event"], headers["X-Walkflow-Event"])
            self.assertEqual((payload["item"]["id"], payload["item"]["status"]), (item.pk, "closed"))
        for row in rows:
            self.assertEqual((row.status, row.last_status_code, row.attempts), ("delivered", 200, 1))
        self.assertEqual(webhooks.sweep(), {}, "a delivered row is never sent again")

    def test_a_receiver_that_is_down_gets_the_same_delivery_once_it_is_back(self):
        port = free_port()
        endpoint = self.endpoint(self.w.K1, f"http://127.0.0.1:{port}/hook", [WebhookEvent.STATUS_CHANGED])
        item = make_item(self.w)
        services.add_progress(self.w.carol, item.pk, note="已开始整改")
        delivery = WebhookDelivery.objects.get(endpoint=endpoint)

        self.assertEqual(webhooks.sweep(), {"pending": 1})
        delivery.refresh_from_db()
        self.assertEqual((delivery.status, delivery.attempts, delivery.last_status_code), ("pending", 1, None))
        self.assertTrue(delivery.last_error)
        self.assertGreater(delivery.next_attempt_at, timezone.now())
        self.assertEqual(webhooks.sweep(), {}, "not due yet: the backoff holds")

        back = Receiver(port=port)
        self.addCleanup(back.stop)
        self.assertEqual(webhooks.sweep(now=delivery.next_attempt_at + datetime.timedelta(seconds=1)),
                         {"delivered": 1})
        self.assertEqual(len(back.received), 1)
        self.assertEqual(back.received[0]["headers"]["X-Walkflow-Delivery"], str(delivery.delivery_id))
        delivery.refresh_from_db()
        self.assertEqual((delivery.status, delivery.attempts, delivery.last_status_code), ("delivered", 2, 200))

    @override_settings(WEBHOOK_MAX_ATTEMPTS=2)
    def test_it_backs_off_and_fails_after_the_last_attempt(self):
        self.receiver.status = 500
        self.endpoint(self.w.K1, self.receiver.url(), [WebhookEvent.STATUS_CHANGED])
        item = make_item(self.w)
        services.add_progress(self.w.carol, item.pk, note="进展")
        delivery = WebhookDelivery.objects.get()
        webhooks.sweep()
        delivery.refresh_from_db()
        first_wait = delivery.next_attempt_at - delivery.last_attempt_at
        self.assertEqual((delivery.status, delivery.last_status_code), ("pending", 500))
        webhooks.sweep(now=delivery.next_attempt_at)
        delivery.refresh_from_db()
        self.assertEqual((delivery.status, delivery.attempts, delivery.last_status_code), ("failed", 2, 500))
        self.assertEqual(len(self.receiver.received), 2)
        self.assertEqual(first_wait, webhooks.backoff(1))
        self.assertEqual(webhooks.backoff(3), 4 * webhooks.backoff(1))

    def test_a_redirect_is_not_followed(self):
        elsewhere = Receiver()
        self.addCleanup(elsewhere.stop)
        self.receiver.status, self.receiver.location = 302, elsewhere.url("/stolen")
        self.endpoint(self.w.K1, self.receiver.url(), [WebhookEvent.STATUS_CHANGED])
        services.add_progress(self.w.carol, make_item(self.w).pk, note="进展")
        webhooks.sweep()
        self.assertEqual(elsewhere.received, [])
        delivery = WebhookDelivery.objects.get()
        self.assertEqual((delivery.status, delivery.last_status_code), ("pending", 302))

    def test_two_sweeps_never_hold_the_same_row(self):
        self.endpoint(self.w.K1, self.receiver.url(), [WebhookEvent.STATUS_CHANGED])
        services.add_progress(self.w.carol, make_item(self.w).pk, note="进展")
        delivery = WebhookDelivery.objects.get()
        now = timezone.now()
        self.assertTrue(webhooks.claim(delivery.pk, now))
        self.assertFalse(webhooks.claim(delivery.pk, now), "the second sweep finds it claimed")
        self.assertEqual(webhooks.sweep(now=now), {})
        self.assertEqual(self.receiver.received, [])

    def test_a_new_item_and_a_red_card_are_announced(self):
        endpoint = self.endpoint(self.w.C1, self.receiver.url(), [WebhookEvent.ITEM_CREATED, WebhookEvent.RED_CARD])
        from ledgers.api.auth import issue_token
        from ledgers.api.models import ApiToken
        from ledgers.api.intake import push_problem

        token = ApiToken(name="12345", unit=self.w.K1, scopes=["problems:write"])
        issue_token(token)
        today = timezone.localdate()
        status, _problem, item = push_problem(token.user, {
            "source": "hotline", "external_number": "12345-9", "unit": self.w.K1.code, "category": "window",
            "description": "窗口无人", "received_at": timezone.now(),
            "item": {"lead_unit": self.w.K1D.code, "owner": "carol", "measure": "安排专人",
                     "deadline": today + datetime.timedelta(days=2)}}, {"n": 1}, token=token)
        self.assertEqual(status, 201)
        created = endpoint.deliveries.get()
        self.assertEqual(created.event, "item.created")
        self.assertEqual(json.loads(created.body)["item"]["external_number"], "12345-9")
        reminders.daily_scan(today + datetime.timedelta(days=10))
        self.assertEqual(sorted(endpoint.deliveries.values_list("event", flat=True)), ["item.created", "item.red_card"])
        out = StringIO()
        call_command("deliver_webhooks", stdout=out)
        self.assertIn("delivered 2", out.getvalue())
        self.assertEqual(sorted(json.loads(r["body"])["event"] for r in self.receiver.received),
                         ["item.created", "item.red_card"])

    def test_an_inactive_endpoint_is_never_called(self):
        endpoint = self.endpoint(self.w.K1, self.receiver.url(), [WebhookEvent.STATUS_CHANGED])
        services.add_progress(self.w.carol, make_item(self.w).pk, note="进展")
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_active=False)
        webhooks.sweep()
        self.assertEqual(self.receiver.received, [])
        self.assertEqual(WebhookDelivery.objects.get().status, "failed")


@pytest.mark.postgres
@unittest.skipIf(connection.vendor == "sqlite", "concurrent writers need PostgreSQL; CI runs this with DATABASE_URL set")
class ConcurrentSweepTestCase(AppendOnlyFlushMixin, TransactionTestCase):
    """Four sweeps at once against a slow receiver: each delivery is sent once (the claim is a
    conditional UPDATE). SQLite's shared in-memory test database refuses concurrent writers
    outright, so this runs on PostgreSQL, like tests/test_ledger_race.py."""

    def test_concurrent_sweeps_send_each_delivery_once(self):
        w = build_world()
        receiver = Receiver()
        self.addCleanup(receiver.stop)
        original = receiver.server.RequestHandlerClass.do_POST

        def slow_post(handler):
            time.sleep(0.2)  # long enough for the other sweeps to reach the same rows
            original(handler)

        receiver.server.RequestHandlerClass.do_POST = slow_post
        WebhookEndpoint.objects.create(name="一体化平台", unit=w.K1, url=receiver.url(),
                                       events=[WebhookEvent.STATUS_CHANGED])
        with mock.patch.object(webhooks, "kick"):  # leave the rows to the sweeps below
            for n in range(6):
                services.add_progress(w.carol, make_item(w).pk, note=f"进展{n}")
        start, errors, outcomes = threading.Barrier(4), [], []

        def sweep():
            try:
                start.wait()
                outcomes.append(webhooks.sweep())
            except Exception as error:  # a thread's exception would otherwise vanish
                errors.append(repr(error))
            finally:
                connection.close()

        threads = [threading.Thread(target=sweep) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(errors, [])
        self.assertEqual(sum(outcome.get("delivered", 0) for outcome in outcomes), 6)
        ids = [request["headers"]["X-Walkflow-Delivery"] for request in receiver.received]
        self.assertEqual(len(ids), 6)
        self.assertEqual(len(set(ids)), 6, "no delivery was sent twice")
        self.assertEqual(set(WebhookDelivery.objects.values_list("status", "attempts")), {("delivered", 1)})
