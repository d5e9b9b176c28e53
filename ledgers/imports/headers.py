"""Which column holds what: header rows found among the first rows of each sheet, their texts
matched against the synonyms offices use, and corrected by the mapping the user confirmed.

Offices keep a merged title row above the table, and often two header rows: a merged parent
("整改情况") over its children ("完成情况", "销号时间"), while single columns ("序号") are merged
down both rows. Read-only openpyxl shows a merged range's value in its first cell only, so the
parent's text is carried right over the empty cells of its range and down into the child row.
"""

import functools
import re
from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _

SCAN_ROWS = 20

# field -> (label, synonyms). The longest synonym contained in a header wins, so "整改时限" is a
# deadline although it contains "整改", and "牵头单位" a lead unit although it contains "单位".
FIELDS = {
    "ledger": {
        "number": (_("编号"), ["编号", "问题编号", "台账编号", "事项编号"]),
        "seq": (_("序号"), ["序号", "序"]),
        "unit": (_("单位"), ["单位", "责任单位", "所属单位", "发现单位", "单位名称", "地区", "县市区", "部门"]),
        "description": (_("问题描述"), ["问题描述", "存在问题", "问题清单", "问题", "问题内容", "发现问题",
                                      "具体问题", "问题表现", "堵点问题", "问题及表现"]),
        "category": (_("问题类别"), ["问题类别", "类别", "问题类型", "问题分类", "类型"]),
        "measure": (_("整改措施"), ["整改措施", "措施", "整改举措", "整改方案", "具体措施", "整改内容"]),
        "lead_unit": (_("牵头单位"), ["牵头单位", "牵头部门", "主办单位", "整改责任单位"]),
        "cooperating": (_("配合单位"), ["配合单位", "配合部门", "协办单位", "协同单位"]),
        "owner": (_("责任人"), ["责任人", "责任人员", "具体责任人", "负责人", "联系人"]),
        "deadline": (_("整改时限"), ["整改时限", "完成时限", "时限", "整改期限", "计划完成时间", "时间节点",
                                   "完成时间节点"]),
        "status": (_("完成情况"), ["完成情况", "整改进展", "整改情况", "进展情况", "整改状态", "状态",
                                  "是否完成", "办理情况"]),
        "closed_on": (_("销号时间"), ["销号时间", "销号日期", "完成时间", "完成日期", "办结时间"]),
        "opened_on": (_("发现时间"), ["发现时间", "立项日期", "交办时间", "发现日期"]),
    },
    "units": {
        "name": (_("单位名称"), ["单位名称", "名称", "单位", "单位全称"]),
        "code": (_("单位代码"), ["单位代码", "代码", "统一社会信用代码", "机构代码", "组织机构代码", "编码"]),
        "parent": (_("上级单位"), ["上级单位", "上级单位代码", "上级", "所属上级", "上级单位名称"]),
        "level": (_("层级"), ["层级", "级别", "行政级别", "单位层级"]),
        "kind": (_("类型"), ["类型", "单位类型", "类别"]),
        "short_name": (_("简称"), ["简称", "单位简称"]),
    },
    "users": {
        "name": (_("姓名"), ["姓名", "名字", "人员姓名"]),
        "username": (_("用户名"), ["用户名", "账号", "帐号", "登录名", "登录账号"]),
        "phone": (_("手机号"), ["手机号", "手机", "手机号码", "电话", "联系电话", "联系方式"]),
        "unit": (_("单位"), ["单位", "所属单位", "单位代码", "工作单位", "单位名称"]),
        "roles": (_("角色"), ["角色", "系统角色", "权限"]),
        "title": (_("职务"), ["职务", "职位", "职称"]),
        "email": (_("邮箱"), ["邮箱", "电子邮箱", "电子邮件", "Email", "E-mail"]),
    },
}
REQUIRED = {"ledger": {"description", "measure"}, "units": {"name", "code"}, "users": {"name", "unit"}}
IGNORE = ""  # the mapping value for "do not import this column"


