"""The rectification ledger (整改台账): the list with filters, counts, bulk actions, saved filters
and export (the item page is ledgers/views/items.py).

The list costs the same number of queries whatever the rows: the total and the counts per status
and card come from one read of a small filtered set, or from one count grouped by status over the
disjoint parts of the scope; one query gives the page's rows as plain values; the filter choices
come from the cache.
"""

import hashlib
from collections import namedtuple
from html import escape
from pathlib import Path
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import connection, transaction
from django.http import FileResponse, Http404, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_POST

from .. import choices as unit_choices
from .. import services, stamps
from ..cards import RED, YELLOW, card_clock
from ..filters import DEFAULT_SORT, PYTHON_SORTS, SORT_CHOICES, SORTS, LedgerFilter, apply_sort
from ..forms import BulkForm, SavedFilterForm
from ..inputs import date_message
from ..ledger_export import OverdueDays, export_to_tempfile
from ..models import LedgerExport, Problem, RectificationItem, Role, SavedFilter, User
from ..tasks import enqueue_export
from .common import get_visible_or_404, role_required

Status = RectificationItem.Status
MAX_SAVED_FILTERS = 50
ANY_ROLE = tuple(Role.values)


# ---------------------------------------------------------------------------------------------
# The list
# ---------------------------------------------------------------------------------------------


def ledger_filter(request, clock):
    """The user's scoped, filtered FilterSet, the chosen sort and the notices about ignored input."""
    user = request.user
    filterset = LedgerFilter(request.GET, queryset=RectificationItem.objects.visible_to(user), user=user, clock=clock)
    notices = []
    for name, errors in filterset.form.errors.as_data().items():
        field = filterset.form.fields.get(name)
        label = field.label if field is not None else name
        value = str(request.GET.get(name, ""))[:40]
        if any(error.code == "date_out_of_range" for error in errors):
            notices.append(_("筛选条件“%(label)s”的值“%(value)s”已忽略：%(reason)s")
                           % {"label": label, "value": value, "reason": date_message()})
            continue
        notices.append(_("筛选条件“%(label)s”的值“%(value)s”无法识别，已忽略。") % {"label": label, "value": value})
    sort = request.GET.get("sort") or DEFAULT_SORT
    if sort not in SORTS:
        notices.append(_("排序方式无法识别，已按整改时限排序。"))
        sort = DEFAULT_SORT
    return filterset, sort, notices


def _query(filterset, sort):
    pairs = filterset.valid_params()
    if sort != DEFAULT_SORT:
        pairs.append(("sort", sort))
    return urlencode(pairs)


def _no_counts():
    return {"total": 0, "red": 0, "yellow": 0, **{f"status_{value}": 0 for value in Status.values}}


def _with_statuses(counts):
    counts["statuses"] = [(value, label, counts[f"status_{value}"]) for value, label in Status.choices]
    return counts


def _scope(filterset, user, columns):
    """values_list(*columns) of the filtered scope, unsorted, as one UNION ALL of its disjoint parts
    (RectificationItemQuerySet.visible_parts): each filtered part is one index range PostgreSQL reads
    without the table, where the parts OR-ed together make it read every row of the scope. None for
    a user who sees nothing."""
    # The filters applied once, then each part's condition: a third of the query building.
    filtered = filterset.filter_queryset(RectificationItem.objects.order_by())
    parts = [part.values_list(*columns) for part in filtered.visible_parts(user)]
    if not parts:
        return None
    return parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]


def _counts(scope, clock):
    """Total and counts per status and card of a scope (_scope, with its status and deadline): one
    query grouped by status over the union of the parts. Grouping by status instead of a filtered
    count per status and card: a third of the expressions for the database to test."""
    counts = _no_counts()
    if scope is None:
        return counts
    sql, params = scope.query.sql_with_params()
    today, yellow_until = (connection.ops.adapt_datefield_value(day) for day in (clock.today, clock.yellow_until))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT scope.status, COUNT(*),"
            " SUM(CASE WHEN scope.deadline < %s THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN scope.deadline >= %s AND scope.deadline <= %s THEN 1 ELSE 0 END)"
            f" FROM ({sql}) scope GROUP BY scope.status", (today, today, yellow_until, *params))
        groups = cursor.fetchall()
    for status, n, red, yellow in groups:
        counts["total"] += n
        counts[f"status_{status}"] += n
        if status in RectificationItem.OPEN_STATUSES:  # cards are for open items only (CardClock.q)
            counts["red"] += red
            counts["yellow"] += yellow
    return counts


