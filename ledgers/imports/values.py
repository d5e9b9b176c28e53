"""Cell values in the words offices write them: dates, categories, progress, levels and roles.

Each parser returns the value, or raises `Unreadable` with the reason the preview shows.
"""

import calendar
import datetime
import difflib
import functools
import re

from django.utils.translation import gettext as _

from ..models import Problem, RectificationItem, Role, Unit

Status = RectificationItem.Status
EXCEL_EPOCH = datetime.date(1899, 12, 30)
LONG_TERM_WORDS = ("长期坚持", "长期", "持续推进", "常态化")


class Unreadable(ValueError):
    def __init__(self, message, suggestions=()):
        super().__init__(message)
        self.message = message
        self.suggestions = list(suggestions)


LONG_TERM = "long_term"  # what parse_deadline returns for 长期坚持


def parse_date(value, year):
    """A date from a real Excel date, an Excel serial number, or text: 2022年6月30日, 2022.6.30,
    2022/6/30, 2022-06-30, 20220630, 6月30日 and 6月底(前) in `year` (the campaign's)."""
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if 20000 < value < 80000:  # 1954 .. 2119 as Excel day numbers
            return EXCEL_EPOCH + datetime.timedelta(days=int(value))
        if 19000101 <= value <= 21001231:
            value = str(int(value))
        else:
            raise Unreadable(_("日期“%(value)s”无法识别") % {"value": value})
    text = re.sub(r"\s", "", str(value))
    if re.fullmatch(r"\d{5}(\.\d+)?", text):  # a serial number that came through a CSV as text
        return parse_date(float(text), year)
    text = text.replace("号", "日")
    patterns = [
        (r"(\d{4})[年.\-/](\d{1,2})[月.\-/](\d{1,2})日?(?:前|之前|以前)?", None),
        (r"(\d{4})(\d{2})(\d{2})", None),
        (r"(\d{4})[年.\-/](\d{1,2})月?(?:底|末)?(?:前|之前|以前)?", "month_end"),
        (r"(\d{1,2})月(\d{1,2})日(?:前|之前|以前)?", "in_year"),
        (r"(\d{1,2})月(?:底|末|份)?(?:前|之前|以前)?", "month_end_in_year"),
    ]
    for pattern, mode in patterns:
        match = re.fullmatch(pattern, text)
        if not match:
            continue
        numbers = [int(n) for n in match.groups()]
        try:
            if mode is None:
                return datetime.date(*numbers)
            if mode == "month_end":
                return _month_end(numbers[0], numbers[1])
            if mode == "in_year":
                return datetime.date(year, numbers[0], numbers[1])
            return _month_end(year, numbers[0])
        except ValueError:
            break
    raise Unreadable(_("日期“%(value)s”无法识别（可写作 2022年6月30日、2022.6.30、2022/6/30 或 6月底前）")
                     % {"value": value})


def _month_end(year, month):
    return datetime.date(year, month, calendar.monthrange(year, month)[1])


def parse_deadline(value, year):
    """A date, or LONG_TERM for 长期坚持 and its kin."""
    if isinstance(value, str) and any(word in value for word in LONG_TERM_WORDS):
        return LONG_TERM
    return parse_date(value, year)


# -- categories -----------------------------------------------------------------------------------

Category = Problem.Category
CATEGORY_WORDS = [
    (Category.SYSTEM, ("系统", "技术", "平台", "数据", "网络", "信息化", "共享", "对接")),
    (Category.PROCESS, ("流程", "业务", "材料", "环节", "时限", "审批", "办税", "手续")),
    (Category.COORDINATION, ("协调", "联动", "衔接", "部门", "配合", "协同")),
    (Category.WINDOW, ("窗口", "服务", "宣传", "能力", "作风", "设施", "辅导", "态度")),
]


@functools.cache
def _category_names():
    """system, 系统技术问题, 系统技术 -> system: built once, not per row."""
    names = {}
    for code, label in Category.choices:
        names.update({code: code, str(label): code, str(label).removesuffix("问题"): code})
    return names


