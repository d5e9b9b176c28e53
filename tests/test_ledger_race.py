"""Fifty supervisors' clicks on "同意销号" at the same moment: exactly one wins.

Row locks (`select_for_update`) do nothing on SQLite, so this runs on PostgreSQL only (CI sets
DATABASE_URL); TransactionTestCase, because the threads need committed data and their own
connections.
"""

import threading
import unittest

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test import TransactionTestCase

from ledgers import services
from ledgers.models import ClosureRecord, ItemEvent, Notification, RectificationItem
from tests.world import build_world, make_item

CLICKS = 50


@pytest.mark.postgres
@unittest.skipIf(connection.vendor == "sqlite", "row locks need PostgreSQL; CI runs this with DATABASE_URL set")
class ConcurrentApprovalTestCase(TransactionTestCase):
    def setUp(self):
        # TransactionTestCase empties the tables after each test, so the world is built per test.
        self.w = build_world()
        self.item = make_item(self.w)
        services.request_closure(self.w.carol, self.item.pk, evidence="已整改")

    def test_it_lets_exactly_one_of_fifty_concurrent_approvals_win(self):
        start = threading.Barrier(CLICKS)
        results, lock = [], threading.Lock()

        def click(version):
            try:
                start.wait()
                services.approve_closure(self.w.bob, self.item.pk, note="同意", version=version)
                outcome = "won"
            except (services.Refused, PermissionDenied) as exc:
                outcome = type(exc).__name__
            finally:
                connection.close()
            with lock:
                results.append(outcome)

        # half of the clicks carry the page's version, half none: both paths must hold
        threads = [threading.Thread(target=click, args=(2 if n % 2 else None,)) for n in range(CLICKS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        self.assertEqual(len(results), CLICKS)
        self.assertEqual(results.count("won"), 1)
        self.assertEqual(set(results) - {"won"}, {"Refused", "StaleItem"} & set(results))
        self.item.refresh_from_db()
        self.assertEqual((self.item.status, self.item.version), (RectificationItem.Status.CLOSED, 3))
        self.assertEqual(ItemEvent.objects.filter(action=ItemEvent.Action.CLOSED).count(), 1)
        self.assertEqual(ClosureRecord.objects.get().decision, ClosureRecord.Decision.APPROVED)
        self.assertEqual(Notification.objects.filter(recipient=self.w.carol).count(), 1)
