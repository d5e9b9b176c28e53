"""A leader's walk-through as the tablet sends it: read, checked, and written in one transaction.

The browser posts one multipart request: a `payload` field holding the JSON below, and the photos
as files whose field names the payload lists (a plain `application/json` body works too, without
photos). Every draft carries a client UUID, so a retry can never make a second record:

    first submission                          -> 201, the new walk
    same UUID, same content (digest matches)  -> 200, the same walk
    same UUID, different content              -> 409, nothing written

    {"client_uuid": "…", "campaign": 3, "unit": 12,
     "service_item": 7  |  "new_service_item_name": "残疾人证办理",
     "leader_rank": "top", "identity": "applicant", "way": "on_site", "place": "政务服务大厅",
     "started_at": "2026-05-06T09:30", "ended_at": "2026-05-06T10:10",
     "companions": "…", "companion_count": 2, "deputy_count": 1, "notes": "…",
     "problems": [
       {"category": "process", "subcategory": null, "description": "…", "photos": ["photo-0-0"],
        "resolution": "on_spot", "on_spot_action": "…"},
       {"category": "system", "description": "…", "photos": [], "resolution": "ledger",
        "lead_unit": 12, "owner": 5, "measure": "…",
        "deadline_mode": "date", "deadline": "2026-06-30"   |   "deadline_mode": "days", "deadline_days": 10}
     ]}

Errors come back keyed by field path ("service_item", "problems.1.deadline") so the page can put
each message next to its field.
"""

import datetime
import hashlib
import json
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.http.multipartparser import MultiPartParserError
from django.http.request import UnreadablePostError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from .inputs import MAX_INTEGER, date_message, has_lone_surrogate, is_sane_date
from .models import (
    Attachment,
    Campaign,
    ItemEvent,
    Problem,
    RectificationItem,
    Role,
    ServiceItem,
    SubCategory,
    Unit,
    User,
    WalkSession,
)
from .notify import notify
from .uploads import BAD_IMAGE, ImageTooLarge, check_pixel_budget, discard, named_for_type, reencode_image
from .workdays import WorkCalendar

MAX_PROBLEMS = 50
MAX_PHOTOS_PER_PROBLEM = 9
MAX_WORKING_DAYS = 365
PHOTO_MAX_SIDE = 1600
# A tablet clock a little ahead of the server must not make a fresh walk "in the future".
CLOCK_SKEW = datetime.timedelta(hours=1)


@dataclass
class Outcome:
    status: int
    walk: WalkSession | None = None
    message: str = ""
    errors: dict = field(default_factory=dict)

    def as_json(self):
        data = {"status": self.status}
        if self.walk is not None:
            data.update(id=self.walk.pk, url=self.walk.get_absolute_url())
        if self.message:
            data["message"] = self.message
        if self.errors:
            data["errors"] = self.errors
        return data


class Refused(Exception):
    def __init__(self, status, message, errors=None):
        super().__init__(message)
        self.outcome = Outcome(status, message=message, errors=errors or {})


# ---------------------------------------------------------------------------------------------
# Reading the request
# ---------------------------------------------------------------------------------------------


def read_request(request):
    """(payload, files) from a multipart or JSON request; Refused(400) for anything unreadable."""
    try:
        if request.content_type == "application/json":
            text = request.body.decode("utf-8")
            files = {}
        else:
            text = request.POST.get("payload", "")
            files = {name: request.FILES[name] for name in request.FILES}
    except (MultiPartParserError, UnreadablePostError, RequestDataTooBig, SuspiciousOperation, UnicodeDecodeError):
        raise Refused(400, _("提交的数据无法读取，请重试。")) from None
    try:
        payload = json.loads(text)
        garbled = has_lone_surrogate(payload)
    except (ValueError, RecursionError):
        raise Refused(400, _("提交的数据格式不正确。")) from None
    if not isinstance(payload, dict):
        raise Refused(400, _("提交的数据格式不正确。"))
    if garbled:
        # json.loads turns "\ud800" into a lone surrogate that neither the database nor the
        # submission's digest can encode.
        raise Refused(400, _("提交的内容含有无法识别的字符，请删除后重新输入。"))
    return payload, files


def digest(payload, files):
    """A canonical fingerprint of what was sent: the JSON with sorted keys plus each file's hash."""
    h = hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode())
    for name in sorted(files):
        upload = files[name]
        file_hash = hashlib.sha256()
        upload.seek(0)
        for chunk in upload.chunks():
            file_hash.update(chunk)
        upload.seek(0)
        h.update(f"\n{name}:{file_hash.hexdigest()}".encode())
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------
# Checking
# ---------------------------------------------------------------------------------------------