def parse_category(value, subcategories):
    """(category, SubCategory or None). `subcategories` maps a sub-category name to its row: its
    name says the category too (审批时限有待压缩 -> process). Otherwise a category's label, or a
    word that names one (系统, 流程, 协调, 窗口 ...)."""
    text = re.sub(r"\s", "", str(value))
    if text in subcategories:
        sub = subcategories[text]
        return sub.category, sub
    code = _category_names().get(text)
    if code is not None:
        return code, None
    for code, words in CATEGORY_WORDS:
        if any(word in text for word in words):
            return code, None
    close = difflib.get_close_matches(text, list(subcategories), n=3, cutoff=0.5)
    raise Unreadable(_("问题类别“%(value)s”无法识别（可填：系统、流程、协调、窗口，或细分类名称）") % {"value": value},
                     close)


# -- progress ---------------------------------------------------------------------------------------

def parse_status(value):
    """open / in_progress / closed from 完成情况 words; empty is open."""
    if value is None:
        return Status.OPEN
    text = re.sub(r"\s", "", str(value))
    if text == "否" or any(word in text for word in ("未完成", "未整改", "未启动", "未开始", "待整改")):
        return Status.OPEN
    if any(word in text for word in ("已完成", "已整改", "已销号", "已办结", "完成整改", "整改完成", "已解决")) or text == "是":
        return Status.CLOSED
    if any(word in text for word in ("正在", "推进", "整改中", "进行中", "持续", "办理中", "部分完成")):
        return Status.IN_PROGRESS
    if text in ("完成", "销号", "办结"):
        return Status.CLOSED
    raise Unreadable(_("完成情况“%(value)s”无法识别（可填：已完成、已整改、已销号、正在推进、未完成）")
                     % {"value": value})


# -- units, levels, roles -------------------------------------------------------------------------

LEVEL_WORDS = {
    Unit.Level.PROVINCE: ("省", "省级", "自治区", "直辖市"),
    Unit.Level.CITY: ("市州", "市", "州", "市级", "地级"),
    Unit.Level.COUNTY: ("县市区", "县", "区", "县级", "县区", "县级市"),
    Unit.Level.TOWNSHIP: ("乡镇街道", "乡镇", "街道", "乡", "镇", "乡级"),
    Unit.Level.VILLAGE: ("村社区", "村", "社区", "村级"),
}
KIND_WORDS = {Unit.Kind.REGION: ("地区", "区域", "行政区"), Unit.Kind.DEPARTMENT: ("部门", "单位", "机关", "直属单位")}
DEPARTMENT_ENDINGS = ("局", "委", "办", "厅", "中心", "院", "会", "所", "站", "队", "部", "处", "室", "公司", "馆")


def parse_level(value):
    text = re.sub(r"\s", "", str(value))
    for level, words in LEVEL_WORDS.items():
        if text == level or text == str(Unit.Level(level).label) or text in words:
            return level
    raise Unreadable(_("层级“%(value)s”无法识别（可填：省、市州、县市区、乡镇街道、村社区）") % {"value": value})


def parse_kind(value):
    text = re.sub(r"\s", "", str(value))
    for kind, words in KIND_WORDS.items():
        if text == kind or text in words:
            return kind
    raise Unreadable(_("类型“%(value)s”无法识别（可填：地区、部门）") % {"value": value})


def guess_kind(name):
    return Unit.Kind.DEPARTMENT if name.endswith(DEPARTMENT_ENDINGS) else Unit.Kind.REGION


ROLE_WORDS = {
    Role.LEADER: ("领导", "leader"),
    Role.SUPERVISOR: ("督办", "督办人员", "supervisor"),
    Role.OWNER: ("责任人", "owner"),
    Role.OFFICE: ("办公室", "办公室人员", "office"),
    Role.ADMIN: ("管理员", "系统管理员", "admin"),
}


def parse_roles(value):
    if value is None:
        return []
    roles = []
    for part in re.split(r"[、,，;；/\s]+", str(value)):
        if not part:
            continue
        role = next((r for r, words in ROLE_WORDS.items() if part in words or part == str(r.label)), None)
        if role is None:
            raise Unreadable(_("角色“%(value)s”无法识别（可填：领导、督办、责任人、办公室、管理员，多个用“、”隔开）")
                             % {"value": part})
        if role not in roles:
            roles.append(role)
    return roles


def split_names(value):
    """Several units or names in one cell, joined by 、 , ; or line breaks."""
    if value is None:
        return []
    return [part for part in re.split(r"[、,，;；\n]+", str(value).strip()) if part.strip()]


def text(value):
    if value is None:
        return ""
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value).strip()


def key_text(value):
    """编号/序号 as text: 3, 3.0 and "3" are one key."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return text(value)
