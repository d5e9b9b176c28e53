"""The monthly circular (月通报) and the weekly summary (周汇总) as openpyxl workbooks.

The whole workbook is written in write-only mode: rows stream to disk as they are produced, so
a province's list of 100,000 problems costs no more memory than a county's. Write-only sheets
still carry everything a printed circular needs (merged title rows, frozen headers, column
widths, A4 landscape fitted to the page width, header rows repeated on every page), as long as
those are set before the first row is appended. Every text cell goes through
`ledgers.xlsx.FastRows`; numbers are written as numbers, never as formulas.
"""

import io
from dataclasses import dataclass
from types import SimpleNamespace

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.page import PageMargins
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from ..models import Problem, RectificationItem, Report
from .figures import (
    WorkdayIndex,
    chinese_date,
    compute_figures,
    earliest_overdue_deadline,
    new_problems,
    overdue_items,
    period_closures,
)
from ..workdays import WorkCalendar
from ..print_layout import MARGIN_INCHES, max_total_width, row_height, text_lines
from ..xlsx import FastRows, Styled, display_width, style

CAMPAIGN = "走流程、解难题、优服务"
FONT = "宋体"
TITLE_PT, SUBTITLE_PT, SECTION_PT, BODY_PT = 16, 11, 12, 10


@dataclass
class Column:
    label: str
    kind: str = "int"  # text, center, int, pct, dec, date, datetime
    width: float = None
    group: str = None


class Styles:
    """Cell styles made once per workbook; each cell gets a copy of one of these style arrays,
    which is much cheaper than assigning fonts and borders cell by cell."""

    def __init__(self, sheet):
        thin = Side(style="thin", color="000000")
        box = Border(left=thin, right=thin, top=thin, bottom=thin)

        def make(size=10, bold=False, horizontal="center", wrap=True, fmt=None, border=box, fill=None):
            return style(sheet, font=Font(name=FONT, size=size, bold=bold), number_format=fmt, border=border,
                         fill=fill, alignment=Alignment(horizontal=horizontal, vertical="center", wrap_text=wrap))

        grey = PatternFill("solid", fgColor="F2F2F2")
        self.title = make(size=TITLE_PT, bold=True, border=None)
        self.subtitle = make(size=SUBTITLE_PT, horizontal="left", border=None)
        self.note = make(size=BODY_PT, horizontal="left", border=None)
        self.section = make(size=SECTION_PT, bold=True, horizontal="left", border=None, wrap=False)
        self.header = make(size=10, bold=True, fill=grey)
        self.body = {
            "text": make(horizontal="left"),
            "center": make(),
            "int": make(horizontal="right", fmt="0"),
            "pct": make(horizontal="right", fmt="0.0%"),
            "dec": make(horizontal="right", fmt="0.0"),
            "date": make(fmt="yyyy-mm-dd"),
            "datetime": make(fmt="yyyy-mm-dd hh:mm"),
        }
        self.bold = {
            "text": make(bold=True, horizontal="left", fill=grey),
            "center": make(bold=True, fill=grey),
            "int": make(bold=True, horizontal="right", fmt="0", fill=grey),
            "pct": make(bold=True, horizontal="right", fmt="0.0%", fill=grey),
            "dec": make(bold=True, horizontal="right", fmt="0.0", fill=grey),
            "date": make(bold=True, fmt="yyyy-mm-dd", fill=grey),
            "datetime": make(bold=True, fmt="yyyy-mm-dd hh:mm", fill=grey),
        }


