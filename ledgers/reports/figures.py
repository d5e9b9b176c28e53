"""Figures for the weekly summary and the monthly circular (周汇总 / 月通报).

Everything a report says about a unit is computed here, for the subtree of a scope unit and a
period, one row per direct subordinate unit. The rows come from GROUP BY queries: each record's
unit path is cut to the length of a child's path (`Substr(path, 1, len(child path))`), so every
record of a child's subtree falls into that child's group in one pass. Nothing is loaded row by row
except the long lists the workbook prints (streamed with `iterator()`).

Definitions the circular states in its footnote:
- 参与领导（人次）: one per walk for its leader, plus the walk's companions;
- 必走事项覆盖: distinct must-walk items of the campaigns run by the scope unit or the units above
  it, walked at any time up to the end of the period (coverage is cumulative);
- 未销号 / 红牌 / 黄牌 / 销号率: as of the end of the period, or today for a period still running;
  销号率 = items closed by then ÷ items opened by then;
- 平均销号用时: working days from 立项日期 to the closure date, for the items closed in the period;
- 整改成效: approved closures reviewed in the period that recorded both the before and after figure.
"""

import datetime
import logging
from dataclasses import dataclass, field

from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.db.models.functions import Coalesce, Substr, TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _

from ..cards import card_clock
from ..inputs import SANE_YEARS, date_message
from ..models import (
    PATH_STEP,
    Campaign,
    ClosureRecord,
    Problem,
    RectificationItem,
    Report,
    SubCategory,
    Unit,
    WalkSession,
)
from ..workdays import WorkCalendar

logger = logging.getLogger(__name__)

ONE_DAY = datetime.timedelta(days=1)



# ---------------------------------------------------------------------------------------------
# Periods
# ---------------------------------------------------------------------------------------------


class PeriodError(ValueError):
    """A period the user typed that names no real month or week; the message is for the user."""


