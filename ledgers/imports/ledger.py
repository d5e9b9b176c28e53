"""An office's Excel 整改台账 into problems and rectification items.

A row is one measure (整改措施) of one problem. A row with a measure but no problem text and no
number continues the problem above it: offices merge the problem's cells over its measures.
Rows are keyed (ImportKey) by 编号, else by sheet and 序号, else by unit and problem text; a
continuation row adds "#2", "#3" to its problem's key. A second import of the same file finds every
key and changes nothing; a changed row updates its item through services.apply_imported_row.

长期坚持 (no deadline) is imported as kind "long_term" with the campaign's end date as deadline, or
31 December of the campaign's year when the campaign has none: the item then gets its yellow card
before the year's review like any other, and the preview says so.
"""

import datetime
import difflib
import functools
import hashlib
import re
from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.translation import gettext as _

from .. import services
from ..models import (
    ImportKey,
    ItemEvent,
    Problem,
    RectificationItem,
    Role,
    SubCategory,
    User,
)
from . import values
from .base import Plan, Refused, UnitDirectory
from .values import LONG_TERM, Unreadable

Status = RectificationItem.Status
SUBTOTAL_WORDS = ("合计", "小计", "总计", "共计")
LOOKUP_CHUNK = 500
SOURCE = "导入"
FAILED = object()  # "the row above was bad": its continuation rows cannot be placed


@dataclass
class Row:
    sheet: str
    row: int
    key: str
    unit: object
    description: str
    category: str
    subcategory: object
    measure: str
    lead_unit: object
    cooperating: list
    owner: object
    kind: str
    deadline: datetime.date
    status: str
    closed_on: datetime.date | None
    opened_on: datetime.date
    problem_key: str = ""
    problem: object = None  # set at commit for continuation rows
    extra: dict = field(default_factory=dict)


def describe(row):
    return {"sheet": row.sheet, "row": row.row, "unit": row.unit.name, "description": row.description[:80],
            "measure": row.measure[:80], "deadline": row.deadline.isoformat(), "status": str(Status(row.status).label),
            "owner": str(row.owner)}


class Owners:
    """Active users of the subtree by user name and by full name: one query."""

    def __init__(self, root):
        users = User.objects.filter(is_active=True)
        if root is not None:
            users = users.filter(unit__path__startswith=root.path)
        owner_ids = set(users.filter(groups__name=Role.OWNER.value).values_list("pk", flat=True))
        self.by_username, self.by_name = {}, {}
        for user in users.select_related("unit").only("id", "username", "last_name", "first_name", "unit__path",
                                                      "unit__name"):
            user.can_own = user.pk in owner_ids
            self.by_username[user.username.lower()] = user
            self.by_name.setdefault(f"{user.last_name}{user.first_name}", []).append(user)

    def find(self, text, near):
        name = re.sub(r"[（(][^）)]*[）)]", "", (values.split_names(text) or [""])[0]).strip()
        user = self.by_username.get(name.lower())
        candidates = [user] if user else self.by_name.get(name, [])
        if len(candidates) > 1:
            for unit in near:
                closer = [u for u in candidates if u.unit and u.unit.path.startswith(unit.path)]
                if len(closer) == 1:
                    candidates = closer
                    break
        if not candidates:
            close = difflib.get_close_matches(name, list(self.by_name), n=3, cutoff=0.5)
            raise Unreadable(_("找不到责任人“%(value)s”（须为本单位或下级单位的在用账号）") % {"value": name}, close)
        if len(candidates) > 1:
            raise Unreadable(_("有多名用户名为“%(value)s”，请填写用户名") % {"value": name},
                             [f"{u.username}（{u.unit.name if u.unit else ''}）" for u in candidates[:5]])
        user = candidates[0]
        if not user.can_own:
            raise Unreadable(_("“%(value)s”没有“责任人”角色，不能作为整改措施的责任人") % {"value": name})
        return user