class Sheet:
    """One printed table: merged title, subtitle, one or two header rows, then streamed rows.

    Every sheet prints one page wide on A4 landscape with its smallest text (10 pt) at no less
    than 8 pt (ledgers.print_layout); rows with wrapped text get the height their text needs."""

    def __init__(self, workbook, styles, name, title, subtitle, columns, freeze_columns=2):
        self.ws = workbook.create_sheet(title=name)
        self.styles = styles
        self.columns = columns
        self.width = len(columns)
        self.last_letter = get_column_letter(self.width)
        self.row_number = 0
        two_levels = any(column.group for column in columns)
        first_header, header_rows = 3, (2 if two_levels else 1)
        self.first_data_row = first_header + header_rows
        ws = self.ws
        self.widths = [column.width or max(display_width(column.label) / (2 if two_levels else 1) + 2, 6)
                       for column in columns]
        for index, width in enumerate(self.widths, start=1):
            ws.column_dimensions[get_column_letter(index)].width = width
        self.total_width = sum(self.widths)
        self._wraps = [column.kind in ("text", "center") for column in columns]
        ws.freeze_panes = f"{get_column_letter(freeze_columns + 1)}{self.first_data_row}"
        ws.print_title_rows = f"{first_header}:{self.first_data_row - 1}"
        ws.page_setup.orientation = "landscape"
        ws.page_setup.paperSize = Worksheet.PAPERSIZE_A4
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0  # as many pages down as needed
        ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
        ws.print_options.horizontalCentered = True
        margin = MARGIN_INCHES
        ws.page_margins = PageMargins(left=margin, right=margin, top=0.6, bottom=0.6, header=0.3, footer=0.3)
        ws.oddFooter.center.text = "第 &P 页，共 &N 页"
        ws.oddFooter.center.font = FONT

        # Column widths, panes and page setup are written when the rows start: set them first.
        self.rows = FastRows(ws)
        self._style_ids = {}
        self.merged_line(title, styles.title, font_size=TITLE_PT, min_height=32)
        self.merged_line(subtitle, styles.subtitle, font_size=SUBTITLE_PT)
        self._write_headers(two_levels)

    def cell(self, value, style):
        style_id = self._style_ids.get(id(style))
        if style_id is None:
            style_id = self._style_ids[id(style)] = self.rows.style_id(style)
        return Styled(value, style_id)

    def append(self, cells, height=None):
        self.row_number += 1
        self.rows.append(cells, height=height)

    def merged_line(self, text, style, font_size=BODY_PT, min_height=None):
        row = self.row_number + 1
        self.ws.merged_cells.add(f"A{row}:{self.last_letter}{row}")
        lines = text_lines(text, self.total_width, font_size)
        height = row_height(lines, font_size)
        self.append([self.cell(text, style)], height=max(height, min_height or 0))

    def _write_headers(self, two_levels):
        header = self.styles.header
        top = self.row_number + 1
        if not two_levels:
            lines = max(text_lines(c.label, w) for c, w in zip(self.columns, self.widths))
            self.append([self.cell(column.label, header) for column in self.columns], height=row_height(lines))
            return
        upper, lower = [], []
        upper_lines, lower_lines, spanning_lines = 1, 1, 1
        index = 0
        while index < self.width:
            column = self.columns[index]
            letter = get_column_letter(index + 1)
            if column.group is None:
                self.ws.merged_cells.add(f"{letter}{top}:{letter}{top + 1}")
                upper.append(self.cell(column.label, header))
                lower.append(self.cell(None, header))
                spanning_lines = max(spanning_lines, text_lines(column.label, self.widths[index]))
                index += 1
                continue
            run = index
            while run < self.width and self.columns[run].group == column.group:
                upper.append(self.cell(column.group if run == index else None, header))
                lower.append(self.cell(self.columns[run].label, header))
                lower_lines = max(lower_lines, text_lines(self.columns[run].label, self.widths[run]))
                run += 1
            upper_lines = max(upper_lines, text_lines(column.group, sum(self.widths[index:run])))
            if run - index > 1:
                self.ws.merged_cells.add(f"{letter}{top}:{get_column_letter(run)}{top}")
            index = run
        # A label merged down both header rows needs their heights together.
        upper_lines = max(upper_lines, spanning_lines - lower_lines)
        self.append(upper, height=row_height(upper_lines))
        self.append(lower, height=row_height(lower_lines))

    def row(self, values, bold=False):
        styles = self.styles.bold if bold else self.styles.body
        cells = []
        lines = 1
        for column, value, width, wraps in zip(self.columns, values, self.widths, self._wraps):
            if value is None and column.kind in ("int", "pct", "dec"):
                cells.append(self.cell("—", styles["center"]))
                continue
            if wraps and type(value) is str and value:
                lines = max(lines, text_lines(value, width))
            cells.append(self.cell(value, styles[column.kind]))
        self.append(cells, height=row_height(lines) if lines > 1 else None)

    def note(self, text):
        self.merged_line(text, self.styles.note)

    def blank(self):
        self.append([])


def _local(dt):
    """openpyxl stores naive datetimes: write Asia/Shanghai wall time."""
    return timezone.localtime(dt).replace(tzinfo=None) if dt else None


def _owner_name(last, first, username):
    return f"{last or ''}{first or ''}".strip() or username