class Checker:
    """Reads typed values out of untrusted JSON, collecting one message per field path."""

    def __init__(self):
        self.errors = {}

    def fail(self, path, message):
        self.errors.setdefault(path, message)
        return None

    def text(self, data, key, path, *, required=False, max_length=None, message=None):
        value = data.get(key)
        if value is None:
            value = ""
        if not isinstance(value, str):
            return self.fail(path, _("格式不正确。"))
        value = value.replace("\x00", "").strip()
        if required and not value:
            return self.fail(path, message or _("此项必填。"))
        if max_length and len(value) > max_length:
            return self.fail(path, _("不能超过 %(n)d 个字。") % {"n": max_length})
        return value

    def integer(self, data, key, path, *, required=False, minimum=0, maximum=None, message=None):
        value = data.get(key)
        if value is None or value == "":
            if required:
                return self.fail(path, message or _("此项必填。"))
            return None
        if isinstance(value, str) and value.strip().isdecimal() and len(value.strip()) <= 12:
            value = int(value.strip())  # isdecimal, not isdigit: int("²") raises
        if isinstance(value, bool) or not isinstance(value, int):
            return self.fail(path, _("请填写整数。"))
        if abs(value) > MAX_INTEGER:
            return self.fail(path, _("数字过大。"))
        if value < minimum or (maximum is not None and value > maximum):
            if maximum is None:
                return self.fail(path, _("不能小于 %(min)d。") % {"min": minimum})
            return self.fail(path, _("请填写 %(min)d 到 %(max)d 之间的整数。") % {"min": minimum, "max": maximum})
        return value

    def choice(self, data, key, path, choices, *, default=None, message=None):
        value = data.get(key)
        if value in (None, "") and default is not None:
            return default
        if not isinstance(value, str) or value not in choices.values:
            return self.fail(path, message or _("请选择。"))
        return value

    def moment(self, data, key, path, *, required=False, message=None):
        value = data.get(key)
        if value in (None, ""):
            if required:
                return self.fail(path, message or _("此项必填。"))
            return None
        if not isinstance(value, str):
            return self.fail(path, _("时间格式不正确。"))
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:
            parsed = None
        if parsed is None:
            return self.fail(path, _("时间格式不正确。"))
        if not is_sane_date(parsed):
            return self.fail(path, date_message())
        if timezone.is_naive(parsed):
            parsed = timezone.make_aware(parsed)
        return parsed


@dataclass
class CleanProblem:
    index: int
    category: str
    subcategory: SubCategory | None
    description: str
    photo_names: list
    resolution: str
    on_spot_action: str = ""
    lead_unit: Unit | None = None
    owner: User | None = None
    measure: str = ""
    deadline: datetime.date | None = None
    deadline_raw: dict = field(default_factory=dict)
    photos: list = field(default_factory=list)  # (original name, jpeg bytes)


