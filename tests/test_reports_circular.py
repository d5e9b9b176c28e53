"""The monthly circular workbook, read back with openpyxl, and the two management commands."""

import datetime
import io
import tempfile
from pathlib import Path

import time_machine
from django.core.management import CommandError, call_command
from django.test import TestCase
from openpyxl import load_workbook

from ledgers.reports.workbook import build_workbook
from ledgers.models import Report
from ledgers.reports.figures import Period
from tests.test_reports_figures import JISHOU_SUBCATEGORIES, JUNE_1, MAY, build_jishou, build_noise
from tests.world import build_world

SHEETS = ["工作开展", "问题发现", "问题细分类", "整改销号", "整改成效", "逾期问题清单", "本月新增问题", "销号成效清单", "环比"]
TOPICS = ["工作开展", "问题发现", "问题细分类", "整改销号", "整改成效"]


def header_map(book):
    """(sheet, column index) by header text, over the topic sheets (one header row, row 3)."""
    columns = {}
    for name in TOPICS:
        for cell in book[name][3]:
            if cell.value:
                columns.setdefault(cell.value, (name, cell.column))
    return columns


def value_of(book, header, label):
    """The cell of the unit `label` under `header`, wherever the topic sheets put it."""
    name, column = header_map(book)[header]
    return row_of(book[name], label)[column - 1]


def row_of(sheet, label):
    for row in sheet.iter_rows(min_row=4):
        if row[1].value == label:
            return row
    raise AssertionError(f"no row {label}")


class CircularWorkbookTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()
        cls.data = build_jishou(cls.w)
        build_noise(cls.w)
        cls.content = build_workbook(Report.Kind.MONTHLY, cls.w.P, MAY, today=JUNE_1)

    def setUp(self):
        self.book = load_workbook(io.BytesIO(self.content))

    def test_it_has_the_five_sheets_of_a_circular(self):
        self.assertEqual(self.book.sheetnames, SHEETS)

    def test_it_titles_the_circular_with_a_merged_bold_title(self):
        sheet = self.book["工作开展"]
        self.assertEqual(sheet["A1"].value, "2022年5月 走流程、解难题、优服务 行动情况通报")
        self.assertTrue(sheet["A1"].font.b)
        self.assertIn("A1:G1", {str(r) for r in sheet.merged_cells.ranges})
        self.assertIn("范围：湖南省", sheet["A2"].value)
        self.assertIn("2022年5月1日至2022年5月31日", sheet["A2"].value)

    def test_it_reports_jishou_in_the_circular(self):
        book = self.book
        # 湘西州: 吉首市 plus one problem of 湘西州 itself
        self.assertEqual(value_of(book, "走流程事项（个）", "湘西州").value, 86)
        for _category, name, count in JISHOU_SUBCATEGORIES:
            self.assertEqual(value_of(book, name, "湘西州").value, count, name)
        self.assertEqual(value_of(book, "本期新增整改措施（条）", "湘西州").value, 114)
        self.assertEqual(value_of(book, "红牌（逾期）", "湘西州").value, 30)
        self.assertAlmostEqual(value_of(book, "销号率", "湘西州").value, 40 / 114)
        self.assertEqual(value_of(book, "销号率", "湘西州").number_format, "0.0%")

    def test_it_reports_jishou_numbers_exactly_for_the_city_scope(self):
        book = load_workbook(io.BytesIO(build_workbook(Report.Kind.MONTHLY, self.w.C2, MAY, today=JUNE_1)))
        self.assertEqual(value_of(book, "走流程事项（个）", "吉首市").value, 86)
        self.assertEqual(value_of(book, "发现问题合计（个）", "吉首市").value, 103)
        self.assertEqual(value_of(book, "本期新增整改措施（条）", "吉首市").value, 114)
        self.assertEqual(value_of(book, "其中一把手（次）", "吉首市").value, 37)

    def test_it_ends_the_table_with_totals_and_ranks_by_closure_rate(self):
        book = self.book
        self.assertEqual(value_of(book, "发现问题合计（个）", "合计").value, 105)
        self.assertEqual(value_of(book, "走流程（次）", "合计").value, 87)
        self.assertTrue(value_of(book, "走流程（次）", "合计").font.b)
        self.assertEqual(value_of(book, "销号率排名", "湘西州").value, 1)
        self.assertEqual(value_of(book, "销号率排名", "益阳市").value, "—")  # nothing to close
        ranking = [row for row in book["整改销号"].iter_rows(values_only=True) if row[0] == "销号率排名"]
        self.assertEqual(len(ranking), 1)

    def test_it_is_set_up_to_print_on_a4_landscape(self):
        for sheet in self.book.worksheets:
            self.assertEqual(sheet.page_setup.orientation, "landscape", sheet.title)
            self.assertEqual(str(sheet.page_setup.paperSize), "9", sheet.title)  # 9 = A4
            self.assertEqual(str(sheet.page_setup.fitToWidth), "1", sheet.title)
            self.assertTrue(sheet.sheet_properties.pageSetUpPr.fitToPage, sheet.title)
            self.assertTrue(sheet.print_title_rows.startswith("$3:"), sheet.title)
            self.assertIsNotNone(sheet.freeze_panes, sheet.title)
        self.assertEqual(self.book["工作开展"].print_title_rows, "$3:$3")
        self.assertEqual(self.book["工作开展"].freeze_panes, "C4")
        self.assertEqual(self.book["销号成效清单"].print_title_rows, "$3:$4")

    def test_it_uses_songti_thin_borders_and_widths_for_chinese(self):
        sheet = self.book["逾期问题清单"]
        cell = sheet["C4"]
        self.assertEqual(cell.font.name, "宋体")
        self.assertEqual(cell.border.left.style, "thin")
        self.assertGreaterEqual(sheet.column_dimensions["C"].width, 30)
        header = sheet["A3"]
        self.assertTrue(header.font.b)

    def test_it_lists_every_red_item_with_working_days_overdue(self):
        sheet = self.book["逾期问题清单"]
        rows = [row for row in sheet.iter_rows(min_row=4, values_only=True) if row[0] is not None]
        self.assertEqual(len(rows), 30)
        first = rows[0]
        self.assertEqual(first[1], "吉首市")
        self.assertEqual(first[5], "符凡")
        self.assertEqual(first[6].date(), datetime.date(2022, 5, 20))
        # 20 May (Fri) to 31 May (Tue): 23-27, 30, 31 May = 7 working days
        self.assertEqual(first[7], 7)

    def test_it_writes_user_text_as_text_never_as_a_formula(self):
        sheet = self.book["逾期问题清单"]
        cell = sheet["C4"]
        self.assertTrue(cell.value.startswith("=问题"))
        self.assertEqual(cell.data_type, "s")
        self.assertNotIn("\x07", cell.value)
        self.assertTrue(cell.quotePrefix)

    def test_it_lists_the_months_new_problems_with_status(self):
        sheet = self.book["本月新增问题"]
        rows = [row for row in sheet.iter_rows(min_row=4, values_only=True) if isinstance(row[0], int)]
        self.assertEqual(len(rows), 105)
        states = {row[9] for row in rows if row[1] == "吉首市"}
        self.assertEqual(states, {"已立行立改", "整改中", "已销号"})

    def test_it_lists_the_closures_with_before_and_after(self):
        sheet = self.book["销号成效清单"]
        rows = [row for row in sheet.iter_rows(min_row=5, values_only=True) if isinstance(row[0], int)]
        self.assertEqual(len(rows), 10)
        self.assertEqual(rows[0][6:9], (10, 6, 0.4))
        totals = [row for row in sheet.iter_rows(min_row=5, values_only=True) if row[1] == "合计"][0]
        self.assertEqual(totals[6:8], (100, 60))

    def test_it_compares_with_last_month(self):
        sheet = self.book["环比"]
        rows = {row[0]: row for row in sheet.iter_rows(min_row=4, values_only=True) if row[0]}
        self.assertEqual(rows["发现问题（个）"][1:4], (105, 1, 104))
        self.assertEqual(rows["走流程（次）"][1:3], (87, 1))


class CommandTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()
        build_jishou(cls.w)

    @time_machine.travel(datetime.datetime(2022, 6, 1, 9, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=8))))
    def test_it_writes_the_circular_to_a_file(self):
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "circular.xlsx"
            call_command("circular", "--month", "2022-05", "--unit", "433100", "--out", str(out),
                         stdout=io.StringIO())
            book = load_workbook(out)
        self.assertEqual(book.sheetnames, SHEETS)
        self.assertFalse(Report.objects.exists())

    @time_machine.travel(datetime.datetime(2022, 6, 1, 9, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=8))))
    def test_it_stores_the_report_and_replaces_it_on_a_rerun(self):
        call_command("circular", "--month", "2022-05", stdout=io.StringIO())
        first = Report.objects.get()
        first_name = first.file.name
        call_command("circular", "--month", "2022-05", stdout=io.StringIO())
        report = Report.objects.get()
        self.assertEqual(report.pk, first.pk)
        self.assertEqual(report.status, Report.Status.DONE)
        self.assertNotEqual(report.file.name, first_name)
        self.assertFalse(report.file.storage.exists(first_name))

    @time_machine.travel(datetime.datetime(2022, 5, 23, 9, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=8))))
    def test_it_writes_the_weekly_summary(self):
        call_command("weekly_summary", "--week", "2022-W20", "--unit", "433101", stdout=io.StringIO())
        report = Report.objects.get()
        self.assertEqual((report.kind, report.period, report.scope), ("weekly", "2022-W20", self.w.K3))
        book = load_workbook(report.file.path)
        self.assertEqual(book.sheetnames, ["工作开展", "问题发现", "问题细分类", "整改销号", "整改成效", "逾期问题清单",
                                           "本周新增问题"])
        self.assertTrue(book["工作开展"]["A1"].value.startswith("2022年第20周"))
        self.assertEqual(Period.parse("weekly", "2022-W20").start, datetime.date(2022, 5, 16))

    def test_it_refuses_bad_arguments_in_chinese(self):
        for args in (["circular", "--month", "2022-13"], ["circular", "--month", "2022-05", "--unit", "nope"],
                     ["weekly_summary", "--week", "2022-20"], ["circular", "--month", "2999-01"],
                     ["circular", "--month", "2022-05", "--out", "/nonexistent-dir/x.xlsx"]):
            with self.assertRaises(CommandError, msg=args) as caught:
                call_command(*args, stdout=io.StringIO())
            self.assertRegex(str(caught.exception), "[\u4e00-\u9fff]")
        self.assertFalse(Report.objects.exists())
