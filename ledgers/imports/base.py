"""What every import shares: the job, the plan it produces, who may run it, and the directory
that finds a unit by code, name or name path inside the importer's subtree."""

import difflib
from dataclasses import dataclass, field

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as lazy

from ..models import PATH_STEP, ImportBatch, Role, Unit, User
from .headers import FIELDS
from .values import Unreadable

Kind = ImportBatch.Kind
PATH_SEPARATORS = ("/", "\\", ">", "＞", "／")
KEEP_ERRORS = 1000  # a preview lists this many bad rows in full; the count is always exact
STEP = PATH_STEP + 1  # characters per level of Unit.path


CHANGE_LABELS = {
    "description": lazy("问题描述"), "category": lazy("问题类别"), "subcategory": lazy("细分类"), "measure": lazy("整改措施"),
    "lead_unit": lazy("牵头单位"), "owner": lazy("责任人"), "deadline": lazy("整改时限"), "kind": lazy("整改类型"),
    "cooperating_units": lazy("配合单位"), "status": lazy("状态"), "closed_on": lazy("销号时间"), "name": lazy("名称"),
    "level": lazy("层级"), "short_name": lazy("简称"), "parent": lazy("上级单位"), "phone": lazy("手机号"), "title": lazy("职务"),
    "email": lazy("邮箱"), "unit": lazy("单位"), "roles": lazy("角色"), "activation": lazy("激活码"),
}
CHANGE_LABELS_BY_KIND = {"units": {"kind": lazy("类型")}, "users": {"name": lazy("姓名")}}


class Refused(Exception):
    """The import may not run as asked (scope, role, bad rows at commit); `message` is for the user."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


@dataclass
class Job:
    kind: str
    actor: User
    path: str
    original_name: str = ""
    unit: Unit | None = None  # the subtree written into; None: a superuser's whole tree
    campaign: object = None
    mapping: dict = field(default_factory=dict)  # header text -> field ("" to leave a column out)
    options: dict = field(default_factory=dict)


@dataclass
class RowError:
    sheet: str
    row: int
    message: str
    suggestions: list = field(default_factory=list)

    def as_dict(self):
        return {"sheet": self.sheet, "row": self.row, "message": self.message, "suggestions": self.suggestions}


@dataclass
class Plan:
    kind: str
    rows: int = 0
    created: list = field(default_factory=list)  # planned objects (importer-specific)
    updated: list = field(default_factory=list)  # (planned object, existing, {field: [old, new]})
    skipped: list = field(default_factory=list)  # (sheet, row, reason)
    errors: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    sheets: list = field(default_factory=list)

    def error(self, sheet, row, message, suggestions=()):
        self.errors.append(RowError(sheet, row, message, list(suggestions)))

    def add_sheet(self, sheet, columns):
        """Record a sheet read (a headers.SheetLayout) and which of its columns fill which field."""
        labels = FIELDS[self.kind]
        self.sheets.append({"name": sheet.name, "header_rows": sheet.header_rows, "rows": len(sheet.data),
                            "columns": {str(labels[name][0]): sheet.headers[index] for name, index in columns.items()}})

    def in_order(self):
        """Errors in the file's order (sheet by sheet, row by row), however they were found."""
        order = {sheet["name"]: index for index, sheet in enumerate(self.sheets)}
        self.errors.sort(key=lambda e: (order.get(e.sheet, 0), e.row))
        return self

    def labelled(self, changes):
        """{Chinese label: [old, new]} for the preview and the command's output."""
        labels = {**CHANGE_LABELS, **CHANGE_LABELS_BY_KIND.get(self.kind, {})}
        return {str(labels.get(name, name)): change for name, change in changes.items()}

    def summary(self, describe):
        """JSON for ImportBatch.summary: counts, and the rows the preview page lists."""
        return {
            "rows": self.rows, "created": len(self.created), "updated": len(self.updated),
            "skipped": len(self.skipped), "errors": len(self.errors), "sheets": self.sheets,
            "notes": self.notes,
            "error_rows": [e.as_dict() for e in self.errors[:KEEP_ERRORS]],
            "created_rows": [describe(row) for row in self.created[:200]],
            "updated_rows": [{**describe(row), "changes": self.labelled(changes)}
                             for row, _existing, changes in self.updated[:200]],
            "skipped_rows": [{"sheet": s, "row": r, "reason": reason} for s, r, reason in self.skipped[:200]],
        }


