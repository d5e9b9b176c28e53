"""The dashboard for leaders and supervisors: charts from a vendored Chart.js, figures as tables."""

import datetime
import importlib
import json
import re

import pytest
import time_machine
from django.conf import settings
from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.db import connection
from django.test import Client
from django.test import TestCase
from django.urls import reverse

from tests.test_reports_figures import build_jishou
from tests.world import PASSWORD, build_world

SH = datetime.timezone(datetime.timedelta(hours=8))
JUNE_1_9AM = datetime.datetime(2022, 6, 1, 9, 0, tzinfo=SH)


@time_machine.travel(JUNE_1_9AM, tick=False)
class DashboardTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()
        build_jishou(cls.w)

    def test_it_shows_the_figures_of_the_leaders_scope_as_charts_and_tables(self):
        self.client.login(username="frank", password=PASSWORD)
        response = self.client.get(reverse("dashboard"))
        self.assertEqual(response.status_code, 200)
        data = response.context["chart"]
        # 12 weeks back from the week of 1 June 2022: 14 March to 5 June
        self.assertEqual(len(data["weeks"]), 12)
        self.assertEqual(sum(week["found"] for week in data["weeks"]), 103)
        self.assertEqual(sum(week["closed"] for week in data["weeks"]), 40)
        self.assertEqual({c["label"]: c["n"] for c in data["categories"]},
                         {"系统技术问题": 18, "业务流程问题": 24, "协调联动问题": 25, "窗口建设问题": 36})
        self.assertEqual(data["units"], [{"label": "吉首市", "red": 30, "open": 74, "rate": 35.1, "covered": 2}])
        embedded = json.loads(re.search(r'id="dashboard-data"[^>]*>(.*?)</script>', response.content.decode(),
                                        re.S).group(1))
        self.assertEqual(embedded["units"][0]["red"], 30)
        self.assertContains(response, "vendor/chartjs/chart-4.6.1.umd.min.js")
        self.assertNotContains(response, "cdn")
        self.assertContains(response, "<th scope=\"row\">吉首市</th>", html=False)

    def test_a_supervisor_sees_each_county_of_the_city(self):
        self.client.login(username="bob", password=PASSWORD)
        response = self.client.get(reverse("dashboard"))
        self.assertEqual([unit["label"] for unit in response.context["chart"]["units"]], ["赫山区", "资阳区"])
        self.assertNotContains(response, "吉首市")

    def test_it_answers_404_for_a_unit_outside_the_scope(self):
        self.client.login(username="bob", password=PASSWORD)
        self.assertEqual(self.client.get(reverse("dashboard"), {"unit": self.w.K3.code}).status_code, 404)

    def test_owners_have_no_dashboard(self):
        self.client.login(username="carol", password=PASSWORD)
        self.assertEqual(self.client.get(reverse("dashboard")).status_code, 403)

    def test_the_nav_links_to_reports_and_dashboard_for_leaders_only(self):
        self.client.login(username="frank", password=PASSWORD)
        self.assertContains(self.client.get(reverse("home")), reverse("dashboard"))
        self.client.login(username="carol", password=PASSWORD)
        self.assertNotContains(self.client.get(reverse("home")), reverse("dashboard"))


def flush_around_append_only_triggers(flush):
    """Closure records are append-only by trigger (migration 0002): SQLite's flush deletes rows and
    is refused, so the triggers are lifted for the flush only. PostgreSQL truncates, firing none."""
    if connection.vendor != "sqlite":
        return flush()
    journal = importlib.import_module("ledgers.migrations.0002_append_only_journal")
    with connection.cursor() as cursor:
        for statement in journal.SQLITE_REVERSE:
            cursor.execute(statement)
    try:
        return flush()
    finally:
        with connection.cursor() as cursor:
            for statement in journal.SQLITE:
                cursor.execute(statement)


@pytest.mark.browser
class DashboardBrowserTestCase(StaticLiveServerTestCase):
    def setUp(self):
        self.w = build_world()
        build_jishou(self.w)

    def _fixture_teardown(self):
        flush_around_append_only_triggers(super()._fixture_teardown)

    def test_it_draws_the_charts_with_the_vendored_library(self):
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                        args=["--headless", "--no-sandbox", "--disable-gpu",
                                              "--disable-background-networking"])
            try:
                context = browser.new_context()
                client = Client()
                client.force_login(self.w.frank)
                context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "url": self.live_server_url,
                                      "value": client.cookies[settings.SESSION_COOKIE_NAME].value}])
                page = context.new_page()
                outside, errors = [], []
                page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(self.live_server_url)
                        else None)
                page.on("pageerror", lambda error: errors.append(str(error)))
                page.goto(f"{self.live_server_url}{reverse('dashboard')}")
                page.wait_for_function("() => window.Chart && Chart.getChart('chart-weeks')")
                drawn = page.evaluate("() => ['chart-weeks', 'chart-categories', 'chart-red', 'chart-rate', "
                                      "'chart-coverage'].map(id => !!Chart.getChart(id))")
                self.assertEqual(drawn, [True] * 5)
                self.assertEqual(outside, [])
                self.assertEqual(errors, [])
            finally:
                browser.close()