class Context:
    """What parsing every row needs, loaded once."""

    def __init__(self, job):
        self.job = job
        self.units = UnitDirectory(job.unit)
        self.owners = Owners(job.unit)
        self.subcategories = {s.name: s for s in SubCategory.objects.filter(is_active=True)}
        campaign = job.campaign
        self.year = campaign.start_date.year
        self.long_term_deadline = campaign.end_date or datetime.date(self.year, 12, 31)
        self.default_opened = campaign.start_date
        self.default_category = job.options.get("default_category") or ""
        default_owner = job.options.get("default_owner") or ""
        try:
            self.default_owner = self.owners.find(default_owner, []) if default_owner else None
        except Unreadable as error:  # no row's fault: the mapping page's option is wrong
            raise Refused(_("“责任人为空时由此人负责”：%(reason)s。请在“确认表头”中改正。") % {"reason": error.message}) from None
        self.today = timezone.localdate()


def _cell(values_, columns, name):
    index = columns.get(name)
    if index is None or index >= len(values_):
        return None
    return values_[index]


def _is_subtotal(cells):
    texts = [str(v).replace(" ", "") for v in cells[:4] if isinstance(v, str)]
    return any(t.startswith(SUBTOTAL_WORDS) for t in texts)


def _problem_key(sheet, cells, columns, unit, description):
    number = values.key_text(_cell(cells, columns, "number"))
    if number:
        return f"编号:{number}"
    seq = values.key_text(_cell(cells, columns, "seq"))
    if seq:
        return f"序号:{sheet}:{seq}"
    digest = hashlib.sha1(" ".join(description.split()).encode()).hexdigest()[:20]
    return f"文本:{unit.code}:{digest}"


def plan(job, layouts, progress=None):
    """The Plan for a ledger: parse every row, then compare with what earlier imports made."""
    ctx = Context(job)
    result = Plan(kind=job.kind)
    rows = []
    seen = {}
    total = sum(len(sheet.data) for sheet in layouts) or 1
    done = 0
    for sheet in layouts:
        columns = sheet.columns(job.mapping, job.kind)
        result.add_sheet(sheet, columns)
        previous = None  # the last problem row, for continuation rows
        for number, cells in sheet.data:
            done += 1
            if progress and done % 500 == 0:
                progress(done / total)
            if _is_subtotal(cells):
                result.skipped.append((sheet.name, number, _("合计行")))
                continue
            result.rows += 1
            try:
                row, previous = _parse(ctx, sheet.name, number, cells, columns, previous)
            except Unreadable as error:
                result.error(sheet.name, number, error.message, error.suggestions)
                previous = FAILED
                continue
            if row is None:
                result.rows -= 1
                continue
            if row.key in seen:
                result.error(sheet.name, number, _("与第 %(row)s 行的编号重复") % {"row": seen[row.key]})
                continue
            seen[row.key] = number
            rows.append(row)
    if any(r.kind == RectificationItem.Kind.LONG_TERM for r in rows):
        result.notes.append(_("“长期坚持”的措施按“长期坚持”类型导入，整改时限记为 %(day)s（专项行动结束日或当年年底）。")
                            % {"day": ctx.long_term_deadline.isoformat()})
    undated = sum(1 for r in rows if r.status == Status.CLOSED and r.extra.get("closed_undated"))
    if undated:
        result.notes.append(_("%(n)s 条已完成的措施未填销号时间，按导入当天计为销号时间。") % {"n": undated})
    _compare(job, rows, result)
    return result


