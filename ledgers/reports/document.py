"""The circular as an official document (公文, .docx), laid out after GB/T 9704-2012.

A4; 天头 37 mm, 订口 28 mm, 版心 156 × 225 mm, 22 lines of 28 characters (Word's document grid,
and an exact line pitch so LibreOffice, which reads the grid differently, still sets 22 lines);
title 2号 小标宋, body 3号 仿宋_GB2312, "一、" headings 3号 黑体, "（一）" headings 3号 楷体; the
issuer's mark in red over a red rule, the document number, the addressees; the attachments note,
signature and date in Arabic numerals; page numbers "— 1 —" in 4号 宋体 on the outer side
(odd pages right, even pages left). Attachments are tables whose header row repeats on every page.

Every font is named for East-Asian text as well (python-docx sets only the Latin names), and the
font table names a fallback for machines without the 方正 or _GB2312 fonts.
"""

import copy
import io
import re
from dataclasses import dataclass

from django.utils.translation import gettext as _
from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

from ..models import Problem, Report
from .figures import WorkdayIndex, chinese_date, earliest_overdue_deadline, overdue_items, period_closures
from .narrative import percent, rank_groups, this_period

TITLE_FONT = "方正小标宋简体"
BODY_FONT = "仿宋_GB2312"
HEADING_FONT = "黑体"
SUBHEADING_FONT = "楷体_GB2312"
NUMBER_FONT = "宋体"
# Fonts a machine without the ones above should use (the font table's altName).
FALLBACKS = {TITLE_FONT: "宋体", BODY_FONT: "仿宋", SUBHEADING_FONT: "楷体", HEADING_FONT: "SimHei"}
RED = RGBColor(0xE6, 0x00, 0x12)

SIZE_2, SIZE_3, SIZE_4, SIZE_SMALL_4 = Pt(22), Pt(16), Pt(14), Pt(12)
MARK_SIZE = Pt(36)
VERSION_WIDTH_PT = 156 / 25.4 * 72
LINE_PITCH = Pt(225 / 25.4 * 72 / 22)  # 版心 225 mm in 22 lines: 28.95 pt
CHARS_PER_LINE = 28
CHAR_SPACING_TWENTIETHS = -5  # -0.25 pt a character: 28 × 15.75 pt = 441 pt fit the 442 pt 版心
ATTACHMENT_ROWS = 200  # rows of a list in the document; the workbook carries them all
# Word refuses a document whose properties are out of the schema's order: the tags that must
# follow the ones added here by hand.
AFTER_SNAP_TO_GRID = ("w:spacing", "w:ind", "w:contextualSpacing", "w:mirrorIndents", "w:suppressOverlap", "w:jc",
                      "w:textDirection", "w:textAlignment", "w:textboxTightWrap", "w:outlineLvl", "w:divId",
                      "w:cnfStyle", "w:rPr", "w:sectPr", "w:pPrChange")
AFTER_BORDERS = ("w:shd", "w:tabs", "w:suppressAutoHyphens", "w:kinsoku", "w:wordWrap", "w:overflowPunct",
                 "w:topLinePunct", "w:autoSpaceDE", "w:autoSpaceDN", "w:bidi", "w:adjustRightInd", "w:snapToGrid",
                 *AFTER_SNAP_TO_GRID)
AFTER_CHAR_SPACING = ("w:w", "w:kern", "w:position", "w:sz", "w:szCs", "w:highlight", "w:u", "w:effect", "w:bdr",
                      "w:shd", "w:fitText", "w:vertAlign", "w:rtl", "w:cs", "w:em", "w:lang", "w:eastAsianLayout",
                      "w:specVanish", "w:oMath")
LEVEL_2 = re.compile(r"^（[一二三四五六七八九十]+）")


@dataclass
class Letterhead:
    """What the issuing unit puts around the text; blank fields are left out of the document."""

    mark: str = ""  # 发文机关标志, e.g. 湖南省优化营商环境办公室
    number: str = ""  # 发文字号, e.g. 湘优化办〔2026〕12号
    recipients: str = ""  # 主送机关, e.g. 各市州、县市区优化办
    signature: str = ""  # 发文机关署名
    date: object = None  # 成文日期


