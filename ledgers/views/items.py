"""The item page (整改措施): the record of one rectification item, with the actions the user's
role allows in its state, and the conflict page shown when someone else changed it first.

The record (problem, walk, files, measure, closures, journal) is rendered once per record stamp,
which the database draws anew with every change to anything it shows (migration 0015), and kept in
the cache under that stamp, the "choices" stamp (names of units, people, campaigns, the viewer's
roles), the viewer (the files shown depend on the viewer's scope) and the day, together with the
blank forms of the actions offered. A repeated view reads the item's row and takes the record and
the forms from the cache; which actions are offered, the status and the card are decided afresh.
"""

import hashlib
from collections import namedtuple
from functools import cache as once
from pathlib import Path

import django
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import get_template, render_to_string
from django.urls import path
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as lazy
from django.views.decorators.http import require_POST

from .. import choices as unit_choices
from .. import forms as forms_module
from .. import services, stamps
from ..cards import card_clock
from ..db import written_join_order
from ..forms import (
    ApproveForm,
    ClosureRequestForm,
    DeadlineForm,
    ExtensionDecisionForm,
    ExtensionRequestForm,
    LeadUnitForm,
    ProgressForm,
    ReassignForm,
    ReopenForm,
    ReturnForm,
)
from ..models import Attachment, ClosureRecord, ExtensionRequest, RectificationItem, Role, WalkSession

Status = RectificationItem.Status
RECORD_TEMPLATE = "ledgers/ledger/_item_record.html"
ACTION_FORM_TEMPLATE = "ledgers/ledger/_action_form.html"
RECORD_INCLUDES = ("ledgers/ledger/_timeline_event.html", ACTION_FORM_TEMPLATE)


def _owner_of(user, item):
    return user.has_role(Role.OWNER) and item.owner_id == user.pk


# action -> (who may do it, form class, needs actor, service call, success message)
ACTIONS = {
    "progress": ("owner", ProgressForm, False,
                 lambda user, pk, form: services.add_progress(user, pk, note=form.cleaned_data["note"],
                                                              version=form.cleaned_data["version"]),
                 lazy("进展已报送。")),
    "extension": ("owner", ExtensionRequestForm, False,
                  lambda user, pk, form: services.request_extension(
                      user, pk, new_deadline=form.cleaned_data["new_deadline"], reason=form.cleaned_data["reason"],
                      version=form.cleaned_data["version"]),
                  lazy("延期申请已提交，等待督办人员审核。")),
    "closure": ("owner", ClosureRequestForm, False,
                lambda user, pk, form: services.request_closure(
                    user, pk, evidence=form.cleaned_data["evidence"], files=form.cleaned_data["files"],
                    figures=form.figures(), version=form.cleaned_data["version"]),
                lazy("销号申请已提交，等待督办人员审核。")),
    "approve": ("supervisor", ApproveForm, False,
                lambda user, pk, form: services.approve_closure(user, pk, note=form.cleaned_data["note"],
                                                                version=form.cleaned_data["version"]),
                lazy("已同意销号。")),
    "return": ("supervisor", ReturnForm, False,
               lambda user, pk, form: services.return_closure(user, pk, reason=form.cleaned_data["reason"],
                                                              version=form.cleaned_data["version"]),
               lazy("已退回销号申请。")),
    "decide-extension": ("supervisor", ExtensionDecisionForm, False,
                         lambda user, pk, form: services.decide_extension(
                             user, pk, approve=form.cleaned_data["decision"] == "approve",
                             note=form.cleaned_data["note"], version=form.cleaned_data["version"]),
                         lazy("延期申请已审核。")),
    "reassign": ("supervisor", ReassignForm, True,
                 lambda user, pk, form: services.reassign_owner(user, pk, owner=form.cleaned_data["owner"],
                                                                note=form.cleaned_data["note"],
                                                                version=form.cleaned_data["version"]),
                 lazy("责任人已调整。")),
    "lead-unit": ("supervisor", LeadUnitForm, True,
                  lambda user, pk, form: services.change_lead_unit(
                      user, pk, lead_unit=form.cleaned_data["lead_unit"], note=form.cleaned_data["note"],
                      version=form.cleaned_data["version"]),
                  lazy("牵头部门已调整。")),
    "deadline": ("supervisor", DeadlineForm, False,
                 lambda user, pk, form: services.set_deadline(user, pk, deadline=form.cleaned_data["deadline"],
                                                              note=form.cleaned_data["note"],
                                                              version=form.cleaned_data["version"]),
                 lazy("整改时限已调整。")),
    "reopen": ("supervisor", ReopenForm, False,
               lambda user, pk, form: services.reopen(user, pk, reason=form.cleaned_data["reason"],
                                                      deadline=form.cleaned_data["deadline"],
                                                      version=form.cleaned_data["version"]),
               lazy("整改措施已重新打开。")),
}


