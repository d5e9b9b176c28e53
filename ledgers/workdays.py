"""Working days (工作日) in mainland China.

Three sources, strongest first:
1. `CalendarOverride` rows an administrator entered from the State Council notice;
2. `chinese_calendar`, which carries the official holidays and make-up workdays (调休) up to the
   last year it knows;
3. for later years, the statutory holidays that the `holidays` package computes, with weekends off.
   That third source cannot know the make-up workdays, so any answer that used it is marked
   provisional and administrators are warned. Deadlines set today already fall in those years.

Nothing here ever raises for an unknown year: a user's action must not fail on the calendar.
"""

import datetime
import logging
from dataclasses import dataclass
from functools import lru_cache

import chinese_calendar
import holidays as holidays_package

logger = logging.getLogger(__name__)

ONE_DAY = datetime.timedelta(days=1)
# A search for the Nth working day stops here: no notice has ever declared this many days off.
MAX_SCAN_DAYS = 3660
_warned_years = set()  # log the provisional-calendar warning once per year and process


@lru_cache(maxsize=64)
def _official_year_known(year):
    try:
        chinese_calendar.is_workday(datetime.date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


@lru_cache(maxsize=64)
def _statutory_holidays(year):
    return frozenset(holidays_package.China(years=year).keys())


@lru_cache(maxsize=8192)
def package_is_workday(day):
    """(is_workday, provisional) from the packages alone; cached: the packages' answers never change
    while the process runs, and pages ask about the same year of days again and again."""
    if _official_year_known(day.year):
        return chinese_calendar.is_workday(day), False
    if day.year not in _warned_years:
        _warned_years.add(day.year)
        logger.warning(
            "工作日计算：%s 年尚无国务院办公厅节假日安排数据，暂按法定节假日推算（不含调休），请管理员录入节假日调整。",
            day.year,
        )
    return day.weekday() < 5 and day not in _statutory_holidays(day.year), True


@dataclass
class Answer:
    value: object
    provisional: bool


_overrides_by_stamp = {}


def current_overrides():
    """The administrator's overrides, {date: is_workday}: kept per process under the "choices"
    stamp, which the database renews with every change to them (migration 0013)."""
    from . import stamps
    from .models import CalendarOverride

    stamp = stamps.current("choices")
    overrides = _overrides_by_stamp.get(stamp)
    if overrides is None:
        overrides = dict(CalendarOverride.objects.values_list("date", "is_workday"))
        _overrides_by_stamp.clear()  # one entry: an old stamp never comes back
        _overrides_by_stamp[stamp] = overrides
    return overrides


class WorkCalendar:
    """A calendar with the administrator's overrides loaded once (one query per instance).

    Build one per request or per task and pass it around; the packages' data is cached per process.
    """

    def __init__(self, overrides=None):
        self._overrides = overrides

    @property
    def overrides(self):
        if self._overrides is None:
            self._overrides = current_overrides()
        return self._overrides

    def is_workday(self, day):
        return self.check(day)[0]

    def check(self, day):
        """(is_workday, provisional) for one day."""
        if day in self.overrides:
            return self.overrides[day], False
        if not _official_year_known(day.year) and self._year_overridden(day.year):
            # The administrator entered this year's notice: its days off and make-up days are in the
            # table, and the rest of the year follows the weekend rule. No longer provisional.
            return day.weekday() < 5, False
        return package_is_workday(day)

    def _year_overridden(self, year):
        return any(day.year == year for day in self.overrides)

    def add_working_days(self, start, count):
        """The date `count` working days after `start` (start itself not counted)."""
        if count < 0:
            raise ValueError("count must not be negative")
        day, provisional, found = start, False, 0
        for _ in range(MAX_SCAN_DAYS):
            if found == count:
                return Answer(day, provisional)
            day += ONE_DAY
            workday, guessed = self.check(day)
            provisional |= guessed
            if workday:
                found += 1
        return Answer(day, provisional)

    def working_days_between(self, start, end):
        """Working days d with start < d <= end (0 when end <= start)."""
        count, provisional, day = 0, False, start
        while day < end:
            day += ONE_DAY
            workday, guessed = self.check(day)
            provisional |= guessed
            if workday:
                count += 1
        return Answer(count, provisional)

    def working_days_overdue(self, deadline, today):
        """How many working days have passed since the deadline; 0 if not yet passed."""
        return self.working_days_between(deadline, today)

    def is_provisional_year(self, year):
        return not _official_year_known(year) and not self._year_overridden(year)


def provisional_years(calendar, today=None, ahead=2):
    """Years from now to `ahead` years on that are counted from the provisional calendar."""
    today = today or datetime.date.today()
    return [year for year in range(today.year, today.year + ahead + 1) if calendar.is_provisional_year(year)]
