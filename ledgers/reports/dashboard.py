"""The dashboard's figures, cached per scope unit and day under the stamps of the rows they read.

At 100,000 problems the dozen GROUP BY queries of a province's dashboard cost about 300 ms, far
more than a page may. The figures only change when their rows do, so they are kept in the cache
(Redis in production, local memory otherwise) under a key holding the "figures" ChangeStamp
(problems, items, walks, closures, must-walk lists, calendar overrides: migration 0012) and the
"choices" stamp (units, campaigns, sub-categories: migration 0006), both changed by the database in
the writing transaction. The next request after any change reads new stamps and computes again, in
every process. The day is in the key as well: cards turn red and the weeks move with the date.
"""

import datetime

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils.translation import get_language

from .. import stamps
from ..models import Problem, RectificationItem, Report
from .figures import Period, compute_figures

WEEKS = 12
STAMPS = ("choices", "figures")


def dashboard_figures(scope, today):
    """{"figures", "first_monday", "weeks": [monday…], "found": [n…], "closed": [n…]} of `scope`'s subtree."""
    return stamps.kept("dashboard", STAMPS, (scope.pk, today.isoformat(), get_language() or ""),
                       lambda: _compute(scope, today))


def _compute(scope, today):
    this_week = Period.containing(Report.Kind.WEEKLY, today)
    first_monday = this_week.start - datetime.timedelta(weeks=WEEKS - 1)
    window = Period(Report.Kind.WEEKLY, "dashboard", first_monday, today)
    weeks = [first_monday + datetime.timedelta(weeks=n) for n in range(WEEKS)]
    found = _per_week(Problem.objects.filter(unit__path__startswith=scope.path, found_at__gte=window.start_dt,
                                             found_at__lt=window.end_dt), "found_at", weeks)
    closed = _per_week(RectificationItem.objects.filter(unit_path__startswith=scope.path,
                                                        closed_at__gte=window.start_dt, closed_at__lt=window.end_dt),
                       "closed_at", weeks)
    return {"figures": compute_figures(scope, window, today=today), "first_monday": first_monday,
            "weeks": weeks, "found": found, "closed": closed}


def _per_week(queryset, field, weeks):
    """Counts per week from a GROUP BY on the local day: a dozen weeks are at most 84 rows."""
    counts = [0] * len(weeks)
    days = queryset.order_by().annotate(day=TruncDate(field)).values("day").annotate(n=Count("id"))
    for row in days:
        index = (row["day"] - weeks[0]).days // 7
        if 0 <= index < len(weeks):
            counts[index] += row["n"]
    return counts