def _scope_line(figures):
    return _("范围：%(scope)s　　统计期间：%(span)s　　数据截至：%(as_of)s") % {
        "scope": figures.scope.name, "span": figures.period.span(), "as_of": chinese_date(figures.as_of)}


# ---------------------------------------------------------------------------------------------
# 总体情况, by topic: one table of forty columns would print at 4 pt, so each topic is a sheet of
# its own that repeats the unit column.
# ---------------------------------------------------------------------------------------------

# (key, sheet name, [(column label, kind, width, value of a UnitFigures row)]): the circular's numbers
# per unit. The document (ledgers/reports/document.py) quotes the same values.
TOPICS = [
    ("activity", _lazy("工作开展"), [
        (_lazy("走流程（次）"), "int", 9, lambda r: r.walks),
        (_lazy("参与领导（人次）"), "int", 10, lambda r: r.leader_times),
        (_lazy("其中一把手（次）"), "int", 10, lambda r: r.top_leaders),
        (_lazy("走流程事项（个）"), "int", 10, lambda r: r.service_items),
        (None, "int", 12, lambda r: r.must_walk_covered),  # 必走事项覆盖（共N个）: labelled per circular
    ]),
    ("problems", _lazy("问题发现"), [
        (_lazy("发现问题合计（个）"), "int", 10, lambda r: r.problems),
        *[(label, "int", 10, lambda r, c=value: r.by_category.get(c, 0))
          for value, label in Problem.Category.choices],
        (_lazy("立行立改（个）"), "int", 10, lambda r: r.on_spot),
    ]),
    ("closure", _lazy("整改销号"), [
        (_lazy("本期新增整改措施（条）"), "int", 10, lambda r: r.items_created),
        (_lazy("本期销号（条）"), "int", 9, lambda r: r.closed),
        (_lazy("累计整改措施（条）"), "int", 10, lambda r: r.items_total),
        (_lazy("累计销号（条）"), "int", 9, lambda r: r.closed_total),
        (_lazy("未销号（条）"), "int", 9, lambda r: r.open),
        (_lazy("红牌（逾期）"), "int", 8, lambda r: r.red),
        (_lazy("黄牌（临期）"), "int", 8, lambda r: r.yellow),
        (_lazy("销号率"), "pct", 9, lambda r: r.closure_rate),
        (_lazy("平均销号用时（工作日）"), "dec", 11, lambda r: r.avg_close_days),
        (_lazy("销号率排名"), "center", 8, lambda r: "" if r.unit is None else "—" if r.rank is None else r.rank),
    ]),
    ("effects", _lazy("整改成效"), [
        (_lazy("本期审核销号（项）"), "int", 10, lambda r: r.closures),
        (_lazy("压减办理时限（工作日）"), "int", 12, lambda r: r.time_limit_saved),
        (_lazy("时限压缩率"), "pct", 10, lambda r: r.time_limit_rate),
        (_lazy("减少申请材料（件）"), "int", 11, lambda r: r.materials_cut),
        (_lazy("减少办理环节（个）"), "int", 11, lambda r: r.steps_cut),
        (_lazy("减少跑动（次）"), "int", 10, lambda r: r.trips_cut),
    ]),
]

NOTES = {
    "activity": _lazy("注：参与领导（人次）为走流程领导人次与同行人员之和；必走事项覆盖为截至统计截止日累计走过的必走事项数。"),
    "closure": _lazy("注：1. 未销号、红牌、黄牌、销号率均为截至统计截止日的情况；销号率＝累计销号数÷累计列入台账的整改措施数。"
                  "2. 平均销号用时为本期销号的整改措施自立项日期至销号日期的工作日数平均值。"),
    "effects": _lazy("注：整改成效为本期审核通过的销号记录中填报了整改前后数据的合计。"),
}


def unit_column_width(figures):
    return min(max([display_width(row.label) for row in figures.rows] + [10]) + 2, 30)


def lead_columns(figures):
    return [Column(_("序号"), "center", 5), Column(_("单位"), "text", unit_column_width(figures))]


def write_unit_table(workbook, styles, figures, name, title, columns, values_of, note=None, total=True):
    """A table of one row per unit (and the totals) under the circular's title."""
    sheet = Sheet(workbook, styles, name, title, _scope_line(figures), lead_columns(figures) + columns)
    for number, row in enumerate(figures.rows, start=1):
        sheet.row([number, row.label, *values_of(row)])
    if total:
        sheet.row(["", figures.total.label, *values_of(figures.total)], bold=True)
    if note:
        sheet.blank()
        sheet.note(str(note))
    return sheet


