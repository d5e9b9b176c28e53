"""The unit tree and the staff roster.

Units are matched by code; users by user name, else by name and phone in the same unit. A matched
row updates, never duplicates; a matched user keeps their password and their roles (the file's
roles are added). New users get no password at all but a single-use activation code
(imports/activation.py): 5,000 first passwords hashed with Django's hasher would cost over 20
minutes of CPU, and a password chosen by the user is one nobody else ever saw.
"""

import re
from dataclasses import dataclass, field

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import PATH_STEP, Role, Unit, User
from ..roles import ensure_groups
from ..units import move_unit
from . import activation, values
from .base import Plan, Refused, UnitDirectory
from .values import Unreadable

LEVEL_ORDER = list(Unit.Level.values)
COMPOUND_SURNAMES = ("欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "长孙", "宇文",
                     "司徒", "夏侯", "轩辕", "端木", "西门", "南宫")
PHONE = re.compile(r"^[0-9+\-() ]{5,20}$")
USERNAME = re.compile(r"^[\w.@+-]{1,150}$")


def _get(cells, columns, name):
    index = columns.get(name)
    return cells[index] if index is not None and index < len(cells) else None


def _rows(job, layouts, result, fields):
    for sheet in layouts:
        columns = sheet.columns(job.mapping, job.kind)
        result.add_sheet(sheet, columns)
        for number, cells in sheet.data:
            row = {name: _get(cells, columns, name) for name in fields}
            if not any(v is not None for v in row.values()):
                continue
            result.rows += 1
            yield sheet.name, number, row


# -- units ---------------------------------------------------------------------------------------------


@dataclass
class UnitRow:
    sheet: str
    row: int
    code: str
    name: str
    short_name: str
    parent_text: str
    level: str | None
    kind: str
    parent: object = None
    unit: object = None  # the new or matched Unit
    existing: object = None


def describe_unit(row):
    return {"sheet": row.sheet, "row": row.row, "code": row.code, "name": row.name,
            "parent": row.parent.name if row.parent is not None else "",
            "level": str(Unit.Level(row.level).label) if row.level else "", "kind": str(Unit.Kind(row.kind).label)}


def plan_units(job, layouts, progress=None):
    result = Plan(kind=job.kind)
    directory = UnitDirectory(job.unit)
    rows, by_code = [], {}
    for sheet, number, cells in _rows(job, layouts, result, ("code", "name", "parent", "level", "kind",
                                                            "short_name")):
        code, name = values.key_text(cells["code"]), values.text(cells["name"])
        try:
            if not code:
                raise Unreadable(_("缺少单位代码"))
            if not name:
                raise Unreadable(_("缺少单位名称"))
            if len(code) > 32 or len(name) > 100:
                raise Unreadable(_("单位代码最长 32 个字符，单位名称最长 100 个字"))
            if code.lower() in by_code:
                raise Unreadable(_("单位代码“%(code)s”与第 %(row)s 行重复") % {"code": code,
                                                                     "row": by_code[code.lower()].row})
            level = values.parse_level(cells["level"]) if cells["level"] is not None else None
            kind = values.parse_kind(cells["kind"]) if cells["kind"] is not None else values.guess_kind(name)
        except Unreadable as error:
            result.error(sheet, number, error.message, error.suggestions)
            continue
        row = UnitRow(sheet, number, code, name, values.text(cells["short_name"])[:40],
                      values.text(cells["parent"]), level, kind)
        by_code[code.lower()] = row
        rows.append(row)
    outside = _codes_outside(job, [r.code for r in rows])
    for row in rows:
        row.existing = directory.by_code.get(row.code.lower())
        if row.existing is None and row.code.lower() in outside:
            result.error(row.sheet, row.row, _("单位代码“%(code)s”已被管辖范围外的单位使用") % {"code": row.code})
            row.code = ""
    rows = [r for r in rows if r.code]
    for row in rows:
        try:
            row.parent = _parent(job, directory, by_code, row)
        except Unreadable as error:
            result.error(row.sheet, row.row, error.message, error.suggestions)
            row.code = ""
    rows = [r for r in rows if r.code]
    _check_cycles(rows, result)
    for row in rows:
        if not row.code:
            continue
        if row.level is None:
            parent_level = _level_of(row.parent)
            if parent_level is None:
                result.error(row.sheet, row.row, _("请填写层级"))
                continue
            step = 0 if row.kind == Unit.Kind.DEPARTMENT else 1
            row.level = LEVEL_ORDER[min(LEVEL_ORDER.index(parent_level) + step, len(LEVEL_ORDER) - 1)]
        if row.existing is None:
            result.created.append(row)
            continue
        unit, changes = row.existing, {}
        if unit.name != row.name:
            changes["name"] = [unit.name, row.name]
        if unit.level != row.level:
            changes["level"] = [str(Unit.Level(unit.level).label), str(Unit.Level(row.level).label)]
        if unit.kind != row.kind:
            changes["kind"] = [str(Unit.Kind(unit.kind).label), str(Unit.Kind(row.kind).label)]
        if row.short_name and row.short_name != unit.short_name:
            changes["short_name"] = [unit.short_name, row.short_name]
        if row.parent_text and not _same_parent(unit, row.parent):
            if unit.pk == getattr(job.unit, "pk", None):
                result.error(row.sheet, row.row, _("不能通过导入调整本单位自己的上级单位"))
                continue
            changes["parent"] = [_name(unit.parent_id, directory), _name(row.parent, directory)]
        if changes:
            result.updated.append((row, unit, changes))
        else:
            result.skipped.append((row.sheet, row.row, _("与系统中的单位相同")))
    return result