@dataclass(frozen=True)
class Period:
    kind: str
    label: str  # "2022-05" or "2022-W20": Report.period
    start: datetime.date
    end: datetime.date  # inclusive

    @classmethod
    def month(cls, year, month):
        start = datetime.date(year, month, 1)
        following = datetime.date(year + month // 12, month % 12 + 1, 1)
        return cls(Report.Kind.MONTHLY, f"{year:04d}-{month:02d}", start, following - ONE_DAY)

    @classmethod
    def week(cls, year, week):
        start = datetime.date.fromisocalendar(year, week, 1)
        return cls(Report.Kind.WEEKLY, f"{year:04d}-W{week:02d}", start, start + datetime.timedelta(days=6))

    @classmethod
    def containing(cls, kind, day):
        if kind == Report.Kind.MONTHLY:
            return cls.month(day.year, day.month)
        year, week, _weekday = day.isocalendar()
        return cls.week(year, week)

    @classmethod
    def parse(cls, kind, text):
        text = (text or "").strip()
        try:
            if kind == Report.Kind.MONTHLY:
                year, month = text.split("-")
                if len(year) != 4 or len(month) != 2:
                    raise ValueError
                return cls.month(_sane_year(year), int(month))
            if kind == Report.Kind.WEEKLY:
                year, week = text.upper().split("-W")
                if len(year) != 4 or len(week) != 2:
                    raise ValueError
                return cls.week(_sane_year(year), int(week))
        except PeriodError:
            raise
        except ValueError:
            pass
        if kind == Report.Kind.MONTHLY:
            raise PeriodError(_("月份格式不正确，请按“2022-05”的格式填写。"))
        if kind == Report.Kind.WEEKLY:
            raise PeriodError(_("周次格式不正确，请按“2022-W20”的格式填写（ISO 周次）。"))
        raise PeriodError(_("报表类型不正确。"))

    @classmethod
    def last_complete(cls, kind, today):
        """The last period that has ended by `today`: at 00:30 on 1 June that is May."""
        return cls.containing(kind, today).previous()

    def previous(self):
        return Period.containing(self.kind, self.start - ONE_DAY)

    def next(self):
        return Period.containing(self.kind, self.end + ONE_DAY)

    @property
    def start_dt(self):
        return local_midnight(self.start)

    @property
    def end_dt(self):
        """Exclusive end: midnight at the start of the day after the period, Asia/Shanghai."""
        return local_midnight(self.end + ONE_DAY)

    def title(self):
        if self.kind == Report.Kind.MONTHLY:
            return _("%(year)d年%(month)d月") % {"year": self.start.year, "month": self.start.month}
        year, week, _weekday = self.start.isocalendar()
        return _("%(year)d年第%(week)d周") % {"year": year, "week": week}

    def span(self):
        return _("%(start)s至%(end)s") % {"start": chinese_date(self.start), "end": chinese_date(self.end)}


def _sane_year(text):
    """The year of a typed period, inside the window every date input shares (ledgers.inputs):
    week 9999-W52 has no next week and 0001-W01 no previous one, so they never reach Period."""
    year = int(text)
    if not SANE_YEARS[0] <= year <= SANE_YEARS[1]:
        raise PeriodError(date_message())
    return year


def local_midnight(day):
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def chinese_date(day):
    return f"{day.year}年{day.month}月{day.day}日"


# ---------------------------------------------------------------------------------------------
# Working days in bulk
# ---------------------------------------------------------------------------------------------


class WorkdayIndex:
    """Working days between two dates in O(1) after one pass over the date range.

    The circular needs thousands of "working days from A to B" answers; counting day by day for
    each would repeat the same calendar walk thousands of times.
    """

    def __init__(self, calendar, first, last):
        self.calendar = calendar
        self.first = first
        self.cumulative = [0]
        day, running = first, 0
        while day < last:
            day += ONE_DAY
            running += calendar.is_workday(day)
            self.cumulative.append(running)

    def between(self, start, end):
        """Working days d with start < d <= end (0 when end <= start)."""
        if end <= start:
            return 0
        last = len(self.cumulative) - 1
        a, b = (start - self.first).days, (end - self.first).days
        if a < 0 or b > last:
            return self.calendar.working_days_between(start, end).value
        return self.cumulative[b] - self.cumulative[a]


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------

SUMMED = ("walks", "leader_times", "top_leaders", "problems", "on_spot", "items_created", "closed", "items_total",
          "closed_total", "open", "red", "yellow", "closures", "close_days_sum", "close_days_n",
          "time_limit_before", "time_limit_after", "materials_before", "materials_after", "steps_before",
          "steps_after", "trips_before", "trips_after")


@dataclass
class UnitFigures:
    label: str
    unit: object = None  # None for the totals row
    walks: int = 0
    leader_times: int = 0
    top_leaders: int = 0
    service_items: int = 0
    must_walk_covered: int = 0
    problems: int = 0
    by_category: dict = field(default_factory=dict)
    by_subcategory: dict = field(default_factory=dict)  # SubCategory id (None: not refined) -> count
    on_spot: int = 0
    items_created: int = 0
    closed: int = 0
    items_total: int = 0
    closed_total: int = 0
    open: int = 0
    red: int = 0
    yellow: int = 0
    closures: int = 0
    close_days_sum: int = 0
    close_days_n: int = 0
    time_limit_before: int = 0
    time_limit_after: int = 0
    materials_before: int = 0
    materials_after: int = 0
    steps_before: int = 0
    steps_after: int = 0
    trips_before: int = 0
    trips_after: int = 0
    rank: int = None

    @property
    def closure_rate(self):
        return self.closed_total / self.items_total if self.items_total else None

    @property
    def closure_percent(self):
        rate = self.closure_rate
        return None if rate is None else round(rate * 100, 1)

    @property
    def avg_close_days(self):
        return self.close_days_sum / self.close_days_n if self.close_days_n else None

    @property
    def time_limit_saved(self):
        return self.time_limit_before - self.time_limit_after

    @property
    def time_limit_rate(self):
        return self.time_limit_saved / self.time_limit_before if self.time_limit_before else None

    @property
    def materials_cut(self):
        return self.materials_before - self.materials_after

    @property
    def steps_cut(self):
        return self.steps_before - self.steps_after

    @property
    def trips_cut(self):
        return self.trips_before - self.trips_after

    def is_empty(self):
        return not any(getattr(self, name) for name in SUMMED)


@dataclass
class Figures:
    scope: Unit
    period: Period
    as_of: datetime.date
    rows: list
    total: UnitFigures
    subcategories: list  # [(id or None, name, category)] in column order
    must_walk_total: int
    yellow_until: datetime.date

    def row_for(self, unit):
        return next((row for row in self.rows if row.unit is not None and row.unit.pk == unit.pk), None)


def must_walk_item_ids(scope, period):
    """Must-walk items of the campaigns running in the period, organised by the scope or above it."""
    path = scope.path
    own_and_above = [path[:i] for i in range(PATH_STEP + 1, len(path) + 1, PATH_STEP + 1)]
    campaigns = Campaign.objects.filter(unit__path__in=own_and_above, start_date__lte=period.end).filter(
        Q(end_date__isnull=True) | Q(end_date__gte=period.start))
    return set(Campaign.must_walk_items.through.objects.filter(campaign__in=campaigns)
               .values_list("serviceitem_id", flat=True))


def compute_figures(scope, period, *, today=None, calendar=None):
    """The figures of `scope`'s subtree for `period`, one row per direct subordinate unit.

    About a dozen queries whatever the number of records; the records of the scope unit itself
    (not of a child) form a row "（本级）" when there are any.
    """
    today = today or timezone.localdate()
    calendar = calendar or WorkCalendar()
    as_of = min(period.end, today)
    as_of_end = local_midnight(as_of + ONE_DAY)
    clock = card_clock(as_of, calendar)
    path = scope.path
    key_length = len(path) + PATH_STEP + 1

    def grouped(queryset, path_field, **aggregates):
        key = Substr(path_field, 1, key_length)
        rows = (queryset.filter(**{f"{path_field}__startswith": path}).order_by()
                .annotate(group=key).values("group").annotate(**aggregates))
        return {row.pop("group"): row for row in rows}

    children = list(Unit.objects.filter(parent=scope).order_by("sort_order", "path"))
    rows = {child.path: UnitFigures(label=child.name, unit=child) for child in children}
    own_label = _("%(name)s（本级）") % {"name": scope.name} if children else scope.name
    rows[path] = UnitFigures(label=own_label, unit=scope)
    total = UnitFigures(label=_("合计"))

    def merge(values):
        for group, figures in values.items():
            # A group matching no child (a unit moved while the queries ran) still counts in the totals.
            row = rows.setdefault(group, UnitFigures(label=group))
            for name, value in figures.items():
                setattr(row, name.removeprefix("agg_"), value or 0)

    # Walks in the period.
    walks = WalkSession.objects.filter(started_at__gte=period.start_dt, started_at__lt=period.end_dt)
    walk_aggregates = dict(
        walks=Count("id"),
        leader_times=Count("id") + Coalesce(Sum("companion_count"), 0),
        top_leaders=Count("id", filter=Q(leader_rank=WalkSession.LeaderRank.TOP)),
        service_items=Count("service_item_id", distinct=True),
    )
    merge(grouped(walks, "unit__path", **walk_aggregates))
    totals = walks.filter(unit__path__startswith=path).aggregate(**walk_aggregates)
    for name, value in totals.items():
        setattr(total, name, value or 0)

    # Must-walk coverage, cumulative up to the end of the period.
    must_walk = must_walk_item_ids(scope, period)
    if must_walk:
        covering = WalkSession.objects.filter(started_at__lt=as_of_end, service_item_id__in=must_walk)
        merge(grouped(covering, "unit__path", must_walk_covered=Count("service_item_id", distinct=True)))
        total.must_walk_covered = covering.filter(unit__path__startswith=path).aggregate(
            n=Count("service_item_id", distinct=True))["n"]

    # Problems found in the period, by category and sub-category.
    problems = Problem.objects.filter(found_at__gte=period.start_dt, found_at__lt=period.end_dt)
    categories = Problem.Category.values
    category_counts = {f"cat_{c}": Count("id", filter=Q(category=c)) for c in categories}
    for group, values in grouped(problems, "unit__path", problems=Count("id"),
                                 on_spot=Count("id", filter=Q(resolution=Problem.Resolution.ON_SPOT)),
                                 **category_counts).items():
        row = rows.setdefault(group, UnitFigures(label=group))
        row.problems, row.on_spot = values["problems"], values["on_spot"]
        row.by_category = {c: values[f"cat_{c}"] for c in categories}
    key = Substr("unit__path", 1, key_length)
    used_subcategories = set()
    for values in (problems.filter(unit__path__startswith=path).order_by().annotate(group=key)
                   .values("group", "subcategory_id").annotate(n=Count("id"))):
        row = rows.setdefault(values["group"], UnitFigures(label=values["group"]))
        row.by_subcategory[values["subcategory_id"]] = values["n"]
        used_subcategories.add(values["subcategory_id"])

    # Rectification items: opened and closed in the period, and their state at its end.
    open_then = Q(opened_on__lte=as_of) & (Q(closed_at__isnull=True) | Q(closed_at__gte=as_of_end))
    # Items carry their unit's path (migration 0006): no join with the units.
    merge(grouped(
        RectificationItem.objects.all(), "unit_path",
        items_created=Count("id", filter=Q(opened_on__gte=period.start, opened_on__lte=period.end)),
        closed=Count("id", filter=Q(closed_at__gte=period.start_dt, closed_at__lt=period.end_dt)),
        items_total=Count("id", filter=Q(opened_on__lte=as_of)),
        closed_total=Count("id", filter=Q(opened_on__lte=as_of, closed_at__lt=as_of_end)),
        open=Count("id", filter=open_then),
        red=Count("id", filter=open_then & Q(deadline__lt=as_of)),
        yellow=Count("id", filter=open_then & Q(deadline__gte=as_of, deadline__lte=clock.yellow_until)),
    ))

    # Working days from opening to closure, for the items closed in the period: grouped by the
    # (opened, closed) date pair, so the calendar is asked once per distinct pair.
    pairs = list(
        RectificationItem.objects.filter(unit_path__startswith=path, closed_at__gte=period.start_dt,
                                         closed_at__lt=period.end_dt)
        .order_by().annotate(group=Substr("unit_path", 1, key_length), closed_day=TruncDate("closed_at"))
        .values_list("group", "opened_on", "closed_day").annotate(n=Count("id"))
    )
    if pairs:
        index = WorkdayIndex(calendar, min(p[1] for p in pairs), max(p[2] for p in pairs))
        for group, opened_on, closed_day, n in pairs:
            row = rows.setdefault(group, UnitFigures(label=group))
            row.close_days_sum += index.between(opened_on, closed_day) * n
            row.close_days_n += n

    # Improvements recorded on the approved closures reviewed in the period.
    def both(name):
        return Q(**{f"{name}_before__isnull": False, f"{name}_after__isnull": False})

    closure_aggregates = {"closures": Count("id")}
    for name in ClosureRecord.FIGURES:
        # Aliases must not repeat a field's name, or the SUM would refer to itself in GROUP BY.
        closure_aggregates[f"agg_{name}_before"] = Sum(f"{name}_before", filter=both(name))
        closure_aggregates[f"agg_{name}_after"] = Sum(f"{name}_after", filter=both(name))
    merge(grouped(
        ClosureRecord.objects.filter(decision=ClosureRecord.Decision.APPROVED, reviewed_at__gte=period.start_dt,
                                     reviewed_at__lt=period.end_dt),
        "item__unit_path", **closure_aggregates,
    ))

    ordered = [rows[child.path] for child in children]
    own = rows[path]
    if not children or not own.is_empty():
        ordered.append(own)
    for name in SUMMED:
        if name in walk_aggregates:
            continue
        setattr(total, name, sum(getattr(row, name) for row in rows.values()))
    total.by_category = {c: sum(row.by_category.get(c, 0) for row in rows.values()) for c in categories}
    for row in rows.values():
        for sub_id, n in row.by_subcategory.items():
            total.by_subcategory[sub_id] = total.by_subcategory.get(sub_id, 0) + n
        row.by_category = {c: row.by_category.get(c, 0) for c in categories}
    _rank(ordered)

    # Sub-categories in the order of their categories on the circular, then as the office sorted them.
    category_order = {category: index for index, category in enumerate(categories)}
    subcategory_columns = sorted(
        ((sub.pk, sub.name, sub.category) for sub in
         SubCategory.objects.filter(Q(is_active=True) | Q(pk__in=used_subcategories - {None}))
         .order_by("sort_order", "name")),
        key=lambda column: category_order.get(column[2], len(categories)),
    )
    if subcategory_columns and None in used_subcategories:
        subcategory_columns.append((None, _("未细分"), ""))
    return Figures(scope=scope, period=period, as_of=as_of, rows=ordered, total=total,
                   subcategories=subcategory_columns, must_walk_total=len(must_walk),
                   yellow_until=clock.yellow_until)


def _rank(rows):
    """Rank by closure rate (then by items closed); units with nothing to close are not ranked."""
    ranked = sorted((row for row in rows if row.closure_rate is not None),
                    key=lambda row: (-row.closure_rate, -row.closed_total))
    previous, position = None, 0
    for index, row in enumerate(ranked, start=1):
        score = (row.closure_rate, row.closed_total)
        if score != previous:
            position, previous = index, score
        row.rank = position


# ---------------------------------------------------------------------------------------------
# The long lists of the circular (streamed)
# ---------------------------------------------------------------------------------------------


def overdue_items(scope, as_of):
    """Red items as of `as_of`: (unit, problem, measure, lead unit, owner, deadline, status, opened_on).
    Streamed; the caller turns deadlines into working days overdue with a WorkdayIndex."""
    as_of_end = local_midnight(as_of + ONE_DAY)
    return (
        RectificationItem.objects
        .filter(unit__path__startswith=scope.path, opened_on__lte=as_of, deadline__lt=as_of)
        .filter(Q(closed_at__isnull=True) | Q(closed_at__gte=as_of_end))
        .order_by("unit__path", "deadline", "id")
        .values_list("unit__name", "problem__description", "measure", "lead_unit__name", "owner__last_name",
                     "owner__first_name", "owner__username", "deadline", "status")
        .iterator(chunk_size=2000)
    )


def earliest_overdue_deadline(scope, as_of):
    as_of_end = local_midnight(as_of + ONE_DAY)
    return (RectificationItem.objects
            .filter(unit__path__startswith=scope.path, opened_on__lte=as_of, deadline__lt=as_of)
            .filter(Q(closed_at__isnull=True) | Q(closed_at__gte=as_of_end))
            .order_by("deadline").values_list("deadline", flat=True).first())


def new_problems(scope, period):
    """The period's problems with whether they have ledger items and whether any is still open."""
    items = RectificationItem.objects.filter(problem=OuterRef("pk"))
    return (
        Problem.objects
        .filter(unit__path__startswith=scope.path, found_at__gte=period.start_dt, found_at__lt=period.end_dt)
        .annotate(has_items=Exists(items), has_open=Exists(items.filter(closed_at__isnull=True)))
        .order_by("unit__path", "found_at", "id")
        .values_list("unit__name", "found_at", "source", "category", "subcategory__name", "description",
                     "resolution", "responsible_unit__name", "has_items", "has_open")
        .iterator(chunk_size=2000)
    )


def period_closures(scope, period):
    """Approved closures reviewed in the period, with their before/after figures."""
    return (
        ClosureRecord.objects
        .filter(item__unit__path__startswith=scope.path, decision=ClosureRecord.Decision.APPROVED,
                reviewed_at__gte=period.start_dt, reviewed_at__lt=period.end_dt)
        .order_by("item__unit__path", "reviewed_at", "id")
        .values_list("item__unit__name", "item__problem__description", "item__measure", "item__lead_unit__name",
                     "reviewed_at", "time_limit_before", "time_limit_after", "materials_before", "materials_after",
                     "steps_before", "steps_after", "trips_before", "trips_after", "evidence")
        .iterator(chunk_size=2000)
    )


# ---------------------------------------------------------------------------------------------
# What the circular's narrative names (ledgers/reports/narrative.py)
# ---------------------------------------------------------------------------------------------


def largest_improvements(scope, period, limit=3):
    """The period's approved closures with the largest cut in the time limit (then materials,
    then trips), as rows of `period_closures`: the examples the circular's 整改成效 quotes."""
    from django.db.models import F, Value
    from django.db.models.functions import Coalesce as Fallback

    def cut(name):
        return Fallback(F(f"{name}_before") - F(f"{name}_after"), Value(0))

    return list(
        ClosureRecord.objects
        .filter(item__unit__path__startswith=scope.path, decision=ClosureRecord.Decision.APPROVED,
                reviewed_at__gte=period.start_dt, reviewed_at__lt=period.end_dt)
        .filter(Q(time_limit_before__isnull=False, time_limit_after__isnull=False)
                | Q(materials_before__isnull=False, materials_after__isnull=False)
                | Q(trips_before__isnull=False, trips_after__isnull=False))
        .annotate(time_cut=cut("time_limit"), materials_cut=cut("materials"), trips_cut=cut("trips"))
        .order_by("-time_cut", "-materials_cut", "-trips_cut", "item__unit__path", "id")
        .values_list("item__unit__name", "item__problem__description", "item__measure", "item__lead_unit__name",
                     "reviewed_at", "time_limit_before", "time_limit_after", "materials_before", "materials_after",
                     "steps_before", "steps_after", "trips_before", "trips_after", "evidence")[:limit]
    )


def unwalked_must_walk_items(scope, period, as_of):
    """Names of the must-walk items nobody in the scope's subtree has walked up to `as_of`."""
    from ..models import ServiceItem

    must_walk = must_walk_item_ids(scope, period)
    if not must_walk:
        return []
    walked = (WalkSession.objects.filter(unit__path__startswith=scope.path, started_at__lt=local_midnight(
        as_of + ONE_DAY), service_item_id__in=must_walk).values_list("service_item_id", flat=True).distinct())
    return list(ServiceItem.objects.filter(pk__in=must_walk - set(walked)).order_by("name")
                .values_list("name", flat=True))


def figures_as_dict(figures):
    """The figures as plain JSON data: what an issued circular keeps of them."""
    def row_dict(row):
        values = {name: getattr(row, name) for name in SUMMED}
        values.update(label=row.label, unit=row.unit.code if row.unit is not None else None, rank=row.rank,
                      service_items=row.service_items, must_walk_covered=row.must_walk_covered,
                      by_category=row.by_category, closure_rate=row.closure_rate,
                      by_subcategory={str(key): n for key, n in row.by_subcategory.items()})
        return values

    return {"scope": figures.scope.code, "period": figures.period.label, "as_of": figures.as_of.isoformat(),
            "must_walk_total": figures.must_walk_total, "total": row_dict(figures.total),
            "rows": [row_dict(row) for row in figures.rows],
            "subcategories": [[str(key), name, category] for key, name, category in figures.subcategories]}