def check(user, payload, *, today, now):
    """The cleaned walk as a dict, or Refused with the field errors."""
    c = Checker()
    scope = Unit.objects.subtree(user.unit).filter(is_active=True)

    unit = user.unit
    unit_id = c.integer(payload, "unit", "unit")
    if unit_id is not None:
        unit = scope.filter(pk=unit_id).first()
        if unit is None:
            # Same answer for a unit that does not exist and one outside the subtree: nothing leaks.
            message = _("您只能为本单位及下级单位登记走流程。")
            raise Refused(403, message, {"unit": message})
    elif "unit" in c.errors:
        raise Refused(400, _("请检查标红的项目。"), c.errors)

    campaign = None
    campaign_id = c.integer(payload, "campaign", "campaign", required=True, message=_("请选择专项行动。"))
    if campaign_id is not None:
        campaign = Campaign.objects.visible_to(user).filter(pk=campaign_id).first()
        if campaign is None:
            c.fail("campaign", _("专项行动不存在或不在您的范围内。"))

    service_item, new_item_name = None, ""
    item_id = c.integer(payload, "service_item", "service_item")
    if item_id is not None:
        service_item = ServiceItem.objects.visible_to(user).filter(pk=item_id, is_active=True).first()
        if service_item is None:
            c.fail("service_item", _("体验事项不存在或不在您的范围内。"))
    elif "service_item" not in c.errors:
        new_item_name = c.text(payload, "new_service_item_name", "service_item", max_length=200) or ""
        if not new_item_name and "service_item" not in c.errors:
            c.fail("service_item", _("请选择或新增体验事项。"))

    walk = {
        "unit": unit, "campaign": campaign, "service_item": service_item, "new_item_name": new_item_name,
        "leader_rank": c.choice(payload, "leader_rank", "leader_rank", WalkSession.LeaderRank,
                                default=WalkSession.LeaderRank.TOP),
        "identity": c.choice(payload, "identity", "identity", WalkSession.Identity, message=_("请选择体验身份。")),
        "way": c.choice(payload, "way", "way", WalkSession.Way, message=_("请选择走流程方式。")),
        "place": c.text(payload, "place", "place", max_length=200),
        "companions": c.text(payload, "companions", "companions", max_length=300),
        "notes": c.text(payload, "notes", "notes", max_length=10000),
        "started_at": c.moment(payload, "started_at", "started_at", required=True, message=_("请填写开始时间。")),
        "ended_at": c.moment(payload, "ended_at", "ended_at"),
        "companion_count": c.integer(payload, "companion_count", "companion_count", maximum=999) or 0,
        "deputy_count": c.integer(payload, "deputy_count", "deputy_count", maximum=999) or 0,
    }
    if walk["started_at"] and walk["started_at"] > now + CLOCK_SKEW:
        c.fail("started_at", _("开始时间不能晚于现在。"))
    if walk["started_at"] and walk["ended_at"] and walk["ended_at"] < walk["started_at"]:
        c.fail("ended_at", _("结束时间不能早于开始时间。"))
    if walk["deputy_count"] > walk["companion_count"]:
        c.fail("deputy_count", _("人大代表、政协委员人数不能多于同行人数。"))

    rows = payload.get("problems")
    if rows is None:
        rows = []
    if not isinstance(rows, list) or len(rows) > MAX_PROBLEMS:
        c.fail("problems", _("问题列表格式不正确（最多 %(n)d 个问题）。") % {"n": MAX_PROBLEMS})
        rows = []
    walk["problems"] = [_check_problem(c, user, scope, row, i, today) for i, row in enumerate(rows)]

    if c.errors:
        raise Refused(400, _("请检查标红的项目。"), c.errors)
    return walk


def _check_problem(c, user, scope, row, i, today):
    p = f"problems.{i}."
    if not isinstance(row, dict):
        c.fail(f"problems.{i}", _("格式不正确。"))
        return None
    category = c.choice(row, "category", p + "category", Problem.Category, message=_("请选择问题类别。"))
    subcategory = None
    sub_id = c.integer(row, "subcategory", p + "subcategory")
    if sub_id is not None:
        subcategory = SubCategory.objects.filter(pk=sub_id, is_active=True).first()
        if subcategory is None or (category and subcategory.category != category):
            c.fail(p + "subcategory", _("细分类与问题类别不一致。"))
    photos = row.get("photos") or []
    if not isinstance(photos, list) or not all(isinstance(name, str) for name in photos):
        c.fail(p + "photos", _("格式不正确。"))
        photos = []
    elif len(photos) > MAX_PHOTOS_PER_PROBLEM:
        c.fail(p + "photos", _("每个问题最多 %(n)d 张照片。") % {"n": MAX_PHOTOS_PER_PROBLEM})
    problem = CleanProblem(
        index=i, category=category, subcategory=subcategory, photo_names=photos,
        description=c.text(row, "description", p + "description", required=True, max_length=5000,
                           message=_("请描述发现的问题。")),
        resolution=c.choice(row, "resolution", p + "resolution", Problem.Resolution,
                            message=_("请选择立行立改或列入整改台账。")),
    )
    if problem.resolution == Problem.Resolution.ON_SPOT:
        problem.on_spot_action = c.text(row, "on_spot_action", p + "on_spot_action", required=True,
                                        max_length=5000, message=_("立行立改的问题请填写已采取的措施。"))
    elif problem.resolution == Problem.Resolution.LEDGER:
        lead_id = c.integer(row, "lead_unit", p + "lead_unit", required=True, message=_("请选择牵头部门。"))
        if lead_id is not None:
            problem.lead_unit = scope.filter(pk=lead_id).first()
            if problem.lead_unit is None:
                c.fail(p + "lead_unit", _("牵头部门须为本单位或下级单位。"))
        owner_id = c.integer(row, "owner", p + "owner", required=True, message=_("请选择责任人。"))
        if owner_id is not None:
            problem.owner = (User.objects.visible_to(user).filter(pk=owner_id, is_active=True,
                                                                  groups__name=Role.OWNER)
                             .select_related("unit").first())
            if problem.owner is None:
                c.fail(p + "owner", _("责任人须为本单位或下级单位的责任人。"))
        problem.measure = c.text(row, "measure", p + "measure", required=True, max_length=5000,
                                 message=_("请填写整改措施。"))
        problem.deadline, problem.deadline_raw = _check_deadline(c, row, p, today)
    return problem


