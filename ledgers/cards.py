"""Red and yellow cards (红黄牌) on open rectification items.

A card is derived, never stored: red when the deadline has passed, yellow when it is at most
`YELLOW_CARD_WORKING_DAYS` working days away. The yellow boundary is turned into one date per
request, so filtering by card is a plain date-range condition the database can index.
"""

from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import RectificationItem
from .workdays import WorkCalendar

RED = "red"
YELLOW = "yellow"
NONE = "none"
CARD_CHOICES = [(RED, _("红牌（已逾期）")), (YELLOW, _("黄牌（临期）")), (NONE, _("无"))]
CARD_LABELS = dict(CARD_CHOICES)


@dataclass(frozen=True)
class CardClock:
    today: object
    yellow_until: object
    calendar: WorkCalendar

    def card(self, item):
        return self.card_for(item.status, item.deadline)

    def card_for(self, status, deadline):
        if status not in RectificationItem.OPEN_STATUSES:
            return NONE
        if deadline < self.today:
            return RED
        if deadline <= self.yellow_until:
            return YELLOW
        return NONE

    def days_overdue(self, item):
        if item.status not in RectificationItem.OPEN_STATUSES or item.deadline >= self.today:
            return 0
        return self.calendar.working_days_overdue(item.deadline, self.today).value

    def q(self, card, prefix=""):
        """A Q selecting items with this card; `prefix` for lookups through a relation."""
        open_q = Q(**{f"{prefix}status__in": RectificationItem.OPEN_STATUSES})
        if card == RED:
            return open_q & Q(**{f"{prefix}deadline__lt": self.today})
        if card == YELLOW:
            return open_q & Q(**{f"{prefix}deadline__gte": self.today, f"{prefix}deadline__lte": self.yellow_until})
        return ~(open_q & Q(**{f"{prefix}deadline__lte": self.yellow_until}))


def card_clock(today=None, calendar=None):
    today = today or timezone.localdate()
    calendar = calendar or WorkCalendar()
    yellow_until = calendar.add_working_days(today, settings.YELLOW_CARD_WORKING_DAYS).value
    return CardClock(today=today, yellow_until=yellow_until, calendar=calendar)
