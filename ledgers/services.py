"""Every change to a rectification item, one function each.

Each function is one transaction that
1. locks the item row (`select_for_update`) taken from the actor's visible queryset, so an item
   outside the actor's scope is simply not found (the view answers 404);
2. checks the actor's role (PermissionDenied, 403) and the item's state (Refused, a message);
3. checks the version the actor's form was built on (StaleItem: the conflict page, 409);
4. moves the status only along the transitions below, bumps `version`, writes one ItemEvent;
5. writes notifications through notify(), whose e-mails leave only after commit.

    open / in_progress / returned --progress note--> in_progress
    open / in_progress / returned --closure request--> closure_requested
    closure_requested --approve--> closed          closure_requested --return--> returned
    closed --reopen (回头看)--> open
Extension decisions, reassignment, lead unit and deadline changes keep the status and need an
open item.
"""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import (
    PATH_STEP,
    ClosureRecord,
    ExtensionRequest,
    ItemEvent,
    RectificationItem,
    Role,
    Unit,
    User,
)
from .notify import notify

Status = RectificationItem.Status
Action = ItemEvent.Action
OPEN = RectificationItem.OPEN_STATUSES
WORKING = (Status.OPEN, Status.IN_PROGRESS, Status.RETURNED)  # the owner is at work on these
FIGURE_FIELDS = tuple(f"{name}_{side}" for name in ClosureRecord.FIGURES for side in ("before", "after"))


class Refused(Exception):
    """The action does not fit the item's current state; `message` is for the user."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class StaleItem(Refused):
    """The form was built on an older version of the item: nothing was written."""

    def __init__(self, item, version):
        super().__init__(_("该整改措施已被他人修改，您的操作未保存。"))
        self.item = item
        self.version = version


# ---------------------------------------------------------------------------------------------
# Helpers shared by the transitions
# ---------------------------------------------------------------------------------------------


def _lock(actor, item_id, version):
    """The item, locked for this transaction; DoesNotExist when it is outside the actor's scope."""
    item = (RectificationItem.objects.visible_to(actor).select_related("unit", "lead_unit", "owner")
            .select_for_update(of=("self",)).get(pk=item_id))
    if version is not None and int(version) != item.version:
        raise StaleItem(item, int(version))
    return item


def _as_owner(actor, item_id, version):
    item = _lock(actor, item_id, version)
    if not actor.has_role(Role.OWNER) or item.owner_id != actor.pk:
        raise PermissionDenied(_("只有该整改措施的责任人可以进行此操作。"))
    return item


def supervises(actor, item):
    """A supervisor decides on items whose unit or lead unit lies in the supervisor's subtree;
    owning an item elsewhere (which makes it visible) gives no power to decide on it."""
    path = actor.unit_path()
    return (actor.has_role(Role.SUPERVISOR) and path is not None
            and (item.unit.path.startswith(path) or item.lead_unit.path.startswith(path)))


def _as_supervisor(actor, item_id, version):
    item = _lock(actor, item_id, version)
    if not supervises(actor, item):
        raise PermissionDenied(_("只有本单位或上级单位的督办人员可以进行此操作。"))
    return item


def _require_status(item, allowed, message):
    if item.status not in allowed:
        raise Refused(message)


def _require_text(text, message):
    text = (text or "").strip()
    if not text:
        raise Refused(message)
    return text


def _save(item, actor, action, *, from_status="", note="", changes=None, fields=(), **data):
    """Bump the version, save the changed fields, write the journal row."""
    item.version += 1
    item.updated_at = timezone.now()
    item.save(update_fields=["version", "updated_at", *fields])
    return ItemEvent.record(item, actor, action, from_status=from_status,
                            to_status=item.status if from_status else "", note=note,
                            version=item.version, changes=changes or {}, **data)


def _day(value):
    return value.isoformat() if value else ""


def unit_chain_supervisors(item):
    """Supervisors of the item's unit and of every unit above it."""
    path = item.unit.path
    chain = [path[:i] for i in range(PATH_STEP + 1, len(path) + 1, PATH_STEP + 1)]
    return list(User.objects.filter(groups__name=Role.SUPERVISOR.value, unit__path__in=chain, is_active=True)
                .distinct())


def _others(users, actor):
    return [user for user in users if user.pk != actor.pk]


# ---------------------------------------------------------------------------------------------
# Owner's actions
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def add_progress(actor, item_id, *, note, version=None):
    item = _as_owner(actor, item_id, version)
    _require_status(item, WORKING, _("当前状态不能报送进展。"))
    note = _require_text(note, _("请填写整改进展。"))
    previous = item.status
    item.status = Status.IN_PROGRESS
    _save(item, actor, Action.PROGRESS, from_status=previous, note=note, fields=["status"])
    return item


