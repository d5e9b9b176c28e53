"""The circular as a 公文 (.docx), read back with python-docx: the layout of GB/T 9704-2012, and
every number of the narrative equal to the workbook's number for the same month and scope."""

import datetime
import io
import os
import re

from django.test import TestCase
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Pt
from openpyxl import load_workbook

from ledgers.models import Problem, RectificationItem, Report, ServiceItem
from ledgers.reports.document import Letterhead, build_document
from ledgers.reports.narrative import draft, gather
from ledgers.reports.workbook import build_workbook
from ledgers.units import create_unit
from tests.test_reports_circular import value_of
from tests.test_reports_figures import JUNE_1, MAY, at, build_jishou, build_noise
from tests.world import build_world, make_item, make_problem

LETTERHEAD = Letterhead(mark="湖南省优化营商环境办公室", number="湘优化办〔2022〕12号", recipients="各市州优化办",
                        signature="湖南省优化营商环境办公室", date=datetime.date(2022, 6, 2))
DATE = r"\d{4}年\d{1,2}月(?:\d{1,2}日)?|\d{1,2}月\d{1,2}日"


def build_ranking_cases(w):
    """益阳市 and a third city 常德市 both close 1 of 2 items (a tie at 50%), ahead of 湘西州."""
    w.C3 = create_unit(code="430700", name="常德市", parent=w.P, level="city")
    for unit in (w.C1, w.C3):
        for closed in (True, False):
            problem = make_problem(w, unit=unit, found_at=at(datetime.date(2022, 4, 20)))
            make_item(w, problem=problem, unit=unit, lead_unit=unit, opened_on=datetime.date(2022, 5, 4),
                      deadline=datetime.date(2022, 7, 1),
                      status=RectificationItem.Status.CLOSED if closed else RectificationItem.Status.OPEN,
                      closed_at=at(datetime.date(2022, 5, 20)) if closed else None)
    w.campaign.must_walk_items.add(ServiceItem.objects.create(name="不动产登记", competent_unit=w.P))


def body_text(document):
    """The narrative: the paragraphs from the title down to the attachments note."""
    texts = [p.text for p in document.paragraphs]
    start = next(i for i, t in enumerate(texts) if t.startswith("关于"))
    end = next(i for i, t in enumerate(texts) if t.startswith("附件："))
    return "\n".join(texts[start + 1:end])


class DocumentTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()
        build_jishou(cls.w)
        build_noise(cls.w)
        build_ranking_cases(cls.w)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        content = gather(Report.Kind.MONTHLY, cls.w.P, MAY, today=JUNE_1)
        cls.narrative = draft(content)
        cls.content = build_document(content, cls.narrative, LETTERHEAD)
        cls.workbook = build_workbook(Report.Kind.MONTHLY, cls.w.P, MAY, today=JUNE_1)
        if os.environ.get("WALKFLOW_KEEP_DOCX"):  # to render it: LibreOffice -> PDF -> PNG
            with open(os.environ["WALKFLOW_KEEP_DOCX"], "wb") as handle:
                handle.write(cls.content)

    def setUp(self):
        self.document = Document(io.BytesIO(self.content))
        self.book = load_workbook(io.BytesIO(self.workbook))

    # -- layout ----------------------------------------------------------------------------------

    def test_it_is_a4_with_the_margins_of_gb_t_9704(self):
        section = self.document.sections[0]
        self.assertEqual((round(section.page_width.mm), round(section.page_height.mm)), (210, 297))
        self.assertEqual(round(section.top_margin.mm), 37)  # 天头
        self.assertEqual(round(section.left_margin.mm), 28)  # 订口
        self.assertEqual(round(section.page_width.mm - section.left_margin.mm - section.right_margin.mm), 156)
        self.assertEqual(round(section.page_height.mm - section.top_margin.mm - section.bottom_margin.mm), 225)
        grid = section._sectPr.find(qn("w:docGrid"))
        self.assertEqual(grid.get(qn("w:type")), "lines")
        self.assertEqual(round(225 / 25.4 * 72 * 20 / int(grid.get(qn("w:linePitch")))), 22)  # 22 lines
        spacing = self.document.styles["Normal"].element.rPr.find(qn("w:spacing"))
        pitch = 16 + int(spacing.get(qn("w:val"))) / 20
        self.assertEqual(int(156 / 25.4 * 72 / pitch), 28)  # 28 characters a line
        self.assertAlmostEqual(self.document.styles["Normal"].paragraph_format.line_spacing.pt * 22,
                               225 / 25.4 * 72, delta=1)

    def run_of(self, text):
        for paragraph in self.document.paragraphs:
            for run in paragraph.runs:
                if run.text.startswith(text):
                    return paragraph, run
        raise AssertionError(text)

    def fonts(self, run):
        fonts = run._element.rPr.rFonts
        return fonts.get(qn("w:eastAsia")), fonts.get(qn("w:ascii")), run.font.size

    def test_the_title_body_and_headings_have_their_fonts_and_sizes(self):
        paragraph, run = self.run_of("关于2022年5月“走流程、解难题、优服务”行动开展情况的通报")
        self.assertEqual(self.fonts(run), ("方正小标宋简体", "方正小标宋简体", Pt(22)))
        self.assertEqual(paragraph.alignment, WD_ALIGN_PARAGRAPH.CENTER)
        paragraph, run = self.run_of("2022年5月，全省共开展走流程")
        self.assertEqual(self.fonts(run), ("仿宋_GB2312", "仿宋_GB2312", Pt(16)))
        self.assertEqual(paragraph.paragraph_format.first_line_indent, Pt(32))  # two characters
        _paragraph, run = self.run_of("一、总体情况")
        self.assertEqual(self.fonts(run), ("黑体", "黑体", Pt(16)))
        _paragraph, run = self.run_of("（一）持续深化走流程。")
        self.assertEqual(self.fonts(run), ("楷体_GB2312", "楷体_GB2312", Pt(16)))
        normal = self.document.styles["Normal"]
        self.assertEqual(normal.element.rPr.rFonts.get(qn("w:eastAsia")), "仿宋_GB2312")
        self.assertEqual(normal.font.size, Pt(16))
        font_table = next(p for p in self.document.part.package.iter_parts() if p.partname == "/word/fontTable.xml")
        self.assertIn('w:name="方正小标宋简体"><w:altName w:val="宋体"/>', font_table.blob.decode())

    def test_the_letterhead_is_red_with_the_number_recipients_signature_and_date(self):
        _paragraph, run = self.run_of("湖南省优化营商环境办公室")
        self.assertEqual(str(run.font.color.rgb), "E60012")
        self.run_of("湘优化办〔2022〕12号")
        self.run_of("各市州优化办：")
        texts = [p.text for p in self.document.paragraphs]
        self.assertIn("2022年6月2日", texts)  # 成文日期 in Arabic numerals
        self.assertEqual(texts[texts.index("2022年6月2日") - 1], "湖南省优化营商环境办公室")
        self.assertIn("附件：1. 各单位销号率排名", texts)

    def test_a_unit_without_a_letterhead_gets_none(self):
        content = gather(Report.Kind.MONTHLY, self.w.C2, MAY, today=JUNE_1)
        document = Document(io.BytesIO(build_document(content, draft(content), Letterhead())))
        texts = [p.text for p in document.paragraphs]
        self.assertTrue(next(t for t in texts if t).startswith("关于2022年5月"))
        self.assertIn("湘西州", texts)  # signed with the scope's name
        self.assertIn("2022年5月31日", texts)  # dated as of the figures

    def test_page_numbers_are_fields_on_the_outer_side(self):
        section = self.document.sections[0]
        settings = self.document.settings.element
        self.assertIsNotNone(settings.find(qn("w:evenAndOddHeaders")))
        for footer, align in ((section.footer, WD_ALIGN_PARAGRAPH.RIGHT), (section.even_page_footer,
                                                                           WD_ALIGN_PARAGRAPH.LEFT)):
            paragraph = footer.paragraphs[0]
            self.assertEqual(paragraph.alignment, align)
            field = paragraph._p.find(qn("w:fldSimple"))
            self.assertEqual(field.get(qn("w:instr")), "PAGE")
            self.assertEqual("".join(t.text for t in paragraph._p.iter(qn("w:t"))), "— 1 —")
            self.assertEqual(self.fonts(paragraph.runs[0]), ("宋体", "宋体", Pt(14)))

    def test_attachment_tables_repeat_their_header_row(self):
        tables = self.document.tables
        self.assertEqual(len(tables), 4)
        for table in tables:
            self.assertIsNotNone(table.rows[0]._tr.trPr.find(qn("w:tblHeader")))
        ranking = [[cell.text for cell in row.cells] for row in tables[0].rows[1:]]
        self.assertEqual(ranking[:3], [["1（并列）", "常德市", "2", "1", "50.0%", "0"],
                                       ["1（并列）", "益阳市", "2", "1", "50.0%", "0"],
                                       ["3", "湘西州", "114", "40", "35.1%", "30"]])
        overdue = tables[1].rows
        self.assertEqual(len(overdue), 1 + 30)
        self.assertEqual(overdue[1].cells[4].text, "7")  # working days overdue, as in the workbook

    # -- every number of the narrative is the workbook's ---------------------------------------------

    def test_every_number_in_the_narrative_equals_the_workbook(self):
        text = body_text(self.document)
        book = self.book
        checked = []

        def total(header):
            return value_of(book, header, "合计").value

        def pct(value):
            return f"{value * 100:.1f}"

        def expect(pattern, *values):
            found = re.search(pattern, text)
            self.assertIsNotNone(found, pattern)
            self.assertEqual(found.groups(), tuple(str(v) for v in values), pattern)
            checked.append(found.span())

        expect(r"共开展走流程(\d+)次", total("走流程（次）"))
        expect(r"参与领导(\d+)人次", total("参与领导（人次）"))
        expect(r"“一把手”走流程(\d+)次", total("其中一把手（次）"))
        expect(r"走流程事项(\d+)个", total("走流程事项（个）"))
        covered_header = next(c.value for c in book["工作开展"][3] if str(c.value).startswith("必走事项覆盖"))
        expect(r"(\d+)个必走事项已走到(\d+)个", re.search(r"共(\d+)个", covered_header).group(1),
               total(covered_header))
        expect(r"共发现问题(\d+)个", total("发现问题合计（个）"))
        for label in Problem.Category.labels:
            expect(rf"{label}(\d+)个", total(str(label)))
        expect(r"立行立改(\d+)个", total("立行立改（个）"))
        expect(r"新增整改措施(\d+)条", total("本期新增整改措施（条）"))
        expect(r"本月销号(\d+)条", total("本期销号（条）"))
        expect(r"累计列入台账整改措施(\d+)条", total("累计整改措施（条）"))
        expect(r"、累计销号(\d+)条，销号率(\d+\.\d)%", total("累计销号（条）"), pct(total("销号率")))
        expect(r"未销号(\d+)条", total("未销号（条）"))
        expect(r"逾期（红牌）(\d+)条", total("红牌（逾期）"))
        expect(r"临期（黄牌）(\d+)条", total("黄牌（临期）"))

        comparison = {row[0]: row for row in book["环比"].iter_rows(min_row=4, values_only=True) if row[0]}
        for pattern, label in ((r"走流程次数(增加|减少)(\d+)次", "走流程（次）"), (r"发现问题(增加|减少)(\d+)个", "发现问题（个）"),
                               (r"本月销号(增加|减少)(\d+)条", "本期销号（条）")):
            delta = comparison[label][3]
            expect(pattern, "增加" if delta > 0 else "减少", abs(delta))
        delta = comparison["销号率"][3]
        if delta == "—":  # no rate last month: no change to state
            self.assertNotRegex(text, "销号率(上升|下降|持平)")
        else:
            expect(r"销号率(上升|下降)(\d+\.\d)个百分点", "上升" if delta > 0 else "下降", pct(abs(delta)))

        ranks = list(re.finditer(r"第(\d+)名([^（]+)（(?:并列，)?(\d+\.\d)%）", text))
        self.assertEqual([(m.group(1), m.group(2)) for m in ranks], [("1", "益阳市、常德市"), ("3", "湘西州")])
        for match in ranks:
            for unit in match.group(2).split("、"):
                self.assertEqual(str(value_of(book, "销号率排名", unit).value), match.group(1))
                self.assertEqual(pct(value_of(book, "销号率", unit).value), match.group(3))
            checked.append(match.span())

        expect(r"审核通过销号(\d+)项", total("本期审核销号（项）"))
        expect(r"合计压减办理时限(\d+)个工作日", total("压减办理时限（工作日）"))
        expect(r"时限压缩率(\d+\.\d)%", pct(total("时限压缩率")))
        for pattern, header in ((r"[减、]少?申请材料(\d+)件", "减少申请材料（件）"),
                                (r"[减、]少?办理环节(\d+)个", "减少办理环节（个）"), (r"[减、]少?跑动(\d+)次", "减少跑动（次）")):
            if total(header):
                expect(pattern, total(header))
            else:  # nothing cut: not said
                self.assertNotRegex(text, pattern)

        closures = [row for row in book["销号成效清单"].iter_rows(min_row=5, values_only=True) if isinstance(row[0], int)]
        examples = list(re.finditer(r"(湘西州|吉首市|益阳市|常德市)“([^”]+)”，办理时限由(\d+)个工作日压缩至(\d+)个工作日"
                                    r"（压缩率(\d+\.\d)%），申请材料由(\d+)件减至(\d+)件，跑动次数由(\d+)次减至零", text))
        self.assertEqual(len(examples), 3)
        for match in examples:
            row = next(r for r in closures if (r[1], r[3]) == (match.group(1), match.group(2)))
            self.assertEqual(match.groups()[2:], tuple(str(v) for v in (row[6], row[7], pct(row[8]), row[9], row[10],
                                                                        row[13])))
            self.assertEqual(row[14], 0)
            checked.append(match.span())

        expect(r"仍有(\d+)条整改措施逾期未销号", total("红牌（逾期）"))
        red_units = re.search(r"（红牌），其中([^。]+)。", text)
        for unit, n in re.findall(r"([^、\d]+)(\d+)条", red_units.group(1)):
            self.assertEqual(value_of(book, "红牌（逾期）", unit).value, int(n))
        checked.append(red_units.span())
        slow = re.search(r"部分单位销号进度偏慢。([^。]+)，排名靠后", text)
        for unit, rate in re.findall(r"([^、\d]+)销号率(\d+\.\d)%", slow.group(1)):
            self.assertEqual(pct(value_of(book, "销号率", unit).value), rate)
        checked.append(slow.span())
        self.assertIn("“不动产登记”尚无人走流程", text)

        # Nothing else carries a number: dates, and user text in quotes, aside.
        rest = list(text)
        for start, end in checked:
            rest[start:end] = " " * (end - start)
        rest = re.sub(DATE, "", re.sub(r"“[^”]*”", "", "".join(rest)))
        self.assertEqual(re.findall(r"[^\n]{0,12}\d+[^\n]{0,12}", rest), [])

    def test_the_narrative_separates_drafted_and_editable_paragraphs(self):
        keys = [p.key for section in self.narrative.sections for p in section.paragraphs]
        self.assertIn(None, keys)
        self.assertEqual([p.key for p in self.narrative.sections[3].paragraphs], ["next_steps"] * 3)
        content = gather(Report.Kind.MONTHLY, self.w.P, MAY, today=JUNE_1)
        edited = draft(content, {"next_steps": "（一）抓好整改。\n持续推进。", "opening": "  ", "figures": "x"})
        self.assertEqual([p.text for p in edited.sections[3].paragraphs], ["（一）抓好整改。", "持续推进。"])
        self.assertTrue(edited.opening.text.startswith("为深入推进"))  # blank: the default


class EmptyMonthTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()

    def test_a_month_with_nothing_recorded_still_makes_a_sensible_document(self):
        content = gather(Report.Kind.MONTHLY, self.w.K2, MAY, today=JUNE_1)
        document = Document(io.BytesIO(build_document(content, draft(content), Letterhead())))
        text = "\n".join(p.text for p in document.paragraphs)
        self.assertIn("共开展走流程0次", text)
        self.assertIn("本月无审核通过的销号事项。", text)
        self.assertNotIn("None", text)
        self.assertNotIn("销号率上升", text)
        self.assertEqual(len(document.tables), 4)
