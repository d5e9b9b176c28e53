"""Leaders' pages: log a walk-through on a tablet (offline-first), its page, and "my walk-throughs".

The logging page is a plain form that `static/js/walk.js` drives: the draft lives in the browser
(IndexedDB) until `walk_submit` has acknowledged it, and a service worker keeps the page and its
assets so that it opens without a network.
"""

import hashlib
import json

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.core.paginator import Paginator
from django.db.models import Count, Exists, OuterRef, Prefetch, Q
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_POST

from .. import walk_submission
from ..inputs import query_text
from ..models import (
    Attachment,
    Campaign,
    Problem,
    RectificationItem,
    Role,
    ServiceItem,
    SubCategory,
    Unit,
    User,
    WalkSession,
)
from .common import get_visible_or_404, role_required

# The page's own assets, cached by the service worker; their content hash names the cache.
WALK_ASSETS = ["css/walkflow.css", "css/walk.css", "js/outbox-guard.js", "js/walk-store.js", "js/walk.js"]
TYPEAHEAD_LIMIT = 20


@login_required
@role_required(Role.LEADER)
@ensure_csrf_cookie
def walk_new(request):
    user = request.user
    must_walk = ServiceItem.objects.visible_to(user).filter(is_active=True).select_related("competent_unit")
    campaigns = list(Campaign.objects.visible_to(user).order_by("-start_date", "name")
                     .prefetch_related(Prefetch("must_walk_items", queryset=must_walk))[:20])
    current = Campaign.objects.visible_to(user).current().order_by("-start_date").first()
    current = current or (campaigns[0] if campaigns else None)
    units = list(Unit.objects.subtree(user.unit).filter(is_active=True)) if user.unit_id else []
    for unit in units:
        unit.indent = "\u3000" * (unit.depth - user.unit.depth)
    owners = list(User.objects.visible_to(user).filter(is_active=True, groups__name=Role.OWNER)
                  .select_related("unit").order_by("unit__path", "last_name", "first_name", "username"))
    subcategories = list(SubCategory.objects.filter(is_active=True))
    data = {
        "user": user.pk,
        "unit": user.unit_id,
        "submitUrl": reverse("walk_submit"),
        "typeaheadUrl": reverse("walk_service_items"),
        "swUrl": reverse("walk_sw"),
        "keepaliveUrl": reverse("walk_keepalive"),
        "mustWalk": {str(c.pk): _items_json(c.must_walk_items.all(), must=True) for c in campaigns},
        "subcategories": [{"id": s.pk, "category": s.category, "name": s.name} for s in subcategories],
        "maxBytes": settings.UPLOAD_MAX_BYTES,
        "swScope": "/walks/",
    }
    context = {
        "campaigns": campaigns, "current_campaign": current, "units": units, "owners": owners,
        "categories": Problem.Category.choices, "identities": WalkSession.Identity.choices,
        "ways": WalkSession.Way.choices, "ranks": WalkSession.LeaderRank.choices, "page_data": data,
        "texts": walk_texts(),
    }
    response = render(request, "ledgers/walks/new.html", context)
    # The service worker keeps its own copy; the HTTP cache must not serve another user's page.
    response["Cache-Control"] = "no-cache, private"
    return response


@require_POST
def walk_submit(request):
    # A JSON API: an expired session answers 401 in JSON (the draft stays queued in the browser)
    # instead of @login_required's redirect to an HTML login page.
    if not request.user.is_authenticated:
        return JsonResponse({"status": 401, "message": _("登录已过期，请重新登录后提交；草稿仍保存在本机。")},
                            status=401, json_dumps_params={"ensure_ascii": False})
    try:
        payload, files = walk_submission.read_request(request)
    except walk_submission.Refused as refused:
        outcome = refused.outcome
    else:
        outcome = walk_submission.submit(request.user, payload, files)
    return JsonResponse(outcome.as_json(), status=outcome.status, json_dumps_params={"ensure_ascii": False})