def _codes_outside(job, codes):
    if job.unit is None or not codes:
        return set()
    lowered = {c.lower() for c in codes}
    found = set()
    rows = Unit.objects.exclude(path__startswith=job.unit.path).values_list("code", flat=True)
    for code in rows.iterator():
        if code.lower() in lowered:
            found.add(code.lower())
    return found


def _parent(job, directory, by_code, row):
    if not row.parent_text:
        if row.existing is not None:
            return None  # unchanged
        if job.unit is None:
            return None  # a superuser may add a root
        return directory.by_code[job.unit.code.lower()]
    in_file = by_code.get(row.parent_text.lower())
    if in_file is not None:
        return in_file
    in_file = [r for r in by_code.values() if r.name == row.parent_text and r.existing is None]
    if len(in_file) == 1:
        return in_file[0]
    return directory.find(row.parent_text)


def _check_cycles(rows, result):
    for row in rows:
        seen, parent = {row.code}, row.parent
        while isinstance(parent, UnitRow):
            if parent.code in seen:
                result.error(row.sheet, row.row, _("上级单位形成循环"))
                row.code = ""
                break
            seen.add(parent.code)
            parent = parent.parent


def _level_of(parent):
    return None if parent is None else parent.level


def _same_parent(unit, parent):
    if isinstance(parent, UnitRow):
        return parent.existing is not None and parent.existing.pk == unit.parent_id
    return (parent.pk if parent else None) == unit.parent_id


def _name(parent, directory):
    if isinstance(parent, UnitRow):
        return parent.name
    if isinstance(parent, Unit):
        return parent.name
    match = next((u for u in directory.units if u.pk == parent), None)
    return match.name if match else ""


def commit_units(job, batch, result, progress=None):
    """Write a plan without bad rows in the caller's transaction: parents before their children."""
    resolved = {}

    def unit_of(parent):
        if isinstance(parent, UnitRow):
            return parent.existing or resolved[parent.code]
        return parent

    # Paths are handed out in memory: the next free sibling number under each parent, read once.
    next_number = {}
    pending = list(result.created)
    for row, unit, _changes in result.updated:
        row.existing = unit
    while pending:
        ready = [r for r in pending if not isinstance(r.parent, UnitRow) or r.parent.existing is not None
                 or r.parent.code in resolved]
        if not ready:
            raise Refused(_("上级单位形成循环"))
        level_units = []
        for row in ready:
            parent = unit_of(row.parent)
            key = parent.pk if parent is not None else None
            if key not in next_number:
                next_number[key] = _next_sibling_number(parent)
            number = next_number[key]
            next_number[key] += 1
            prefix = parent.path if parent is not None else ""
            path = f"{prefix}{number:0{PATH_STEP}d}."
            unit = Unit(code=row.code, name=row.name, short_name=row.short_name, parent=parent, level=row.level,
                        kind=row.kind, path=path, depth=path.count(".") - 1)
            level_units.append(unit)
            resolved[row.code] = unit
        Unit.objects.bulk_create(level_units, batch_size=1000)
        pending = [r for r in pending if r.code not in resolved]
    for row, unit, changes in result.updated:
        for name in ("name", "level", "kind", "short_name"):
            if name in changes:
                setattr(unit, name, getattr(row, name))
    Unit.objects.bulk_update([unit for _row, unit, _changes in result.updated], ["name", "level", "kind", "short_name"],
                             batch_size=1000)
    for row, unit, changes in result.updated:
        if "parent" in changes:
            move_unit(Unit.objects.get(pk=unit.pk), unit_of(row.parent))
    return result


def _next_sibling_number(parent):
    prefix = parent.path if parent is not None else ""
    last = Unit.objects.filter(parent=parent).order_by("-path").values_list("path", flat=True).first()
    return int(last[len(prefix):len(prefix) + PATH_STEP]) + 1 if last else 1


# -- users ---------------------------------------------------------------------------------------------


