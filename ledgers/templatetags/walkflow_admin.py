from django import template
from django.utils import timezone

from ..roles import manages_global_settings
from ..workdays import WorkCalendar, provisional_years

register = template.Library()


@register.simple_tag
def provisional_calendar_years():
    """Years (this one and the next two) whose working days are only estimated."""
    return provisional_years(WorkCalendar(), timezone.localdate())


@register.filter
def manages_calendar(user):
    """Only those who may enter the State Council notice are sent to its form."""
    return manages_global_settings(user)
