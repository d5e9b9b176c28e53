"""Workbooks the import hands out: a template per kind (an example sheet and a 说明 sheet) and the
activation codes of imported users. Small, so plain openpyxl; every text cell is written as text."""

import io

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from ..xlsx import FORMULA_STARTS, display_width, safe_text
from .headers import FIELDS, REQUIRED

HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
EXAMPLES = {
    "units": [
        ["湖南省", "430000", "", "省", "地区", ""],
        ["益阳市", "430900", "430000", "市州", "地区", ""],
        ["赫山区", "430903", "湖南省/益阳市", "县市区", "地区", ""],
        ["赫山区行政审批服务局", "430903-XZSP", "430903", "县市区", "部门", "区审批局"],
    ],
    "users": [
        ["陈卡", "chenka", "13800000001", "430903-XZSP", "责任人", "副局长", ""],
        ["王建国", "", "13800000002", "湖南省/益阳市", "督办、领导", "督查科科长", ""],
    ],
    "ledger": [
        ["YY-001", 1, "赫山区", "申请人已提交身份证，仍需填写民族成分确认表", "审批时限有待压缩",
         "取消民族成分确认表，由系统自动比对身份证信息", "赫山区行政审批服务局", "赫山区公安分局", "陈卡",
         "2022年6月30日", "已完成", "2022/6/20", ""],
        ["YY-002", 2, "赫山区", "不动产登记与税务缴税需分别排队", "协调", "推行不动产登记与缴税“一窗办理”",
         "赫山区行政审批服务局", "", "陈卡", "6月底前", "正在推进", "", ""],
        ["YY-003", 3, "赫山区", "政务服务中心自助查询机不能正常打开", "窗口", "建立每日开机巡检制度",
         "赫山区行政审批服务局", "", "陈卡", "长期坚持", "未完成", "", ""],
    ],
}
NOTES = {
    "units": [
        _("单位代码：单位的内部代码或统一社会信用代码，全省唯一；再次导入时按单位代码更新，不会重复创建。"),
        _("上级单位：填上级单位的代码，或名称路径，如“湖南省/益阳市”；可以是本表中前面或后面的单位。留空表示本人所在单位。"),
        _("层级：省、市州、县市区、乡镇街道、村社区；部门可留空，与上级单位同一层级。"),
        _("类型：地区或部门；留空时按名称判断（以局、委、办、中心等结尾的为部门）。"),
    ],
    "users": [
        _("用户名：登录用的账号；留空时用手机号，手机号已被使用时用“单位代码_序号”。"),
        _("已有账号（用户名相同，或同一单位内姓名和手机号相同）只更新信息，不重复创建，原密码不变。"),
        _("单位：填单位代码或名称路径，如“湖南省/益阳市/赫山区”。"),
        _("角色：领导、督办、责任人、办公室、管理员，多个用“、”或“,”隔开；只能授予您本人具有的角色。"),
        _("新账号没有初始密码：导入后下载激活码文件，分发给本人；本人在登录页的“激活账号”中凭激活码自行设置密码。"
          "激活码只能使用一次，14 天内有效。"),
    ],
    "ledger": [
        _("每行一条整改措施。一个问题有多条措施时，问题描述可以合并单元格，或只在第一行填写。"),
        _("编号或序号：再次导入同一文件时按编号（无编号时按序号，再无时按单位和问题描述）找到已导入的措施，"
          "内容有变化的更新，没有变化的跳过，不会重复创建。"),
        _("问题类别：系统、流程、协调、窗口，或细分类名称（如“审批时限有待压缩”）。"),
        _("整改时限：Excel 日期，或 2022年6月30日、2022.6.30、2022/6/30、6月底前（专项行动当年）；"
          "“长期坚持”按长期坚持类导入，时限记为专项行动结束日或当年年底。"),
        _("完成情况：已完成、已整改、已销号（按已销号导入，销号时间取“销号时间”列）；正在推进（整改中）；未完成（待整改）。"),
        _("责任人：填姓名或用户名，须是本单位或下级单位具有“责任人”角色的账号。"),
        _("表头可以有标题行、两行合并表头；合计、小计行自动跳过；多个工作表依次导入。"),
    ],
}
TEMPLATE_NAMES = {"units": _("单位导入模板.xlsx"), "users": _("用户导入模板.xlsx"), "ledger": _("整改台账导入模板.xlsx")}


