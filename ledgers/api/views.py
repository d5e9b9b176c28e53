"""The endpoints. Each reads through `visible_to` and changes items through ledgers/services.py,
as the pages do; what a token may do beyond that is its scopes (auth.py)."""

import django_filters
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from .. import services
from ..cards import card_clock
from ..filters import LedgerFilter
from ..inputs import validate_sane_date
from ..models import ItemEvent, Problem, RectificationItem, Report, Unit, User
from ..reports.figures import Period, PeriodError, compute_figures
from ..views.reports import _scope_from_request
from . import intake
from .auth import require, token_of
from .errors import error_response
from .models import Scope
from .serializers import (
    ApproveInSerializer,
    ClosureInSerializer,
    ErrorSerializer,
    EventSerializer,
    FiguresSerializer,
    ItemDetailSerializer,
    ItemPageSerializer,
    ProblemCreatedSerializer,
    ProblemInSerializer,
    ProgressInSerializer,
    ReturnInSerializer,
)
from .rows import ITEM_VALUES, PROBLEM_VALUES, item_rows, problem_row, row_shaper

ERRORS = {code: ErrorSerializer for code in (400, 401, 403, 404, 409, 413, 429)}


def responses(ok):
    return {**ERRORS, 200: ok}


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE"])
@permission_classes([AllowAny])
def not_found(request, *args, **kwargs):
    raise exceptions.NotFound()


# ---------------------------------------------------------------------------------------------
# Problems in
# ---------------------------------------------------------------------------------------------


@extend_schema(request=ProblemInSerializer, responses={**responses(ProblemCreatedSerializer),
                                                       201: ProblemCreatedSerializer},
               summary="推送问题（12345、好差评等）", tags=["问题"])
@api_view(["POST"])
@permission_classes([require(Scope.PROBLEMS_WRITE)])
def problems(request):
    incoming = ProblemInSerializer(data=request.data)
    incoming.is_valid(raise_exception=True)
    status, problem, item = intake.push_problem(request.user, incoming.validated_data, request.data,
                                                token=token_of(request))  # intake.Rejected: see errors.py
    item_body = item_rows(RectificationItem.objects.filter(pk=item.pk), card_clock())[0] if item else None
    problem_body = item_body["problem"] if item else problem_row(
        Problem.objects.filter(pk=problem.pk).values(*PROBLEM_VALUES).get())
    return Response({"problem": problem_body, "item": item_body}, status=status)


# ---------------------------------------------------------------------------------------------
# The ledger
# ---------------------------------------------------------------------------------------------


class ApiLedgerFilter(LedgerFilter):
    """The ledger page's filters, naming units by code and owners by user name, plus `updated_since`."""

    unit = django_filters.ModelChoiceFilter(label=gettext_lazy("所属单位代码（含下级）"), queryset=Unit.objects.none(),
                                            method="filter_unit", to_field_name="code")
    lead_unit = django_filters.ModelChoiceFilter(label=gettext_lazy("牵头部门代码"), queryset=Unit.objects.all(),
                                                 to_field_name="code")
    owner = django_filters.ModelChoiceFilter(label=gettext_lazy("责任人用户名"), queryset=User.objects.none(),
                                             to_field_name="username")
    updated_since = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte",
                                                     label=gettext_lazy("变更时间起（ISO 8601）"),
                                                     validators=[validate_sane_date])


class ItemCursor(CursorPagination):
    ordering = ("id",)  # unique and indexed: a cursor page is a keyset read, whatever its depth
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 200
    invalid_cursor_message = gettext_lazy("翻页游标无效。")


TEXT = {"type": "string", "minLength": 1}
LIST_PARAMETERS = [
    OpenApiParameter("status", str, enum=["open_all", *RectificationItem.Status.values]),
    OpenApiParameter("card", str, enum=["red", "yellow", "none"]),
    OpenApiParameter("unit", TEXT, description="所属单位代码，含下级单位"),
    OpenApiParameter("lead_unit", TEXT, description="牵头部门代码"),
    OpenApiParameter("owner", TEXT, description="责任人用户名"),
    OpenApiParameter("category", str, enum=Problem.Category.values),
    OpenApiParameter("source", str, enum=Problem.Source.values),
    OpenApiParameter("campaign", int), OpenApiParameter("subcategory", int), OpenApiParameter("service_item", int),
    OpenApiParameter("deadline_from", {"type": "string", "format": "date"}),
    OpenApiParameter("deadline_to", {"type": "string", "format": "date"}),
    OpenApiParameter("updated_since", {"type": "string", "format": "date-time"},
                     description="ISO 8601，如 2026-12-01T08:00:00+08:00"),
    OpenApiParameter("q", TEXT, description="关键词（问题描述、整改措施）"),
    OpenApiParameter("cursor", TEXT),
    OpenApiParameter("page_size", {"type": "integer", "minimum": 1, "maximum": 200}, description="默认 100"),
]


LIST_PARAMETER_NAMES = [parameter.name for parameter in LIST_PARAMETERS]


def _bad_filter(fields):
    return error_response("invalid", _("筛选条件无法识别。"), 400, fields)


@extend_schema(parameters=LIST_PARAMETERS, responses=responses(ItemPageSerializer), summary="整改台账",
               operation_id="items_list",
               tags=["整改台账"])
