"""A ledger export larger than LEDGER_EXPORT_INLINE_MAX is built by a worker, not in the request."""

import io

from django.test import TestCase, override_settings
from django.urls import reverse
from openpyxl import load_workbook

from ledgers.models import LedgerExport, Notification
from tests.world import build_world, make_item, make_problem


@override_settings(LEDGER_EXPORT_INLINE_MAX=2)
class BackgroundExportTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = w = build_world()
        for n in range(3):
            make_item(w, problem=make_problem(w, description=f"问题{n}"))
        make_item(w, problem=make_problem(w, unit=w.K2, description="资阳区的问题"), lead_unit=w.K2, owner=w.dave)

    def test_a_large_export_goes_to_a_worker_and_only_its_requester_downloads_it(self):
        w = self.w
        self.client.force_login(w.bob)
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.get(reverse("ledger_export"), {"unit": w.K1.pk})
        self.assertRedirects(response, reverse("ledger_exports"))
        export = LedgerExport.objects.get()
        self.assertEqual((export.status, export.rows, export.requested_by), (LedgerExport.Status.DONE, 3, w.bob))
        self.assertIn("unit=", export.query)  # built with the filter the user had set
        self.assertTrue(Notification.objects.filter(recipient=w.bob, message__contains="导出已完成").exists())

        page = self.client.get(reverse("ledger_exports"))
        self.assertContains(page, reverse("ledger_export_download", args=[export.pk]))
        download = self.client.get(reverse("ledger_export_download", args=[export.pk]))
        sheet = load_workbook(io.BytesIO(b"".join(download.streaming_content))).active
        descriptions = sorted(row[3] for row in sheet.iter_rows(min_row=2, values_only=True))
        self.assertEqual(descriptions, ["问题0", "问题1", "问题2"])

        self.client.force_login(w.erin)  # sees every item, but not bob's file
        self.assertEqual(self.client.get(reverse("ledger_export_download", args=[export.pk])).status_code, 404)

    def test_a_small_export_is_answered_at_once(self):
        self.client.force_login(self.w.dave)
        response = self.client.get(reverse("ledger_export"))
        self.assertEqual(response.status_code, 200)
        self.assertFalse(LedgerExport.objects.exists())

    def test_a_rerun_of_the_task_does_nothing(self):
        from ledgers.ledger_export import build_export

        export = LedgerExport.objects.create(requested_by=self.w.bob)
        self.assertIsNotNone(build_export(export.pk))
        self.assertIsNone(build_export(export.pk))
        self.assertEqual(Notification.objects.filter(recipient=self.w.bob).count(), 1)
