"""Spreadsheets that print: every sheet of the circular, the weekly summary and the ledger export,
read back from the file, prints one page wide with no text below 8 pt, and every row is tall
enough for its wrapped text.

The rule, from the file alone:
- printable width = the paper's width in the sheet's orientation (A4 297 mm, A3 420 mm landscape)
  minus the left and right margins;
- sheet width = the sum of the column widths × 5.25 pt (widths are in characters of the workbook's
  default font, Calibri 11: 7 px = 5.25 pt a character);
- fit-to-width scale = min(1, printable width ÷ sheet width);
- every cell's font size × scale ≥ 8 pt (the circular's 10 pt text: a scale of at least 0.8).
Row heights: a wrapped text cell of font size s in a column (or merged range) of width w holds
(7w − 4) px ÷ (s × 2/3 px) half-width characters a line; its row (rows, for a label merged down
two header rows) must be at least lines × 1.2 × s pt high.
"""

import datetime
import io
import math
import os

from django.test import TestCase
from openpyxl import load_workbook

from ledgers.cards import card_clock
from ledgers.ledger_export import write_workbook
from ledgers.models import ClosureRecord, RectificationItem, Report
from ledgers.reports.figures import Period
from ledgers.reports.workbook import build_workbook
from ledgers.xlsx import display_width
from tests.test_reports_figures import JUNE_1, MAY, at, build_jishou, build_noise
from tests.world import build_world, make_item, make_problem

PAPER_MM = {9: (210, 297), 8: (297, 420)}  # openpyxl paperSize: 9 = A4, 8 = A3
LONG_TEXT = ("申请人在线提交材料后，系统未能将材料推送至审批系统，窗口人员需要重新录入全部信息，"
             "导致办理时间延长，群众需要多次往返政务服务大厅补充材料。" * 3)


def print_scale(sheet):
    width_mm, height_mm = PAPER_MM[int(sheet.page_setup.paperSize)]
    paper_mm = height_mm if sheet.page_setup.orientation == "landscape" else width_mm
    printable = paper_mm / 25.4 * 72 - (sheet.page_margins.left + sheet.page_margins.right) * 72
    widths = [dimension.width for dimension in sheet.column_dimensions.values()]
    return min(1.0, printable / (sum(widths) * 5.25))


def smallest_font(sheet):
    return min(cell.font.sz for row in sheet.iter_rows() for cell in row if cell.value not in (None, ""))


def column_width(sheet, column):
    from openpyxl.utils import get_column_letter

    return sheet.column_dimensions[get_column_letter(column)].width


def needed_height(text, width, size):
    capacity = (7 * width - 4) / (size * 2 / 3)
    lines = sum(max(1, math.ceil(display_width(line) / capacity)) for line in str(text).split("\n"))
    return lines * 1.2 * size


def row_height(sheet, row):
    height = sheet.row_dimensions[row].height if row in sheet.row_dimensions else None
    return height or 15  # Excel's default row height


def row_height_problems(sheet):
    """(cell, needed, actual) for every wrapped text cell whose row is too low."""
    merged = {}
    for cell_range in sheet.merged_cells.ranges:
        merged[(cell_range.min_row, cell_range.min_col)] = cell_range
    problems = []
    for row in sheet.iter_rows():
        for cell in row:
            if not isinstance(cell.value, str) or not cell.value or not cell.alignment.wrap_text:
                continue
            span = merged.get((cell.row, cell.column))
            cols = range(span.min_col, span.max_col + 1) if span else [cell.column]
            rows = range(span.min_row, span.max_row + 1) if span else [cell.row]
            width = sum(column_width(sheet, c) for c in cols)
            needed = needed_height(cell.value, width, cell.font.sz)
            actual = sum(row_height(sheet, r) for r in rows)
            if actual < needed:
                problems.append((cell.coordinate, cell.value[:20], needed, actual))
    return problems


class PrintChecks:
    def assert_prints(self, book, paper):
        for sheet in book.worksheets:
            with self.subTest(sheet=sheet.title):
                self.assertEqual(int(sheet.page_setup.paperSize), paper)
                self.assertEqual(sheet.page_setup.orientation, "landscape")
                self.assertEqual(int(sheet.page_setup.fitToWidth), 1)
                self.assertEqual(int(sheet.page_setup.fitToHeight), 0)
                self.assertTrue(sheet.sheet_properties.pageSetUpPr.fitToPage)
                self.assertTrue(sheet.print_title_rows)
                scale = print_scale(sheet)
                self.assertGreaterEqual(smallest_font(sheet) * scale, 8, f"{sheet.title}: scale {scale:.2f}")
                self.assertEqual(row_height_problems(sheet), [])