def write_topics(workbook, styles, figures, title):
    sheets = []
    for key, name, spec in TOPICS:
        columns = [Column(str(label) if label is not None else _("必走事项覆盖（共%(n)d个）") % {
            "n": figures.must_walk_total}, kind, width) for label, kind, width, _value in spec]
        sheet = write_unit_table(workbook, styles, figures, str(name), title, columns,
                                 lambda row, spec=spec: [value(row) for _label, _kind, _width, value in spec],
                                 note=NOTES.get(key))
        if key == "closure":
            sheet.blank()
            _write_ranking(sheet, figures)
        sheets.append(sheet)
        if key == "problems":
            sheets += write_subcategories(workbook, styles, figures, title)
    return sheets


def write_subcategories(workbook, styles, figures, title):
    """Finer sub-categories, as many sheets as it takes to keep each one page wide."""
    if not figures.subcategories:
        return []
    budget = max_total_width(BODY_PT) - sum(column.width for column in lead_columns(figures))
    chunks, current, used = [], [], 0
    for sub_id, name, category in figures.subcategories:
        width = max(min(display_width(name) / 2 + 2, 14), 8)
        if current and used + width > budget:
            chunks.append(current)
            current, used = [], 0
        current.append((sub_id, name, width))
        used += width
    chunks.append(current)
    sheets = []
    for number, chunk in enumerate(chunks, start=1):
        name = _("问题细分类") if number == 1 else _("问题细分类（%(n)d）") % {"n": number}
        columns = [Column(label, "int", width) for _id, label, width in chunk]
        sheets.append(write_unit_table(
            workbook, styles, figures, name, title, columns,
            lambda row, chunk=chunk: [row.by_subcategory.get(sub_id, 0) for sub_id, _label, _width in chunk]))
    return sheets


def _write_ranking(sheet, figures):
    """The ranking block under the closure table: units by closure rate, ties sharing a rank."""
    ranked = sorted((row for row in figures.rows if row.rank is not None), key=lambda row: (row.rank, row.label))
    row_number = sheet.row_number + 1
    sheet.ws.merged_cells.add(f"A{row_number}:{sheet.last_letter}{row_number}")
    sheet.append([sheet.cell(_("销号率排名"), sheet.styles.section)], height=row_height(1, SECTION_PT))
    header = sheet.styles.header
    body = sheet.styles.body
    sheet.append([sheet.cell(_("名次"), header), sheet.cell(_("单位"), header), sheet.cell(_("销号率"), header),
                  sheet.cell(_("累计销号"), header), sheet.cell(_("累计整改措施"), header)], height=row_height(2))
    for row in ranked:
        lines = text_lines(row.label, sheet.widths[1])
        sheet.append([sheet.cell(row.rank, body["center"]), sheet.cell(row.label, body["text"]),
                      sheet.cell(row.closure_rate, body["pct"]), sheet.cell(row.closed_total, body["int"]),
                      sheet.cell(row.items_total, body["int"])], height=row_height(lines) if lines > 1 else None)
    if not ranked:
        sheet.note(_("本期各单位均无列入台账的整改措施，不排名。"))


# ---------------------------------------------------------------------------------------------
# Lists
# ---------------------------------------------------------------------------------------------


def write_overdue(workbook, styles, figures, calendar):
    columns = [Column(_("序号"), "center", 6), Column(_("所属单位"), "text", 12), Column(_("问题描述"), "text", 36),
               Column(_("整改措施"), "text", 36), Column(_("牵头部门"), "text", 14), Column(_("责任人"), "center", 8),
               Column(_("整改时限"), "date", 11), Column(_("逾期（工作日）"), "int", 8), Column(_("状态"), "center", 8)]
    subtitle = _("%(line)s　　红牌（逾期未销号）共 %(n)d 项") % {"line": _scope_line(figures), "n": figures.total.red}
    sheet = Sheet(workbook, styles, _("逾期问题清单"),
                  _("%(period)s 逾期未销号整改措施清单") % {"period": figures.period.title()}, subtitle, columns)
    first = earliest_overdue_deadline(figures.scope, figures.as_of)
    if first is None:
        sheet.note(_("截至统计截止日，无逾期未销号的整改措施。"))
        return sheet
    index = WorkdayIndex(calendar, first, figures.as_of)
    statuses = {value: str(label) for value, label in RectificationItem.Status.choices}
    for number, (unit, problem, measure, lead, last, first_name, username, deadline, status) in enumerate(
            overdue_items(figures.scope, figures.as_of), start=1):
        sheet.row([number, unit, problem, measure, lead, _owner_name(last, first_name, username), deadline,
                   index.between(deadline, figures.as_of), statuses.get(status, status)])
    return sheet


