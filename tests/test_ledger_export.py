"""The ledger export, read back with openpyxl: headers, frozen row, widths, safe text, the latest
progress note and approved closure figures, and a query count that does not grow with the rows."""

import datetime
import io

from django.test import TestCase
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from ledgers import services
from ledgers.cards import card_clock
from ledgers.ledger_export import OverdueDays, columns, write_workbook
from ledgers.models import RectificationItem
from ledgers.workdays import WorkCalendar
from tests.world import build_world, make_item, make_problem

FORMULA = "=cmd|' /C calc'!A0"


def read_back(payload):
    workbook = load_workbook(io.BytesIO(payload))
    sheet = workbook.active
    rows = list(sheet.iter_rows())
    header = [cell.value for cell in rows[0]]
    return sheet, header, [{header[i]: cell for i, cell in enumerate(row)} for row in rows[1:]]


class ExportTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = w = build_world()
        today = timezone.localdate()
        cls.evil = make_item(w, problem=make_problem(w, description=FORMULA), measure="+1 先办\x01后补\x1f",
                             deadline=today - datetime.timedelta(days=7),
                             opened_on=today - datetime.timedelta(days=60))
        services.add_progress(w.carol, cls.evil.pk, note="第一次调度")
        services.add_progress(w.carol, cls.evil.pk, note="@第二次调度")
        cls.closed = make_item(w)
        services.request_closure(w.carol, cls.closed.pk, evidence="已整改",
                                 figures={"time_limit_before": 10, "time_limit_after": 6, "trips_before": 2,
                                          "trips_after": 0})
        services.return_closure(w.bob, cls.closed.pk, reason="补材料")
        services.request_closure(w.carol, cls.closed.pk, evidence="已补充",
                                 figures={"time_limit_before": 58, "time_limit_after": 35})
        services.approve_closure(w.bob, cls.closed.pk)
        cls.elsewhere = make_item(w, owner=w.frank, lead_unit=w.K3, problem=make_problem(w, unit=w.K3))

    def export(self, queryset):
        out = io.BytesIO()
        count = write_workbook(queryset, card_clock(), out)
        return count, out.getvalue()

    def test_it_writes_chinese_headers_a_frozen_row_and_fitting_widths(self):
        _count, payload = self.export(RectificationItem.objects.visible_to(self.w.bob).order_by("pk"))
        sheet, header, _rows = read_back(payload)
        self.assertEqual(header[:4], ["编号", "专项行动", "所属单位", "问题描述"])
        self.assertIn("最新进展", header)
        self.assertIn("整改后办理时限（工作日）", header)
        self.assertEqual(sheet.freeze_panes, "A2")
        # "整改后办理时限（工作日）" (24 wide) wraps in a 5-wide column: 4 lines of 11 pt in the header row
        figure_column = sheet.cell(row=1, column=header.index("整改后办理时限（工作日）") + 1).column_letter
        self.assertEqual(sheet.column_dimensions[figure_column].width, 5)
        self.assertTrue(sheet["A1"].alignment.wrap_text)
        self.assertGreaterEqual(sheet.row_dimensions[1].height, 4 * 11 * 1.2)

    def test_a_formula_like_description_comes_back_as_text(self):
        _count, payload = self.export(RectificationItem.objects.filter(pk=self.evil.pk))
        _sheet, _header, rows = read_back(payload)
        description = rows[0]["问题描述"]
        self.assertEqual(description.value, FORMULA)
        self.assertEqual(description.data_type, "s")
        measure = rows[0]["整改措施"]
        self.assertEqual((measure.value, measure.data_type), ("+1 先办后补", "s"))  # control characters removed
        self.assertEqual(rows[0]["最新进展"].value, "@第二次调度")
        self.assertEqual(rows[0]["最新进展"].data_type, "s")
        self.assertEqual(rows[0]["红黄牌"].value, "红牌（已逾期）")
        self.assertGreater(rows[0]["逾期工作日"].value, 0)

    def test_it_writes_the_latest_approved_closure_figures(self):
        _count, payload = self.export(RectificationItem.objects.filter(pk=self.closed.pk))
        _sheet, _header, rows = read_back(payload)
        row = rows[0]
        self.assertEqual((row["整改前办理时限（工作日）"].value, row["整改后办理时限（工作日）"].value), (58, 35))
        self.assertIsNone(row["整改前跑动次数"].value)  # the returned request's figures are not used
        self.assertEqual(row["状态"].value, "已销号")
        self.assertIsInstance(row["整改时限"].value, datetime.datetime)

    def test_it_cuts_over_long_text_with_a_mark(self):
        long = make_item(self.w, problem=make_problem(self.w, description="长" * 40000))
        _count, payload = self.export(RectificationItem.objects.filter(pk=long.pk))
        value = read_back(payload)[2][0]["问题描述"].value
        self.assertEqual(len(value), 32767)
        self.assertTrue(value.endswith("（已截断）"))

    def test_the_queries_do_not_grow_with_the_rows(self):
        clock = card_clock()  # the calendar's one query happens here, outside the count
        for _ in range(20):
            make_item(self.w)
        # the rows with their latest note (subqueries), then the closure figures of the chunk
        with self.assertNumQueries(2):
            count = write_workbook(RectificationItem.objects.all(), clock, io.BytesIO())
        self.assertEqual(count, 23)

    def test_the_export_view_follows_the_filter_and_the_scope(self):
        self.client.force_login(self.w.bob)
        response = self.client.get(reverse("ledger_export"), {"card": "red"})
        self.assertEqual(response.status_code, 200)
        self.assertIn("attachment", response["Content-Disposition"])
        _sheet, _header, rows = read_back(b"".join(response.streaming_content))
        self.assertEqual([row["编号"].value for row in rows], [self.evil.pk])
        response = self.client.get(reverse("ledger_export"))
        ids = {row["编号"].value for row in read_back(b"".join(response.streaming_content))[2]}
        self.assertEqual(ids, {self.evil.pk, self.closed.pk})  # never frank's K3 item

    def test_columns_are_not_wider_than_the_cap(self):
        self.assertTrue(all(width <= 60 for _header, width in columns()))


class OverdueDaysTestCase(TestCase):
    def test_it_agrees_with_the_calendar_day_by_day(self):
        calendar = WorkCalendar(overrides={})
        clock = card_clock(today=datetime.date(2026, 2, 25), calendar=calendar)
        overdue = OverdueDays(clock)
        # across the 2026 Spring Festival (make-up workdays 02-14 and 02-28 included)
        for offset in (40, 1, 12, 30, 2, 0):
            deadline = clock.today - datetime.timedelta(days=offset)
            expected = calendar.working_days_overdue(deadline, clock.today).value
            self.assertEqual(overdue("open", deadline), expected, deadline)
        self.assertEqual(overdue("closed", datetime.date(2026, 1, 1)), 0)


class EmptyCardCellTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()
        cls.calm = make_item(cls.w, deadline=timezone.localdate() + datetime.timedelta(days=60))

    def test_an_item_without_a_card_leaves_its_card_cell_empty(self):
        out = io.BytesIO()
        write_workbook(RectificationItem.objects.filter(pk=self.calm.pk), card_clock(), out)
        row = read_back(out.getvalue())[2][0]
        self.assertIsNone(row["红黄牌"].value)
        self.assertEqual(row["红黄牌"].data_type, "n")  # openpyxl's type of a cell that holds nothing