@require_POST
def walk_keepalive(request):
    """A leader typing a long walk-through is not idle: the page calls this while there is recent
    input, which renews the 30-minute idle session (SESSION_SAVE_EVERY_REQUEST). An abandoned
    tablet sends nothing and its session expires as usual."""
    return HttpResponse(status=204 if request.user.is_authenticated else 401)


@login_required
@role_required(Role.LEADER)
@require_GET
def walk_service_items(request):
    """Type-ahead over the service items the leader may walk; the campaign's must-walk ones first."""
    query = query_text(request.GET.get("q")).strip()[:100]
    items = ServiceItem.objects.visible_to(request.user).filter(is_active=True)
    if query:
        items = items.filter(Q(name__icontains=query) | Q(code__iexact=query))
    campaign_id = request.GET.get("campaign", "")
    if campaign_id.isdecimal() and len(campaign_id) < 12:
        must = Campaign.must_walk_items.through.objects.filter(campaign_id=int(campaign_id),
                                                               serviceitem_id=OuterRef("pk"))
        items = items.annotate(must=Exists(must)).order_by("-must", "name")
    else:
        items = items.order_by("name")
    items = items.select_related("competent_unit")[:TYPEAHEAD_LIMIT]
    return JsonResponse({"items": _items_json(items)}, json_dumps_params={"ensure_ascii": False})


def _items_json(items, must=False):
    return [{"id": item.pk, "name": item.name, "unit": _keeper(item), "must": bool(getattr(item, "must", must))}
            for item in items]


def _keeper(item):
    """Who an item belongs to, as the leader reads it: a unit, or the province's catalogue of a level."""
    if item.catalogue_level:
        return _("%(level)s事项目录") % {"level": item.get_catalogue_level_display()}
    return item.competent_unit.name


@login_required
def walk_detail(request, pk):
    walk = get_visible_or_404(WalkSession, request.user, pk=pk)
    walk = (WalkSession.objects.select_related("campaign", "unit", "service_item", "leader")
            .prefetch_related(
                Prefetch("problems", queryset=Problem.objects.select_related("subcategory", "responsible_unit")
                         .order_by("found_at", "id")),
                Prefetch("problems__attachments", queryset=Attachment.objects.order_by("id")),
                Prefetch("problems__items", queryset=RectificationItem.objects
                         .select_related("lead_unit", "owner").order_by("id")),
            ).get(pk=walk.pk))
    problems = list(walk.problems.all())
    return render(request, "ledgers/walks/detail.html", {
        "walk": walk, "problems": problems,
        "is_mine": walk.leader_id == request.user.pk,
    })


def walk_texts():
    """Every sentence the walk scripts show, translated here so the scripts carry no UI text."""
    return {
        "savedLocally": _("已保存在本机"),
        "sending": _("正在提交…"),
        "waitingNetwork": _("等待网络（{n} 条待提交，联网后自动提交）"),
        "submitted": _("已提交"),
        "viewRecord": _("查看记录"),
        "untitled": _("未选事项的记录"),
        "state_draft": _("草稿，未提交"),
        "state_queued": _("等待网络"),
        "state_sending": _("正在提交…"),
        "state_rejected": _("被退回，请修改后重新提交"),
        "state_conflict": _("编号冲突，未登记"),
        "retryNow": _("立即重试"),
        "openDraft": _("打开修改"),
        "loginNeeded": _("登录已过期：记录已保存在本机，请重新登录，登录后自动提交。"),
        "queuedOffline": _("网络不通：记录已保存在本机，联网后自动提交。可以继续登记下一条。"),
        "saveAsNew": _("另存为新记录并提交"),
        "submit": _("提交走流程记录"),
        "newItem": _("新增事项"),
        "mustWalk": _("必走"),
        "addItem": _("新增事项：{name}"),
        "removePhoto": _("删除照片"),
        "tooManyPhotos": _("每个问题最多 9 张照片。"),
        "notImage": _("“{name}”不是可识别的图片。"),
        "tooBig": _("“{name}”超过 10 MB。"),
        "confirmRemoveProblem": _("删除这个问题（含照片）？"),
        "required_campaign": _("请选择专项行动。"),
        "required_service_item": _("请选择或新增体验事项。"),
        "required_identity": _("请选择体验身份。"),
        "required_way": _("请选择走流程方式。"),
        "required_started_at": _("请填写开始时间。"),
        "endBeforeStart": _("结束时间不能早于开始时间。"),
        "tooManyDeputies": _("人大代表、政协委员人数不能多于同行人数。"),
        "required_category": _("请选择问题类别。"),
        "required_description": _("请描述发现的问题。"),
        "required_resolution": _("请选择立行立改或列入整改台账。"),
        "required_on_spot_action": _("立行立改的问题请填写已采取的措施。"),
        "required_lead_unit": _("请选择牵头部门。"),
        "required_owner": _("请选择责任人。"),
        "required_measure": _("请填写整改措施。"),
        "required_deadline": _("请填写整改时限。"),
        "deadlinePast": _("整改时限不能早于今天。"),
        "badWorkingDays": _("请填写 1 到 365 之间的工作日数。"),
        "fixMarked": _("请补全标红的项目，草稿已保存在本机。"),
        "storageUnavailable": _("此浏览器无法在本机保存草稿（可能处于无痕模式），请换用普通窗口。"),
        "logoutWarning": _("本机还有 {n} 条走流程记录没有提交到服务器。退出后它们仍保存在本机，"
                           "但要用同一账号重新登录后才能提交。确定退出吗？"),
    }