# action -> (heading, button, button style)
ACTION_LABELS = {
    "progress": (lazy("报送整改进展（调度）"), lazy("报送进展"), "primary"),
    "closure": (lazy("申请销号"), lazy("提交销号申请"), "primary"),
    "extension": (lazy("申请延期"), lazy("提交延期申请"), ""),
    "approve": (lazy("同意销号"), lazy("同意销号"), "primary"),
    "return": (lazy("退回销号申请"), lazy("退回"), "danger"),
    "decide-extension": (lazy("审核延期申请"), lazy("提交审核结果"), "primary"),
    "deadline": (lazy("调整整改时限"), lazy("保存时限"), ""),
    "reassign": (lazy("调整责任人"), lazy("保存责任人"), ""),
    "lead-unit": (lazy("调整牵头部门"), lazy("保存牵头部门"), ""),
    "reopen": (lazy("重新打开（回头看发现问题）"), lazy("重新打开"), "danger"),
}


# Forms whose long <select> is written from the cached, pre-rendered options (ledgers/choices.py).
PRERENDERED = {"reassign": "owners", "lead-unit": "lead_units"}


def _blank_form(action, item, user):
    who, form_class, needs_actor, _run_it, _message = ACTIONS[action]
    kwargs = {"actor": user} if needs_actor else {}
    if action in PRERENDERED:
        kwargs["options"] = unit_choices.for_user(user)["html"][PRERENDERED[action]]
    initial = {"version": item.version}
    if action == "deadline":
        initial["deadline"] = item.deadline
    return form_class(initial=initial, prefix=action, **kwargs)


def _available_actions(user, item, pending_closure, pending_extension):
    """The actions this user may take on the item in its current state (the services check again)."""
    actions = []
    if _owner_of(user, item) and item.status in services.WORKING:
        actions += ["progress", "closure"]
        if pending_extension is None:
            actions.append("extension")
    if services.supervises(user, item):
        if pending_closure is not None and pending_closure.by_id != user.pk:
            actions += ["approve", "return"]
        if item.is_open:
            if pending_extension is not None and pending_extension.by_id != user.pk:
                actions.append("decide-extension")
            actions += ["deadline", "reassign", "lead-unit"]
        if item.status == Status.CLOSED:
            actions.append("reopen")
    return actions


# Who asked for what is still pending: the actions depend on it, and it is kept with the record.
Pending = namedtuple("Pending", "by_id by_name")


def _row(user, pk):
    """The item's own row, in the user's scope, with what the actions and the card need."""
    queryset = RectificationItem.objects.visible_to(user).select_related("unit", "lead_unit")
    return get_object_or_404(queryset, pk=pk)


def _full(user, pk):
    walk_visible = Exists(WalkSession.objects.visible_to(user).filter(pk=OuterRef("problem__walk_id")))
    queryset = RectificationItem.objects.visible_to(user).select_related(
        "problem", "problem__walk", "problem__walk__service_item", "problem__walk__leader", "problem__campaign",
        "problem__service_item", "problem__subcategory", "problem__responsible_unit", "unit", "lead_unit",
        "owner").annotate(walk_visible=walk_visible)
    # Every join below is a primary-key lookup from the one item row, in the order written; left to
    # search all orders of the thirteen tables, PostgreSQL spends about 4 ms planning it, three times
    # what the rest of the page's queries cost together.
    with written_join_order():
        return get_object_or_404(queryset, pk=pk)


@once
def _code_digest():
    """Part of the key: a record or form written by an older release (its templates, this module,
    the forms, Django's form templates) is never shown."""
    digest = hashlib.sha256(django.get_version().encode())
    for name in (RECORD_TEMPLATE, *RECORD_INCLUDES):
        digest.update(get_template(name).template.source.encode())
    for module in (__file__, forms_module.__file__):
        digest.update(Path(module).read_bytes())
    return digest.hexdigest()[:16]