@dataclass
class UserRow:
    sheet: str
    row: int
    name: str
    username: str
    phone: str
    unit: object
    roles: list
    title: str
    email: str
    user: object = None
    new_code: bool = False
    extra: dict = field(default_factory=dict)


def describe_user(row):
    return {"sheet": row.sheet, "row": row.row, "name": row.name, "username": row.username, "unit": row.unit.name,
            "roles": "、".join(str(Role(r).label) for r in row.roles), "title": row.title}


def split_name(name):
    surname_length = 2 if name.startswith(COMPOUND_SURNAMES) and len(name) > 2 else 1
    return name[:surname_length], name[surname_length:]


def plan_users(job, layouts, progress=None):
    result = Plan(kind=job.kind)
    actor = job.actor
    directory = UnitDirectory(job.unit)
    grantable = set(Role.values) if actor.is_superuser else set(actor.roles)
    rows = []
    for sheet, number, cells in _rows(job, layouts, result, ("name", "username", "phone", "unit", "roles", "title",
                                                            "email")):
        try:
            name = re.sub(r"\s", "", values.text(cells["name"]))
            if not name:
                raise Unreadable(_("缺少姓名"))
            if cells["unit"] is None:
                raise Unreadable(_("未填写单位"))
            unit = directory.find(values.key_text(cells["unit"]))
            username = values.key_text(cells["username"])
            if username and not USERNAME.match(username):
                raise Unreadable(_("用户名“%(value)s”只能包含字母、数字和 @ . + - _") % {"value": username})
            phone = values.key_text(cells["phone"])
            if phone and not PHONE.match(phone):
                raise Unreadable(_("手机号“%(value)s”格式不正确") % {"value": phone})
            roles = values.parse_roles(cells["roles"])
            refused = [str(Role(r).label) for r in roles if r not in grantable]
            if refused:
                raise Unreadable(_("您不能授予“%(roles)s”角色：只能授予您本人具有的角色") % {"roles": "、".join(refused)})
        except Unreadable as error:
            result.error(sheet, number, error.message, error.suggestions)
            continue
        rows.append(UserRow(sheet, number, name[:150], username, phone[:30], unit, roles,
                            values.text(cells["title"])[:60], values.text(cells["email"])[:254]))
    _match_users(job, rows, result)
    return result


def _match_users(job, rows, result):
    usernames = [r.username for r in rows if r.username]
    by_username = {}
    for start in range(0, len(usernames), 500):
        for user in User.objects.filter(username__in=usernames[start:start + 500]).select_related("unit"):
            by_username[user.username] = user
    by_person, by_name = {}, {}
    unit_ids = {r.unit.pk for r in rows}
    # With their unit: the scope check below reads it for every matched row.
    for user in (User.objects.filter(unit_id__in=list(unit_ids)).select_related("unit")
                 .only("id", "username", "last_name", "first_name", "phone", "unit_id", "title", "email",
                       "password", "is_staff", "is_superuser", "unit__path", "unit__name")):
        full_name = f"{user.last_name}{user.first_name}"
        if user.phone:
            by_person[(full_name, user.phone, user.unit_id)] = user
        by_name.setdefault((full_name, user.unit_id), []).append(user)
    current_roles = _roles_of([u.pk for u in [*by_username.values(), *(u for same in by_name.values() for u in same)]])
    seen_usernames, seen_people = {}, {}
    taken = set()
    for row in rows:
        person = (row.name, row.phone, row.unit.pk)
        if row.username and row.username.lower() in seen_usernames:
            result.error(row.sheet, row.row, _("用户名“%(value)s”与第 %(row)s 行重复")
                         % {"value": row.username, "row": seen_usernames[row.username.lower()]})
            continue
        if row.phone and person in seen_people:
            result.error(row.sheet, row.row, _("与第 %(row)s 行是同一人（姓名、手机号、单位相同）")
                         % {"row": seen_people[person]})
            continue
        user = by_username.get(row.username) if row.username else None
        if user is None and row.phone:
            user = by_person.get(person)
        if user is None and not row.phone and not row.username:
            # Neither user name nor phone: the one person of that name in that unit, if there is one.
            same = by_name.get((row.name, row.unit.pk), [])
            user = same[0] if len(same) == 1 else None
        if user is not None and job.unit is not None and not (user.unit_id and user.unit
                                                              and user.unit.path.startswith(job.unit.path)):
            result.error(row.sheet, row.row, _("用户名“%(value)s”已被管辖范围外的账号使用") % {"value": row.username})
            continue
        if user is not None and user.is_superuser:
            result.error(row.sheet, row.row, _("不能通过导入修改超级管理员账号“%(value)s”") % {"value": user.username})
            continue
        if row.username:
            seen_usernames[row.username.lower()] = row.row
        if row.phone:
            seen_people[person] = row.row
        if user is None:
            result.created.append(row)
            continue
        row.user = user
        row.username = user.username
        changes = {}
        last, first = split_name(row.name)
        if (user.last_name, user.first_name) != (last, first):
            changes["name"] = [f"{user.last_name}{user.first_name}", row.name]
        for name in ("phone", "title", "email"):
            if getattr(row, name) and getattr(row, name) != getattr(user, name):
                changes[name] = [getattr(user, name), getattr(row, name)]
        if user.unit_id != row.unit.pk:
            changes["unit"] = [user.unit.name if user.unit_id else "", row.unit.name]
        added = [r for r in row.roles if r not in current_roles.get(user.pk, set())]
        if added:
            changes["roles"] = ["", "、".join(str(Role(r).label) for r in added)]
        row.extra["added_roles"] = added
        row.new_code = not user.has_usable_password()
        if row.new_code:
            changes["activation"] = ["", _("重新发放激活码")]
        if changes:
            result.updated.append((row, user, changes))
        else:
            result.skipped.append((row.sheet, row.row, _("与系统中的账号相同")))
    _give_usernames(result.created, taken)