def _scope_counts(filterset, user, clock, scope=None):
    """The counts of a large filtered set (its scope as _small_set read it, when given), or of the
    whole scope: that one, the ledger as it opens, is kept in the cache under the stamps of the rows
    it counts ("figures": items and problems; "choices": units, the user's unit, the calendar) and
    the day (cards turn with the date)."""
    def count():
        return _counts(scope if scope is not None else _scope(filterset, user, ("status", "deadline")), clock)

    if filterset.valid_params():
        return _with_statuses(count())
    return _with_statuses(dict(stamps.kept("ledger-counts", ("choices", "figures"),
                                           (user.pk, clock.today.isoformat()), count)))


# The columns a row shows, read as plain values: 50 rows as 300 model instances (item, problem,
# sub-category, units, owner) cost more than the query that reads them.
LedgerRow = namedtuple("LedgerRow", "pk description category subcategory unit lead_unit owner_username "
                                    "owner_first_name owner_last_name measure status deadline")
ROW_VALUES = ("pk", "problem__description", "problem__category", "problem__subcategory__name", "unit__name",
              "lead_unit__name", "owner__username", "owner__first_name", "owner__last_name", "measure", "status",
              "deadline")


# A row of the page: the item's id and its record stamp (migration 0015), which keys the row's markup.
PageEntry = namedtuple("PageEntry", "pk record_stamp")
PAGE_ENTRY = ("pk", "record_stamp")


def _page(entries, total, number, with_stamps=list):
    """A page of the sorted (id, record stamp) pairs (a queryset of them), or of the sorted ids
    already read, whose stamps `with_stamps` reads for the page alone; the count is known, so the
    paginator never runs its own COUNT(*)."""
    paginator = Paginator(entries, settings.LEDGER_PAGE_SIZE)
    paginator.__dict__["count"] = total  # Paginator.count is a cached_property
    page = paginator.get_page(number)
    page.object_list = [PageEntry(*entry) for entry in with_stamps(page.object_list)]
    return page


# A filtered ledger of at most this many items is counted and paged from one read of it.
SMALL_SET = 2000


def _small_set(filterset, user, sort, clock):
    """A filtered ledger is usually small (a unit's red cards, a search word): one read of the
    (id, status, deadline) of every matching item gives the counts and the page, sorted here, where
    the counts and the page's ids would read the same rows again. The read is the scope's UNION ALL
    (_scope), unsorted, so a large set stops it at SMALL_SET + 1 rows: the parts OR-ed together and
    sorted made PostgreSQL walk the deadline index through the whole province's items (a city's open
    items: 29 ms, now 3). (counts, sorted ids) of a small set; (None, the scope read) when more
    than SMALL_SET items match, to be counted; None when nothing narrows the ledger."""
    if not filterset.valid_params():
        return None
    extra, key, descending = PYTHON_SORTS.get(sort, PYTHON_SORTS[DEFAULT_SORT])
    scope = _scope(filterset, user, ("pk", "status", "deadline", *extra))
    found = list(scope[:SMALL_SET + 1]) if scope is not None else []
    if len(found) > SMALL_SET:
        return None, scope
    counts = _no_counts()
    counts["total"] = len(found)
    for _pk, status, deadline, *_rest in found:
        counts[f"status_{status}"] += 1
        card = clock.card_for(status, deadline)
        if card in (RED, YELLOW):
            counts[card] += 1
    found.sort(key=key, reverse=descending)
    return _with_statuses(counts), [row[0] for row in found]


def _with_record_stamps(pks):
    """The page's (id, record stamp) pairs, in the page's order, for the ids of a small set (read
    without their stamps: those are not in the indexes that serve the read)."""
    stamps_by_pk = dict(RectificationItem.objects.filter(pk__in=pks).order_by().values_list(*PAGE_ENTRY))
    return [(pk, stamps_by_pk[pk]) for pk in pks if pk in stamps_by_pk]


