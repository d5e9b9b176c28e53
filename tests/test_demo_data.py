from io import StringIO

from django.core.management import call_command
from django.db.models import Count
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from ledgers.cards import RED, YELLOW, card_clock
from ledgers.demo import DEMO_PASSWORD
from ledgers.models import (
    ClosureRecord,
    ItemEvent,
    Problem,
    RectificationItem,
    Unit,
    User,
    WalkSession,
)


def snapshot():
    return {
        "units": sorted(Unit.objects.values_list("code", "path")),
        "users": sorted(User.objects.values_list("username", "unit__code")),
        "walks": sorted(str(u) for u in WalkSession.objects.values_list("client_uuid", flat=True)),
        "problems": Problem.objects.count(),
        "items": sorted(RectificationItem.objects.values_list("measure", "status", "deadline")),
        "events": ItemEvent.objects.count(),
        "closures": ClosureRecord.objects.count(),
    }


class LoadDemoTestCase(TestCase):
    def test_it_gives_the_same_data_when_run_twice(self):
        call_command("load_demo", stdout=StringIO())
        first = snapshot()
        out = StringIO()
        call_command("load_demo", stdout=out)
        self.assertEqual(snapshot(), first)
        self.assertIn(DEMO_PASSWORD, out.getvalue())

    def test_it_covers_every_status_category_and_card(self):
        call_command("load_demo", stdout=StringIO())
        statuses = set(RectificationItem.objects.values_list("status", flat=True))
        self.assertEqual(statuses, set(RectificationItem.Status.values))
        self.assertEqual(set(Problem.objects.values_list("category", flat=True)), set(Problem.Category.values))
        clock = card_clock()
        self.assertTrue(RectificationItem.objects.filter(clock.q(RED)).exists())
        self.assertTrue(RectificationItem.objects.filter(clock.q(YELLOW)).exists())
        self.assertTrue(Problem.objects.filter(resolution=Problem.Resolution.ON_SPOT).exists())
        # every item has its journal, starting with its creation
        self.assertFalse(RectificationItem.objects.annotate(n=Count("events")).filter(n=0).exists())

    def test_every_demo_account_can_sign_in_and_see_its_home(self):
        call_command("load_demo", stdout=StringIO())
        for username in User.objects.values_list("username", flat=True):
            self.client.logout()
            response = self.client.post(reverse("login"), {"username": username, "password": DEMO_PASSWORD},
                                        follow=True)
            self.assertEqual(response.status_code, 200, username)
            self.assertTrue(response.context["user"].is_authenticated, username)


class GenerateLedgerTestCase(TestCase):
    def test_it_makes_the_asked_number_of_problems_in_every_status(self):
        out = StringIO()
        call_command("generate_ledger", problems=1200, seed=3, batch=500, stdout=out)
        self.assertEqual(Problem.objects.count(), 1200)
        statuses = set(RectificationItem.objects.values_list("status", flat=True))
        self.assertEqual(statuses, set(RectificationItem.Status.values))
        self.assertEqual(set(Problem.objects.values_list("category", flat=True)), set(Problem.Category.values))
        # a deep tree: province, city, county, township, village
        self.assertEqual(set(Unit.objects.values_list("level", flat=True)), set(Unit.Level.values))
        self.assertTrue(RectificationItem.objects.overdue(timezone.localdate()).exists())
        self.assertEqual(ItemEvent.objects.filter(action=ItemEvent.Action.CREATED).count(),
                         RectificationItem.objects.count())
        # run again with the same seed: the same world, more problems
        units = Unit.objects.count()
        call_command("generate_ledger", problems=100, seed=3, stdout=out)
        self.assertEqual(Unit.objects.count(), units)
        self.assertEqual(Problem.objects.count(), 1300)

    def test_it_refuses_a_non_positive_count(self):
        from django.core.management.base import CommandError

        with self.assertRaises(CommandError):
            call_command("generate_ledger", problems=0, stdout=StringIO())