def _parse(ctx, sheet, number, cells, columns, previous):
    """(Row or None for an empty row, the problem row continuation rows refer to)."""
    get = lambda name: _cell(cells, columns, name)  # noqa: E731
    description = values.text(get("description"))
    measure = values.text(get("measure"))
    has_key = values.key_text(get("number")) or values.key_text(get("seq"))
    if not description and not measure:
        if has_key and any(v is not None for i, v in enumerate(cells) if i not in (columns.get("seq"),
                                                                                   columns.get("number"))):
            raise Unreadable(_("缺少问题描述和整改措施"))
        return None, previous
    if not description and not has_key and previous is FAILED:
        raise Unreadable(_("本行接续上一行的问题，而上一行有误：请先改正上一行"))
    continuation = not description and not has_key and isinstance(previous, Row)
    if not description and not continuation:
        raise Unreadable(_("缺少问题描述"))
    if not measure:
        raise Unreadable(_("缺少整改措施"))
    unit_text = get("unit")
    if continuation and unit_text is None:
        unit = previous.unit
    else:
        unit = ctx.units.find(unit_text) if unit_text is not None else ctx.job.unit
    if unit is None:
        raise Unreadable(_("未填写单位"))
    if continuation:
        description = previous.description
        category, subcategory = previous.category, previous.subcategory
        if get("category") is not None:
            category, subcategory = values.parse_category(get("category"), ctx.subcategories)
        base_key, previous.extra["measures"] = previous.problem_key, previous.extra.get("measures", 1) + 1
        key = f"{base_key}#{previous.extra['measures']}"
    else:
        raw = get("category")
        if raw is None and not ctx.default_category:
            raise Unreadable(_("未填写问题类别"))
        category, subcategory = (values.parse_category(raw, ctx.subcategories) if raw is not None
                                 else (ctx.default_category, None))
        base_key = key = _problem_key(sheet, cells, columns, unit, description)
    # A cell of separators only ("、") names nobody: it counts as empty.
    lead_names = values.split_names(get("lead_unit"))
    lead_unit = ctx.units.find(lead_names[0]) if lead_names else unit
    cooperating = [ctx.units.find(name) for name in values.split_names(get("cooperating"))]
    owner_text = get("owner")
    if not values.split_names(owner_text):
        if ctx.default_owner is None:
            raise Unreadable(_("未填写责任人"))
        owner = ctx.default_owner
    else:
        owner = ctx.owners.find(owner_text, [lead_unit, unit])
    status = values.parse_status(get("status"))
    closed_raw = get("closed_on")
    closed_on = values.parse_date(closed_raw, ctx.year) if closed_raw is not None else None
    extra = {}
    if status == Status.CLOSED and closed_on is None:
        closed_on, extra["closed_undated"] = ctx.today, True
    if status != Status.CLOSED:
        closed_on = None
    deadline_raw = get("deadline")
    kind = RectificationItem.Kind.TIME_LIMITED
    if deadline_raw is None:
        if status != Status.CLOSED:
            raise Unreadable(_("未填写整改时限"))
        deadline = closed_on
    else:
        deadline = values.parse_deadline(deadline_raw, ctx.year)
        if deadline == LONG_TERM:
            kind, deadline = RectificationItem.Kind.LONG_TERM, ctx.long_term_deadline
    opened_raw = get("opened_on")
    opened_on = values.parse_date(opened_raw, ctx.year) if opened_raw is not None else ctx.default_opened
    opened_on = min(opened_on, deadline)
    if len(description) > 5000 or len(measure) > 5000:
        raise Unreadable(_("问题描述或整改措施超过 5000 字"))
    row = Row(sheet=sheet, row=number, key=key, unit=unit, description=description, category=category,
              subcategory=subcategory, measure=measure, lead_unit=lead_unit, cooperating=cooperating, owner=owner,
              kind=kind, deadline=deadline, status=status, closed_on=closed_on, opened_on=opened_on,
              problem_key=base_key, extra=extra)
    return row, (previous if continuation else row)


# -- compare with earlier imports ---------------------------------------------------------------------


def _existing(job, keys, lock=False):
    found = {}
    keys = list(keys)
    for start in range(0, len(keys), LOOKUP_CHUNK):
        chunk = keys[start:start + LOOKUP_CHUNK]
        rows = (ImportKey.objects.filter(unit=job.unit, key__in=chunk)
                .select_related("item", "item__problem__subcategory", "item__owner", "item__lead_unit"))
        if lock:
            rows = rows.select_for_update(of=("self", "item"))
        for row in rows:
            found[row.key] = row.item
    if found:
        cooperating = {}
        through = RectificationItem.cooperating_units.through
        ids = [item.pk for item in found.values()]
        for start in range(0, len(ids), LOOKUP_CHUNK):
            for item_id, unit_id in through.objects.filter(rectificationitem_id__in=ids[start:start + LOOKUP_CHUNK]
                                                           ).values_list("rectificationitem_id", "unit_id"):
                cooperating.setdefault(item_id, set()).add(unit_id)
        for item in found.values():
            item.cooperating_ids = cooperating.get(item.pk, set())
    return found