MARKS = {RED: "mark-red", YELLOW: "mark-yellow"}
# Part of a kept row's key: markup written by an older release of this module is never shown (the
# rows are written here in Python, not by a template).
CODE_DIGEST = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]


def _clipper(length=60):
    """Truncator(text).chars(60), as the template's truncatechars wrote it, at a tenth of the cost:
    Truncator walks every character and translates its ending on each call (zh-hans: "...")."""
    ending = pgettext("String to return when truncating text", "%(truncated_text)s…") % {"truncated_text": ""}
    keep = length - len(ending)
    return lambda text: text if len(text) <= length else text[:keep] + ending


def _rows_html(entries, clock, with_checkbox):
    """The page's rows. Each row's markup is kept in the cache under the item's record stamp (its
    row and its problem's: migration 0015), the "choices" stamp (names of units, people and
    sub-categories; the calendar), the day (card, days overdue), the language and this module's
    code; only the rows not kept are read from the database and written."""
    pks = {f"{entry.pk}-{entry.record_stamp}": entry.pk for entry in entries}

    def write(missing):
        rows = (RectificationItem.objects.filter(pk__in=[pks[name] for name in missing]).order_by()
                .values_list(*ROW_VALUES))
        written = _write_rows([LedgerRow(*values) for values in rows], clock, with_checkbox)
        return {name: written[pks[name]] for name in missing if pks[name] in written}

    names = list(pks)
    parts = (clock.today.isoformat(), get_language(), int(with_checkbox), CODE_DIGEST)
    kept = stamps.kept_many("ledger-row", ("choices",), parts, names, write) if names else {}
    return mark_safe("".join(kept[name] for name in names if name in kept))


def _write_rows(rows, clock, with_checkbox):
    """{item id: the row's markup}, written here in one pass: through the template engine 50 rows cost about
    18 ms, three times the rest of the template; with format_html 2.9 ms, with plain escaping of
    each value 1 ms (the same markup: tests/test_ledger_views.py). The markup the template loop
    had (cards below 900 px: each fact cell carries its label in data-label; a 44 px label around
    the checkbox); the red/yellow mark reads as ledgers/ledger/_mark.html does on the item page."""
    item_url = escape(reverse("item_detail", args=[0]).removesuffix("0/"))
    # Labels looked up once, not per row (get_FOO_display rebuilds its choices dict on every call).
    statuses = {value: escape(label) for value, label in Status.choices}
    categories = {value: escape(label) for value, label in Problem.Category.choices}
    red, yellow, no_card = _("红牌 逾期%(overdue)s个工作日"), escape(_("黄牌 临期")), escape(_("无"))
    select = _("选择第 %(id)s 号")
    clip = _clipper()
    id_label, category_label, unit_label, lead_label, owner_label, deadline_label = (
        escape(label) for label in (_("编号"), _("类别"), _("所属单位"), _("牵头部门"), _("责任人"), _("整改时限")))
    overdue_days = OverdueDays(clock)
    written = {}
    for row in rows:
        pk = row.pk
        card, overdue = clock.card(row), overdue_days(row.status, row.deadline)
        mark = escape(red % {"overdue": overdue}) if card == RED else yellow if card == YELLOW else no_card
        check = (f'<td class="c-check"><label class="check"><input type="checkbox" name="items" value="{pk}" '
                 f'class="row-check" aria-label="{escape(select % {"id": pk})}"></label></td>') if with_checkbox else ""
        subcategory = f'<div class="muted small">{escape(row.subcategory)}</div>' if row.subcategory else ""
        category = categories.get(row.category) or escape(row.category)
        status = statuses.get(row.status) or escape(row.status)
        owner = User.name_of(row.owner_last_name, row.owner_first_name, row.owner_username)
        written[pk] = (
            f'<tr class="row-{escape(card)}">{check}<td class="c-id" data-label="{id_label}">{pk}</td>'
            f'<td class="text c-text"><a href="{item_url}{pk}/">{escape(clip(row.description))}</a>'
            f'<div class="muted small">{escape(clip(row.measure))}</div></td>'
            f'<td class="c-fact" data-label="{category_label}">{category}{subcategory}</td>'
            f'<td class="c-fact" data-label="{unit_label}">{escape(row.unit)}</td>'
            f'<td class="c-fact" data-label="{lead_label}">{escape(row.lead_unit)}</td>'
            f'<td class="c-fact" data-label="{owner_label}">{escape(owner)}</td>'
            f'<td class="c-fact" data-label="{deadline_label}">{row.deadline:%Y-%m-%d}</td>'
            f'<td class="c-status"><span class="status status-{escape(row.status)}">{status}</span></td>'
            f'<td class="c-mark"><span class="mark {MARKS.get(card, "mark-none")}">{mark}</span></td></tr>\n')
    return written


