"""Spreadsheet injection, as a property: any text a user can type goes through every export of the
project and comes back from openpyxl as plain text (never a formula cell), equal to what was typed
minus the characters a cell cannot hold (ledgers.xlsx.safe_text), and no export ever crashes.

"Comes back" means as Excel and WPS show it: they decode "_xHHHH_" in a string cell as the
character U+HHHH, which openpyxl's reader does not do for inline strings, so the text openpyxl reads
is decoded here the way Excel does (openpyxl.utils.escape.unescape, leftmost match first). A typed
"_x003D_1" must therefore be written as "_x005F_x003D_1" and shows as typed.

Covered: the cell helpers themselves (write-only and normal-mode cells), the ledger export
(problem description and measure of an item) and the monthly circular (the description and measure
on 逾期问题清单, the description on 本月新增问题).
"""

import csv
import datetime
import io
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font
from openpyxl.utils.escape import unescape

from ledgers import xlsx
from ledgers.cards import card_clock
from ledgers.reports.workbook import build_workbook
from ledgers.ledger_export import write_workbook
from ledgers.models import Problem, RectificationItem, Report
from ledgers.reports.figures import Period, local_midnight
from tests.world import build_world, make_item, make_problem

CONTROL = "".join(map(chr, [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F]))
# Not XML characters at all: lxml refuses them, and one would abort the whole export.
NONCHARACTERS = "\ufffe\uffff"
REMOVED = set(CONTROL + NONCHARACTERS)
ATTACKS = ["=cmd|' /C calc'!A0", '=HYPERLINK("http://evil.example/","点我")', "+1+1", "-2+3", "@SUM(A1:A9)",
           "=1+1", "\t=1+1", "\r\n=1", " =1", "＝1+1", "_x0041_", "=", "+", "-", "@",
           "_x003D_1+1", "_x003d_HYPERLINK(1)", "_x0041_x0042_", "__x0041_", "_x005F_x0041_", "_x005F_", "_x000D_"]
# Text around Excel's escape syntax: "_x" followed by hex digits and underscores in any mix.
escapes = st.tuples(st.sampled_from(["_x", "_X", "x", "_"]), st.text(st.sampled_from("0123456789abcdefABCDEF_x"),
                                                                      max_size=7)).map("".join)

