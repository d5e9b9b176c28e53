"""The ledger as an xlsx file, written with openpyxl's write-only mode.

Rows stream from the database (`iterator()`) into a write-only sheet that openpyxl spools to a
temporary file, so memory stays flat whatever the number of rows. Per item, the latest progress
note comes from a correlated subquery, and the latest approved closure's figures from one query per
chunk of rows: no query per row.
"""

import datetime
import tempfile

from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from .cards import CARD_LABELS, NONE, RED, YELLOW
from .models import ClosureRecord, ItemEvent, Problem, RectificationItem
from .print_layout import PrintRows, row_height, text_lines
from .xlsx import FastRows, Styled, style

CHUNK = 2000
MAX_WIDTH = 60


class OverdueDays:
    """Working days overdue for many deadlines with one walk over the calendar.

    `CardClock.days_overdue` walks from each deadline to today; for a page or an export with many
    old deadlines that repeats the same days thousands of times. Here the count of working days in
    (day, today] is filled in backwards from today once, and every deadline is a dictionary lookup.
    """

    def __init__(self, clock):
        self.clock = clock
        self._after = {clock.today: 0}  # day -> working days in (day, today]
        self._earliest = clock.today

    def __call__(self, status, deadline):
        if status not in RectificationItem.OPEN_STATUSES or deadline >= self.clock.today:
            return 0
        while self._earliest > deadline:
            day = self._earliest
            previous = day - datetime.timedelta(days=1)
            self._after[previous] = self._after[day] + (1 if self.clock.calendar.is_workday(day) else 0)
            self._earliest = previous
        return self._after[deadline]


def card_of(clock, status, deadline):
    if status not in RectificationItem.OPEN_STATUSES:
        return NONE
    if deadline < clock.today:
        return RED
    if deadline <= clock.yellow_until:
        return YELLOW
    return NONE


def _labels(choices):
    return {key: str(label) for key, label in choices}


def _local(value):
    # openpyxl refuses time-zone-aware datetimes; the spreadsheet shows Beijing time.
    return timezone.localtime(value).replace(tzinfo=None) if value else None


def columns():
    """(header, width) per column; widths fixed up front since write-only sheets cannot resize later."""
    figure_headers = [str(ClosureRecord._meta.get_field(f"{name}_{side}").verbose_name)
                      for name in ClosureRecord.FIGURES for side in ("before", "after")]
    # Widths for one page wide on A3 landscape (ledgers.print_layout): long text wraps in taller
    # rows instead of widening the sheet; dates and times keep the width their digits need.
    spec = [(_("编号"), 7), (_("专项行动"), 12), (_("所属单位"), 10), (_("问题描述"), 22),
            (_("问题类别"), 8), (_("细分类"), 9), (_("问题来源"), 8), (_("涉及事项"), 12),
            (_("整改措施"), 22), (_("牵头部门"), 10), (_("责任人"), 7), (_("整改类型"), 6),
            (_("状态"), 6), (_("立项日期"), 11), (_("整改时限"), 11), (_("红黄牌"), 6),
            (_("逾期工作日"), 6), (_("销号时间"), 16), (_("最后变更"), 16), (_("最新进展"), 20),
            (_("最新进展时间"), 16)]
    spec += [(header, 5) for header in figure_headers]
    return [(header, min(MAX_WIDTH, width)) for header, width in spec]


EXPORT_FONT_PT = 11  # no font is set on the cells: the workbook's default, Calibri 11


def set_up_a3_print(sheet):
    """One page wide on A3 landscape with the header row repeated on every page. Set before the
    first row is written, as write-only sheets require."""
    from openpyxl.worksheet.page import PageMargins
    from openpyxl.worksheet.properties import PageSetupProperties
    from openpyxl.worksheet.worksheet import Worksheet

    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = Worksheet.PAPERSIZE_A3
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    sheet.page_margins = PageMargins(left=0.4, right=0.4, top=0.6, bottom=0.6, header=0.3, footer=0.3)
    sheet.print_title_rows = "1:1"
    sheet.oddFooter.center.text = "第 &P 页，共 &N 页"


def export_rows(queryset):
    """Plain rows (tuples of values and row-kind markers) for the workbook, chunk by chunk."""
    progress = ItemEvent.objects.filter(item=OuterRef("pk"), action=ItemEvent.Action.PROGRESS).order_by("-at", "-id")
    closure = ClosureRecord.objects.filter(item=OuterRef("pk"), decision=ClosureRecord.Decision.APPROVED)
    rows = (queryset.annotate(latest_note=Subquery(progress.values("note")[:1]),
                              latest_note_at=Subquery(progress.values("at")[:1]),
                              latest_closure=Subquery(closure.order_by("-reviewed_at", "-id").values("id")[:1]))
            .values_list("pk", "problem__campaign__name", "unit__name", "problem__description", "problem__category",
                         "problem__subcategory__name", "problem__source", "problem__service_item__name", "measure",
                         "lead_unit__name", "owner__last_name", "owner__first_name", "owner__username", "kind",
                         "status", "opened_on", "deadline", "closed_at", "updated_at", "latest_note",
                         "latest_note_at", "latest_closure"))
    chunk = []
    for row in rows.iterator(chunk_size=CHUNK):
        chunk.append(row)
        if len(chunk) >= CHUNK:
            yield from _with_figures(chunk)
            chunk = []
    if chunk:
        yield from _with_figures(chunk)


