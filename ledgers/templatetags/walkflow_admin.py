from django import template
from django.utils import timezone

from ..workdays import WorkCalendar, provisional_years

register = template.Library()


@register.simple_tag
def provisional_calendar_years():
    """Years (this one and the next two) whose working days are only estimated."""
    return provisional_years(WorkCalendar(), timezone.localdate())