def write_new_problems(workbook, styles, figures, name):
    columns = [Column(_("序号"), "center", 6), Column(_("发现单位"), "text", 12), Column(_("发现时间"), "datetime", 18),
               Column(_("问题来源"), "center", 10), Column(_("问题类别"), "center", 12), Column(_("细分类"), "text", 14),
               Column(_("问题描述"), "text", 42), Column(_("处理方式"), "center", 10), Column(_("责任单位"), "text", 14),
               Column(_("整改状态"), "center", 10)]
    subtitle = _("%(line)s　　共 %(n)d 个") % {"line": _scope_line(figures), "n": figures.total.problems}
    sheet = Sheet(workbook, styles, name, _("%(period)s 新发现问题清单") % {"period": figures.period.title()},
                  subtitle, columns)
    # Labels made into plain strings once: a lazy translation per row costs seconds on a province.
    sources = {value: str(label) for value, label in Problem.Source.choices}
    categories = {value: str(label) for value, label in Problem.Category.choices}
    resolutions = {value: str(label) for value, label in Problem.Resolution.choices}
    states = {"on_spot": _("已立行立改"), "none": _("待列入台账"), "open": _("整改中"), "closed": _("已销号")}
    for number, (unit, found_at, source, category, subcategory, description, resolution, responsible, has_items,
                 has_open) in enumerate(new_problems(figures.scope, figures.period), start=1):
        if resolution == Problem.Resolution.ON_SPOT:
            state = states["on_spot"]
        elif not has_items:
            state = states["none"]
        else:
            state = states["open" if has_open else "closed"]
        sheet.row([number, unit, _local(found_at), sources.get(source, source), categories.get(category, category),
                   subcategory or "", description, resolutions.get(resolution, resolution), responsible, state])
    if not figures.total.problems:
        sheet.note(_("本期无新发现问题。"))
    return sheet


def write_closures(workbook, styles, figures):
    limit, materials = _("办理时限（工作日）"), _("申请材料（件）")
    steps, trips = _("办理环节（个）"), _("跑动次数（次）")
    columns = [Column(_("序号"), "center", 5), Column(_("单位"), "text", 12), Column(_("问题描述"), "text", 26),
               Column(_("整改措施"), "text", 26), Column(_("牵头部门"), "text", 12), Column(_("销号日期"), "date", 11),
               Column(_("整改前"), group=limit, width=7), Column(_("整改后"), group=limit, width=7),
               Column(_("压缩率"), "pct", group=limit, width=7),
               Column(_("整改前"), group=materials, width=7), Column(_("整改后"), group=materials, width=7),
               Column(_("整改前"), group=steps, width=7), Column(_("整改后"), group=steps, width=7),
               Column(_("整改前"), group=trips, width=7), Column(_("整改后"), group=trips, width=7),
               Column(_("整改情况"), "text", 26)]
    subtitle = _("%(line)s　　本期审核销号 %(n)d 项") % {"line": _scope_line(figures), "n": figures.total.closures}
    sheet = Sheet(workbook, styles, _("销号成效清单"), _("%(period)s 整改销号成效") % {"period": figures.period.title()},
                  subtitle, columns)
    for number, record in enumerate(period_closures(figures.scope, figures.period), start=1):
        (unit, problem, measure, lead, reviewed_at, tl_before, tl_after, m_before, m_after, s_before, s_after,
         t_before, t_after, evidence) = record
        rate = (tl_before - tl_after) / tl_before if tl_before and tl_after is not None else None
        reviewed = timezone.localtime(reviewed_at).date() if reviewed_at else None
        sheet.row([number, unit, problem, measure, lead, reviewed, tl_before, tl_after, rate, m_before, m_after,
                   s_before, s_after, t_before, t_after, evidence])
    t = figures.total
    sheet.row(["", _("合计"), "", "", "", None, t.time_limit_before, t.time_limit_after, t.time_limit_rate,
               t.materials_before, t.materials_after, t.steps_before, t.steps_after, t.trips_before, t.trips_after,
               ""], bold=True)
    return sheet