class CircularPrintTestCase(PrintChecks, TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()
        cls.data = build_jishou(cls.w)
        build_noise(cls.w)
        long_problem = make_problem(cls.w, unit=cls.w.K3, description=LONG_TEXT + "\n第二段：另起一行的说明",
                                    found_at=at(datetime.date(2022, 5, 6)))
        item = make_item(cls.w, problem=long_problem, measure=LONG_TEXT, opened_on=datetime.date(2022, 5, 6),
                         deadline=datetime.date(2022, 5, 10), lead_unit=cls.w.K3)
        closed = make_item(cls.w, problem=long_problem, measure=LONG_TEXT, opened_on=datetime.date(2022, 5, 6),
                           deadline=datetime.date(2022, 5, 30), status=RectificationItem.Status.CLOSED,
                           closed_at=at(datetime.date(2022, 5, 20)), lead_unit=cls.w.K3)
        ClosureRecord.objects.create(item=closed, submitted_by=cls.w.frank, submitted_at=at(datetime.date(2022, 5, 19)),
                                     evidence=LONG_TEXT, decision=ClosureRecord.Decision.APPROVED,
                                     reviewed_by=cls.w.erin, reviewed_at=at(datetime.date(2022, 5, 20)),
                                     time_limit_before=20, time_limit_after=5)
        cls.item = item

    def test_every_sheet_of_the_circular_prints_legibly(self):
        content = build_workbook(Report.Kind.MONTHLY, self.w.P, MAY, today=JUNE_1)
        if os.environ.get("WALKFLOW_KEEP_PRINT"):  # to render it: LibreOffice -> PDF -> PNG
            with open(os.environ["WALKFLOW_KEEP_PRINT"], "wb") as handle:
                handle.write(content)
        book = load_workbook(io.BytesIO(content))
        self.assertEqual(book.sheetnames, ["工作开展", "问题发现", "问题细分类", "整改销号", "整改成效",
                                           "逾期问题清单", "本月新增问题", "销号成效清单", "环比"])
        self.assert_prints(book, paper=9)

    def test_every_sheet_of_the_weekly_summary_prints_legibly(self):
        content = build_workbook(Report.Kind.WEEKLY, self.w.P, Period.week(2022, 20), today=JUNE_1)
        book = load_workbook(io.BytesIO(content))
        self.assertIn("本周新增问题", book.sheetnames)
        self.assert_prints(book, paper=9)

    def test_the_long_text_rows_are_taller_than_one_line(self):
        book = load_workbook(io.BytesIO(build_workbook(Report.Kind.MONTHLY, self.w.P, MAY, today=JUNE_1)))
        sheet = book["逾期问题清单"]
        row = next(r for r in sheet.iter_rows(min_row=4) if r[2].value and r[2].value.startswith(LONG_TEXT[:10]))
        self.assertGreater(sheet.row_dimensions[row[0].row].height, 3 * 14)
        self.assertTrue(row[2].alignment.wrap_text)

    def test_many_subcategories_are_split_over_sheets_that_each_fit(self):
        from ledgers.models import Problem, SubCategory

        SubCategory.objects.bulk_create([SubCategory(category=Problem.Category.WINDOW, name=f"窗口细分类第{i}项问题",
                                                     sort_order=100 + i) for i in range(20)])
        book = load_workbook(io.BytesIO(build_workbook(Report.Kind.MONTHLY, self.w.P, MAY, today=JUNE_1)))
        self.assertIn("问题细分类（2）", book.sheetnames)
        headers = [cell.value for name in book.sheetnames if name.startswith("问题细分类") for cell in book[name][3]]
        self.assertEqual(len([h for h in headers if h and h.startswith("窗口细分类")]), 20)
        self.assert_prints(book, paper=9)


class LedgerExportPrintTestCase(PrintChecks, TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()
        make_item(cls.w, problem=make_problem(cls.w, description=LONG_TEXT), measure=LONG_TEXT)
        make_item(cls.w)

    def test_the_ledger_prints_one_page_wide_on_a3_with_its_header_repeated(self):
        out = io.BytesIO()
        write_workbook(RectificationItem.objects.order_by("pk"), card_clock(), out)
        if os.environ.get("WALKFLOW_KEEP_PRINT"):
            with open(os.environ["WALKFLOW_KEEP_PRINT"] + ".ledger.xlsx", "wb") as handle:
                handle.write(out.getvalue())
        book = load_workbook(io.BytesIO(out.getvalue()))
        self.assertEqual(book.active.print_title_rows, "$1:$1")
        self.assert_prints(book, paper=8)
        self.assertGreater(book.active.row_dimensions[2].height, 4 * 11)
