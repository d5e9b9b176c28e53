import datetime
import logging

from django.test import TestCase

from ledgers.models import CalendarOverride
from ledgers import workdays
from ledgers.workdays import WorkCalendar

D = datetime.date


class WorkdaysTestCase(TestCase):
    def test_it_knows_a_make_up_workday(self):
        calendar = WorkCalendar()
        self.assertTrue(calendar.is_workday(D(2026, 2, 14)))  # Saturday, 调休上班
        self.assertFalse(calendar.is_workday(D(2026, 2, 16)))  # Spring Festival holiday
        self.assertEqual(calendar.check(D(2026, 2, 14)), (True, False))

    def test_it_counts_across_spring_festival(self):
        answer = WorkCalendar().add_working_days(D(2026, 2, 13), 3)
        self.assertEqual(answer.value, D(2026, 2, 25))
        self.assertFalse(answer.provisional)

    def test_it_counts_zero_days_as_the_same_day(self):
        self.assertEqual(WorkCalendar().add_working_days(D(2026, 3, 2), 0).value, D(2026, 3, 2))

    def test_it_counts_2027_provisionally_and_warns(self):
        workdays._warned_years.discard(2027)  # the warning is logged once per process and year
        workdays.package_is_workday.cache_clear()
        calendar = WorkCalendar()
        with self.assertLogs("ledgers.workdays", level=logging.WARNING) as logs:
            # 2027-01-01 is New Year's Day (statutory): Thu 2026-12-31 + 1 working day = Mon 2027-01-04
            answer = calendar.add_working_days(D(2026, 12, 31), 1)
        self.assertEqual(answer.value, D(2027, 1, 4))
        self.assertTrue(answer.provisional)
        self.assertIn("2027", logs.output[0])
        self.assertTrue(calendar.is_provisional_year(2027))
        self.assertFalse(calendar.is_provisional_year(2026))

    def test_it_never_counts_weekends_only_for_2027(self):
        # National Day 2027-10-01..03 are statutory holidays even without the notice.
        calendar = WorkCalendar()
        self.assertFalse(calendar.is_workday(D(2027, 10, 1)))
        self.assertFalse(calendar.is_workday(D(2027, 2, 6)))  # 除夕 2027 (Spring Festival eve)

    def test_an_override_wins_over_both_packages(self):
        CalendarOverride.objects.create(date=D(2026, 2, 14), is_workday=False, source="测试通知")
        CalendarOverride.objects.create(date=D(2027, 1, 2), is_workday=True, source="国办发明电〔2026〕X号")
        calendar = WorkCalendar()
        self.assertFalse(calendar.is_workday(D(2026, 2, 14)))
        self.assertTrue(calendar.is_workday(D(2027, 1, 2)))
        # Once a notice for 2027 is entered, 2027 is no longer provisional.
        self.assertFalse(calendar.is_provisional_year(2027))
        self.assertEqual(calendar.check(D(2027, 1, 1)), (True, False))

    def test_it_counts_working_days_overdue(self):
        calendar = WorkCalendar()
        # deadline Fri 2026-02-13; by Wed 2026-02-25 the working days passed are 02-14 (调休) and 02-24, 02-25
        self.assertEqual(calendar.working_days_overdue(D(2026, 2, 13), D(2026, 2, 25)).value, 3)
        self.assertEqual(calendar.working_days_overdue(D(2026, 2, 13), D(2026, 2, 13)).value, 0)
        self.assertEqual(calendar.working_days_overdue(D(2026, 2, 13), D(2026, 2, 1)).value, 0)

    def test_it_loads_overrides_once_per_stamp(self):
        workdays._overrides_by_stamp.clear()
        calendar = WorkCalendar()
        with self.assertNumQueries(2):  # the stamp, then the overrides
            calendar.add_working_days(D(2026, 1, 1), 40)
            calendar.working_days_between(D(2026, 1, 1), D(2026, 6, 1))
        with self.assertNumQueries(1):  # the stamp alone: the overrides are kept under it
            WorkCalendar().add_working_days(D(2026, 1, 1), 40)

    def test_a_new_override_counts_at_once(self):
        self.assertTrue(WorkCalendar().is_workday(D(2026, 3, 4)))
        CalendarOverride.objects.create(date=D(2026, 3, 4), is_workday=False, source="测试通知")
        self.assertFalse(WorkCalendar().is_workday(D(2026, 3, 4)))
        CalendarOverride.objects.filter(date=D(2026, 3, 4)).update(is_workday=True)
        self.assertTrue(WorkCalendar().is_workday(D(2026, 3, 4)))
        CalendarOverride.objects.filter(date=D(2026, 3, 4)).delete()
        CalendarOverride.objects.create(date=D(2026, 3, 5), is_workday=False, source="测试通知")
        self.assertFalse(WorkCalendar().is_workday(D(2026, 3, 5)))