def build_document(content, narrative, letterhead):
    """The .docx of a circular as bytes."""
    document = Document()
    _set_up_page(document)
    _set_up_styles(document)
    _name_fallback_fonts(document)
    figures = content.figures
    core = document.core_properties
    core.title, core.author, core.comments = narrative.title, letterhead.signature or figures.scope.name, ""

    if letterhead.mark:
        # As large as one line of the 版心 allows, 36 pt at most.
        size = Pt(min(MARK_SIZE.pt, int(VERSION_WIDTH_PT / len(letterhead.mark)) - 1))
        _line(document, letterhead.mark, TITLE_FONT, size, align=WD_ALIGN_PARAGRAPH.CENTER, color=RED, exact=False)
    if letterhead.number:
        _blank(document)
        _line(document, letterhead.number, BODY_FONT, SIZE_3, align=WD_ALIGN_PARAGRAPH.CENTER)
    if letterhead.mark or letterhead.number:
        _red_rule(document.paragraphs[-1])
        _blank(document)
    _line(document, narrative.title, TITLE_FONT, SIZE_2, align=WD_ALIGN_PARAGRAPH.CENTER, exact=False)
    _blank(document)
    if letterhead.recipients:
        _line(document, letterhead.recipients.rstrip("：:") + "：", BODY_FONT, SIZE_3)
    _body(document, narrative.opening.text)
    for section in narrative.sections:
        _line(document, section.heading, HEADING_FONT, SIZE_3, indent=True)
        for paragraph in section.paragraphs:
            _body(document, paragraph.text)

    attachments = _attachments(content)
    _blank(document)
    for number, (title, _writer) in enumerate(attachments, start=1):
        label = _("附件：") if number == 1 else ""
        paragraph = _line(document, f"{label}{number}. {title}", BODY_FONT, SIZE_3, indent=True)
        if number > 1:  # aligned under the first title, after "附件："
            paragraph.paragraph_format.first_line_indent = Pt(16 * 5)
    _blank(document)
    _blank(document)
    signature = letterhead.signature or figures.scope.name
    date = chinese_date(letterhead.date or figures.as_of)
    _line(document, signature, BODY_FONT, SIZE_3, align=WD_ALIGN_PARAGRAPH.RIGHT, right_chars=4)
    _line(document, date, BODY_FONT, SIZE_3, align=WD_ALIGN_PARAGRAPH.RIGHT, right_chars=4)

    for number, (title, writer) in enumerate(attachments, start=1):
        document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        _line(document, _("附件%(n)d") % {"n": number}, HEADING_FONT, SIZE_3)
        _blank(document)
        _line(document, title, TITLE_FONT, SIZE_2, align=WD_ALIGN_PARAGRAPH.CENTER, exact=False)
        _blank(document)
        writer(document)

    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


# ---------------------------------------------------------------------------------------------
# Page, styles and fonts
# ---------------------------------------------------------------------------------------------


def _set_up_page(document):
    section = document.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    section.header_distance, section.footer_distance = Mm(15), Mm(21)
    grid = section._sectPr.find(qn("w:docGrid"))
    if grid is None:
        grid = OxmlElement("w:docGrid")
        section._sectPr.append(grid)
    # 22 lines: a line grid of the right pitch (twips). Not Word's character grid: LibreOffice
    # puts each 16 pt character on two of its cells (14 a line). 28 characters of 16 pt are
    # 448 pt, a little more than the 442 pt 版心: the body text is set 0.25 pt tighter instead.
    grid.set(qn("w:type"), "lines")
    grid.set(qn("w:linePitch"), str(round(LINE_PITCH.pt * 20)))
    for name in ("w:charSpace",):
        grid.attrib.pop(qn(name), None)
    document.settings.odd_and_even_pages_header_footer = True
    _page_number(section.footer, WD_ALIGN_PARAGRAPH.RIGHT)
    _page_number(section.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT)


