"""The ledger's filters. The FilterSet only narrows a queryset the caller has already scoped with
`RectificationItem.objects.visible_to(user)`; the choice querysets below are scoped too, so a
unit, owner or campaign outside the user's reach is an invalid value, dropped with a message."""

from operator import itemgetter

import django_filters
from django import forms
from django.db.models import Case, IntegerField, Q, Value, When
from django.db.models.functions import Upper
from django.utils.translation import gettext_lazy as _

from .cards import CARD_CHOICES, NONE, RED, YELLOW
from .inputs import SaneDateField
from .models import Campaign, Problem, RectificationItem, Role, ServiceItem, SubCategory, Unit, User


OPEN_ALL = "open_all"
# Between the problem's description and the measure in an item's search text (migration 0016).
SEARCH_SEPARATOR = "\x1f"
STATUS_CHOICES = [(OPEN_ALL, _("未销号（全部）")), *RectificationItem.Status.choices]

SORTS = {
    "deadline": (_("整改时限（早→晚）"), ["deadline", "id"]),
    "-deadline": (_("整改时限（晚→早）"), ["-deadline", "-id"]),
    "overdue": (_("逾期天数（多→少）"), None),  # see sort_overdue
    "unit": (_("所属单位"), ["unit__path", "deadline", "id"]),
    "-updated": (_("最后变更（新→旧）"), ["-updated_at", "-id"]),
}
SORT_CHOICES = [(key, label) for key, (label, _order) in SORTS.items()]
DEFAULT_SORT = "deadline"


def sort_overdue(queryset):
    # Days overdue grow as the deadline gets older, so for open items "most overdue first" is
    # "earliest deadline first" and needs no per-row calendar arithmetic in SQL; closed items last.
    rank = Case(When(status__in=RectificationItem.OPEN_STATUSES, then=Value(0)), default=Value(1),
                output_field=IntegerField())
    return queryset.alias(closed_rank=rank).order_by("closed_rank", "deadline", "id")


def apply_sort(queryset, sort):
    if sort == "overdue":
        return sort_overdue(queryset)
    return queryset.order_by(*SORTS.get(sort, SORTS[DEFAULT_SORT])[1])


# The same orders in Python, for a set already read (the ledger's small filtered sets): the columns
# a row needs after (pk, status, deadline), its key and the direction. unit_path is the item's copy
# of its unit's path (the triggers of migration 0006 keep them equal); the paths' segments have a
# fixed width, so every collation orders them as Python does. tests/test_ledger_views.py compares
# each order with the database's.
_OPEN = frozenset(RectificationItem.OPEN_STATUSES)
PYTHON_SORTS = {
    "deadline": ((), itemgetter(2, 0), False),
    "-deadline": ((), itemgetter(2, 0), True),
    "overdue": ((), lambda row: (row[1] not in _OPEN, row[2], row[0]), False),
    "unit": (("unit_path",), itemgetter(3, 2, 0), False),
    "-updated": (("updated_at",), itemgetter(3, 0), True),
}


class SaneDateFilter(django_filters.DateFilter):
    """A date outside the window is an invalid value: ignored, with the page's notice."""

    field_class = SaneDateField


def _all(model):
    # A callable, not a queryset: django-filter deep-copies every filter for each FilterSet, and a
    # queryset's deep copy copies its whole query (the scoped querysets are set in __init__).
    return lambda request: model._default_manager.all()


def _none(model):
    return lambda request: model._default_manager.none()


