"""Import pages and commands: upload -> mapping -> preview -> confirm, scope refusals, bad files."""

import io
import os
import re
import tempfile
import zipfile

from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import TestCase, override_settings
from django.urls import reverse
from openpyxl import Workbook, load_workbook

from ledgers.models import ImportBatch, ImportMapping, ItemEvent, Problem, RectificationItem, Role, Unit, User
from ledgers.roles import grant
from tests import importfiles
from tests.world import build_world, make_user


def upload(path, name="台账.xlsx"):
    with open(path, "rb") as handle:
        return SimpleUploadedFile(name, handle.read())


class ImportPagesTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = w = build_world()
        grant(w.alice, Role.OWNER)
        cls.admin = make_user("admin_c1", w.C1, Role.ADMIN, Role.OWNER, Role.LEADER, Role.SUPERVISOR, is_staff=True)

    def test_an_office_imports_a_ledger_through_the_pages(self):
        w = self.w
        self.client.force_login(w.erin)
        response = self.client.post(reverse("import_new", args=["ledger"]), {
            "file": upload(importfiles.ledger_workbook()), "unit": w.K1.pk, "campaign": w.campaign.pk})
        batch = ImportBatch.objects.get()
        self.assertRedirects(response, reverse("import_mapping", args=[batch.pk]))
        page = self.client.get(reverse("import_mapping", args=[batch.pk]))
        self.assertContains(page, "完成情况")
        headers = list(batch.mapping)
        form = {f"col-{i}": batch.mapping[h] for i, h in enumerate(headers)}
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(reverse("import_mapping", args=[batch.pk]), form)
        self.assertRedirects(response, reverse("import_status", args=[batch.pk]))
        batch.refresh_from_db()
        self.assertEqual((batch.status, batch.summary["created"], batch.summary["errors"]),
                         (ImportBatch.Status.PREVIEWED, 4, 0))
        self.assertTrue(ImportMapping.objects.filter(unit=w.K1, kind="ledger").exists())
        self.assertFalse(Problem.objects.exists())
        page = self.client.get(reverse("import_status", args=[batch.pk]))
        self.assertContains(page, "确认导入（新建 4，更新 0）")
        self.assertEqual(self.client.get(reverse("import_status_json", args=[batch.pk])).json()["status"], "previewed")

        self.client.force_login(w.bob)  # someone else's batch is not found
        self.assertEqual(self.client.get(reverse("import_status", args=[batch.pk])).status_code, 404)
        self.assertEqual(self.client.post(reverse("import_confirm", args=[batch.pk])).status_code, 404)

        self.client.force_login(w.erin)
        with self.captureOnCommitCallbacks(execute=True):
            self.client.post(reverse("import_confirm", args=[batch.pk]))
        batch.refresh_from_db()
        self.assertEqual(batch.status, ImportBatch.Status.DONE)
        self.assertEqual(RectificationItem.objects.count(), 4)
        self.assertTrue(os.path.exists(batch.file.path))  # the original file is kept
        self.assertEqual(ItemEvent.objects.filter(data__batch=batch.pk).count(), 4)

        from ledgers import imports  # a redelivered task, or a second click, changes nothing
        self.assertIsNone(imports.run_commit(batch.pk))
        with self.captureOnCommitCallbacks(execute=True):
            again = self.client.post(reverse("import_confirm", args=[batch.pk]), follow=True)
        self.assertNotContains(again, "预览中有错误的行")  # a finished batch is not blamed for bad rows
        self.assertEqual(RectificationItem.objects.count(), 4)
        batch.refresh_from_db()
        self.assertEqual(batch.status, ImportBatch.Status.DONE)

    def test_an_unexpected_error_in_the_worker_fails_the_batch_with_a_message(self):
        from unittest import mock

        from ledgers import imports

        self.client.force_login(self.w.erin)
        self.client.post(reverse("import_new", args=["ledger"]), {
            "file": upload(importfiles.ledger_workbook()), "unit": self.w.K1.pk, "campaign": self.w.campaign.pk})
        batch = ImportBatch.objects.get()
        broken = (mock.Mock(side_effect=RuntimeError("boom")), *imports.IMPORTERS["ledger"][1:])
        with mock.patch.dict(imports.IMPORTERS, {"ledger": broken}), \
                self.assertLogs("ledgers.imports", "ERROR"), self.captureOnCommitCallbacks(execute=True):
            self.client.post(reverse("import_mapping", args=[batch.pk]),
                             {f"col-{i}": v for i, v in enumerate(batch.mapping.values())})
        page = self.client.get(reverse("import_status", args=[batch.pk]))
        self.assertContains(page, "读取文件时出错")
        self.assertContains(page, "重新上传")

    def test_a_file_with_a_bad_row_cannot_be_confirmed(self):
        rows = importfiles.ledger_rows()
        rows[0][7] = "查无此人"
        self.client.force_login(self.w.erin)
        self.client.post(reverse("import_new", args=["ledger"]), {
            "file": upload(importfiles.ledger_workbook(rows)), "unit": self.w.K1.pk, "campaign": self.w.campaign.pk})
        batch = ImportBatch.objects.get()
        with self.captureOnCommitCallbacks(execute=True):
            self.client.post(reverse("import_mapping", args=[batch.pk]),
                             {f"col-{i}": v for i, v in enumerate(batch.mapping.values())})
        page = self.client.get(reverse("import_status", args=[batch.pk]))
        self.assertContains(page, "找不到责任人“查无此人”")
        self.assertNotContains(page, "确认导入（")
        self.client.post(reverse("import_confirm", args=[batch.pk]))
        self.assertFalse(Problem.objects.exists())

    def test_pages_refuse_people_without_the_role(self):
        self.client.force_login(self.w.bob)  # a supervisor
        self.assertEqual(self.client.get(reverse("imports")).status_code, 403)
        self.assertEqual(self.client.get(reverse("import_new", args=["ledger"])).status_code, 403)
        self.client.force_login(self.w.erin)  # office staff: ledgers yes, users no
        self.assertEqual(self.client.get(reverse("import_new", args=["users"])).status_code, 403)
        self.assertEqual(self.client.get(reverse("import_new", args=["ledger"])).status_code, 200)

    def test_an_office_cannot_import_into_a_unit_outside_its_subtree(self):
        office = make_user("office_k1", self.w.K1, Role.OFFICE)
        self.client.force_login(office)
        response = self.client.post(reverse("import_new", args=["ledger"]), {
            "file": upload(importfiles.ledger_workbook()), "unit": self.w.K3.pk, "campaign": self.w.campaign.pk})
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "选择一个有效的选项")
        self.assertFalse(ImportBatch.objects.exists())

    def test_templates_download_with_an_example_and_a_notes_sheet(self):
        self.client.force_login(self.admin)
        for kind in ("units", "users", "ledger"):
            response = self.client.get(reverse("import_template", args=[kind]))
            workbook = load_workbook(io.BytesIO(response.content))
            self.assertEqual(workbook.sheetnames, ["示例", "说明"], kind)

    def test_an_administrator_imports_users_and_downloads_the_codes_once(self):
        self.client.force_login(self.admin)
        workbook = Workbook()
        for row in (["姓名", "单位", "角色"], ["周九", "赫山区", "责任人"]):
            workbook.active.append(row)
        self.client.post(reverse("import_new", args=["users"]), {"file": upload(importfiles.save(workbook), "u.xlsx")})
        batch = ImportBatch.objects.get()
        with self.captureOnCommitCallbacks(execute=True):
            self.client.post(reverse("import_mapping", args=[batch.pk]),
                             {f"col-{i}": v for i, v in enumerate(batch.mapping.values())})
        with self.captureOnCommitCallbacks(execute=True):
            self.client.post(reverse("import_confirm", args=[batch.pk]))
        self.assertContains(self.client.get(reverse("import_status", args=[batch.pk])), "下载激活码（仅一次）")
        response = self.client.post(reverse("import_credentials", args=[batch.pk]))
        sheet = load_workbook(io.BytesIO(response.content)).active
        self.assertEqual(sheet.cell(2, 1).value, "周九")
        self.assertRegex(sheet.cell(2, 4).value, r"^[A-Z2-7]{5}(-[A-Z2-7]{5}){3}$")
        again = self.client.post(reverse("import_credentials", args=[batch.pk]))
        self.assertRedirects(again, reverse("import_status", args=[batch.pk]), fetch_redirect_response=False)


class BadFilesTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()

    def post(self, content, name):
        self.client.force_login(self.w.erin)
        return self.client.post(reverse("import_new", args=["ledger"]), {
            "file": SimpleUploadedFile(name, content), "unit": self.w.K1.pk, "campaign": self.w.campaign.pk})

    def assert_refused(self, content, name, message):
        response = self.post(content, name)
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, message)
        self.assertFalse(ImportBatch.objects.exists())

    def test_each_bad_file_gets_its_own_message_and_nothing_is_kept(self):
        # Django's own check of an empty upload, in Django's words or DRF's (its catalogue wins once installed)
        self.assert_refused(b"", "a.xlsx", "提交的是空文件")
        self.assert_refused(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "a.xlsx", "设有打开密码")
        self.assert_refused(b"%PDF-1.4 not a sheet", "a.xlsx", "内容不是 Excel 工作簿")
        self.assert_refused(b"%PDF-1.4", "a.pdf", "不是可以导入的表格文件")
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("word/document.xml", "<w/>")
        self.assert_refused(buffer.getvalue(), "a.xlsx", "不是 Excel 工作簿")
        self.assert_refused(b"PK\x03\x04broken", "a.xlsx", "文件已损坏")
        self.assert_refused("问题描述,整改措施\n".encode("utf-16-le")[:7] + b"\xff\xfe\x00", "a.csv",
                            "不是可以导入的表格文件")
        self.assert_refused(b"\xff\xfe\xfd\x80\x81 bad bytes", "a.csv", "编码")

    def test_a_workbook_without_data_or_header(self):
        empty = Workbook()
        with open(importfiles.save(empty), "rb") as handle:
            self.assert_refused(handle.read(), "a.xlsx", "没有任何数据")
        other = Workbook()
        other.active.append(["甲", "乙"])
        other.active.append([1, 2])
        with open(importfiles.save(other), "rb") as handle:
            self.assert_refused(handle.read(), "a.xlsx", "没有找到表头")

    @override_settings(IMPORT_MAX_ROWS=5)
    def test_too_many_rows_are_refused_with_the_limit(self):
        # The sheet's own dimension says so: refused at upload, before any row is read.
        with open(importfiles.ledger_workbook(importfiles.ledger_rows() * 30), "rb") as handle:
            self.assert_refused(handle.read(), "a.xlsx", "文件超过 5 行数据")
        # Otherwise the worker stops reading at the limit: the preview fails with the same message.
        from ledgers import imports

        path = importfiles.ledger_workbook(importfiles.ledger_rows() * 3)
        job = imports.Job(kind="ledger", actor=self.w.erin, path=path, original_name="a.xlsx", unit=self.w.K1,
                          campaign=self.w.campaign)
        with self.assertRaisesMessage(imports.BadFile, "文件超过 5 行数据"):
            imports.preview(job)

    @override_settings(IMPORT_MAX_BYTES=1000)
    def test_the_upload_size_is_limited(self):
        self.assert_refused(b"x" * 2000, "a.csv", "文件超过")

    def test_formulas_are_read_as_their_cached_values_and_xlsm_without_macros(self):
        from ledgers import imports

        path = importfiles.ledger_workbook(importfiles.ledger_rows()[:1])
        # openpyxl keeps no cached values: write the formula cell's XML with a cached value by hand.
        with zipfile.ZipFile(path) as archive:
            parts = {name: archive.read(name) for name in archive.namelist()}
        sheet = parts["xl/worksheets/sheet1.xml"].decode()
        sheet = re.sub(r'<c r="E4" t="inlineStr">.*?</c>',
                       '<c r="E4" t="str"><f>CONCAT("A","B")</f><v>取消民族成分确认表（公式）</v></c>', sheet, count=1)
        self.assertIn("CONCAT", sheet)
        parts["xl/worksheets/sheet1.xml"] = sheet.encode()
        handle, xlsm = tempfile.mkstemp(suffix=".xlsm")
        os.close(handle)
        with zipfile.ZipFile(xlsm, "w") as archive:
            for name, data in parts.items():
                archive.writestr(name, data)
            archive.writestr("xl/vbaProject.bin", b"\0macro")
        job = imports.Job(kind="ledger", actor=self.w.erin, path=xlsm, original_name="台账.xlsm", unit=self.w.K1,
                          campaign=self.w.campaign)
        plan = imports.preview(job)
        self.assertEqual([row.measure for row in plan.created], ["取消民族成分确认表（公式）"])


class CommandsTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()
        cls.admin = make_user("admin_c1", cls.w.C1, Role.ADMIN, Role.OWNER, is_staff=True)

    def test_import_ledger_previews_then_commits(self):
        path = importfiles.ledger_workbook()
        out = io.StringIO()
        call_command("import_ledger", path, "--unit", "430903", "--user", "erin", stdout=out)
        self.assertIn("新建 4", out.getvalue())
        self.assertFalse(Problem.objects.exists())
        call_command("import_ledger", path, "--unit", "430903", "--user", "erin", "--commit", stdout=out)
        self.assertEqual(RectificationItem.objects.count(), 4)
        batch = ImportBatch.objects.get()
        self.assertEqual((batch.created_by, batch.status), (self.w.erin, ImportBatch.Status.DONE))
        call_command("import_ledger", path, "--unit", "430903", "--user", "erin", "--commit", stdout=out)
        self.assertEqual(RectificationItem.objects.count(), 4)

    def test_bad_rows_exit_with_status_1_and_write_nothing(self):
        rows = importfiles.ledger_rows()
        rows[2][8] = "明年春天"
        err = io.StringIO()
        with self.assertRaises(CommandError) as raised:
            call_command("import_ledger", importfiles.ledger_workbook(rows), "--unit", "430903", "--user", "erin",
                         "--commit", stdout=io.StringIO(), stderr=err)
        self.assertEqual(raised.exception.returncode, 1)
        self.assertIn("第 6 行：日期“明年春天”无法识别", err.getvalue())
        self.assertFalse(Problem.objects.exists())
        self.assertFalse(ImportBatch.objects.exists())

    def test_commands_keep_the_users_scope(self):
        with self.assertRaisesMessage(CommandError, "只能导入到本单位及下级单位"):
            call_command("import_ledger", importfiles.ledger_workbook(), "--unit", "433101", "--user", "admin_c1",
                         stdout=io.StringIO())
        with self.assertRaisesMessage(CommandError, "只有系统管理员"):
            call_command("import_units", importfiles.ledger_workbook(), "--user", "erin", stdout=io.StringIO())

    def test_import_units_and_users_with_credentials_out(self):
        units = Workbook()
        for row in (["单位名称", "单位代码", "上级单位", "层级"], ["桃江县", "430922", "益阳市", "县市区"]):
            units.active.append(row)
        call_command("import_units", importfiles.save(units), "--user", "admin_c1", "--commit", stdout=io.StringIO())
        self.assertEqual(Unit.objects.get(code="430922").parent, self.w.C1)
        users = importfiles.write_csv([["姓名", "单位", "角色"], ["吴十", "桃江县", "责任人"]], "gbk")
        target = tempfile.mktemp(suffix=".xlsx")
        call_command("import_users", users, "--user", "admin_c1", "--commit", "--credentials-out", target,
                     stdout=io.StringIO())
        sheet = load_workbook(target).active
        self.assertEqual((sheet.cell(2, 1).value, sheet.cell(2, 3).value), ("吴十", "桃江县"))
        self.assertEqual(oct(os.stat(target).st_mode & 0o777), "0o600")
        self.assertTrue(User.objects.filter(last_name="吴", unit__code="430922").exists())


class ImportPagesSpeakChineseTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()
        grant(cls.w.erin, Role.ADMIN)

    def test_every_import_page_is_chinese(self):
        from tests.test_chinese_ui import english_words

        w = self.w
        self.client.force_login(w.erin)
        with open(importfiles.ledger_workbook(), "rb") as handle:
            self.client.post(reverse("import_new", args=["ledger"]), {
                "file": SimpleUploadedFile("台账.xlsx", handle.read()), "unit": w.K1.pk, "campaign": w.campaign.pk})
        batch = ImportBatch.objects.get()
        urls = [reverse("imports"), reverse("import_new", args=["ledger"]), reverse("import_new", args=["users"]),
                reverse("import_mapping", args=[batch.pk])]
        with self.captureOnCommitCallbacks(execute=True):
            self.client.post(urls[-1], {f"col-{i}": v for i, v in enumerate(batch.mapping.values())})
        urls.append(reverse("import_status", args=[batch.pk]))
        for url in urls:
            with self.subTest(url=url):
                self.assertEqual(english_words(self.client.get(url).content.decode()), [])
        self.client.logout()
        self.assertEqual(english_words(self.client.get(reverse("activate")).content.decode()), [])