@api_view(["GET"])
@permission_classes([require(Scope.ITEMS_READ)])
def items(request):
    malformed = {name: _("每个筛选条件只能出现一次，且不能为空。") for name in LIST_PARAMETER_NAMES
                 if name in request.query_params and (len(request.query_params.getlist(name)) > 1
                                                      or not request.query_params[name].strip())}
    if malformed:
        return _bad_filter(malformed)
    user, clock = request.user, card_clock()
    visible = RectificationItem.objects.visible_to(user)
    filterset = ApiLedgerFilter(request.query_params, queryset=visible, user=user, clock=clock)
    if not filterset.is_valid():
        return _bad_filter({name: str(errors[0]) for name, errors in filterset.form.errors.items()})
    size = request.query_params.get("page_size")
    if size is not None and not (size.isdigit() and 1 <= int(size) <= ItemCursor.max_page_size):
        return _bad_filter({"page_size": _("每页条数须为 1 到 200 的整数。")})
    paginator = ItemCursor()
    try:
        page = paginator.paginate_queryset(filterset.qs.values(*ITEM_VALUES), request)
    except exceptions.NotFound:
        return error_response("invalid", _("翻页游标无效。"), 400, {"cursor": _("翻页游标无效。")})
    shape = row_shaper(clock)
    return Response({"next": paginator.get_next_link(), "previous": paginator.get_previous_link(),
                     "results": [shape(values) for values in page]})


def _item_response(user, pk):
    rows = item_rows(RectificationItem.objects.visible_to(user).filter(pk=pk), card_clock())
    if not rows:
        raise exceptions.NotFound()
    events = ItemEvent.objects.filter(item_id=pk).select_related("actor").order_by("at", "id")
    return Response({**rows[0], "timeline": EventSerializer(events, many=True).data})


@extend_schema(responses=responses(ItemDetailSerializer), summary="整改措施及其日志", tags=["整改台账"])
@api_view(["GET"])
@permission_classes([require(Scope.ITEMS_READ)])
def item_detail(request, pk):
    return _item_response(request.user, pk)


def _act(request, pk, incoming_class, change):
    incoming = incoming_class(data=request.data)
    incoming.is_valid(raise_exception=True)
    data = dict(incoming.validated_data)
    version = data.pop("version", None)
    change(request.user, pk, version=version, **data)  # 404 / 403 / 400 / 409 from services
    return _item_response(request.user, pk)


def _closure(actor, pk, *, version, evidence, files=(), **figures):
    services.request_closure(actor, pk, evidence=evidence, files=intake.decode_files(files, "files"),
                             figures=figures, version=version)


@extend_schema(request=ProgressInSerializer, responses=responses(ItemDetailSerializer), summary="报送整改进展（责任人）",
               tags=["整改台账"])
@api_view(["POST"])
@permission_classes([require(Scope.ITEMS_WRITE)])
def item_progress(request, pk):
    return _act(request, pk, ProgressInSerializer, services.add_progress)


@extend_schema(request=ClosureInSerializer, responses=responses(ItemDetailSerializer), summary="申请销号（责任人）",
               tags=["整改台账"])
@api_view(["POST"])
@permission_classes([require(Scope.ITEMS_WRITE)])
def item_closure(request, pk):
    return _act(request, pk, ClosureInSerializer, _closure)


@extend_schema(request=ApproveInSerializer, responses=responses(ItemDetailSerializer), summary="同意销号（督办人员）",
               tags=["整改台账"])
@api_view(["POST"])
@permission_classes([require(Scope.ITEMS_REVIEW)])
def item_approve(request, pk):
    return _act(request, pk, ApproveInSerializer, services.approve_closure)


@extend_schema(request=ReturnInSerializer, responses=responses(ItemDetailSerializer), summary="退回销号申请（督办人员）",
               tags=["整改台账"])
@api_view(["POST"])
@permission_classes([require(Scope.ITEMS_REVIEW)])
def item_return(request, pk):
    return _act(request, pk, ReturnInSerializer, services.return_closure)


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------


def _row(row):
    return {"unit": row.unit, "label": str(row.label), **{name: getattr(row, name) for name in (
        "walks", "leader_times", "top_leaders", "service_items", "must_walk_covered", "problems", "on_spot",
        "items_created", "closed", "items_total", "closed_total", "open", "red", "yellow", "closure_percent",
        "avg_close_days", "time_limit_saved", "materials_cut", "steps_cut", "trips_cut")},
        "by_category": {str(key): value for key, value in row.by_category.items()}}


@extend_schema(parameters=[OpenApiParameter("unit", str, description="单位代码；省略时为本单位"),
                           OpenApiParameter("period", str, required=True, pattern=r"^\d{4}-(\d{2}|W\d{2})$",
                                            description="月份 2026-05，或 ISO 周次 2026-W20")],
               responses=responses(FiguresSerializer), summary="统计数据（与月通报、周汇总同一口径）", tags=["统计"])
@api_view(["GET"])
@permission_classes([require(Scope.FIGURES_READ)])
def figures(request):
    today = timezone.localdate()
    scope = _scope_from_request(request)
    text = str(request.query_params.get("period", ""))
    kind = Report.Kind.WEEKLY if "W" in text.upper() else Report.Kind.MONTHLY
    try:
        period = Period.parse(kind, text)
    except PeriodError as error:
        raise serializers.ValidationError({"period": str(error)}) from None
    if period.start > today:
        raise serializers.ValidationError({"period": _("%(period)s尚未开始。") % {"period": period.title()}})
    result = compute_figures(scope, period, today=today)
    body = {"scope": scope, "as_of": result.as_of, "must_walk_total": result.must_walk_total,
            "period": {"kind": period.kind, "label": period.label, "start": period.start, "end": period.end},
            "total": _row(result.total), "rows": [_row(row) for row in result.rows]}
    return Response(FiguresSerializer(body).data)