def _page_number(footer, align):
    """"— 1 —" in 4号 宋体, one character in from the outer edge of the 版心."""
    paragraph = footer.paragraphs[0]
    paragraph.alignment = align
    if align == WD_ALIGN_PARAGRAPH.RIGHT:
        paragraph.paragraph_format.right_indent = SIZE_4
    else:
        paragraph.paragraph_format.left_indent = SIZE_4
    _font(paragraph.add_run("— "), NUMBER_FONT, SIZE_4)
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), "PAGE")
    run = OxmlElement("w:r")
    text = OxmlElement("w:t")
    text.text = "1"
    run.append(text)
    field.append(run)
    paragraph._p.append(field)
    _font_element(run, NUMBER_FONT, SIZE_4)
    _font(paragraph.add_run(" —"), NUMBER_FONT, SIZE_4)


def _set_up_styles(document):
    normal = document.styles["Normal"]
    _font(normal, BODY_FONT, SIZE_3)
    normal_format = normal.paragraph_format
    normal_format.space_before = normal_format.space_after = Pt(0)
    normal_format.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    normal_format.line_spacing = LINE_PITCH
    normal_format.widow_control = False
    spacing = OxmlElement("w:spacing")
    spacing.set(qn("w:val"), str(CHAR_SPACING_TWENTIETHS))
    normal.element.get_or_add_rPr().insert_element_before(spacing, *AFTER_CHAR_SPACING)


def _name_fallback_fonts(document):
    """Add the Chinese fonts to the font table with a fallback (w:altName) each."""
    from lxml import etree

    part = next(p for p in document.part.package.iter_parts() if p.partname == "/word/fontTable.xml")
    table = etree.fromstring(part.blob)
    for name, fallback in FALLBACKS.items():
        font = etree.SubElement(table, qn("w:font"))
        font.set(qn("w:name"), name)
        alt = etree.SubElement(font, qn("w:altName"))
        alt.set(qn("w:val"), fallback)
        charset = etree.SubElement(font, qn("w:charset"))
        charset.set(qn("w:val"), "86")  # GB2312
    part._blob = etree.tostring(table, xml_declaration=True, encoding="UTF-8", standalone=True)


def _font(target, name, size, *, bold=None, color=None):
    """Set a run's or a style's font, the East-Asian name included."""
    font = target.font
    font.name = name
    font.size = size
    if bold is not None:
        font.bold = bold
    if color is not None:
        font.color.rgb = color
    element = target._element
    fonts = element.get_or_add_rPr().get_or_add_rFonts()
    fonts.set(qn("w:eastAsia"), name)
    return target


def _font_element(run, name, size):
    properties = OxmlElement("w:rPr")
    fonts = OxmlElement("w:rFonts")
    for attribute in ("w:ascii", "w:hAnsi", "w:eastAsia"):
        fonts.set(qn(attribute), name)
    properties.append(fonts)
    for tag in ("w:sz", "w:szCs"):
        element = OxmlElement(tag)
        element.set(qn("w:val"), str(int(size.pt * 2)))
        properties.append(element)
    run.insert(0, properties)


# ---------------------------------------------------------------------------------------------
# Paragraphs
# ---------------------------------------------------------------------------------------------


def _line(document, text, font, size, *, align=None, indent=False, color=None, exact=True, right_chars=0):
    paragraph = document.add_paragraph()
    if align is not None:
        paragraph.alignment = align
    if indent:
        paragraph.paragraph_format.first_line_indent = Pt(32)
    if right_chars:
        paragraph.paragraph_format.right_indent = Pt(16 * right_chars)
    if not exact:  # titles: a line each of their own size, at least the grid's pitch
        paragraph.paragraph_format.line_spacing_rule = WD_LINE_SPACING.AT_LEAST
        paragraph.paragraph_format.line_spacing = Pt(max(size.pt * 1.3, LINE_PITCH.pt))
    _font(paragraph.add_run(text), font, size, color=color)
    return paragraph


def _blank(document):
    return document.add_paragraph()


