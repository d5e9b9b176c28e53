"""Files in the shapes offices keep, built with openpyxl for the import tests."""

import datetime
import os
import tempfile

from openpyxl import Workbook

LEDGER_HEADER_TOP = ["序号", "单位", "问题描述", "问题类别", "整改措施", "牵头单位", "配合单位", "责任人", "整改时限",
                     "整改情况", None]
LEDGER_HEADER_CHILD = [None, None, None, None, None, None, None, None, None, "完成情况", "销号时间"]


def ledger_rows():
    """Four measures of three problems, in the words offices use."""
    return [
        [1, "赫山区", "申请人已提交身份证，仍需填写民族成分确认表", "审批时限有待压缩", "取消民族成分确认表",
         "赫山区行政审批服务局", "赫山区", "陈卡", datetime.datetime(2022, 6, 30), "已完成", "2022年6月20日"],
        [2, "赫山区", "不动产登记与缴税需分别排队", "协调", "推行“一窗办理”", "赫山区行政审批服务局", None, "carol",
         "6月底前", "正在推进", None],
        [None, None, None, None, "不动产与税务数据共享", None, None, "陈卡", "2022.9.30", "未完成", None],
        [3, "赫山区", "自助查询机不能正常打开", "窗口", "建立每日开机巡检制度", None, None, "李爱丽", "长期坚持",
         None, None],
    ]


def save(workbook, suffix=".xlsx"):
    handle, path = tempfile.mkstemp(suffix=suffix, prefix="walkflow-import-")
    os.close(handle)
    workbook.save(path)
    return path


def ledger_workbook(rows=None, title="赫山区走流程问题整改台账", extra_sheet=True):
    """A merged title row, two header rows with merged cells, a blank row and a subtotal row."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "整改台账"
    sheet.append([title])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(LEDGER_HEADER_TOP))
    sheet.append(LEDGER_HEADER_TOP)
    sheet.append(LEDGER_HEADER_CHILD)
    for column in range(1, 10):
        sheet.merge_cells(start_row=2, start_column=column, end_row=3, end_column=column)
    sheet.merge_cells(start_row=2, start_column=10, end_row=2, end_column=11)
    for row in rows if rows is not None else ledger_rows():
        sheet.append(row)
    sheet.append([])
    sheet.append(["合计", None, "3个问题", None, "4条措施"])
    if extra_sheet:
        notes = workbook.create_sheet("填表说明")
        notes.append(["本表由区优化办汇总，每月5日前报送。"])
    return save(workbook)


def write_csv(rows, encoding, bom=False):
    import csv
    import io

    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    data = buffer.getvalue().encode(encoding)
    if bom:
        data = b"\xef\xbb\xbf" + data
    handle, path = tempfile.mkstemp(suffix=".csv", prefix="walkflow-import-")
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    return path
