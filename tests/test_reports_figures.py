"""The figures of the circular, exact against hand-built data.

The data set is 吉首市's published count (seed, walkflow-practices-2022.txt): 86 service items
walked, 103 problems in six sub-categories, 114 measures; the ledger states of the measures are
our own choices so that every column of the circular has a known answer.
"""

import datetime
from types import SimpleNamespace

from django.test import TestCase
from django.utils import timezone

from ledgers.models import (
    ClosureRecord,
    Problem,
    RectificationItem,
    ServiceItem,
    SubCategory,
    WalkSession,
)
from ledgers import workdays
from ledgers.reports.figures import Period, PeriodError, WorkdayIndex, compute_figures
from ledgers.workdays import WorkCalendar
from tests.world import build_world, make_problem, make_walk

SH = datetime.timezone(datetime.timedelta(hours=8))

JISHOU_SUBCATEGORIES = [
    (Problem.Category.PROCESS, "办理流程有待优化", 17),
    (Problem.Category.PROCESS, "审批时限有待压缩", 7),
    (Problem.Category.WINDOW, "窗口业务能力有待提升", 23),
    (Problem.Category.WINDOW, "政策宣传不到位", 13),
    (Problem.Category.SYSTEM, "一体化平台与业务系统不能共享共通", 18),
    (Problem.Category.COORDINATION, "其他", 25),
]
MAY = Period.month(2022, 5)
JUNE_1 = datetime.date(2022, 6, 1)


def at(day, hour=10):
    return datetime.datetime.combine(day, datetime.time(hour), tzinfo=SH)


def build_jishou(w):
    """May 2022 in 吉首市 (K3), by hand. Returns what the figures must say.

    - 86 walks, one per service item: 37 by the 一把手, 49 by other leaders, 2 companions each;
    - 103 problems: the six sub-categories; the first 13 fixed on the spot (no ledger item);
    - 114 measures on the other 90 problems (24 of them carry two), all opened on 4 May;
      40 closed on 13 May (8 working days: 7 May 2022 was a make-up Saturday), 10 of those approved
      with figures (time limit 10 -> 6, materials 5 -> 2, trips 2 -> 0);
      of the 74 still open, 30 were due on 20 May (red on 31 May), 4 due on 2 June (yellow:
      within 3 working days of 31 May), 40 due in July.
    """
    subcategories = {name: SubCategory.objects.create(category=category, name=name, sort_order=i)
                     for i, (category, name, _n) in enumerate(JISHOU_SUBCATEGORIES)}
    services = ServiceItem.objects.bulk_create(
        [ServiceItem(name=f"吉首事项{i:02d}", competent_unit=w.K3) for i in range(86)])
    w.campaign.must_walk_items.add(services[0], services[1])  # 3 must-walk items in all, with w.birth
    walks = WalkSession.objects.bulk_create([
        WalkSession(campaign=w.campaign, unit=w.K3, service_item=service, leader=w.frank, created_by=w.frank,
                    leader_rank=WalkSession.LeaderRank.TOP if i < 37 else WalkSession.LeaderRank.LEADERSHIP,
                    companion_count=2, identity=WalkSession.Identity.APPLICANT, way=WalkSession.Way.ON_SITE,
                    started_at=at(datetime.date(2022, 5, 5) + datetime.timedelta(days=i % 20)))
        for i, service in enumerate(services)
    ])
    problems = []
    for category, name, count in JISHOU_SUBCATEGORIES:
        for _i in range(count):
            n = len(problems)
            on_spot = n < 13
            problems.append(Problem(
                walk=walks[n % 86], campaign=w.campaign, unit=w.K3, responsible_unit=w.K3,
                service_item=walks[n % 86].service_item, category=category, subcategory=subcategories[name],
                description=f"=问题{n}：窗口\x07告知不清", created_by=w.frank,
                resolution=Problem.Resolution.ON_SPOT if on_spot else Problem.Resolution.LEDGER,
                on_spot_action="现场整改" if on_spot else "", found_at=at(datetime.date(2022, 5, 5 + n % 20))))
    problems = Problem.objects.bulk_create(problems)
    ledger_problems = problems[13:]
    targets = ledger_problems + ledger_problems[:24]
    items = []
    for n, problem in enumerate(targets):
        closed = n < 40
        if closed:
            deadline = datetime.date(2022, 5, 31)
        elif n < 70:
            deadline = datetime.date(2022, 5, 20)
        elif n < 74:
            deadline = datetime.date(2022, 6, 2)
        else:
            deadline = datetime.date(2022, 7, 15)
        items.append(RectificationItem(
            problem=problem, unit=w.K3, lead_unit=w.K3, owner=w.frank, measure=f"措施{n}",
            status=RectificationItem.Status.CLOSED if closed else RectificationItem.Status.OPEN,
            opened_on=datetime.date(2022, 5, 4), deadline=deadline,
            closed_at=at(datetime.date(2022, 5, 13), 16) if closed else None))
    items = RectificationItem.objects.bulk_create(items)
    ClosureRecord.objects.bulk_create([
        ClosureRecord(item=item, submitted_by=w.frank, submitted_at=at(datetime.date(2022, 5, 12)),
                      evidence="已优化流程", decision=ClosureRecord.Decision.APPROVED, reviewed_by=w.erin,
                      reviewed_at=at(datetime.date(2022, 5, 13), 15), time_limit_before=10, time_limit_after=6,
                      materials_before=5, materials_after=2, trips_before=2, trips_after=0)
        for item in items[:10]
    ])
    return SimpleNamespace(subcategories=subcategories, services=services, items=items, problems=problems)