# -- who may import what ----------------------------------------------------------------------------


def check_access(kind, actor, unit):
    """Refused unless the actor may import `kind` into `unit`'s subtree."""
    if not actor.is_active:
        raise Refused(_("该账号已停用。"))
    if kind in (Kind.UNITS, Kind.USERS):
        if not (actor.is_superuser or actor.has_role(Role.ADMIN)):
            raise Refused(_("只有系统管理员可以导入单位和用户。"))
    elif not (actor.is_superuser or actor.has_role(Role.OFFICE, Role.ADMIN)):
        raise Refused(_("只有办公室人员或系统管理员可以导入整改台账。"))
    if actor.is_superuser and unit is None:
        return
    if not actor.unit_id:
        raise Refused(_("您的账号没有所属单位，不能导入。"))
    if unit is None or not unit.path.startswith(actor.unit.path):
        raise Refused(_("只能导入到本单位及下级单位。"))


def import_unit_for(actor):
    """Where an administrator's units and users import lands: their own unit's subtree."""
    return actor.unit if actor.unit_id else None


# -- finding units ------------------------------------------------------------------------------------


class UnitDirectory:
    """The units of one subtree in memory, found by code, short or full name, or name path
    ("湖南省/益阳市/赫山区", or its tail "益阳市/赫山区"): one query however many rows."""

    def __init__(self, root):
        units = Unit.objects.filter(is_active=True)
        if root is not None:
            units = units.filter(path__startswith=root.path)
        self.root = root
        self.units = list(units.only("id", "code", "name", "short_name", "path", "parent_id", "level", "kind",
                                     "depth"))
        names = {unit.path: unit.name for unit in self.units}
        if root is not None:  # the names above the subtree, so full paths can be written
            prefixes = [root.path[:i] for i in range(STEP, len(root.path), STEP)]
            names.update(Unit.objects.filter(path__in=prefixes).values_list("path", "name"))
        self.by_code, self.by_name, self.by_full_path = {}, {}, {}
        for unit in self.units:
            self.add(unit, names)
        self._outside = None

    def add(self, unit, names):
        """Index `unit`; `names` maps each path prefix to its unit's name, for the full name path."""
        self.by_code[unit.code.lower()] = unit
        for name in {unit.name, unit.short_name} - {""}:
            self.by_name.setdefault(name, []).append(unit)
        unit.full_path = "/".join(names.get(unit.path[:i], "?") for i in range(STEP, len(unit.path) + 1, STEP))
        self.by_full_path[unit.full_path] = unit

    def find(self, text):
        """The unit `text` names; Unreadable with the closest names otherwise."""
        text = str(text).strip()
        unit = self.by_code.get(text.lower())
        if unit is not None:
            return unit
        if any(sep in text for sep in PATH_SEPARATORS):
            for sep in PATH_SEPARATORS:
                text = text.replace(sep, "/")
            text = "/".join(part.strip() for part in text.split("/") if part.strip())
            matches = [u for path, u in self.by_full_path.items() if path == text or path.endswith("/" + text)]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise Unreadable(_("单位“%(value)s”对应多个单位，请写出完整的名称路径或单位代码") % {"value": text})
            name = text.rsplit("/", 1)[-1]
        else:
            name = text
        matches = self.by_name.get(name, [])
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise Unreadable(_("有多个单位名为“%(value)s”，请填写单位代码或名称路径（如 湖南省/益阳市/赫山区）")
                             % {"value": text}, [u.full_path for u in matches[:5]])
        if self._exists_outside(text, name):
            raise Unreadable(_("单位“%(value)s”不在您的管辖范围内") % {"value": text})
        close = difflib.get_close_matches(name, list(self.by_name), n=3, cutoff=0.4)
        raise Unreadable(_("找不到单位“%(value)s”") % {"value": text}, close)

    def _exists_outside(self, text, name):
        if self.root is None:
            return False
        if self._outside is None:
            rows = Unit.objects.exclude(path__startswith=self.root.path).values_list("code", "name")
            self._outside = {code.lower() for code, _name in rows} | {n for _code, n in rows}
        return text.lower() in self._outside or name in self._outside

    def contains(self, unit):
        return self.root is None or unit.path.startswith(self.root.path)
