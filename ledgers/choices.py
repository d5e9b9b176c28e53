"""The choice lists of the ledger's filters and of the item page's forms, cached per unit.

A province has thousands of units and owners: reading them and writing their <option>s cost more
than the rest of a page. They change rarely, so they are built once per unit and kept in the cache
(Redis in production, local memory otherwise) under a key holding the current ChangeStamp, which
the database itself changes in the transaction of any change to units, users, their groups,
campaigns, service items or sub-categories (migration 0006). The next request after such a change
reads the new stamp and builds the lists again, in every process: nothing to remember, nothing stale.
"""

from html import escape

from django.utils.safestring import mark_safe

from . import stamps
from .models import Campaign, ServiceItem, SubCategory, Unit, User
from .services import assignable_owners

STAMP = "choices"
LISTS = ("campaigns", "units", "owners", "service_items", "lead_units")


def for_user(user):
    """{"campaigns": [(pk, label…)], …, "subcategories": […], "html": {list name: "<option>…"}}."""
    # Kept on the user object too: a page asking twice (two forms) reads the stamp once.
    if getattr(user, "_walkflow_choices", None) is None:
        user._walkflow_choices = (stamps.kept("choices", (STAMP,), (user.unit_id,), lambda: _build(user))
                                  if user.unit_id else _build(user))
    return user._walkflow_choices


def _build(user):
    units = list(Unit.objects.subtree(user.unit).values_list("pk", "name", "depth", "is_active")) \
        if user.unit_id else []
    top = min((depth for _pk, _name, depth, _active in units), default=0)
    choices = {
        "campaigns": list(Campaign.objects.visible_to(user).values_list("pk", "name")),
        "units": [(pk, "\u3000" * (depth - top) + name) for pk, name, depth, _active in units],
        # Owners labelled as the reassign form's OwnerChoiceField labels them: name（unit）.
        "owners": [(pk, User.name_of(last, first, username)) + ((f"（{unit}）",) if unit else ())
                   for pk, last, first, username, unit in assignable_owners(user)
                   .values_list("pk", "last_name", "first_name", "username", "unit__name")],
        "service_items": list(ServiceItem.objects.visible_to(user).values_list("pk", "name")),
        # The units a supervisor may name as lead unit (services.supervised_units).
        "lead_units": [(pk, name) for pk, name, _depth, active in units if active],
        "subcategories": list(SubCategory.objects.filter(is_active=True).values_list("pk", "name", "category")),
    }
    choices["html"] = {name: render_options(choices[name]) for name in LISTS}
    return choices


def render_options(choices, attributes=None):
    """<option> elements for (value, label, *more label) tuples; labels and values escaped. With
    `attributes`, the tuples are (value, label, extra) and attributes(extra) is written into the tag."""
    if attributes is not None:
        return "".join(f'<option value="{escape(str(value))}"{attributes(extra)}>{escape(str(label))}</option>'
                       for value, label, extra in choices)
    return "".join(f'<option value="{escape(str(value))}">{escape("".join(str(x) for x in label))}</option>'
                   for value, *label in choices)


def with_selected(html, value):
    """The rendered options with the one of `value` selected (none for an empty value)."""
    if value in (None, ""):
        return mark_safe(html)
    tag = f'<option value="{escape(str(value))}"'
    at = html.find(tag + ">")
    if at < 0:
        at = html.find(tag + " ")  # an option with more attributes
    if at < 0:
        return mark_safe(html)
    end = html.index(">", at)
    return mark_safe(f"{html[:end]} selected{html[end:]}")