def _local_day(moment):
    return timezone.localtime(moment).date() if moment else None


def _changes(row, item):
    """{field: [old, new]} between the item and its row; the status moves only forward, and an
    item waiting for its closure review keeps its status (the review decides)."""
    changes = {}
    problem = item.problem

    def differ(name, old, new, shown_old=None, shown_new=None):
        if old != new:
            changes[name] = [shown_old if shown_old is not None else values.text(old),
                             shown_new if shown_new is not None else values.text(new)]

    differ("description", problem.description, row.description)
    differ("category", problem.category, row.category, str(Problem.Category(problem.category).label),
           str(Problem.Category(row.category).label))
    differ("subcategory", problem.subcategory_id, row.subcategory.pk if row.subcategory else None,
           str(problem.subcategory or ""), str(row.subcategory or ""))
    differ("measure", item.measure, row.measure)
    differ("lead_unit", item.lead_unit_id, row.lead_unit.pk, item.lead_unit.name, row.lead_unit.name)
    differ("owner", item.owner_id, row.owner.pk, str(item.owner), str(row.owner))
    differ("deadline", item.deadline, row.deadline)
    differ("kind", item.kind, row.kind, str(RectificationItem.Kind(item.kind).label),
           str(RectificationItem.Kind(row.kind).label))
    if set(item.cooperating_ids) != {u.pk for u in row.cooperating}:
        changes["cooperating_units"] = [_("%(n)s 个单位") % {"n": len(item.cooperating_ids)},
                                        "、".join(u.name for u in row.cooperating) or _("无")]
    order = [Status.OPEN, Status.IN_PROGRESS, Status.CLOSED]
    if item.status in order and order.index(row.status) > order.index(item.status):
        differ("status", item.status, row.status, str(Status(item.status).label), str(Status(row.status).label))
    if item.status == Status.CLOSED and row.status == Status.CLOSED and not row.extra.get("closed_undated"):
        differ("closed_on", _local_day(item.closed_at), row.closed_on)
    return changes


def _compare(job, rows, result, lock=False):
    existing = _existing(job, [row.key for row in rows], lock=lock)
    for row in rows:
        item = existing.get(row.key)
        if item is None:
            result.created.append(row)
            continue
        changes = _changes(row, item)
        if changes:
            result.updated.append((row, item, changes))
        else:
            result.skipped.append((row.sheet, row.row, _("与已导入的内容相同")))