def normalise(text):
    """Header text compared without spaces, line breaks, stars and the notes in brackets."""
    text = re.sub(r"[\s*＊:：]", "", str(text))
    return text


def _bare(text):
    return re.sub(r"[（(][^）)]*[）)]", "", text)


@functools.cache
def _lookup_table(kind):
    """(synonym, field), longest first: built once per kind, not for every header cell."""
    table = []
    for name, (_label, synonyms) in FIELDS[kind].items():
        table.extend((normalise(s).lower(), name) for s in synonyms)
    return tuple(sorted(table, key=lambda pair: -len(pair[0])))


def guess(kind, header):
    """The field a header text names, or None."""
    if not header:
        return None
    table = _lookup_table(kind)
    for text in (normalise(header).lower(), _bare(normalise(header)).lower()):
        if not text:
            continue
        for synonym, name in table:
            if text == synonym:
                return name
        for synonym, name in table:
            if len(synonym) >= 2 and synonym in text:
                return name
    return None


@dataclass
class SheetLayout:
    name: str
    header_rows: list  # row numbers of the header rows
    headers: list  # column index -> header text ("" for none)
    data: list = field(default_factory=list)  # [(row number, values)] after the header

    def columns(self, mapping, kind):
        """{field: column index}: the confirmed mapping first, then the synonyms; first column wins."""
        result = {}
        for index, header in enumerate(self.headers):
            if not header:
                continue
            chosen = mapping[header] if header in mapping else guess(kind, header)
            if chosen and chosen in FIELDS[kind] and chosen not in result:
                result[chosen] = index
        return result


def _text(value):
    return "" if value is None else str(value).strip()


def _score(kind, values):
    return len({guess(kind, _text(v)) for v in values if isinstance(v, str)} - {None})


def layout(kind, sheet):
    """The sheet's header rows and its data rows; None when no header row is found."""
    head = sheet.rows[:SCAN_ROWS]
    best, best_score = None, 1
    for position, (_number, values) in enumerate(head):
        score = _score(kind, values)
        if score > best_score:
            best, best_score = position, score
    if best is None:
        return None
    number, top = sheet.rows[best]
    width = max(len(values) for _n, values in sheet.rows[best:best + 2])
    top = [_text(v) for v in top] + [""] * (width - len(top))
    headers = list(top)
    header_rows = [number]
    consumed = best + 1
    if consumed < len(sheet.rows):
        child_number, child = sheet.rows[consumed]
        child = [_text(v) for v in child] + [""] * (width - len(child))
        texts = [c for c in child if c]
        matched = [c for c in texts if guess(kind, c)]
        # A child header row: its texts name fields, and it is not a data row (those hold long text
        # or numbers in most columns).
        if matched and len(matched) * 2 >= len(texts):
            parent = ""
            for index in range(width):
                parent = top[index] or (parent if not top[index] and child[index] else "")
                if child[index]:
                    headers[index] = child[index] if guess(kind, child[index]) else f"{parent}{child[index]}"
                else:
                    headers[index] = top[index]
            header_rows.append(child_number)
            consumed += 1
    return SheetLayout(sheet.name, header_rows, headers, sheet.rows[consumed:])


def remembered_first(kind, layouts, remembered):
    """The mapping to offer: for every header text, the remembered choice, else the synonym's."""
    offered = {}
    for sheet in layouts:
        for header in sheet.headers:
            if header and header not in offered:
                offered[header] = remembered.get(header, guess(kind, header) or IGNORE)
    return offered


def missing_required(kind, layouts, mapping):
    """Labels of required fields no sheet maps."""
    found = set()
    for sheet in layouts:
        found |= set(sheet.columns(mapping, kind))
    return [str(FIELDS[kind][name][0]) for name in FIELDS[kind] if name in REQUIRED[kind] and name not in found]
