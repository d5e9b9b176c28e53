import datetime

from django.db import IntegrityError, connection, transaction
from django.test import TestCase
from django.utils import timezone

from ledgers.models import ClosureRecord, Problem, RectificationItem, Unit
from ledgers.units import create_unit, move_unit
from tests.world import build_world, make_item, make_problem, make_walk


class ConstraintTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()

    def assertRefused(self, name, make, sqlite_says=None):
        """The database refuses with constraint `name` (SQLite names the columns of a unique
        index instead, given as `sqlite_says`)."""
        with self.assertRaises(IntegrityError) as caught, transaction.atomic():
            make()
        expected = sqlite_says if sqlite_says and connection.vendor == "sqlite" else name
        self.assertIn(expected, str(caught.exception))

    def test_it_refuses_an_unknown_status(self):
        item = make_item(self.w)
        self.assertRefused("item_status_valid",
                           lambda: RectificationItem.objects.filter(pk=item.pk).update(status="lost"))

    def test_it_requires_closed_at_on_a_closed_item(self):
        item = make_item(self.w)
        self.assertRefused("item_closed_iff_closed_at",
                           lambda: RectificationItem.objects.filter(pk=item.pk).update(status="closed"))
        self.assertRefused("item_closed_iff_closed_at",
                           lambda: RectificationItem.objects.filter(pk=item.pk).update(closed_at=timezone.now()))
        RectificationItem.objects.filter(pk=item.pk).update(status="closed", closed_at=timezone.now())

    def test_it_refuses_a_deadline_before_opening(self):
        today = timezone.localdate()
        self.assertRefused("item_deadline_after_opening",
                           lambda: make_item(self.w, opened_on=today, deadline=today - datetime.timedelta(days=1)))

    def test_it_refuses_an_on_spot_problem_without_action(self):
        self.assertRefused("problem_on_spot_has_action",
                           lambda: make_problem(self.w, resolution=Problem.Resolution.ON_SPOT, on_spot_action=""))

    def test_it_refuses_an_unknown_category(self):
        self.assertRefused("problem_category_valid", lambda: make_problem(self.w, category="weather"))

    def test_it_refuses_a_walk_ending_before_it_starts(self):
        now = timezone.now()
        self.assertRefused("walk_end_after_start",
                           lambda: make_walk(self.w, started_at=now, ended_at=now - datetime.timedelta(minutes=5)))

    def test_it_recognises_a_resent_walk_by_its_uuid(self):
        walk = make_walk(self.w)
        self.assertRefused("client_uuid", lambda: make_walk(self.w, client_uuid=walk.client_uuid))  # both name the column

    def test_it_refuses_self_review_and_two_pending_closures(self):
        w = self.w
        item = make_item(w)
        ClosureRecord.objects.create(item=item, submitted_by=w.carol, evidence="已整改")
        self.assertRefused("closure_one_pending_per_item",
                           lambda: ClosureRecord.objects.create(item=item, submitted_by=w.carol, evidence="再次"),
                           sqlite_says="ledgers_closurerecord.item_id")
        self.assertRefused("closure_no_self_review", lambda: ClosureRecord.objects.filter(item=item).update(
            decision="approved", reviewed_by=w.carol, reviewed_at=timezone.now()))

    def test_it_requires_a_complete_review(self):
        w = self.w
        record = ClosureRecord.objects.create(item=make_item(w), submitted_by=w.carol, evidence="已整改")
        self.assertRefused("closure_review_complete",
                           lambda: ClosureRecord.objects.filter(pk=record.pk).update(decision="approved"))


class UnitTreeTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()

    def test_it_numbers_children_under_the_parent_path(self):
        w = self.w
        self.assertTrue(w.K1.path.startswith(w.C1.path))
        self.assertEqual(w.K1.depth, 2)
        self.assertNotEqual(w.K1.path, w.K2.path)

    def test_it_moves_a_whole_subtree(self):
        w = self.w
        move_unit(w.K1, w.C2)
        w.K1D.refresh_from_db()
        w.K1.refresh_from_db()
        self.assertTrue(w.K1D.path.startswith(w.K1.path))
        self.assertTrue(w.K1.path.startswith(w.C2.path))
        self.assertEqual(set(Unit.objects.subtree(w.C1).values_list("code", flat=True)), {"430900", "430902"})

    def test_it_refuses_to_move_a_unit_under_itself(self):
        with self.assertRaises(ValueError):
            move_unit(self.w.C1, self.w.K1)

    def test_a_new_child_gets_the_next_number(self):
        w = self.w
        third = create_unit(code="430921", name="南县", parent=w.C1, level=Unit.Level.COUNTY)
        self.assertEqual(third.path, f"{w.C1.path}0003.")  # after K1 (0001) and K2 (0002)