# -- commit -------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _moment(day):
    """A closure date as a moment: noon in Beijing, so it counts in that day's and month's figures."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(12, 0)))


def commit(job, batch, result, progress=None):
    """Write a plan without bad rows in the caller's transaction."""
    # Lock the items to update, then plan their changes again on the locked rows.
    locked = Plan(kind=job.kind)
    _compare(job, [row for row, _item, _changes in result.updated], locked, lock=True)
    now = timezone.now()
    actor = job.actor
    source = {"source": SOURCE, "batch": batch.pk, "file": batch.original_name[:100]}

    problems = {}
    for row in result.created:
        if row.problem_key not in problems:
            problems[row.problem_key] = _new_problem(job, row, now)
        row.problem = problems[row.problem_key]
    # Continuation rows of a problem imported before: their problem is the earlier item's.
    known = _problems_of_known_keys(job, {row.problem_key for row in result.created} - set(problems))
    Problem.objects.bulk_create(list(problems.values()), batch_size=1000)
    if progress:
        progress(0.3)
    items = []
    for row in result.created:
        problem = row.problem if row.problem_key in problems else known.get(row.problem_key)
        if problem is None:  # the problem row was imported and its key removed since: make it again
            problem = _new_problem(job, row, now)
            problem.save()
            known[row.problem_key] = problem
        items.append(RectificationItem(
            problem=problem, unit=row.unit, measure=row.measure, lead_unit=row.lead_unit, owner=row.owner,
            kind=row.kind, status=row.status, opened_on=row.opened_on, deadline=row.deadline,
            closed_at=_moment(row.closed_on) if row.status == Status.CLOSED else None, created_at=now,
            updated_at=now))
    RectificationItem.objects.bulk_create(items, batch_size=1000)
    if progress:
        progress(0.6)
    through = RectificationItem.cooperating_units.through
    through.objects.bulk_create([through(rectificationitem_id=item.pk, unit_id=unit.pk)
                                 for item, row in zip(items, result.created) for unit in row.cooperating
                                 if unit.pk != row.lead_unit.pk], batch_size=2000, ignore_conflicts=True)
    ImportKey.objects.bulk_create([ImportKey(unit=job.unit, key=row.key, item=item, batch=batch)
                                   for item, row in zip(items, result.created)], batch_size=1000)
    note = _("导入：%(file)s，工作表“%(sheet)s”第 %(row)s 行")
    ItemEvent.objects.bulk_create([
        ItemEvent(item=item, actor=actor, at=now, action=ItemEvent.Action.CREATED, to_status=item.status,
                  note=note % {"file": batch.original_name, "sheet": row.sheet, "row": row.row},
                  data={**source, "sheet": row.sheet, "row": row.row, "deadline": row.deadline.isoformat(),
                        "owner": row.owner.pk, "lead_unit": row.lead_unit.pk})
        for item, row in zip(items, result.created)], batch_size=1000)
    if progress:
        progress(0.8)
    for row, item, changes in locked.updated:
        _update(actor, row, item, changes, batch, source)
    ImportKey.objects.filter(unit=job.unit, key__in=[row.key for row, _i, _c in locked.updated]).update(batch=batch)
    result.updated = locked.updated
    result.skipped += locked.skipped
    return result


def _new_problem(job, row, now):
    return Problem(campaign=job.campaign, unit=row.unit, source=Problem.Source.OTHER, category=row.category,
                   subcategory=row.subcategory, description=row.description, responsible_unit=row.lead_unit,
                   resolution=Problem.Resolution.LEDGER, found_at=_moment(row.opened_on), created_by=job.actor,
                   created_at=now)


def _problems_of_known_keys(job, problem_keys):
    if not problem_keys:
        return {}
    rows = ImportKey.objects.filter(unit=job.unit, key__in=list(problem_keys)).select_related("item__problem")
    return {row.key: row.item.problem for row in rows}


def _update(actor, row, item, changes, batch, source):
    fields, problem_fields = {}, {}
    for name in ("measure", "deadline", "kind"):
        if name in changes:
            fields[name] = getattr(row, name)
    if "lead_unit" in changes:
        fields["lead_unit"] = row.lead_unit
    if "owner" in changes:
        fields["owner"] = row.owner
    if "status" in changes:
        fields["status"] = row.status
        if row.status == Status.CLOSED:
            fields["closed_at"] = _moment(row.closed_on)
    if "closed_on" in changes:
        fields["closed_at"] = _moment(row.closed_on)
    if "opened_on" not in fields and fields.get("deadline") and fields["deadline"] < item.opened_on:
        fields["opened_on"] = fields["deadline"]
    if "description" in changes:
        problem_fields["description"] = row.description
    if "category" in changes or "subcategory" in changes:
        problem_fields["category"], problem_fields["subcategory"] = row.category, row.subcategory
    cooperating = ([u for u in row.cooperating if u.pk != row.lead_unit.pk] if "cooperating_units" in changes
                   else None)
    services.apply_imported_row(
        actor, item, fields=fields, problem_fields=problem_fields, cooperating=cooperating, changes=changes,
        note=_("导入更新：%(file)s，工作表“%(sheet)s”第 %(row)s 行") % {"file": batch.original_name,
                                                                "sheet": row.sheet, "row": row.row},
        **source)


def check_campaign(job):
    if job.campaign is None:
        raise Refused(_("请选择专项行动：导入的问题须归入一个专项行动。"))