def _render_record(request, pk):
    """The record as HTML, with the pending closure's and extension's askers; read in full."""
    user = request.user
    item = _full(user, pk)
    problem = item.problem
    closures = list(item.closures.select_related("submitted_by", "reviewed_by"))
    extensions = list(item.extension_requests.select_related("requested_by"))
    pending_closure = next((c for c in closures if c.decision == ClosureRecord.Decision.PENDING), None)
    pending_extension = next((e for e in extensions if e.decision == ExtensionRequest.Decision.PENDING), None)
    own_files = Q(problem=problem) | Q(item=item)
    if problem.walk_id:
        own_files |= Q(walk_id=problem.walk_id)
    # Only files the user may open: the download view checks the same scope.
    files = list(Attachment.objects.visible_to(user).filter(own_files))
    for closure in closures:
        closure.visible_files = [a for a in files if a.closure_id == closure.pk]
    html = render_to_string(RECORD_TEMPLATE, {
        "item": item, "problem": problem, "walk": problem.walk,
        # An owner in a department may see an item whose walk belongs to the county above: no link then.
        "walk_visible": problem.walk_id is not None and item.walk_visible,
        "events": item.events.select_related("actor"), "closures": closures,
        "pending_extension": pending_extension, "photos": [a for a in files if a.closure_id is None],
        "cooperating_units": list(item.cooperating_units.all()),
    }, request)
    pending_closure = pending_closure and Pending(pending_closure.submitted_by_id,
                                                  pending_closure.submitted_by.display_name)
    pending_extension = pending_extension and Pending(pending_extension.requested_by_id,
                                                      pending_extension.requested_by.display_name)
    # The blank forms of the actions offered now: they change with the item, the user's roles and
    # the choice lists, all of which change the record's key.
    forms = {action: _form_body(action, _blank_form(action, item, user))
             for action in _available_actions(user, item, pending_closure, pending_extension)}
    return {"html": str(html), "forms": forms, "pending_closure": pending_closure,
            "pending_extension": pending_extension}


def _form_body(action, form):
    return str(render_to_string(ACTION_FORM_TEMPLATE, {"action": action, "form": form,
                                                       "upload_max": settings.UPLOAD_MAX_BYTES}))


def _record(request, item):
    parts = (item.pk, item.record_stamp, request.user.pk, timezone.localdate().isoformat(), get_language(),
             _code_digest())
    return stamps.kept("item-record", ("choices",), parts, lambda: _render_record(request, item.pk),
                       store="rendered")


def _item_page(request, item, bound=None, status=200):
    user = request.user
    clock = card_clock()
    record = _record(request, item)
    pending_closure, pending_extension = record["pending_closure"], record["pending_extension"]
    forms = []
    for action in _available_actions(user, item, pending_closure, pending_extension):
        form = (bound or {}).get(action)
        if form is not None:
            body = _form_body(action, form)
        else:
            body = record["forms"].get(action) or _form_body(action, _blank_form(action, item, user))
        forms.append((action, *ACTION_LABELS[action], form is not None, mark_safe(body)))
    return render(request, "ledgers/ledger/item.html", {
        "item": item, "record": mark_safe(record["html"]), "card": clock.card(item),
        "days_overdue": clock.days_overdue(item), "pending_closure": pending_closure, "forms": forms,
    }, status=status)


@login_required
def item_detail(request, pk):
    return _item_page(request, _row(request.user, pk))


@login_required
@require_POST
def item_action(request, pk, action):
    if action not in ACTIONS:
        raise Http404
    user = request.user
    item = _row(user, pk)
    who, form_class, needs_actor, run, success = ACTIONS[action]
    allowed = _owner_of(user, item) if who == "owner" else services.supervises(user, item)
    if not allowed:
        raise PermissionDenied
    kwargs = {"actor": user} if needs_actor else {}
    form = form_class(request.POST, request.FILES, prefix=action, **kwargs)
    if not form.is_valid():
        messages.error(request, _("提交的内容有误，请按提示修改。"))
        return _item_page(request, item, {action: form}, status=400)
    try:
        run(user, item.pk, form)
    except RectificationItem.DoesNotExist:
        raise Http404 from None
    except services.StaleItem as stale:
        return _conflict(request, stale, form)
    except services.Refused as refused:
        messages.error(request, refused.message)
        return redirect(item)
    messages.success(request, success)
    return redirect(item)


def _conflict(request, stale, form):
    """Nothing was written: show what changed since the user's page was loaded, and what they
    submitted, so they can redo it on the current version."""
    item = _full(request.user, stale.item.pk)
    submitted = []
    for name, field in form.fields.items():
        if name == "version" or name == "files":
            continue
        value = form.cleaned_data.get(name)
        if value not in (None, "", []):
            if hasattr(field, "choices") and not hasattr(value, "pk"):
                value = dict(field.choices).get(value, value)
            submitted.append((field.label, value))
    had_files = bool(form.cleaned_data.get("files"))
    context = {"item": item, "events": services.events_since(item, stale.version), "submitted": submitted,
               "had_files": had_files, "stale_version": stale.version}
    return render(request, "ledgers/ledger/conflict.html", context, status=409)


urlpatterns = [
    path("items/<int:pk>/", item_detail, name="item_detail"),
    path("items/<int:pk>/<slug:action>/", item_action, name="item_action"),
]