def _check_deadline(c, row, p, today):
    mode = row.get("deadline_mode") or "date"
    if mode == "days":
        days = c.integer(row, "deadline_days", p + "deadline", required=True, minimum=1, maximum=MAX_WORKING_DAYS,
                         message=_("请填写整改时限。"))
        if days is None:
            return None, {}
        return WorkCalendar().add_working_days(today, days).value, {"working_days": days}
    if mode != "date":
        return c.fail(p + "deadline", _("请填写整改时限。")), {}
    value = row.get("deadline")
    if value in (None, ""):
        return c.fail(p + "deadline", _("请填写整改时限。")), {}
    try:
        deadline = parse_date(value.strip()) if isinstance(value, str) else None
    except ValueError:
        deadline = None
    if deadline is None:
        return c.fail(p + "deadline", _("整改时限不是有效的日期。")), {}
    if not is_sane_date(deadline):
        return c.fail(p + "deadline", date_message()), {}
    if deadline < today:
        return c.fail(p + "deadline", _("整改时限不能早于今天。")), {}
    return deadline, {}


# ---------------------------------------------------------------------------------------------
# Photos
# ---------------------------------------------------------------------------------------------


def normalise_photo(upload):
    """JPEG bytes of the uploaded image, re-encoded without metadata; None if it is not an image.

    The check is by content: a name or a declared type proves nothing. Re-encoding drops EXIF (GPS
    position, device serials) and anything smuggled after the image data."""
    upload.seek(0)
    try:
        content, _content_type = reencode_image(upload.read(), max_side=PHOTO_MAX_SIDE, keep_alpha=False)
    except ImageTooLarge:
        raise
    except BAD_IMAGE:
        return None
    return content