@transaction.atomic
def request_extension(actor, item_id, *, new_deadline, reason, version=None):
    item = _as_owner(actor, item_id, version)
    _require_status(item, WORKING, _("当前状态不能申请延期。"))
    reason = _require_text(reason, _("请填写延期理由。"))
    if new_deadline is None or new_deadline <= item.deadline:
        raise Refused(_("申请的新时限必须晚于原整改时限。"))
    if new_deadline < timezone.localdate():
        raise Refused(_("申请的新时限不能早于今天。"))
    if item.extension_requests.filter(decision=ExtensionRequest.Decision.PENDING).exists():
        raise Refused(_("已有待审核的延期申请。"))
    request = ExtensionRequest.objects.create(item=item, requested_by=actor, old_deadline=item.deadline,
                                              new_deadline=new_deadline, reason=reason)
    _save(item, actor, Action.EXTENSION_REQUESTED, note=reason, extension=request.pk,
          changes={"deadline": [_day(item.deadline), _day(new_deadline)]})
    notify(_others(unit_chain_supervisors(item), actor),
           _("%(owner)s 申请延期：%(measure)s") % {"owner": actor, "measure": item.measure[:60]}, item=item)
    return request


def request_closure(actor, item_id, *, evidence, files=(), figures=None, version=None):
    """`files` are uploads.CleanFile objects, validated before the transaction started."""
    from .uploads import removed_if_rolled_back, store

    with removed_if_rolled_back() as stored, transaction.atomic():
        item = _as_owner(actor, item_id, version)
        _require_status(item, WORKING, _("当前状态不能申请销号。"))
        evidence = _require_text(evidence, _("申请销号须填写整改情况及佐证说明。"))
        figures = {name: value for name, value in (figures or {}).items() if name in FIGURE_FIELDS}
        record = ClosureRecord.objects.create(item=item, submitted_by=actor, evidence=evidence, **figures)
        for clean in files:
            store(clean, stored, unit=item.unit, item=item, closure=record, uploaded_by=actor)
        previous = item.status
        item.status = Status.CLOSURE_REQUESTED
        _save(item, actor, Action.CLOSURE_REQUESTED, from_status=previous, note=evidence, fields=["status"],
              closure=record.pk, files=len(files))
        notify(_others(unit_chain_supervisors(item), actor),
               _("%(owner)s 申请销号：%(measure)s") % {"owner": actor, "measure": item.measure[:60]}, item=item)
        return record


# ---------------------------------------------------------------------------------------------
# Supervisor's decisions
# ---------------------------------------------------------------------------------------------


def _claim_pending_closure(item, actor, decision, reason):
    """Decide the pending closure with a conditional UPDATE: of any number of concurrent
    reviewers exactly one sees a row change, even without the item lock."""
    record = item.closures.filter(decision=ClosureRecord.Decision.PENDING).first()
    if record is None:
        raise Refused(_("没有待审核的销号申请。"))
    if record.submitted_by_id == actor.pk:
        raise Refused(_("不能审核本人提交的销号申请。"))
    claimed = ClosureRecord.objects.filter(pk=record.pk, decision=ClosureRecord.Decision.PENDING).update(
        decision=decision, reviewed_by=actor, reviewed_at=timezone.now(), reason=reason)
    if claimed != 1:
        raise Refused(_("该销号申请已被他人审核。"))
    return record


@transaction.atomic
def approve_closure(actor, item_id, *, note="", version=None):
    item = _as_supervisor(actor, item_id, version)
    _require_status(item, (Status.CLOSURE_REQUESTED,), _("该整改措施不在“申请销号”状态，不能销号。"))
    note = (note or "").strip()
    record = _claim_pending_closure(item, actor, ClosureRecord.Decision.APPROVED, note)
    item.status = Status.CLOSED
    item.closed_at = timezone.now()
    _save(item, actor, Action.CLOSED, from_status=Status.CLOSURE_REQUESTED, note=note,
          fields=["status", "closed_at"], closure=record.pk)
    notify([item.owner], _("整改措施已销号：%(measure)s") % {"measure": item.measure[:60]}, item=item)
    return item