def _body(document, text):
    """A body paragraph, indented two characters; one opening with "（一）" has its first
    sentence in 楷体 as a level-2 heading run in."""
    paragraph = document.add_paragraph()
    paragraph.paragraph_format.first_line_indent = Pt(32)
    paragraph.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    if LEVEL_2.match(text):
        head, dot, rest = text.partition("。")
        _font(paragraph.add_run(head + dot), SUBHEADING_FONT, SIZE_3)
        if rest:
            _font(paragraph.add_run(rest), BODY_FONT, SIZE_3)
        return paragraph
    _font(paragraph.add_run(text), BODY_FONT, SIZE_3)
    return paragraph


def _red_rule(paragraph):
    """The red separator under the document number, the width of the 版心."""
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (("w:val", "single"), ("w:sz", "12"), ("w:space", "8"), ("w:color", "E60012")):
        bottom.set(qn(key), value)
    borders.append(bottom)
    paragraph._p.get_or_add_pPr().insert_element_before(borders, *AFTER_BORDERS)


# ---------------------------------------------------------------------------------------------
# Attachments
# ---------------------------------------------------------------------------------------------


def _attachments(content):
    figures = content.figures
    this = this_period(content.kind)
    attachments = [(_("各单位销号率排名"), lambda document: _ranking_table(document, figures)),
                   (_("逾期未销号整改措施清单"), lambda document: _overdue_table(document, figures)),
                   (_("%(this)s新发现问题分类统计") % {"this": this}, lambda document: _problems_table(document, figures))]
    if content.kind == Report.Kind.MONTHLY:
        attachments.append((_("整改销号成效清单"), lambda document: _closures_table(document, figures)))
    return attachments


def _table(document, headers, widths_mm):
    table = document.add_table(rows=1, cols=len(headers))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    # LibreOffice lays a table out by its grid, Word by the cells' widths: set both.
    for column, width in zip(table._tbl.tblGrid.findall(qn("w:gridCol")), widths_mm):
        column.set(qn("w:w"), str(Mm(width).twips))
    header = table.rows[0]
    header_properties = header._tr.get_or_add_trPr()
    repeat = OxmlElement("w:tblHeader")  # the header row repeats at the top of every page
    repeat.set(qn("w:val"), "true")
    header_properties.append(repeat)
    for cell, text, width in zip(header.cells, headers, widths_mm):
        cell.width = Mm(width)
        _cell_text(cell, text, bold=True, font=HEADING_FONT)
    return table


def _cell_text(cell, text, *, bold=False, font=BODY_FONT, align=WD_ALIGN_PARAGRAPH.CENTER):
    paragraph = cell.paragraphs[0]
    paragraph.alignment = align
    paragraph.paragraph_format.first_line_indent = Pt(0)
    _off_grid(paragraph)
    _font(paragraph.add_run("" if text is None else str(text)), font, SIZE_SMALL_4, bold=bold or None)


def _off_grid(paragraph):
    """Table text and notes keep their own line height instead of the body's 22-line grid."""
    paragraph.paragraph_format.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    paragraph.paragraph_format.line_spacing = Pt(SIZE_SMALL_4.pt * 1.3)
    snap = OxmlElement("w:snapToGrid")
    snap.set(qn("w:val"), "0")
    paragraph._p.get_or_add_pPr().insert_element_before(snap, *AFTER_SNAP_TO_GRID)


def _rows(table, rows, widths_mm, left=()):
    """Append rows of values: the first row is made through python-docx, the others are copies of
    its XML with the texts replaced (python-docx costs about a millisecond a cell; a copy, 1/50th)."""
    prototype = None
    for values in rows:
        if prototype is None:
            row = table.add_row()
            properties = row._tr.get_or_add_trPr()
            keep = OxmlElement("w:cantSplit")
            keep.set(qn("w:val"), "true")
            properties.append(keep)
            for index, (cell, width) in enumerate(zip(row.cells, widths_mm)):
                cell.width = Mm(width)
                align = WD_ALIGN_PARAGRAPH.LEFT if index in left else WD_ALIGN_PARAGRAPH.CENTER
                _cell_text(cell, "\u00a0", align=align)
            prototype = copy.deepcopy(row._tr)
            element = row._tr
        else:
            element = copy.deepcopy(prototype)
            table._tbl.append(element)
        for text, value in zip(element.iter(qn("w:t")), values):
            text.text = "" if value is None else str(value)


