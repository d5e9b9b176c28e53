"""The circular's document on the report page: edit, issue (freeze), download; scoped, POST-only,
journalled. And the `circular` / `weekly_summary` commands' --format."""

import datetime
import hashlib
import io
import tempfile
from pathlib import Path

import time_machine
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client, TestCase, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from docx import Document

from ledgers.models import Role
from ledgers.reports.models import CircularDraft, CircularEvent, CircularSettings, IssuedCircular
from ledgers.reports.pdf import soffice
from tests.test_reports_figures import at, build_jishou
from tests.test_reports_views import JUNE_1_9AM, make_report
from tests.world import build_world, make_problem, make_user

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def document_text(content):
    return "\n".join(p.text for p in Document(io.BytesIO(content)).paragraphs)


@time_machine.travel(JUNE_1_9AM, tick=False)
class CircularPageTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = w = build_world()
        build_jishou(w)
        cls.report = make_report(w.C2)  # 湘西州, May 2022
        cls.sibling_report = make_report(w.C1)  # 益阳市
        cls.city_office = make_user("olga", w.C1, Role.OFFICE)  # 益阳市's office: a sibling of 湘西州
        cls.xiangxi_office = make_user("xia", w.C2, Role.OFFICE)
        cls.leader = make_user("lin", w.C2, Role.LEADER)

    def url(self, name, report=None, **kwargs):
        return reverse(name, kwargs={"pk": (report or self.report).pk, **kwargs})

    def test_it_shows_the_drafted_paragraphs_fixed_and_the_clerks_paragraphs_as_text_fields(self):
        self.client.force_login(self.xiangxi_office)
        response = self.client.get(self.url("report_circular"))
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "2022年5月，全州共开展走流程86次")
        self.assertContains(response, 'class="drafted"')
        self.assertContains(response, '<textarea name="next_steps"')
        self.assertContains(response, "（一）持续深化走流程")  # the default, to be edited
        self.assertNotContains(response, '<textarea name="figures"')

    def test_the_clerk_saves_the_paragraphs_and_downloads_the_regenerated_docx(self):
        self.client.force_login(self.xiangxi_office)
        response = self.client.post(self.url("report_circular"), {
            "serial": "12", "opening": "现将5月情况通报如下。", "overall_note": "", "effects_note": "",
            "problems_note": "请各县市区对照整改。", "next_steps": "（一）抓好整改。务求实效。"})
        self.assertRedirects(response, self.url("report_circular"))
        draft = CircularDraft.objects.get(report=self.report)
        self.assertEqual((draft.serial, draft.updated_by), (12, self.xiangxi_office))
        event = CircularEvent.objects.get(report=self.report)
        self.assertEqual((event.action, event.actor), ("saved", self.xiangxi_office))
        response = self.client.get(self.url("report_circular_download", extension="docx"))
        self.assertEqual(response["Content-Type"], DOCX)
        self.assertIn("attachment", response["Content-Disposition"])
        text = document_text(response.content)
        self.assertIn("请各县市区对照整改。", text)
        self.assertIn("（一）抓好整改。务求实效。", text)
        self.assertIn("全州共开展走流程86次", text)  # the figures stay

    def test_bad_input_is_answered_in_chinese_and_nothing_is_saved(self):
        self.client.force_login(self.xiangxi_office)
        response = self.client.post(self.url("report_circular"), {"serial": "-3", "next_steps": "x" * 6000})
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, "发文序号", status_code=400)
        self.assertFalse(CircularDraft.objects.exists())
        self.assertFalse(CircularEvent.objects.exists())

    def test_issuing_freezes_the_files_and_figures_and_issuing_again_makes_version_2(self):
        self.client.force_login(self.xiangxi_office)
        CircularSettings.objects.create(unit=self.w.C2, mark="湘西州优化营商环境办公室", number_prefix="州优化办")
        CircularDraft.objects.create(report=self.report, serial=7)
        response = self.client.post(self.url("report_circular_issue"))
        self.assertRedirects(response, self.url("report_circular"))
        first = IssuedCircular.objects.get(report=self.report)
        self.assertEqual((first.version, first.number, first.issued_by), (1, "州优化办〔2022〕7号", self.xiangxi_office))
        self.assertEqual(first.figures["total"]["problems"], 103)
        with first.docx.open("rb") as handle:
            frozen = handle.read()
        self.assertEqual(hashlib.sha256(frozen).hexdigest(), first.docx_sha256)
        with first.xlsx.open("rb") as handle:
            self.assertEqual(hashlib.sha256(handle.read()).hexdigest(), first.xlsx_sha256)

        # The ledger changes: the draft follows it, version 1 does not.
        make_problem(self.w, unit=self.w.K3, found_at=at(datetime.date(2022, 5, 30)), created_by=self.w.frank)
        download = self.client.get(self.url("report_issued_download", version=1, extension="docx"))
        self.assertEqual(download.content, frozen)
        self.assertIn("共发现问题103个", document_text(download.content))
        self.assertIn("共发现问题104个", document_text(self.client.get(
            self.url("report_circular_download", extension="docx")).content))

        self.client.post(self.url("report_circular_issue"))
        second = IssuedCircular.objects.get(report=self.report, version=2)
        self.assertEqual(second.figures["total"]["problems"], 104)
        self.assertNotEqual(second.docx_sha256, first.docx_sha256)
        page = self.client.get(self.url("report_detail"))
        self.assertContains(page, "第1版")
        self.assertContains(page, "第2版")
        self.assertEqual(list(CircularEvent.objects.filter(report=self.report).values_list("action", "actor")),
                         [("issued", self.xiangxi_office.pk)] * 2)

    def test_the_versions_and_the_journal_cost_the_same_queries_however_many(self):
        self.client.force_login(self.xiangxi_office)

        def count():
            with CaptureQueriesContext(connection) as queries:
                self.assertEqual(self.client.get(self.url("report_detail")).status_code, 200)
            return len(queries)

        self.client.post(self.url("report_circular_issue"))
        one = count()
        self.client.post(self.url("report_circular_issue"))
        self.client.post(self.url("report_circular_issue"))
        # session, user, groups, the report with its scope, versions with issuers, events with actors
        self.assertEqual(count(), one)

    def test_a_siblings_report_is_404_for_every_circular_url(self):
        from ledgers.reports.circulars import issue

        issue(self.report, self.xiangxi_office)
        self.client.force_login(self.city_office)
        for method, name, kwargs in (("get", "report_circular", {}), ("post", "report_circular", {}),
                                     ("post", "report_circular_issue", {}), ("post", "report_circular_settings", {}),
                                     ("get", "report_circular_download", {"extension": "docx"}),
                                     ("get", "report_issued_download", {"version": 1, "extension": "docx"})):
            response = getattr(self.client, method)(self.url(name, **kwargs))
            self.assertEqual(response.status_code, 404, name)
        self.assertEqual(IssuedCircular.objects.count(), 1)
        self.assertFalse(CircularSettings.objects.exists())

    def test_readers_download_but_only_office_staff_edit_and_issue(self):
        self.client.force_login(self.leader)
        self.assertEqual(self.client.get(self.url("report_circular")).status_code, 200)
        self.assertEqual(self.client.get(self.url("report_circular_download", extension="docx")).status_code, 200)
        self.assertEqual(self.client.post(self.url("report_circular"), {"next_steps": "x"}).status_code, 403)
        self.assertEqual(self.client.post(self.url("report_circular_issue")).status_code, 403)
        self.assertFalse(IssuedCircular.objects.exists())

    def test_state_changes_are_post_only_with_csrf(self):
        self.client.force_login(self.xiangxi_office)
        self.assertEqual(self.client.get(self.url("report_circular_issue")).status_code, 405)
        self.assertEqual(self.client.get(self.url("report_circular_settings")).status_code, 405)
        strict = Client(enforce_csrf_checks=True)
        strict.force_login(self.xiangxi_office)
        self.assertEqual(strict.post(self.url("report_circular_issue")).status_code, 403)
        self.assertFalse(IssuedCircular.objects.exists())

    def test_the_units_letterhead_is_set_on_the_report_page_and_printed(self):
        self.client.force_login(self.xiangxi_office)
        response = self.client.post(self.url("report_circular_settings"), {
            "mark": "湘西州优化营商环境办公室", "number_prefix": "州优化办", "recipients": "各县市区优化办",
            "signature": "湘西州优化办"})
        self.assertRedirects(response, self.url("report_circular"))
        settings = CircularSettings.objects.get(unit=self.w.C2)
        self.assertEqual(settings.updated_by, self.xiangxi_office)
        self.assertTrue(CircularEvent.objects.filter(action="settings", actor=self.xiangxi_office).exists())
        text = document_text(self.client.get(self.url("report_circular_download", extension="docx")).content)
        self.assertTrue(text.startswith("湘西州优化营商环境办公室"))
        self.assertIn("各县市区优化办：", text)
        self.assertIn("湘西州优化办\n2022年6月1日", text)

    @override_settings(SOFFICE="/nonexistent/soffice")
    def test_without_libreoffice_no_pdf_is_offered_and_the_page_says_why(self):
        self.client.force_login(self.xiangxi_office)
        response = self.client.get(self.url("report_circular"))
        self.assertContains(response, "服务器未安装 LibreOffice")
        self.assertNotContains(response, self.url("report_circular_download", extension="pdf"))
        response = self.client.get(self.url("report_circular_download", extension="pdf"), follow=True)
        self.assertContains(response, "服务器未安装 LibreOffice")

    def test_the_draft_downloads_as_pdf_through_libreoffice(self):
        if not soffice():
            self.fail("LibreOffice (soffice) is needed for this test: apt-get install libreoffice-writer-nogui")
        self.client.force_login(self.xiangxi_office)
        response = self.client.get(self.url("report_circular_download", extension="pdf"))
        self.assertEqual(response["Content-Type"], "application/pdf")
        self.assertTrue(response.content.startswith(b"%PDF"))


class CommandFormatTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()
        build_jishou(cls.w)

    @time_machine.travel(JUNE_1_9AM, tick=False)
    def test_it_writes_the_circular_as_a_document(self):
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "circular.docx"
            call_command("circular", "--month", "2022-05", "--unit", "433100", "--format", "docx", "--out", str(out),
                         stdout=io.StringIO())
            text = document_text(out.read_bytes())
        self.assertIn("关于2022年5月“走流程、解难题、优服务”行动开展情况的通报", text)

    @time_machine.travel(datetime.datetime(2022, 5, 23, 9, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=8))))
    def test_it_writes_the_weekly_summary_as_a_document(self):
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "weekly.docx"
            call_command("weekly_summary", "--week", "2022-W20", "--unit", "433101", "--format", "docx",
                         "--out", str(out), stdout=io.StringIO())
            text = document_text(out.read_bytes())
        self.assertIn("本周", text)
        self.assertIn("关于2022年第20周", text)

    def test_a_document_needs_out(self):
        with self.assertRaisesRegex(CommandError, "--out"):
            call_command("circular", "--month", "2022-05", "--format", "docx", stdout=io.StringIO())


class CircularSettingsAdminTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        from ledgers.roles import grant

        cls.w = build_world()
        cls.w.bob.is_staff = True  # 益阳市's administrator
        cls.w.bob.save()
        grant(cls.w.bob, Role.ADMIN)

    def test_a_unit_administrator_sets_the_letterhead_of_their_subtree_only(self):
        self.client.force_login(self.w.bob)
        url = reverse("admin:ledgers_circularsettings_add")
        form = self.client.get(url)
        self.assertContains(form, "赫山区")
        self.assertNotContains(form, "湘西州")
        refused = self.client.post(url, {"unit": self.w.C2.pk, "mark": "越权"})
        self.assertEqual(refused.status_code, 200)  # the form again, with the error
        self.assertFalse(CircularSettings.objects.exists())
        self.client.post(url, {"unit": self.w.C1.pk, "mark": "益阳市优化营商环境办公室"})
        settings = CircularSettings.objects.get()
        self.assertEqual((settings.unit, settings.updated_by), (self.w.C1, self.w.bob))


class PdfConversionTestCase(TestCase):
    def test_a_conversion_that_hangs_is_killed_and_answered_in_chinese(self):
        import os
        import time

        from ledgers.reports.pdf import PdfUnavailable, to_pdf

        with tempfile.TemporaryDirectory() as folder:
            fake = Path(folder) / "soffice"
            fake.write_text("#!/bin/sh\nsleep 30\n")
            os.chmod(fake, 0o755)
            with override_settings(SOFFICE=str(fake)):
                started = time.monotonic()
                with self.assertRaisesRegex(PdfUnavailable, "超时"):
                    to_pdf(b"PK", "docx", timeout=1)
            self.assertLess(time.monotonic() - started, 10)

    def test_a_failed_conversion_says_so(self):
        import os

        from ledgers.reports.pdf import PdfUnavailable, to_pdf

        with tempfile.TemporaryDirectory() as folder:
            fake = Path(folder) / "soffice"
            fake.write_text("#!/bin/sh\necho 'source file could not be loaded' >&2\nexit 1\n")
            os.chmod(fake, 0o755)
            with override_settings(SOFFICE=str(fake)), self.assertRaisesRegex(PdfUnavailable, "PDF 转换失败"):
                to_pdf(b"PK", "docx")
