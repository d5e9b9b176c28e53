"""The dashboard's cached figures (ledgers/reports/dashboard.py): never stale, fewer queries."""

import datetime

import time_machine
from django.core.cache import cache
from django.test import TestCase
from django.urls import reverse

from ledgers.models import CalendarOverride, Problem, RectificationItem
from tests.test_reports_figures import build_jishou
from tests.world import PASSWORD, as_if_committed, build_world

SH = datetime.timezone(datetime.timedelta(hours=8))
JUNE_1_9AM = datetime.datetime(2022, 6, 1, 9, 0, tzinfo=SH)


@time_machine.travel(JUNE_1_9AM, tick=False)
class DashboardCacheTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()
        build_jishou(cls.w)

    def setUp(self):
        cache.clear()
        self.client.login(username="frank", password=PASSWORD)

    def units(self):
        return self.client.get(reverse("dashboard")).context["chart"]["units"]

    def test_an_edited_item_is_seen_on_the_next_request(self):
        self.assertEqual(self.units()[0]["red"], 30)
        red = RectificationItem.objects.filter(unit=self.w.K3, closed_at__isnull=True,
                                               deadline=datetime.date(2022, 5, 20)).first()
        RectificationItem.objects.filter(pk=red.pk).update(deadline=datetime.date(2022, 7, 1))
        as_if_committed()
        self.assertEqual(self.units()[0]["red"], 29)

    def test_a_new_problem_is_seen_on_the_next_request(self):
        weeks = self.client.get(reverse("dashboard")).context["chart"]["weeks"]
        self.assertEqual(weeks[-1]["found"], 0)
        problem = Problem.objects.filter(unit=self.w.K3).first()
        problem.pk = None
        problem.found_at = datetime.datetime(2022, 6, 1, 8, 0, tzinfo=SH)
        problem.save()
        as_if_committed()
        weeks = self.client.get(reverse("dashboard")).context["chart"]["weeks"]
        self.assertEqual(weeks[-1]["found"], 1)

    def test_a_calendar_override_is_seen_on_the_next_request(self):
        # 2 June made a holiday pushes the end of the yellow window (3 working days) one day on.
        before = self.client.get(reverse("dashboard")).context["figures"]
        CalendarOverride.objects.create(date=datetime.date(2022, 6, 2), is_workday=False, source="测试")
        as_if_committed()
        after = self.client.get(reverse("dashboard")).context["figures"]
        self.assertNotEqual(before.yellow_until, after.yellow_until)

    def test_each_scope_has_its_own_figures(self):
        self.client.login(username="bob", password=PASSWORD)
        self.assertEqual([unit["label"] for unit in self.units()], ["赫山区", "资阳区"])
        self.client.login(username="frank", password=PASSWORD)
        self.assertEqual([unit["label"] for unit in self.units()], ["吉首市"])

    def test_the_next_day_is_computed_anew(self):
        self.assertEqual(self.units()[0]["red"], 30)
        with time_machine.travel(datetime.datetime(2022, 6, 6, 9, 0, tzinfo=SH), tick=False):
            self.client.login(username="frank", password=PASSWORD)  # the session of 1 June has expired
            # The 4 items due on 2 June are overdue by 6 June.
            self.assertEqual(self.units()[0]["red"], 34)

    def test_a_cached_dashboard_reads_only_the_stamps(self):
        self.client.get(reverse("dashboard"))
        # session, the user with the unread notifications (nav), the change stamps (the user's unit
        # and roles are kept under them), the units of the scope picker: no figure query.
        with self.assertNumQueries(4):
            response = self.client.get(reverse("dashboard"))
        self.assertEqual(response.context["chart"]["units"][0]["red"], 30)