STATUS_COUNTS = {f"n_{status}": status for status in RectificationItem.Status.values}


@login_required
@role_required(Role.LEADER)
def walk_mine(request):
    # Two queries per page (the count and the page), whatever the number of walks: every figure
    # is an aggregate over the joined problems and items, DISTINCT so the joins do not multiply.
    counts = {name: Count("problems__items", filter=Q(problems__items__status=status), distinct=True)
              for name, status in STATUS_COUNTS.items()}
    walks = (WalkSession.objects.visible_to(request.user).filter(leader=request.user)
             .select_related("campaign", "unit", "service_item")
             .annotate(n_problems=Count("problems", distinct=True),
                       n_on_spot=Count("problems", filter=Q(problems__resolution=Problem.Resolution.ON_SPOT),
                                       distinct=True),
                       n_items=Count("problems__items", distinct=True),
                       **counts)
             .order_by("-started_at", "-id"))
    page = Paginator(walks, 30).get_page(request.GET.get("page"))
    labels = dict(RectificationItem.Status.choices)
    for walk in page.object_list:
        walk.progress = [(labels[status], getattr(walk, name), status)
                         for name, status in STATUS_COUNTS.items() if getattr(walk, name)]
    return render(request, "ledgers/walks/mine.html", {"page": page, "texts": walk_texts(), "page_data": {
        "user": request.user.pk, "submitUrl": reverse("walk_submit"), "newUrl": reverse("walk_new"),
    }})


@require_GET
@never_cache
def service_worker(request):
    """The service worker, served from the site root so that it may control /walks/ pages."""
    assets = [static(name) for name in WALK_ASSETS]
    version = hashlib.sha256()
    for name in WALK_ASSETS:
        found = finders.find(name)
        if found:
            with open(found, "rb") as handle:
                version.update(handle.read())
    body = render_to_string("ledgers/walks/sw.js", {
        "version": version.hexdigest()[:12],
        "assets_json": json.dumps(assets),
        "page_url": json.dumps(reverse("walk_new")),
    })
    response = HttpResponse(body, content_type="application/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = "/"
    return response


urlpatterns = [
    path("walks/new/", walk_new, name="walk_new"),
    path("walks/submit/", walk_submit, name="walk_submit"),
    path("walks/service-items/", walk_service_items, name="walk_service_items"),
    path("walks/mine/", walk_mine, name="walk_mine"),
    path("walks/keepalive/", walk_keepalive, name="walk_keepalive"),
    path("walks/<int:pk>/", walk_detail, name="walk_detail"),
    path("sw.js", service_worker, name="walk_sw"),
]