def build_noise(w):
    """Records that must not leak into 湘西州's figures: another city, and 吉首 outside May."""
    walk = make_walk(w, unit=w.K1, started_at=at(datetime.date(2022, 5, 10)))
    make_problem(w, unit=w.K1, walk=walk, found_at=at(datetime.date(2022, 5, 10)))
    make_walk(w, unit=w.K3, leader=w.frank, service_item=w.disability, started_at=at(datetime.date(2022, 4, 28)))
    make_problem(w, unit=w.K3, found_at=at(datetime.date(2022, 4, 28)), created_by=w.frank)
    # 1 June 00:30 in Shanghai is still 31 May in UTC: it belongs to June.
    make_problem(w, unit=w.K3, found_at=datetime.datetime(2022, 5, 31, 16, 30, tzinfo=datetime.timezone.utc),
                 created_by=w.frank)
    # 31 May 23:30 in Shanghai is 31 May in UTC too, and belongs to May: one more problem in May.
    make_problem(w, unit=w.C2, found_at=datetime.datetime(2022, 5, 31, 15, 30, tzinfo=datetime.timezone.utc),
                 created_by=w.frank)


class JishouFiguresTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()
        cls.data = build_jishou(cls.w)
        build_noise(cls.w)

    def figures(self, scope=None, period=MAY, today=JUNE_1):
        return compute_figures(scope or self.w.C2, period, today=today)

    def test_it_reports_jishou_published_numbers(self):
        row = self.figures().row_for(self.w.K3)
        self.assertEqual(row.service_items, 86)
        self.assertEqual(row.walks, 86)
        self.assertEqual(row.problems, 103)
        self.assertEqual(row.items_created, 114)
        by_name = {self.data.subcategories[name].pk: n for _c, name, n in JISHOU_SUBCATEGORIES}
        self.assertEqual(row.by_subcategory, by_name)
        self.assertEqual(row.by_category, {"process": 24, "window": 36, "system": 18, "coordination": 25})

    def test_it_counts_leaders_and_the_top_ones(self):
        row = self.figures().row_for(self.w.K3)
        self.assertEqual(row.leader_times, 86 + 2 * 86)
        self.assertEqual(row.top_leaders, 37)

    def test_it_counts_must_walk_coverage_of_the_campaign(self):
        figures = self.figures()
        self.assertEqual(figures.must_walk_total, 3)
        self.assertEqual(figures.row_for(self.w.K3).must_walk_covered, 2)

    def test_it_reports_the_ledger_state_at_the_end_of_may(self):
        row = self.figures().row_for(self.w.K3)
        self.assertEqual(row.on_spot, 13)
        self.assertEqual(row.closed, 40)
        self.assertEqual(row.closed_total, 40)
        self.assertEqual(row.items_total, 114)
        self.assertEqual(row.open, 74)
        self.assertEqual(row.red, 30)
        self.assertEqual(row.yellow, 4)
        self.assertAlmostEqual(row.closure_rate, 40 / 114)
        self.assertEqual(row.rank, 1)

    def test_it_counts_working_days_to_close_with_the_make_up_saturday(self):
        row = self.figures().row_for(self.w.K3)
        self.assertEqual(row.avg_close_days, 8)

    def test_it_sums_the_improvements_of_approved_closures(self):
        row = self.figures().row_for(self.w.K3)
        self.assertEqual(row.closures, 10)
        self.assertEqual(row.time_limit_saved, 40)
        self.assertAlmostEqual(row.time_limit_rate, 0.4)
        self.assertEqual(row.materials_cut, 30)
        self.assertEqual(row.trips_cut, 20)

    def test_it_puts_the_scope_units_own_records_in_its_own_row(self):
        figures = self.figures()
        self.assertEqual([row.label for row in figures.rows], ["吉首市", "湘西州（本级）"])
        self.assertEqual(figures.rows[1].problems, 1)
        self.assertEqual(figures.total.problems, 104)

    def test_it_keeps_other_cities_and_other_months_out(self):
        figures = self.figures(scope=self.w.P)
        self.assertEqual([row.unit for row in figures.rows], [self.w.C1, self.w.C2])
        self.assertEqual(figures.rows[0].problems, 1)
        self.assertEqual(figures.rows[1].problems, 104)
        self.assertEqual(figures.total.walks, 87)
        self.assertEqual(figures.total.service_items, 87)  # distinct over the whole province
        april = self.figures(period=Period.month(2022, 4))
        self.assertEqual(april.total.problems, 1)
        self.assertEqual(april.total.walks, 1)

    def test_it_computes_with_a_fixed_number_of_queries(self):
        # children, walks (grouped + total), must-walk ids, coverage (grouped + total), problems,
        # sub-categories per unit, items, closure pairs, closures, sub-category names, the change
        # stamps and the calendar overrides (not yet kept by this process): 14 whatever the number
        # of records.
        workdays._overrides_by_stamp.clear()
        with self.assertNumQueries(14):
            self.figures(scope=self.w.P)

    def test_it_states_red_and_yellow_as_of_today_for_a_running_month(self):
        # On Tuesday 17 May the items due Friday 20 May are 3 working days away: yellow, not red.
        figures = self.figures(today=datetime.date(2022, 5, 17))
        row = figures.row_for(self.w.K3)
        self.assertEqual(figures.as_of, datetime.date(2022, 5, 17))
        self.assertEqual(row.red, 0)
        self.assertEqual(row.yellow, 30)