def _roles_of(user_ids):
    roles = {}
    through = User.groups.through
    for start in range(0, len(user_ids), 500):
        for user_id, name in through.objects.filter(user_id__in=user_ids[start:start + 500]).values_list(
                "user_id", "group__name"):
            roles.setdefault(user_id, set()).add(name)
    return roles


def _give_usernames(rows, taken):
    """Rows without a user name get one: the phone number, else the unit code and a number."""
    wanted = [r.phone for r in rows if not r.username and r.phone]
    wanted += [r.username for r in rows if r.username]
    existing = set()
    for start in range(0, len(wanted), 500):
        existing |= {u.lower() for u in User.objects.filter(username__in=wanted[start:start + 500])
                     .values_list("username", flat=True)}
    taken |= existing | {r.username.lower() for r in rows if r.username}
    counters = {}
    for row in rows:
        if row.username:
            continue
        candidate = row.phone
        if not candidate or candidate.lower() in taken:
            prefix = re.sub(r"[^\w.@+-]", "", row.unit.code) or "user"
            counters.setdefault(prefix, _last_number(prefix))
            while True:
                counters[prefix] += 1
                candidate = f"{prefix}_{counters[prefix]}"
                if candidate.lower() not in taken:
                    break
        row.username = candidate
        taken.add(candidate.lower())


def _last_number(prefix):
    numbers = [int(m.group(1)) for m in (re.fullmatch(rf"{re.escape(prefix)}_(\d+)", u) for u in
               User.objects.filter(username__startswith=f"{prefix}_").values_list("username", flat=True)) if m]
    return max(numbers, default=0)


def commit_users(job, batch, result, progress=None):
    """Write a plan without bad rows in the caller's transaction; codes for the new users."""
    groups = {g.name: g for g in Group.objects.filter(name__in=Role.values)}
    if len(groups) < len(Role.values):
        groups = ensure_groups()
    now = timezone.now()
    new_users = []
    for row in result.created:
        last, first = split_name(row.name)
        # No password at all until the user chooses one with their activation code. make_password(None)
        # is an unusable password: no hashing cost.
        new_users.append(User(username=row.username, last_name=last, first_name=first, phone=row.phone,
                              title=row.title, email=row.email, unit=row.unit, password=make_password(None),
                              is_staff=Role.ADMIN in row.roles, date_joined=now))
    User.objects.bulk_create(new_users, batch_size=1000)
    if progress:
        progress(0.5)
    through = User.groups.through
    memberships = [through(user_id=user.pk, group_id=groups[role].pk)
                   for user, row in zip(new_users, result.created) for role in row.roles]
    changed = []
    for row, user, changes in result.updated:
        if "name" in changes:
            user.last_name, user.first_name = split_name(row.name)
        for name in ("phone", "title", "email"):
            if name in changes:
                setattr(user, name, getattr(row, name))
        if "unit" in changes:
            user.unit = row.unit
        if Role.ADMIN in row.extra.get("added_roles", ()):
            user.is_staff = True
        memberships += [through(user_id=user.pk, group_id=groups[role].pk) for role in row.extra.get("added_roles", ())]
        changed.append(user)
    User.objects.bulk_update(changed, ["last_name", "first_name", "phone", "title", "email", "unit", "is_staff"],
                             batch_size=1000)
    through.objects.bulk_create(memberships, batch_size=2000, ignore_conflicts=True)
    if progress:
        progress(0.75)
    needing_codes = new_users + [user for row, user, _c in result.updated if row.new_code]
    activation.issue(needing_codes, batch, now=now)
    result.notes.append(_("已为 %(n)s 个账号生成激活码。") % {"n": len(needing_codes)})
    return result
