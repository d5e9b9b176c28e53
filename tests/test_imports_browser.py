"""The import status page follows the worker: its script (static/js/import-status.js, no inline
script under the CSP) moves the progress bar and reloads the page when the step is over."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from ledgers.models import ImportBatch
from tests.base import BrowserTestCase
from tests.world import build_world

pytestmark = pytest.mark.browser


class ImportStatusBrowserTests(BrowserTestCase):
    viewport = {"width": 768, "height": 1024}

    def test_the_progress_bar_moves_and_the_preview_appears_when_it_is_done(self):
        w = build_world()
        batch = ImportBatch.objects.create(kind="ledger", created_by=w.erin, unit=w.K1, campaign=w.campaign,
                                           original_name="台账.xlsx", file="imports/x.xlsx",
                                           status=ImportBatch.Status.PREVIEWING, progress=10)
        page = self.signed_in_page(w.erin)
        page.goto(self.live_server_url + reverse("import_status", args=[batch.pk]))
        self.assertEqual(page.locator("#import-bar").get_attribute("value"), "10")
        ImportBatch.objects.filter(pk=batch.pk).update(progress=55)
        expect(page.locator("#import-bar")).to_have_text("55%", timeout=self.timeout_ms)
        ImportBatch.objects.filter(pk=batch.pk).update(
            status=ImportBatch.Status.PREVIEWED, progress=100,
            summary={"rows": 2, "created": 2, "updated": 0, "skipped": 0, "errors": 0, "notes": [],
                     "error_rows": [], "created_rows": [], "updated_rows": [], "skipped_rows": []})
        page.get_by_role("button", name="确认导入（新建 2，更新 0）").wait_for()
        self.assertEqual(self.page_errors, [])