def _static_options(field_choices):
    # The filter's own choices; its empty choice reads 全部 (all) here.
    return unit_choices.render_options([("", _("全部"))] + [(value, label) for value, label in field_choices if value])


@login_required
@role_required(*ANY_ROLE)
def ledger(request):
    user = request.user
    clock = card_clock()
    filterset, sort, notices = ledger_filter(request, clock)
    queryset = filterset.qs
    counts, found = _small_set(filterset, user, sort, clock) or (None, None)
    if counts is not None:
        page = _page(found, counts["total"], request.GET.get("page"), with_stamps=_with_record_stamps)
    else:
        counts = _scope_counts(filterset, user, clock, scope=found)
        page = _page(apply_sort(queryset, sort).values_list(*PAGE_ENTRY), counts["total"], request.GET.get("page"))
    query = _query(filterset, sort)
    values = {name: str(value) for name, value in filterset.valid_params()}
    choices = unit_choices.for_user(user)
    options = {name: unit_choices.with_selected(choices["html"][key], values.get(name, "")) for name, key in (
        ("campaign", "campaigns"), ("unit", "units"), ("lead_unit", "units"), ("owner", "owners"),
        ("service_item", "service_items"))}
    options["bulk_owner"] = unit_choices.with_selected(choices["html"]["owners"], "")
    fields = filterset.form.fields
    for name, field_choices in (("category", fields["category"].choices), ("source", fields["source"].choices),
                                ("status", fields["status"].choices), ("card", fields["card"].choices)):
        options[name] = unit_choices.with_selected(_static_options(field_choices), values.get(name, ""))
    options["subcategory"] = unit_choices.with_selected(unit_choices.render_options(
        choices["subcategories"], attributes=lambda category: f' data-category="{escape(category)}"'),
        values.get("subcategory", ""))
    options["sort"] = unit_choices.with_selected(unit_choices.render_options(SORT_CHOICES), sort)
    is_supervisor = user.has_role(Role.SUPERVISOR)
    context = {
        "filter": filterset, "form": filterset.form, "counts": counts, "page": page, "rows": page.object_list,
        "query": query, "sort": sort, "notices": notices, "clock": clock,
        "choices": choices, "options": options,
        "values": values,
        "saved_filters": list(SavedFilter.objects.filter(user=user).values_list("pk", "name", "query")),
        "is_supervisor": is_supervisor,
        "rows_html": _rows_html(page.object_list, clock, with_checkbox=is_supervisor),
        "bulk_actions": BulkForm.ACTIONS,
    }
    return render(request, "ledgers/ledger/list.html", context)


