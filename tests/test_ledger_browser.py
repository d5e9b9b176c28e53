"""The ledger in Chromium: a supervisor narrows the ledger to red cards, opens an item and approves
its closure; an owner asks for closure with a file. Live server, so personas are built per test."""

import datetime
import tempfile
from pathlib import Path

import pytest
from django.utils import timezone
from PIL import Image

from ledgers import services
from ledgers.models import Attachment, ClosureRecord, RectificationItem
from tests.base import BrowserTestCase
from tests.world import build_world, make_item, make_problem

pytestmark = pytest.mark.browser


class LedgerBrowserTests(BrowserTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.TemporaryDirectory()
        cls.photo = str(Path(cls.tmp.name) / "整改后窗口.png")
        Image.new("RGB", (64, 48), (40, 120, 40)).save(cls.photo, "PNG")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.w = build_world()

    def open_as(self, user):
        return self.signed_in_page(user)

    def tearDown(self):
        self.assertEqual(self.page_errors, [], "JavaScript errors on the page")

    def test_a_supervisor_filters_to_red_cards_and_approves_a_closure(self):
        w = self.w
        today = timezone.localdate()
        late = make_item(w, problem=make_problem(w, description="出生上户需跑两次窗口"),
                         deadline=today - datetime.timedelta(days=5), opened_on=today - datetime.timedelta(days=40))
        on_time = make_item(w, problem=make_problem(w, description="自助机故障无人处理"))
        services.request_closure(w.carol, late.pk, evidence="已实现一次办结")

        page = self.open_as(w.bob)
        page.goto(f"{self.live_server_url}/ledger/")
        page.click(".ledger-filter summary")  # the filter box opens on demand; the table comes first
        page.select_option("#f-card", "red")
        page.click("#filter-form button[type=submit]")
        page.wait_for_url("**/ledger/?*card=red*")
        table = page.locator("table.ledger-table tbody")
        self.assertIn("出生上户需跑两次窗口", table.inner_text())
        self.assertNotIn("自助机故障无人处理", table.inner_text())
        self.assertIn("红牌", table.locator(".mark-red").first.inner_text())

        page.click("text=出生上户需跑两次窗口")
        page.wait_for_url(f"**/items/{late.pk}/")
        page.click("#action-approve summary")  # the actions come first, each opening its form in place
        page.fill("#id_approve-note", "佐证材料齐全，同意销号")
        page.click("#action-approve button[type=submit]")
        page.wait_for_selector(".msg.success")
        self.assertIn("已同意销号", page.inner_text(".messages"))
        self.assertIn("已销号", page.inner_text(".status"))

        late.refresh_from_db()
        on_time.refresh_from_db()
        self.assertEqual(late.status, RectificationItem.Status.CLOSED)
        self.assertEqual(on_time.status, RectificationItem.Status.OPEN)

    def test_an_owner_asks_for_closure_with_a_file(self):
        w = self.w
        item = make_item(w)
        page = self.open_as(w.carol)
        page.goto(f"{self.live_server_url}/items/{item.pk}/")
        page.click("#action-closure summary")
        page.fill("#id_closure-evidence", "取消民族成分确认表，系统自动比对身份证信息")
        page.set_input_files("#id_closure-files", self.photo)
        page.fill("#id_closure-time_limit_before", "10")
        page.fill("#id_closure-time_limit_after", "6")
        page.click("#action-closure button[type=submit]")
        page.wait_for_selector(".msg.success")
        self.assertIn("销号申请已提交", page.inner_text(".messages"))

        record = ClosureRecord.objects.get(item=item)
        self.assertEqual((record.submitted_by, record.time_limit_before, record.time_limit_after), (w.carol, 10, 6))
        attachment = Attachment.objects.get(closure=record)
        self.assertEqual((attachment.content_type, attachment.original_name), ("image/jpeg", "整改后窗口.jpg"))
        item.refresh_from_db()
        self.assertEqual(item.status, RectificationItem.Status.CLOSURE_REQUESTED)