def _note(document, text):
    paragraph = document.add_paragraph()
    _off_grid(paragraph)
    _font(paragraph.add_run(text), BODY_FONT, SIZE_SMALL_4)


def _rate(rate):
    return "—" if rate is None else percent(rate)


def _ranking_table(document, figures):
    widths = [24, 42, 24, 22, 22, 22]
    table = _table(document, [_("名次"), _("单位"), _("累计整改措施（条）"), _("累计销号（条）"), _("销号率"), _("红牌（条）")],
                   widths)
    rows = []
    for rank, group in rank_groups(figures):
        for row in sorted(group, key=lambda r: r.label):
            label = _("%(rank)d（并列）") % {"rank": rank} if len(group) > 1 else str(rank)
            rows.append([label, row.label, row.items_total, row.closed_total, _rate(row.closure_rate), row.red])
    for row in figures.rows:
        if row.rank is None:
            rows.append(["—", row.label, row.items_total, row.closed_total, "—", row.red])
    _rows(table, rows, widths, left={1})
    _note(document, _("注：销号率＝累计销号数÷累计列入台账的整改措施数，截至%(date)s；无整改措施的单位不排名。") % {
        "date": chinese_date(figures.as_of)})


def _overdue_table(document, figures):
    widths = [14, 24, 48, 22, 18, 30]
    table = _table(document, [_("序号"), _("所属单位"), _("整改措施"), _("责任人"), _("逾期（工作日）"), _("整改时限")],
                   widths)
    first = earliest_overdue_deadline(figures.scope, figures.as_of)
    rows = []
    if first is not None:
        from ..workdays import WorkCalendar

        index = WorkdayIndex(WorkCalendar(), first, figures.as_of)
        for number, (unit, _problem, measure, _lead, last, first_name, username, deadline, _status) in enumerate(
                overdue_items(figures.scope, figures.as_of), start=1):
            if number > ATTACHMENT_ROWS:
                break
            owner = f"{last or ''}{first_name or ''}".strip() or username
            rows.append([number, unit, measure, owner, index.between(deadline, figures.as_of), deadline.isoformat()])
    _rows(table, rows, widths, left={1, 2})
    _list_note(document, figures.total.red, len(rows))


def _list_note(document, total, shown):
    if total > shown:
        _note(document, _("注：共%(total)d项，本附件列前%(shown)d项，完整清单见同期通报表（Excel）。") % {
            "total": total, "shown": shown})
    elif not total:
        _note(document, _("本期无。"))


def _problems_table(document, figures):
    categories = Problem.Category.choices
    widths = [14, 38] + [18] * len(categories) + [16, 16]
    headers = [_("序号"), _("单位"), *[str(label) for _value, label in categories], _("立行立改"), _("合计")]
    table = _table(document, headers, widths)
    rows = [[number, row.label, *[row.by_category.get(value, 0) for value, _label in categories], row.on_spot,
             row.problems] for number, row in enumerate(figures.rows, start=1)]
    total = figures.total
    rows.append(["", total.label, *[total.by_category.get(value, 0) for value, _label in categories], total.on_spot,
                 total.problems])
    _rows(table, rows, widths, left={1})


def _closures_table(document, figures):
    widths = [14, 22, 48, 24, 24, 24]
    headers = [_("序号"), _("单位"), _("整改措施"), _("办理时限（工作日）"), _("申请材料（件）"), _("跑动次数（次）")]
    table = _table(document, headers, widths)

    def before_after(before, after):
        return "—" if before is None or after is None else f"{before}→{after}"

    rows = []
    for number, record in enumerate(period_closures(figures.scope, figures.period), start=1):
        if number > ATTACHMENT_ROWS:
            break
        unit, _problem, measure, *_rest = record
        rows.append([number, unit, measure, before_after(record[5], record[6]), before_after(record[7], record[8]),
                     before_after(record[11], record[12])])
    _rows(table, rows, widths, left={1, 2})
    _list_note(document, figures.total.closures, len(rows))

