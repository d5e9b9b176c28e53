from django.db import DatabaseError, IntegrityError, transaction
from django.test import TestCase
from django.utils import timezone

from ledgers.models import ClosureRecord, ItemEvent
from tests.world import build_world, make_item


class AppendOnlyTestCase(TestCase):
    """The database itself refuses to rewrite the journal or a closure request."""

    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()
        cls.item = make_item(cls.w)
        cls.event = ItemEvent.record(cls.item, cls.w.carol, ItemEvent.Action.CREATED, to_status="open", note="列入")
        cls.closure = ClosureRecord.objects.create(item=cls.item, submitted_by=cls.w.carol, evidence="已整改",
                                                   trips_before=2, trips_after=0)

    def assertRefused(self, change):
        with self.assertRaises((IntegrityError, DatabaseError)) as caught, transaction.atomic():
            change()
        self.assertIn("append-only", str(caught.exception))

    def test_the_journal_cannot_be_updated_or_deleted(self):
        self.assertRefused(lambda: ItemEvent.objects.filter(pk=self.event.pk).update(note="改写"))
        self.assertRefused(lambda: ItemEvent.objects.filter(pk=self.event.pk).delete())
        self.event.refresh_from_db()
        self.assertEqual(self.event.note, "列入")

    def test_a_closure_request_cannot_be_rewritten_or_deleted(self):
        self.assertRefused(lambda: ClosureRecord.objects.filter(pk=self.closure.pk).update(trips_before=9))
        self.assertRefused(lambda: ClosureRecord.objects.filter(pk=self.closure.pk).delete())

    def test_a_closure_is_reviewed_once(self):
        review = dict(decision="approved", reviewed_by=self.w.bob, reviewed_at=timezone.now(), reason="同意")
        self.assertEqual(ClosureRecord.objects.filter(pk=self.closure.pk, decision="pending").update(**review), 1)
        self.assertRefused(lambda: ClosureRecord.objects.filter(pk=self.closure.pk).update(decision="returned"))
        self.closure.refresh_from_db()
        self.assertEqual(self.closure.decision, "approved")
