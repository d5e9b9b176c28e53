"""A problem pushed by another platform (12345, 好差评, the 办不成事 window …), with its
rectification item if the sender already knows one.

    first push of (source, external number)     -> 201, the problem (and item)
    the same body again                         -> 200, the same records, nothing written
    the same number with a different body       -> 409, nothing written

The checks are the walk-through's: units within the account's subtree, an owner with the owner
role that the account may see, the deadline rules of walk_submission, photos re-encoded by
uploads.py. Everything is written in one transaction, or nothing.
"""

import base64
import binascii
import hashlib
import json

from django.core.files.base import ContentFile
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import Campaign, ItemEvent, Problem, RectificationItem, Role, ServiceItem, Unit, User
from ..notify import notify
from ..uploads import removed_if_rolled_back, store, validate_upload
from ..walk_submission import CLOCK_SKEW, Checker, _check_deadline, _service_item_named
from .models import ExternalTicket


class Rejected(Exception):
    """Field errors ({"path": message}) or a conflict; nothing was written."""

    def __init__(self, status, message, fields=None):
        super().__init__(message)
        self.status, self.message, self.fields = status, message, fields or {}


def fingerprint(raw):
    return hashlib.sha256(json.dumps(raw, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
                          .encode()).hexdigest()


def decode_files(entries, path):
    """uploads.CleanFile objects from [{"name", "content_base64"}]; checked by content."""
    cleaned, errors = [], {}
    for index, entry in enumerate(entries or []):
        try:
            data = base64.b64decode(entry["content_base64"], validate=True)
        except (binascii.Error, ValueError):
            errors[f"{path}.{index}"] = _("文件内容不是有效的 Base64。")
            continue
        try:
            cleaned.append(validate_upload(ContentFile(data, name=entry["name"])))
        except ValidationError as error:
            errors[f"{path}.{index}"] = error.messages[0]
    if errors:
        raise Rejected(400, _("请检查提交的数据。"), errors)
    return cleaned


def push_problem(user, data, raw, *, token=None, today=None, now=None):
    """(status, problem, item) for a validated ProblemInSerializer `data`; `raw` is the body as sent."""
    today, now = today or timezone.localdate(), now or timezone.now()
    digest = fingerprint(raw)
    earlier = _already_received(user, data, digest)
    if earlier is not None:
        return earlier
    clean = _resolve(user, data, today, now)
    photos = decode_files(data.get("photos"), "photos")
    try:
        with removed_if_rolled_back() as stored, transaction.atomic():
            problem, item = _write(user, token, data, clean, digest, photos, stored, today)
    except IntegrityError:
        # Two pushes of one ticket raced past the look-up: the unique pair let one through.
        earlier = _already_received(user, data, digest)
        if earlier is not None:
            return earlier
        raise
    return 201, problem, item


def _already_received(user, data, digest):
    ticket = (ExternalTicket.objects.filter(source=data["source"], external_number=data["external_number"])
              .select_related("problem").first())
    if ticket is None:
        return None
    same = ticket.digest == digest and Problem.objects.visible_to(user).filter(pk=ticket.problem_id).exists()
    if not same:
        raise Rejected(409, _("该来源的工单编号 %(number)s 已登记过不同的内容，未重复登记。")
                       % {"number": data["external_number"]})
    problem = ticket.problem
    return 200, problem, problem.items.order_by("pk").first()


def _resolve(user, data, today, now):
    """The records the body names, looked up within the account's scope; Rejected otherwise."""
    c = Checker()
    scope = Unit.objects.subtree(user.unit).filter(is_active=True) if user.unit_id else Unit.objects.none()
    clean = {"unit": scope.filter(code=data["unit"]).first()}
    if clean["unit"] is None:
        c.fail("unit", _("单位代码不存在或不在本单位及下级单位范围内。"))
    campaigns = Campaign.objects.visible_to(user)
    if "campaign" in data:
        clean["campaign"] = campaigns.filter(pk=data["campaign"]).first()
        if clean["campaign"] is None:
            c.fail("campaign", _("专项行动不存在或不在您的范围内。"))
    else:
        clean["campaign"] = campaigns.current(today).order_by("-start_date", "-pk").first()
        if clean["campaign"] is None:
            c.fail("campaign", _("当前没有进行中的专项行动，请指定专项行动编号。"))
    if data["received_at"] > now + CLOCK_SKEW:
        c.fail("received_at", _("接收时间不能晚于现在。"))
    row = data.get("item")
    if row is not None:
        clean["lead_unit"] = scope.filter(code=row["lead_unit"]).first()
        if clean["lead_unit"] is None:
            c.fail("item.lead_unit", _("牵头部门须为本单位或下级单位。"))
        owners = User.objects.visible_to(user).filter(is_active=True, groups__name=Role.OWNER)
        clean["owner"] = owners.filter(username=row.get("owner") or user.username).select_related("unit").first()
        if clean["owner"] is None:
            c.fail("item.owner", _("责任人须为本单位或下级单位具有责任人角色的在用账号。"))
        raw = {"deadline_mode": "days", "deadline_days": row["deadline_working_days"]} \
            if "deadline_working_days" in row else {"deadline_mode": "date", "deadline": row["deadline"].isoformat()}
        clean["deadline"], clean["deadline_raw"] = _check_deadline(c, raw, "item.", today)
    if c.errors:
        raise Rejected(400, _("请检查提交的数据。"), c.errors)
    return clean


def _service_item(user, unit, wanted):
    if not wanted:
        return None
    by_code = (ServiceItem.objects.visible_to(user).filter(code=wanted, is_active=True)
               .order_by("-competent_unit__depth").first())
    return by_code or _service_item_named(user, unit, wanted)


def _write(user, token, data, clean, digest, photos, stored, today):
    unit = clean["unit"]
    lead_unit = clean.get("lead_unit")
    problem = Problem.objects.create(
        campaign=clean["campaign"], unit=unit, service_item=_service_item(user, unit, data.get("service_item")),
        source=data["source"], category=data["category"], description=data["description"],
        responsible_unit=lead_unit or unit, resolution=Problem.Resolution.LEDGER, found_at=data["received_at"],
        created_by=user)
    ExternalTicket.objects.create(source=data["source"], external_number=data["external_number"], problem=problem,
                                  digest=digest, token=token)
    for photo in photos:
        store(photo, stored, unit=unit, problem=problem, uploaded_by=user)
    if "item" not in data:
        return problem, None
    item = RectificationItem.objects.create(
        problem=problem, unit=unit, measure=data["item"]["measure"], lead_unit=lead_unit, owner=clean["owner"],
        kind=RectificationItem.Kind.TIME_LIMITED, status=RectificationItem.Status.OPEN, opened_on=today,
        deadline=clean["deadline"], version=1)
    ItemEvent.record(item, user, ItemEvent.Action.CREATED, to_status=RectificationItem.Status.OPEN,
                     note=_("%(source)s 工单 %(number)s，列入整改台账")
                     % {"source": problem.get_source_display(), "number": data["external_number"]},
                     problem=problem.pk, external_number=data["external_number"], lead_unit=lead_unit.pk,
                     owner=clean["owner"].pk, deadline=clean["deadline"].isoformat(), **clean["deadline_raw"])
    notify([clean["owner"]], _("新的整改措施：%(measure)s（时限 %(deadline)s）")
           % {"measure": item.measure[:60], "deadline": clean["deadline"].isoformat()}, item=item)
    return problem, item
