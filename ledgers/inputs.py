"""Limits on what a user may type, in one place, so that every form, filter, the walk API and the
admin refuse the same values with the same Chinese message instead of failing further down.

- Dates: the campaign's ledger lives in this century. A year 1 start time overflows when it is
  converted to UTC, a year 9999 week has no "next week", and a deadline in 9999 is a typing
  mistake that would sit in the ledger as never overdue. `SANE_YEARS` is the window.
- Integers: an id or a form `version` beyond the database's 64-bit integers makes the query fail
  ("Python int too large"), where a wrong number should be a message.
- Text: JSON may carry a lone surrogate ("\\ud800") that no encoder, database or spreadsheet
  accepts; it is refused when the request is read. NUL, which PostgreSQL refuses in text, is
  dropped from query-string text that no form field checks (`query_text`).
"""

import datetime
import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

SANE_YEARS = (2000, 2100)
MAX_INTEGER = 2**31 - 1  # the smallest "integer" column of the supported databases
DATE_MESSAGE = _("日期须在 %(first)d 年至 %(last)d 年之间，请检查年份。")
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def date_message():
    first, last = SANE_YEARS
    return DATE_MESSAGE % {"first": first, "last": last}


def is_sane_date(value):
    """A date or datetime inside the window (datetimes are dates too)."""
    return isinstance(value, datetime.date) and SANE_YEARS[0] <= value.year <= SANE_YEARS[1]


def validate_sane_date(value):
    """A model and form field validator: ValidationError with the window's message."""
    if value is not None and not is_sane_date(value):
        raise ValidationError(date_message(), code="date_out_of_range")


class SaneDateField(forms.DateField):
    """`forms.DateField` limited to the window; the widget stays the browser's date picker."""

    default_validators = [validate_sane_date]

    def widget_attrs(self, widget):
        first, last = SANE_YEARS
        return {**super().widget_attrs(widget), "min": f"{first:04d}-01-01", "max": f"{last:04d}-12-31"}


def query_text(value):
    """Free text read straight from a query string, without NUL: PostgreSQL refuses it in any
    text comparison, and no one types it. (Form fields refuse it themselves.)"""
    return (value or "").replace("\x00", "")


def has_lone_surrogate(value):
    """True when a string anywhere in decoded JSON (keys included) holds a lone surrogate."""
    if isinstance(value, str):
        return LONE_SURROGATE.search(value) is not None
    if isinstance(value, dict):
        return any(has_lone_surrogate(key) or has_lone_surrogate(item) for key, item in value.items())
    if isinstance(value, list):
        return any(has_lone_surrogate(item) for item in value)
    return False