class PeriodTestCase(TestCase):
    def test_it_parses_months_and_iso_weeks(self):
        self.assertEqual(Period.parse("monthly", "2022-05"), MAY)
        week = Period.parse("weekly", "2022-W20")
        self.assertEqual((week.start, week.end), (datetime.date(2022, 5, 16), datetime.date(2022, 5, 22)))
        self.assertEqual(Period.parse("weekly", "2020-W53").end, datetime.date(2021, 1, 3))

    def test_it_rejects_bad_periods_with_a_chinese_message(self):
        for kind, text in [("monthly", "2022-13"), ("monthly", "2022/05"), ("monthly", ""), ("weekly", "2021-W53"),
                           ("weekly", "2022-20"), ("weekly", "2022-W0"), ("other", "2022-05")]:
            with self.assertRaises(PeriodError) as caught:
                Period.parse(kind, text)
            self.assertRegex(str(caught.exception), "[\u4e00-\u9fff]")

    def test_it_finds_the_last_complete_period(self):
        self.assertEqual(Period.last_complete("monthly", JUNE_1).label, "2022-05")
        self.assertEqual(Period.last_complete("monthly", datetime.date(2022, 1, 1)).label, "2021-12")
        self.assertEqual(Period.last_complete("weekly", datetime.date(2022, 5, 23)).label, "2022-W20")
        self.assertEqual(Period.last_complete("weekly", datetime.date(2022, 1, 3)).label, "2021-W52")

    def test_it_bounds_a_period_at_shanghai_midnight(self):
        self.assertEqual(MAY.start_dt, datetime.datetime(2022, 4, 30, 16, 0, tzinfo=datetime.timezone.utc))
        self.assertEqual(MAY.end_dt, datetime.datetime(2022, 5, 31, 16, 0, tzinfo=datetime.timezone.utc))
        self.assertEqual(timezone.localtime(MAY.end_dt).date(), JUNE_1)

    def test_workday_index_agrees_with_the_calendar(self):
        calendar = WorkCalendar(overrides={})
        start, end = datetime.date(2022, 4, 20), datetime.date(2022, 10, 31)
        index = WorkdayIndex(calendar, start, end)
        for a, b in [(datetime.date(2022, 5, 4), datetime.date(2022, 5, 13)),
                     (datetime.date(2022, 9, 28), datetime.date(2022, 10, 10)),
                     (datetime.date(2022, 4, 20), datetime.date(2022, 4, 20)),
                     (datetime.date(2022, 5, 1), datetime.date(2022, 4, 25)),
                     (datetime.date(2022, 3, 1), datetime.date(2022, 5, 1))]:
            self.assertEqual(index.between(a, b), calendar.working_days_between(a, b).value, (a, b))