COMPARISON = [
    ("walks", _lazy("走流程（次）"), "int"), ("leader_times", _lazy("参与领导（人次）"), "int"),
    ("top_leaders", _lazy("其中一把手（次）"), "int"), ("service_items", _lazy("走流程事项（个）"), "int"),
    ("must_walk_covered", _lazy("必走事项覆盖（个）"), "int"), ("problems", _lazy("发现问题（个）"), "int"),
    ("on_spot", _lazy("立行立改（个）"), "int"), ("items_created", _lazy("新增整改措施（条）"), "int"),
    ("closed", _lazy("本期销号（条）"), "int"), ("open", _lazy("未销号（条）"), "int"), ("red", _lazy("红牌（逾期）"), "int"),
    ("yellow", _lazy("黄牌（临期）"), "int"), ("closure_rate", _lazy("销号率"), "pct"),
    ("avg_close_days", _lazy("平均销号用时（工作日）"), "dec"), ("time_limit_saved", _lazy("压减办理时限（工作日）"), "int"),
    ("materials_cut", _lazy("减少申请材料（件）"), "int"), ("trips_cut", _lazy("减少跑动（次）"), "int"),
]


def write_comparison(workbook, styles, figures, previous):
    columns = [Column(_("指标"), "text", 26), Column(_("本月"), "dec", 12), Column(_("上月"), "dec", 12),
               Column(_("增减"), "dec", 12), Column(_("增减幅度"), "pct", 12)]
    subtitle = _("范围：%(scope)s　　本月：%(this)s　　上月：%(last)s") % {
        "scope": figures.scope.name, "this": figures.period.span(), "last": previous.period.span()}
    sheet = Sheet(workbook, styles, _("环比"), _("%(period)s 主要指标环比") % {"period": figures.period.title()},
                  subtitle, columns, freeze_columns=1)
    for name, label, kind in COMPARISON:
        now, before = getattr(figures.total, name), getattr(previous.total, name)
        change = now - before if now is not None and before is not None else None
        ratio = change / before if change is not None and before and kind != "pct" else None
        body = styles.body
        cells = [sheet.cell(str(label), body["text"])]
        for value, value_kind in ((now, kind), (before, kind), (change, kind), (ratio, "pct")):
            cells.append(sheet.cell("—", body["center"]) if value is None else sheet.cell(value, body[value_kind]))
        sheet.append(cells)
    sheet.blank()
    sheet.note(_("注：销号率的增减为百分点；上月为零的指标不计算增减幅度。"))
    return sheet


# ---------------------------------------------------------------------------------------------
# Workbooks
# ---------------------------------------------------------------------------------------------


def circular_title(period):
    return _("%(period)s %(campaign)s 行动情况通报") % {"period": period.title(), "campaign": CAMPAIGN}


def weekly_title(period):
    return _("%(period)s %(campaign)s 行动情况周汇总") % {"period": period.title(), "campaign": CAMPAIGN}


def build_workbook(kind, scope, period, *, today=None, progress=None, figures=None):
    """The workbook of a circular (monthly) or a summary (weekly) as bytes."""
    progress = progress or (lambda percent: None)
    calendar = WorkCalendar()
    today = today or timezone.localdate()
    figures = figures or compute_figures(scope, period, today=today, calendar=calendar)
    progress(30)
    workbook = Workbook(write_only=True)
    # Document properties name the issuer; the creator default ("openpyxl") is not for an official file.
    workbook.properties.creator = scope.name
    workbook.properties.title = circular_title(period) if kind == Report.Kind.MONTHLY else weekly_title(period)
    # Style indexes live in the workbook; a stand-in parent lets Styles register them before any sheet exists.
    styles = Styles(SimpleNamespace(parent=workbook))
    monthly = kind == Report.Kind.MONTHLY
    write_topics(workbook, styles, figures, circular_title(period) if monthly else weekly_title(period))
    progress(45)
    write_overdue(workbook, styles, figures, calendar)
    progress(60)
    write_new_problems(workbook, styles, figures, _("本月新增问题") if monthly else _("本周新增问题"))
    progress(75)
    if monthly:
        write_closures(workbook, styles, figures)
        previous = compute_figures(scope, period.previous(), today=today, calendar=calendar)
        write_comparison(workbook, styles, figures, previous)
    progress(90)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()