@transaction.atomic
def return_closure(actor, item_id, *, reason, version=None):
    item = _as_supervisor(actor, item_id, version)
    _require_status(item, (Status.CLOSURE_REQUESTED,), _("该整改措施不在“申请销号”状态，不能退回。"))
    reason = _require_text(reason, _("退回须填写理由。"))
    record = _claim_pending_closure(item, actor, ClosureRecord.Decision.RETURNED, reason)
    item.status = Status.RETURNED
    _save(item, actor, Action.RETURNED, from_status=Status.CLOSURE_REQUESTED, note=reason, fields=["status"],
          closure=record.pk)
    notify([item.owner], _("销号申请被退回：%(measure)s。理由：%(reason)s")
           % {"measure": item.measure[:40], "reason": reason[:120]}, item=item)
    return item


@transaction.atomic
def decide_extension(actor, item_id, *, approve, note="", version=None):
    item = _as_supervisor(actor, item_id, version)
    _require_status(item, OPEN, _("已销号的整改措施不能审核延期。"))
    request = (item.extension_requests.select_for_update()
               .filter(decision=ExtensionRequest.Decision.PENDING).first())
    if request is None:
        raise Refused(_("没有待审核的延期申请。"))
    if request.requested_by_id == actor.pk:
        raise Refused(_("不能审核本人提交的延期申请。"))
    note = (note or "").strip()
    if not approve and not note:
        raise Refused(_("不同意延期须填写理由。"))
    request.decision = ExtensionRequest.Decision.APPROVED if approve else ExtensionRequest.Decision.REJECTED
    request.decided_by, request.decided_at, request.decision_note = actor, timezone.now(), note
    request.save(update_fields=["decision", "decided_by", "decided_at", "decision_note"])
    if approve:
        changes = {"deadline": [_day(item.deadline), _day(request.new_deadline)]}
        item.deadline = request.new_deadline
        _save(item, actor, Action.EXTENSION_APPROVED, note=note, fields=["deadline"], changes=changes,
              extension=request.pk)
        message = _("延期申请已同意，新整改时限 %(day)s：%(measure)s") % {"day": _day(item.deadline),
                                                                "measure": item.measure[:60]}
    else:
        _save(item, actor, Action.EXTENSION_REJECTED, note=note, extension=request.pk)
        message = _("延期申请未同意：%(measure)s。理由：%(note)s") % {"measure": item.measure[:40],
                                                          "note": note[:120]}
    notify([request.requested_by, item.owner], message, item=item)
    return request


@transaction.atomic
def reassign_owner(actor, item_id, *, owner, note="", version=None):
    item = _as_supervisor(actor, item_id, version)
    _require_status(item, OPEN, _("已销号的整改措施不能调整责任人。"))
    if owner is None or not owner.is_active or not owner.has_role(Role.OWNER):
        raise Refused(_("新责任人必须是具有“责任人”角色的在用账号。"))
    if not User.objects.visible_to(actor).filter(pk=owner.pk).exists():
        raise Refused(_("只能指定本单位及下级单位的人员为责任人。"))
    if owner.pk == item.owner_id:
        raise Refused(_("新责任人与原责任人相同。"))
    previous = item.owner
    item.owner = owner
    _save(item, actor, Action.REASSIGNED, note=(note or "").strip(), fields=["owner"],
          changes={"owner": [str(previous), str(owner)]}, owner_from=previous.pk, owner_to=owner.pk)
    notify([owner], _("您被指定为整改措施的责任人：%(measure)s，整改时限 %(day)s")
           % {"measure": item.measure[:60], "day": _day(item.deadline)}, item=item)
    notify([previous], _("整改措施已改由 %(owner)s 负责：%(measure)s")
           % {"owner": owner, "measure": item.measure[:60]}, item=item, email=False)
    return item


@transaction.atomic
def change_lead_unit(actor, item_id, *, lead_unit, note="", version=None):
    item = _as_supervisor(actor, item_id, version)
    _require_status(item, OPEN, _("已销号的整改措施不能调整牵头部门。"))
    path = actor.unit_path()
    if lead_unit is None or not lead_unit.is_active or not lead_unit.path.startswith(path):
        raise Refused(_("牵头部门须是本单位或下级单位。"))
    if lead_unit.pk == item.lead_unit_id:
        raise Refused(_("新牵头部门与原牵头部门相同。"))
    previous = item.lead_unit
    item.lead_unit = lead_unit
    _save(item, actor, Action.LEAD_UNIT_CHANGED, note=(note or "").strip(), fields=["lead_unit"],
          changes={"lead_unit": [previous.name, lead_unit.name]})
    notify([item.owner], _("整改措施的牵头部门调整为 %(unit)s：%(measure)s")
           % {"unit": lead_unit.name, "measure": item.measure[:60]}, item=item)
    return item