class LedgerFilter(django_filters.FilterSet):
    campaign = django_filters.ModelChoiceFilter(field_name="problem__campaign", label=_("专项行动"),
                                                queryset=_none(Campaign))
    unit = django_filters.ModelChoiceFilter(label=_("所属单位（含下级）"), queryset=_none(Unit),
                                            method="filter_unit")
    # The item's copy of its problem's category (migration 0014): served by the unit-path index.
    category = django_filters.ChoiceFilter(field_name="category", label=_("问题类别"),
                                           choices=Problem.Category.choices)
    subcategory = django_filters.ModelChoiceFilter(field_name="problem__subcategory", label=_("细分类"),
                                                   queryset=_all(SubCategory))
    source = django_filters.ChoiceFilter(field_name="problem__source", label=_("问题来源"),
                                         choices=Problem.Source.choices)
    status = django_filters.ChoiceFilter(label=_("状态"), choices=STATUS_CHOICES, method="filter_status")
    owner = django_filters.ModelChoiceFilter(label=_("责任人"), queryset=_none(User))
    lead_unit = django_filters.ModelChoiceFilter(label=_("牵头部门"), queryset=_all(Unit))
    service_item = django_filters.ModelChoiceFilter(field_name="problem__service_item", label=_("涉及事项"),
                                                    queryset=_none(ServiceItem))
    deadline_from = SaneDateFilter(field_name="deadline", lookup_expr="gte", label=_("时限起"),
                                   widget=forms.DateInput(attrs={"type": "date"}))
    deadline_to = SaneDateFilter(field_name="deadline", lookup_expr="lte", label=_("时限止"),
                                 widget=forms.DateInput(attrs={"type": "date"}))
    card = django_filters.ChoiceFilter(label=_("红黄牌"), choices=CARD_CHOICES, method="filter_card")
    q = django_filters.CharFilter(label=_("关键词"), method="search", max_length=100)

    class Meta:
        model = RectificationItem
        fields = []

    def __init__(self, data=None, queryset=None, *, user, clock, **kwargs):
        super().__init__(data, queryset, **kwargs)
        self.user, self.clock = user, clock
        # Each choice is narrowed to the user's scope when a value for it came, and only then: the
        # page's option lists come from the cache (ledgers/choices.py), so a ledger without these
        # filters never builds the four scoped querysets (a tenth of a ledger page's Python).
        scoped = {
            "campaign": lambda: Campaign.objects.visible_to(user),
            "unit": lambda: Unit.objects.subtree(user.unit) if user.unit_id else Unit.objects.none(),
            "owner": lambda: User.objects.visible_to(user).filter(groups__name=Role.OWNER.value),
            "service_item": lambda: ServiceItem.objects.visible_to(user),
        }
        fields = self.form.fields
        for name, queryset in scoped.items():
            if self.data.get(self.form.add_prefix(name)) not in (None, ""):
                fields[name].queryset = queryset()

    def get_form_class(self):
        # django-filter builds a new form class for every FilterSet; the ledger's fields never
        # change per request (the scoped querysets are set on the form's own copies in __init__).
        cls = type(self)
        if "_form_class" not in cls.__dict__:
            cls._form_class = super().get_form_class()
        return cls._form_class

    def filter_unit(self, queryset, name, unit):
        # The path copied onto the item: a prefix range on the items table alone (see visible_to).
        return queryset.filter(unit_path__startswith=unit.path)

    def filter_status(self, queryset, name, value):
        if value == OPEN_ALL:
            return queryset.filter(status__in=RectificationItem.OPEN_STATUSES)
        return queryset.filter(status=value)

    def filter_card(self, queryset, name, value):
        if value in (RED, YELLOW, NONE):
            return queryset.filter(self.clock.q(value))
        return queryset

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        if SEARCH_SEPARATOR in value:  # could match across the two texts: tested on each
            return queryset.filter(Q(problem__description__icontains=value) | Q(measure__icontains=value))
        # The item's search text (migration 0016), upper-cased by the database as icontains would:
        # the items alone, no lookup of each one's problem, no UPPER() per row.
        return queryset.filter(search_text__contains=Upper(Value(value)))

    def valid_params(self):
        """The submitted parameters whose values were understood, as (name, value) pairs, for the
        links the page builds (pages, sorting, export, saved filters)."""
        errors = self.form.errors
        pairs = []
        for name, field in self.form.fields.items():
            if name in errors:
                continue
            value = self.data.get(name, "")
            if value not in ("", None):
                pairs.append((name, value))
        return pairs