@login_required
@role_required(*ANY_ROLE)
def ledger_export(request):
    clock = card_clock()
    filterset, sort, _notices = ledger_filter(request, clock)
    queryset = apply_sort(filterset.qs, sort)
    rows = queryset.order_by().count()
    if rows > settings.LEDGER_EXPORT_INLINE_MAX:
        # Too long for a request behind a proxy's timeout: a worker builds it and tells the user.
        export = LedgerExport.objects.create(requested_by=request.user, query=_query(filterset, sort))
        transaction.on_commit(lambda: enqueue_export(export.pk))
        messages.info(request, _("共 %(n)s 条，数据较多，已转为后台导出；完成后会在“消息”中通知您，也可以在本页下载。")
                      % {"n": rows})
        return redirect("ledger_exports")
    handle = export_to_tempfile(queryset, clock)
    filename = _("整改台账-%(day)s.xlsx") % {"day": f"{timezone.localdate():%Y%m%d}"}
    return FileResponse(handle, as_attachment=True, filename=filename,
                        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@login_required
@role_required(*ANY_ROLE)
def ledger_exports(request):
    exports = list(LedgerExport.objects.visible_to(request.user)[:20])
    waiting = any(export.status in (LedgerExport.Status.QUEUED, LedgerExport.Status.RUNNING) for export in exports)
    return render(request, "ledgers/ledger/exports.html", {"exports": exports, "waiting": waiting})


@login_required
def ledger_export_download(request, pk):
    export = get_visible_or_404(LedgerExport, request.user, pk=pk, status=LedgerExport.Status.DONE)
    if not export.file:
        raise Http404
    try:
        handle = export.file.open("rb")
    except FileNotFoundError:  # removed from storage since it was built
        raise Http404 from None
    filename = _("整改台账-%(day)s.xlsx") % {"day": f"{timezone.localtime(export.requested_at):%Y%m%d-%H%M}"}
    return FileResponse(handle, as_attachment=True, filename=filename,
                        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def _clean_query(raw):
    """Keep only the ledger's own parameters in a saved or forwarded query string."""
    allowed = set(LedgerFilter.base_filters) | {"sort"}
    data = QueryDict(raw or "")
    return urlencode([(key, data.get(key)) for key in data if key in allowed and data.get(key)])[:2000]


def _back_to_ledger(raw_query):
    query = _clean_query(raw_query)
    return redirect(f"{reverse('ledger')}?{query}" if query else reverse("ledger"))


@login_required
@require_POST
@role_required(Role.SUPERVISOR)
def ledger_bulk(request):
    form = BulkForm(request.POST, actor=request.user)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return _back_to_ledger(request.POST.get("query"))
    data = form.cleaned_data
    action, note = data["action"], data["note"]
    kwargs = {"note": note}
    if action == "reassign":
        kwargs["owner"] = data["owner"]
    elif action == "deadline":
        kwargs["deadline"] = data["deadline"]
    done, refused = services.run_bulk(request.user, data["items"], action, **kwargs)
    if done:
        messages.success(request, _("%(label)s：已处理 %(n)s 条。") % {"label": dict(BulkForm.ACTIONS)[action],
                                                                   "n": len(done)})
    for item_id, reason in refused[:20]:
        messages.error(request, _("编号 %(id)s 未处理：%(reason)s") % {"id": item_id, "reason": reason})
    if len(refused) > 20:
        messages.error(request, _("另有 %(n)s 条未处理。") % {"n": len(refused) - 20})
    return _back_to_ledger(request.POST.get("query"))


@login_required
@require_POST
@role_required(*ANY_ROLE)
def saved_filter_save(request):
    form = SavedFilterForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请填写常用筛选的名称（不超过60字）。"))
        return _back_to_ledger(request.POST.get("query"))
    name, query = form.cleaned_data["name"].strip(), _clean_query(form.cleaned_data["query"])
    mine = SavedFilter.objects.filter(user=request.user)
    if not mine.filter(name=name).exists() and mine.count() >= MAX_SAVED_FILTERS:
        messages.error(request, _("常用筛选最多保存 %(n)s 个，请先删除不用的。") % {"n": MAX_SAVED_FILTERS})
        return _back_to_ledger(query)
    SavedFilter.objects.update_or_create(user=request.user, name=name, defaults={"query": query})
    messages.success(request, _("已保存常用筛选“%(name)s”。") % {"name": name})
    return _back_to_ledger(query)


@login_required
@require_POST
def saved_filter_delete(request, pk):
    saved = get_object_or_404(SavedFilter, user=request.user, pk=pk)
    saved.delete()
    messages.success(request, _("已删除常用筛选“%(name)s”。") % {"name": saved.name})
    return redirect("ledger")


urlpatterns = [
    path("ledger/", ledger, name="ledger"),
    path("ledger/export/", ledger_export, name="ledger_export"),
    path("ledger/exports/", ledger_exports, name="ledger_exports"),
    path("ledger/exports/<int:pk>/download/", ledger_export_download, name="ledger_export_download"),
    path("ledger/bulk/", ledger_bulk, name="ledger_bulk"),
    path("ledger/filters/", saved_filter_save, name="saved_filter_save"),
    path("ledger/filters/<int:pk>/delete/", saved_filter_delete, name="saved_filter_delete"),
]
