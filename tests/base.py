"""Shared bases for tests that need a live server and a browser."""

import importlib

from django.conf import settings
from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.db import connection
from django.test import Client

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
APPEND_ONLY = importlib.import_module("ledgers.migrations.0002_append_only_journal")


class AppendOnlyFlushMixin:
    """For TransactionTestCase: the journal and closure records refuse DELETE (migration 0002).
    PostgreSQL empties tables with TRUNCATE, which row triggers do not see; SQLite's flush deletes
    row by row, so there the triggers are lifted for the flush only and put back after."""

    def _fixture_teardown(self):
        if connection.vendor != "sqlite":
            return super()._fixture_teardown()
        with connection.cursor() as cursor:
            for statement in APPEND_ONLY.SQLITE_REVERSE:
                cursor.execute(statement)
        try:
            return super()._fixture_teardown()
        finally:
            with connection.cursor() as cursor:
                for statement in APPEND_ONLY.SQLITE:
                    cursor.execute(statement)


class BrowserTestCase(AppendOnlyFlushMixin, StaticLiveServerTestCase):
    """A live server and one headless Chromium per class; `signed_in_page(user)` per test."""

    timeout_ms = 30000  # generous: a loaded CI machine is slow, and a wait that times out fails anyway
    viewport = {"width": 1280, "height": 900}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        from playwright.sync_api import sync_playwright

        cls.playwright = sync_playwright().start()
        cls.browser = cls.playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

    @classmethod
    def tearDownClass(cls):
        cls.browser.close()
        cls.playwright.stop()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.page_errors = []

    def new_context(self, **options):
        options = {"locale": "zh-CN", "timezone_id": "Asia/Shanghai", "viewport": self.viewport, **options}
        context = self.browser.new_context(**options)
        context.set_default_timeout(self.timeout_ms)
        self.addCleanup(context.close)
        return context

    def sign_in(self, context, user):
        """Give the browser a session of `user` without typing the password every time."""
        client = Client()
        client.force_login(user)
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME,
                              "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                              "url": self.live_server_url}])

    def signed_in_page(self, user, **options):
        context = self.new_context(**options)
        self.sign_in(context, user)
        page = context.new_page()
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        return page