def _put(sheet, row, column, value, **style):
    cell = sheet.cell(row=row, column=column)
    if isinstance(value, Promise):
        value = str(value)
    if isinstance(value, str):
        cell.value = safe_text(value)
        cell.data_type = "s"
        if value.startswith(FORMULA_STARTS):
            cell.quotePrefix = True
    else:
        cell.value = value
    for name, item in style.items():
        setattr(cell, name, item)
    return cell


def template(kind):
    """The template workbook for `kind` as bytes."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = str(_("示例"))
    headers = [str(label) for label, _synonyms in FIELDS[kind].values()]
    required = {str(FIELDS[kind][name][0]) for name in REQUIRED[kind]}
    if kind == "ledger":
        headers = headers[:-1]  # 发现时间 is optional and rare: the template keeps to what offices keep
    for column, header in enumerate(headers, start=1):
        label = f"{header}*" if header in required else header
        _put(sheet, 1, column, label, font=Font(bold=True), fill=HEADER_FILL,
             alignment=Alignment(horizontal="center", vertical="center", wrap_text=True))
        width = max([display_width(label)] + [display_width(r[column - 1]) for r in EXAMPLES[kind]])
        sheet.column_dimensions[get_column_letter(column)].width = min(max(width + 2, 8), 24)
    for row_number, row in enumerate(EXAMPLES[kind], start=2):
        sheet.row_dimensions[row_number].height = 48  # room for the wrapped problem and measure texts
        for column, value in enumerate(row[:len(headers)], start=1):
            _put(sheet, row_number, column, value, alignment=Alignment(vertical="top", wrap_text=True))
    sheet.freeze_panes = "A2"
    _page(sheet)
    notes = workbook.create_sheet(str(_("说明")))
    notes.column_dimensions["A"].width = 80  # one A4 portrait page wide
    _put(notes, 1, 1, _("填写说明（带 * 的列必填；第一行是表头，表头文字可用常见的同义说法）"), font=Font(bold=True, size=12))
    for row_number, text in enumerate(map(str, NOTES[kind]), start=2):
        _put(notes, row_number, 1, f"{row_number - 1}. {text}", alignment=Alignment(wrap_text=True, vertical="top"))
        notes.row_dimensions[row_number].height = 15 * (1 + display_width(text) // 76)
    synonyms_row = len(NOTES[kind]) + 3
    _put(notes, synonyms_row, 1, _("可识别的表头"), font=Font(bold=True))
    for offset, (label, synonyms) in enumerate(FIELDS[kind].values(), start=1):
        line = f"{label}：{'、'.join(synonyms)}"
        _put(notes, synonyms_row + offset, 1, line, alignment=Alignment(wrap_text=True, vertical="top"))
        notes.row_dimensions[synonyms_row + offset].height = 15 * (1 + display_width(line) // 76)
    _page(notes, landscape=False)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _page(sheet, landscape=True):
    sheet.page_setup.orientation = "landscape" if landscape else "portrait"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True


def credentials(rows, activate_url):
    """The activation codes for the administrator: one row per user."""
    from django.utils import timezone

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = str(_("激活码"))
    headers = [str(h) for h in (_("姓名"), _("用户名"), _("单位"), _("激活码"), _("有效期至"), _("激活网址"))]
    widths = [12, 18, 30, 28, 18, 40]
    for column, (header, width) in enumerate(zip(headers, widths), start=1):
        _put(sheet, 1, column, header, font=Font(bold=True), fill=HEADER_FILL)
        sheet.column_dimensions[get_column_letter(column)].width = width
    for row_number, (user, code, expires) in enumerate(rows, start=2):
        for column, value in enumerate([str(user), user.username, user.unit.name if user.unit_id else "", code,
                                        f"{timezone.localtime(expires):%Y-%m-%d %H:%M}", activate_url], start=1):
            _put(sheet, row_number, column, value)
    sheet.freeze_panes = "A2"
    _page(sheet)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