@transaction.atomic
def set_deadline(actor, item_id, *, deadline, note="", version=None):
    item = _as_supervisor(actor, item_id, version)
    _require_status(item, OPEN, _("已销号的整改措施不能调整整改时限。"))
    if deadline is None or deadline < item.opened_on:
        raise Refused(_("整改时限不能早于立项日期。"))
    if deadline == item.deadline:
        raise Refused(_("新整改时限与原时限相同。"))
    changes = {"deadline": [_day(item.deadline), _day(deadline)]}
    item.deadline = deadline
    _save(item, actor, Action.DEADLINE_SET, note=(note or "").strip(), fields=["deadline"], changes=changes)
    notify([item.owner], _("整改时限调整为 %(day)s：%(measure)s") % {"day": _day(deadline),
                                                                "measure": item.measure[:60]}, item=item)
    return item


@transaction.atomic
def reopen(actor, item_id, *, reason, deadline=None, version=None):
    """A follow-up walk (回头看) found the problem back: the closed item is open again."""
    item = _as_supervisor(actor, item_id, version)
    _require_status(item, (Status.CLOSED,), _("只有已销号的整改措施可以重新打开。"))
    reason = _require_text(reason, _("重新打开须说明回头看发现的情况。"))
    fields, changes = ["status", "closed_at"], {}
    if deadline is not None and deadline != item.deadline:
        if deadline < item.opened_on:
            raise Refused(_("整改时限不能早于立项日期。"))
        changes["deadline"] = [_day(item.deadline), _day(deadline)]
        item.deadline = deadline
        fields.append("deadline")
    item.status = Status.OPEN
    item.closed_at = None
    _save(item, actor, Action.REOPENED, from_status=Status.CLOSED, note=reason, fields=fields, changes=changes)
    notify([item.owner], _("回头看发现问题，整改措施已重新打开：%(measure)s") % {"measure": item.measure[:60]},
           item=item)
    return item


# ---------------------------------------------------------------------------------------------
# Bulk actions: each item in its own transaction, so one refusal does not undo the others
# ---------------------------------------------------------------------------------------------


def run_bulk(actor, item_ids, action, **kwargs):
    """Apply one supervisor action to many items. Returns (done_ids, [(item_id, message)])."""
    functions = {"approve": approve_closure, "reassign": reassign_owner, "deadline": set_deadline}
    function = functions[action]
    done, refused = [], []
    for item_id in item_ids:
        try:
            function(actor, item_id, **kwargs)
        except RectificationItem.DoesNotExist:
            refused.append((item_id, _("不存在或不在您的管辖范围内。")))
        except PermissionDenied as exc:
            refused.append((item_id, str(exc) or _("无权操作。")))
        except Refused as exc:
            refused.append((item_id, exc.message))
        else:
            done.append(item_id)
    return done, refused


def supervised_units(actor):
    """Units a supervisor may name as lead unit."""
    path = actor.unit_path()
    if path is None:
        return Unit.objects.none()
    return Unit.objects.filter(path__startswith=path, is_active=True)


def assignable_owners(actor):
    return (User.objects.visible_to(actor).filter(groups__name=Role.OWNER.value, is_active=True)
            .select_related("unit").order_by("unit__path", "last_name", "first_name", "username").distinct())


def events_since(item, version):
    """Journal rows written after the given version (what a stale form did not see)."""
    return (item.events.filter(Q(data__version__gt=version)).select_related("actor").order_by("at", "id"))


# ---------------------------------------------------------------------------------------------
# Imports: a re-imported ledger row that changed (ledgers/imports/ledger.py)
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def apply_imported_row(actor, item, *, fields, problem_fields=None, cooperating=None, changes, note, **data):
    """Set an item to what the office's spreadsheet now says, with one journal row (source 导入).

    The importer has checked the actor's scope over every unit of the row and locked the item;
    the status only moves forward (open -> in progress -> closed), never past a pending closure
    review, so no request or review is left dangling. No notification: an import of thousands of
    rows must not send thousands of messages; the journal shows the change."""
    previous = item.status
    for name, value in fields.items():
        setattr(item, name, value)
    if problem_fields:
        for name, value in problem_fields.items():
            setattr(item.problem, name, value)
        item.problem.save(update_fields=list(problem_fields))
    if cooperating is not None:
        item.cooperating_units.set(cooperating)
    moved = item.status != previous
    return _save(item, actor, Action.EDITED, from_status=previous if moved else "", note=note,
                 fields=list(fields), changes=changes, **data)