def _with_figures(chunk):
    figure_fields = [f"{name}_{side}" for name in ClosureRecord.FIGURES for side in ("before", "after")]
    ids = [row[-1] for row in chunk if row[-1] is not None]
    figures = {}
    if ids:
        figures = {values[0]: values[1:] for values in
                   ClosureRecord.objects.filter(pk__in=ids).values_list("pk", *figure_fields)}
    empty = (None,) * len(figure_fields)
    for row in chunk:
        yield row, figures.get(row[-1], empty)


def write_workbook(queryset, clock, target):
    """Write the ledger rows of `queryset` to `target` (a path or a binary file object)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("整改台账"))
    spec = columns()
    for index, (_header, width) in enumerate(spec, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    widths = [width for _header, width in spec]
    set_up_a3_print(sheet)
    rows = FastRows(sheet)
    header = rows.style_id(style(sheet, font=Font(bold=True, size=EXPORT_FONT_PT),
                                 fill=PatternFill("solid", fgColor="EEF1F5"),
                                 alignment=Alignment(vertical="center", wrap_text=True)))
    day = rows.style_id(style(sheet, number_format="yyyy-mm-dd"))
    moment = rows.style_id(style(sheet, number_format="yyyy-mm-dd hh:mm"))
    header_lines = max(text_lines(title, width, EXPORT_FONT_PT) for title, width in spec)
    rows.append([Styled(title, header) for title, _width in spec], height=row_height(header_lines, EXPORT_FONT_PT))
    rows = PrintRows(rows, widths, rows.style_id(style(sheet, alignment=Alignment(vertical="top", wrap_text=True))),
                     font_size=EXPORT_FONT_PT)

    categories, sources = _labels(Problem.Category.choices), _labels(Problem.Source.choices)
    kinds, statuses = _labels(RectificationItem.Kind.choices), _labels(RectificationItem.Status.choices)
    cards = {key: str(label) for key, label in CARD_LABELS.items()}
    cards[NONE] = None  # no card: an empty cell, not an empty string
    overdue = OverdueDays(clock)

    count = 0
    for row, figures in export_rows(queryset):
        (pk, campaign, unit, description, category, subcategory, source, service_item, measure, lead_unit,
         last_name, first_name, username, kind, status, opened_on, deadline, closed_at, updated_at, note,
         note_at, _closure) = row
        owner = f"{last_name}{first_name}".strip() or username
        rows.append([
            pk, campaign, unit, description, categories.get(category, category), subcategory,
            sources.get(source, source), service_item, measure, lead_unit, owner, kinds.get(kind, kind),
            statuses.get(status, status), Styled(opened_on, day), Styled(deadline, day),
            cards[card_of(clock, status, deadline)], overdue(status, deadline),
            Styled(_local(closed_at), moment), Styled(_local(updated_at), moment), note,
            Styled(_local(note_at), moment), *figures,
        ])
        count += 1
    workbook.save(target)
    return count


def export_to_tempfile(queryset, clock):
    """The workbook in an anonymous temporary file, rewound; the caller streams and closes it."""
    handle = tempfile.TemporaryFile(suffix=".xlsx")
    write_workbook(queryset, clock, handle)
    handle.seek(0)
    return handle


# -- exports too large for a request ----------------------------------------------------------------


def filtered_items(user, query, clock):
    """The requester's scoped items filtered and sorted as the ledger page would for `query`."""
    from django.http import QueryDict

    from .filters import DEFAULT_SORT, SORTS, LedgerFilter, apply_sort

    data = QueryDict(query or "")
    filterset = LedgerFilter(data, queryset=RectificationItem.objects.visible_to(user), user=user, clock=clock)
    sort = data.get("sort") if data.get("sort") in SORTS else DEFAULT_SORT
    return apply_sort(filterset.qs, sort)


def build_export(export_id):
    """Build a queued LedgerExport; safe to run twice (only a QUEUED row is claimed)."""
    from django.core.files import File
    from django.urls import reverse

    from .cards import card_clock
    from .models import LedgerExport
    from .notify import notify

    claimed = LedgerExport.objects.filter(pk=export_id, status=LedgerExport.Status.QUEUED).update(
        status=LedgerExport.Status.RUNNING)
    if not claimed:
        return None
    export = LedgerExport.objects.select_related("requested_by").get(pk=export_id)
    try:
        clock = card_clock()
        with tempfile.TemporaryFile(suffix=".xlsx") as handle:
            rows = write_workbook(filtered_items(export.requested_by, export.query, clock), clock, handle)
            handle.seek(0)
            export.file.save(f"ledger-{export.pk}.xlsx", File(handle), save=False)
    except Exception as error:
        LedgerExport.objects.filter(pk=export_id).update(status=LedgerExport.Status.FAILED, error=str(error)[:2000],
                                                         finished_at=timezone.now())
        raise
    export.rows, export.status, export.finished_at = rows, LedgerExport.Status.DONE, timezone.now()
    export.save(update_fields=["file", "rows", "status", "finished_at"])
    notify([export.requested_by], _("整改台账导出已完成，共 %(n)s 条，可以下载了。") % {"n": rows},
           url=reverse("ledger_exports"), email=False)
    return export