def _check_photos(problems, files):
    errors = {}
    limit = settings.UPLOAD_MAX_BYTES
    named = {name for problem in problems for name in problem.photo_names}
    try:
        check_pixel_budget([files[name] for name in sorted(named) if name in files])
    except ValidationError as error:
        raise Refused(400, error.messages[0]) from None
    for problem in problems:
        path = f"problems.{problem.index}.photos"
        for name in problem.photo_names:
            upload = files.get(name)
            if upload is None:
                errors.setdefault(path, _("照片没有上传完整，请重新选择照片。"))
                continue
            if upload.size > limit:
                errors.setdefault(path, _("照片“%(name)s”超过 %(mb)d MB，请重新拍摄或压缩后上传。")
                                  % {"name": upload.name, "mb": limit // (1024 * 1024)})
                continue
            try:
                jpeg = normalise_photo(upload)
            except ImageTooLarge:
                errors.setdefault(path, _("照片“%(name)s”像素过多，请缩小后上传。") % {"name": upload.name})
                continue
            if jpeg is None:
                errors.setdefault(path, _("“%(name)s”不是可识别的图片，请上传照片。") % {"name": upload.name})
                continue
            problem.photos.append((named_for_type(upload.name[:200] or "photo", "image/jpeg"), jpeg))
    if errors:
        raise Refused(400, _("请检查标红的项目。"), errors)


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------


def submit(user, payload, files, *, today=None, now=None):
    """Check and write one walk-through; an Outcome whatever happens, never a half-written walk."""
    try:
        return _submit(user, payload, files, today=today or timezone.localdate(), now=now or timezone.now())
    except Refused as refused:
        return refused.outcome


def _submit(user, payload, files, *, today, now):
    if not user.has_role(Role.LEADER) or not user.unit_id:
        raise Refused(403, _("只有领导账号可以登记走流程。"))
    raw_uuid = payload.get("client_uuid")
    try:
        client_uuid = uuid.UUID(raw_uuid) if isinstance(raw_uuid, str) else None
    except ValueError:
        client_uuid = None
    if client_uuid is None:
        raise Refused(400, _("缺少草稿编号，请刷新页面后重试。"), {"client_uuid": _("草稿编号无效。")})

    fingerprint = digest(payload, files)
    earlier = _already_received(user, client_uuid, fingerprint)
    if earlier is not None:
        return earlier

    walk = check(user, payload, today=today, now=now)
    _check_photos(walk["problems"], files)

    stored = []
    try:
        with transaction.atomic():
            created = _write(user, walk, client_uuid, fingerprint, today, stored)
    except IntegrityError:
        discard(stored)
        # Two copies of the same draft raced past the first look-up; the loser answers as a resend.
        earlier = _already_received(user, client_uuid, fingerprint)
        if earlier is not None:
            return earlier
        raise
    except BaseException:
        discard(stored)
        raise
    return Outcome(201, walk=created)


def _already_received(user, client_uuid, fingerprint):
    earlier = WalkSession.objects.filter(client_uuid=client_uuid).first()
    if earlier is None:
        return None
    if earlier.created_by_id == user.pk and earlier.submission_digest == fingerprint:
        return Outcome(200, walk=earlier, message=_("该记录已提交过，未重复登记。"))
    return Outcome(409, message=_("这份草稿的编号已用于另一份内容不同的记录，未登记。草稿仍保存在本机，"
                                  "请核对后“另存为新记录”再提交。"))


def _write(user, walk, client_uuid, fingerprint, today, stored):
    unit = walk["unit"]
    service_item = walk["service_item"] or _service_item_named(user, unit, walk["new_item_name"])
    session = WalkSession.objects.create(
        client_uuid=client_uuid, submission_digest=fingerprint, campaign=walk["campaign"], unit=unit,
        service_item=service_item, leader=user, created_by=user, leader_rank=walk["leader_rank"],
        companions=walk["companions"], companion_count=walk["companion_count"],
        deputy_count=walk["deputy_count"], identity=walk["identity"], way=walk["way"], place=walk["place"],
        started_at=walk["started_at"], ended_at=walk["ended_at"], notes=walk["notes"],
    )
    for clean in walk["problems"]:
        problem = Problem.objects.create(
            walk=session, campaign=session.campaign, unit=unit, service_item=service_item,
            source=Problem.Source.WALK, category=clean.category, subcategory=clean.subcategory,
            description=clean.description, responsible_unit=clean.lead_unit or unit, resolution=clean.resolution,
            on_spot_action=clean.on_spot_action, found_at=session.started_at, created_by=user,
        )
        for name, jpeg in clean.photos:
            photo = Attachment(original_name=name, content_type="image/jpeg", size=len(jpeg),
                               kind=Attachment.Kind.PHOTO, unit=unit, walk=session, problem=problem,
                               uploaded_by=user)
            photo.file.save(name, ContentFile(jpeg), save=False)
            stored.append(photo.file.name)
            photo.save()
        if clean.resolution == Problem.Resolution.LEDGER:
            _open_item(user, session, problem, clean, today)
    return session


def _open_item(user, session, problem, clean, today):
    item = RectificationItem.objects.create(
        problem=problem, unit=problem.unit, measure=clean.measure, lead_unit=clean.lead_unit, owner=clean.owner,
        kind=RectificationItem.Kind.TIME_LIMITED, status=RectificationItem.Status.OPEN, opened_on=today,
        deadline=clean.deadline, version=1,
    )
    ItemEvent.record(item, user, ItemEvent.Action.CREATED, to_status=RectificationItem.Status.OPEN,
                     note=_("走流程发现问题，列入整改台账"), walk=session.pk, problem=problem.pk,
                     lead_unit=clean.lead_unit.pk, owner=clean.owner.pk, deadline=clean.deadline.isoformat(),
                     **clean.deadline_raw)
    notify([clean.owner], _("新的整改措施：%(measure)s（时限 %(deadline)s）")
           % {"measure": clean.measure[:60], "deadline": clean.deadline.isoformat()}, item=item)
    return item


def _service_item_named(user, unit, name):
    """An item typed by name: the visible one of that name if any (prefer the walk's unit), else a
    new one recorded as added on the walk."""
    same_name = list(ServiceItem.objects.visible_to(user).filter(name=name, is_active=True)
                     .select_related("competent_unit").order_by("-competent_unit__depth"))
    for item in same_name:
        if item.competent_unit_id == unit.pk:
            return item
    if same_name:
        return same_name[0]
    item, _created = ServiceItem.objects.get_or_create(
        competent_unit=unit, name=name, defaults={"origin": ServiceItem.Origin.ADDED_ON_WALK})
    return item