characters = st.characters(exclude_categories=("Cs",))  # lone surrogates cannot reach a Python str from a form
pieces = st.one_of(
    st.text(characters, max_size=40),
    st.text(st.sampled_from(CONTROL + NONCHARACTERS + "=+-@\t\r\n\"'|!;,"), max_size=10),
    st.sampled_from(ATTACKS),
    escapes,
)
texts = st.one_of(
    st.text(characters),
    st.tuples(st.sampled_from("=+-@"), st.text(characters)).map("".join),
    st.lists(pieces, max_size=8).map("".join),
    # Near and over the cell limit, with control characters in it: the cut happens after removal.
    st.tuples(st.lists(pieces, min_size=1, max_size=3).map("".join).filter(bool), st.integers(32_000, 40_000))
    .map(lambda parts: (parts[0] * (parts[1] // len(parts[0]) + 1))[: parts[1]]),
)
# What reaches the database: Django's form fields refuse NUL (ProhibitNullCharactersValidator) and
# PostgreSQL cannot store it in a text column, so stored text never holds one.
stored_texts = texts.map(lambda text: text.replace("\x00", "")).filter(lambda text: text.strip())


def expected(text):
    """What a reader of the workbook must see: the text less the removed characters, cut with the mark."""
    kept = "".join(ch for ch in text if ch not in REMOVED)
    if len(kept) > xlsx.MAX_CELL_CHARS:
        kept = kept[: xlsx.MAX_CELL_CHARS - len(xlsx.TRUNCATION_MARK)] + xlsx.TRUNCATION_MARK
    return kept


def read_back(payload):
    return load_workbook(io.BytesIO(payload))


def assert_no_formula(testcase, book):
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                testcase.assertNotEqual(cell.data_type, "f", f"{sheet.title}!{cell.coordinate}: {cell.value!r:.80}")


def value_of(cell):
    """The cell's text as Excel shows it; an empty string is stored as an empty cell."""
    return "" if cell.value is None else unescape(cell.value)


def assert_text(testcase, cell, text):
    """The cell reads back as the typed text, and formula-looking text carries Excel's quote prefix,
    so it stays text even when someone edits the cell in Excel or WPS."""
    testcase.assertEqual(value_of(cell), expected(text))
    if expected(text).startswith(xlsx.FORMULA_STARTS):
        testcase.assertTrue(cell.quotePrefix, f"{cell.coordinate} has no quote prefix")


class FastRowsTests(HypothesisTestCase):
    """ledgers.xlsx.FastRows, the writer every export uses, with plain and styled text cells."""

    @hypothesis_settings(max_examples=150, deadline=None, derandomize=True,
                         suppress_health_check=[HealthCheck.too_slow])
    @given(text=texts)
    @example(text="=cmd|' /C calc'!A0")
    @example(text="\x00\x01=1+1\x1f\x7f")
    @example(text="问题\ufffe描述\uffff")
    @example(text="=" + "a" * 40_000)
    def test_it_keeps_any_text_as_text(self, text):
        writer = Workbook(write_only=True)
        sheet = writer.create_sheet("写入")
        rows = xlsx.FastRows(sheet)
        bold = rows.style_id(xlsx.style(sheet, font=Font(bold=True)))
        rows.append([text, xlsx.Styled(text, bold), 7])
        out = io.BytesIO()
        writer.save(out)
        back = read_back(out.getvalue())
        assert_no_formula(self, back)
        first = next(back.worksheets[0].iter_rows(max_row=1))
        assert_text(self, first[0], text)
        assert_text(self, first[1], text)
        if expected(text):
            self.assertEqual(first[0].data_type, "s")
            self.assertTrue(first[1].font.b)  # the quote prefix kept the cell's own style
        self.assertEqual(first[2].value, 7)  # numbers stay numbers

    def test_safe_text_matches_the_documented_rule(self):
        self.assertEqual(xlsx.safe_text("a\x00b\tc\nd\re\x0b\x0c\x1f\x7f"), "ab\tc\nd\re")
        cut = xlsx.safe_text("x" * 40_000)
        self.assertEqual(len(cut), xlsx.MAX_CELL_CHARS)
        self.assertTrue(cut.endswith(xlsx.TRUNCATION_MARK))

    def test_it_escapes_the_underscore_of_every_literal_escape_sequence(self):
        self.assertEqual(xlsx.excel_literal("_x003D_1+1"), "_x005F_x003D_1+1")
        self.assertEqual(xlsx.excel_literal("_x0041_x0042_"), "_x005F_x0041_x005F_x0042_")
        self.assertEqual(xlsx.excel_literal("a_x12_ _xZZZZ_ x0041_"), "a_x12_ _xZZZZ_ x0041_")
        self.assertEqual(unescape(xlsx.excel_literal("_x0041_x0042_")), "_x0041_x0042_")

    @unittest.skipUnless(shutil.which("soffice"), "LibreOffice (soffice) is not installed")
    def test_libreoffice_shows_the_typed_text(self):
        # A second reader besides openpyxl: LibreOffice decodes the escaped underscore too.
        typed = ["_x003D_1+1", "_x005F_", "_x0041_x0042_", "__x0041_", "普通文字_x4E2D_"]
        writer = Workbook(write_only=True)
        rows = xlsx.FastRows(writer.create_sheet("写入"))
        for text in typed:
            rows.append([text])
        with tempfile.TemporaryDirectory() as folder:
            book = Path(folder) / "typed.xlsx"
            writer.save(book)
            subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{folder}/profile",
                            "--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76", "--outdir", folder,
                            str(book)], check=True, capture_output=True, timeout=180)
            with open(Path(folder) / "typed.csv", encoding="utf-8", newline="") as handle:
                shown = [row[0] for row in csv.reader(handle)]
        self.assertEqual(shown, typed)


class LedgerExportTests(HypothesisTestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()
        cls.item = make_item(cls.w)

    @hypothesis_settings(max_examples=40, deadline=None, derandomize=True,
                         suppress_health_check=[HealthCheck.too_slow])
    @given(description=stored_texts, measure=stored_texts)
    @example(description="=cmd|' /C calc'!A0", measure="@SUM(A1)\x01")
    def test_it_exports_any_description_and_measure_as_text(self, description, measure):
        Problem.objects.filter(pk=self.item.problem_id).update(description=description)
        RectificationItem.objects.filter(pk=self.item.pk).update(measure=measure)
        out = io.BytesIO()
        self.assertEqual(write_workbook(RectificationItem.objects.filter(pk=self.item.pk), card_clock(), out), 1)
        book = read_back(out.getvalue())
        assert_no_formula(self, book)
        header, row = list(book.active.iter_rows(max_row=2))
        columns = {cell.value: index for index, cell in enumerate(header)}
        assert_text(self, row[columns["问题描述"]], description)
        assert_text(self, row[columns["整改措施"]], measure)


MAY = Period.month(2022, 5)
JUNE_1 = datetime.date(2022, 6, 1)


def data_rows(sheet):
    """Rows under the header (row 3, or rows 3-4 with grouped headers) as {header: cell}."""
    header = {cell.value: cell.column for cell in sheet[3] if cell.value}
    for row in sheet.iter_rows(min_row=4):
        yield {name: row[column - 1] for name, column in header.items() if column <= len(row)}


class CircularTests(HypothesisTestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = w = build_world()
        # Found in May, overdue and still open on 1 June: on both 本月新增问题 and 逾期问题清单.
        cls.problem = make_problem(w, found_at=local_midnight(datetime.date(2022, 5, 10)))
        cls.item = make_item(w, problem=cls.problem, opened_on=datetime.date(2022, 5, 10),
                             deadline=datetime.date(2022, 5, 20))

    @hypothesis_settings(max_examples=30, deadline=None, derandomize=True,
                         suppress_health_check=[HealthCheck.too_slow])
    @given(description=stored_texts, measure=stored_texts)
    @example(description="=HYPERLINK(\"http://evil.example/\",\"点我\")", measure="-2+3\x1f")
    def test_it_puts_any_description_into_the_circular_as_text(self, description, measure):
        Problem.objects.filter(pk=self.problem.pk).update(description=description)
        RectificationItem.objects.filter(pk=self.item.pk).update(measure=measure)
        book = read_back(build_workbook(Report.Kind.MONTHLY, self.w.P, MAY, today=JUNE_1))
        assert_no_formula(self, book)

        new = [row for row in data_rows(book["本月新增问题"]) if row.get("序号") and row["序号"].value == 1]
        self.assertEqual(len(new), 1)
        assert_text(self, new[0]["问题描述"], description)

        overdue = [row for row in data_rows(book["逾期问题清单"]) if row.get("序号") and row["序号"].value == 1]
        self.assertEqual(len(overdue), 1)
        assert_text(self, overdue[0]["问题描述"], description)
        assert_text(self, overdue[0]["整改措施"], measure)
