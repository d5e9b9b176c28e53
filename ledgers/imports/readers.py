"""Spreadsheets as rows of plain values, whatever the office saved.

.xlsx and .xlsm are read by openpyxl in read-only mode with the cached values (`data_only`): a
formula is never evaluated, and macros are never loaded. .csv comes in UTF-8 (with or without the
BOM Excel writes), UTF-16 ("Unicode text") or GBK/GB18030, as Excel on Chinese Windows saves it.
Every problem with the file itself is a `BadFile` with a message for the user; nothing reads
further than `settings.IMPORT_MAX_ROWS` rows.
"""

import codecs
import csv
import datetime
import io
import zipfile
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _

from .base import Refused

MAX_COLUMNS = 60
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # encrypted OOXML and the old .xls are both OLE files
ZIP_MAGIC = b"PK\x03\x04"
# A 20,000-row ledger unpacks to about 15 MB of XML; more than this is a zip bomb, not a ledger.
MAX_UNPACKED_BYTES = 400 * 1024 * 1024
SUFFIXES = (".xlsx", ".xlsm", ".csv")
SCAN_ALLOWANCE = 100  # title, header and blank rows a sheet may hold beyond the data rows


class BadFile(Refused):
    """The file cannot be imported at all; `message` says why, in words for the user."""


@dataclass
class Sheet:
    name: str
    rows: list  # [(row number as the user sees it, tuple of values)]


def max_rows():
    return getattr(settings, "IMPORT_MAX_ROWS", 50000)


def read(path, original_name="", head=None):
    """All sheets of the file at `path` as `Sheet`s; BadFile when it cannot be read. With `head`,
    only the first `head` rows of each sheet: enough to find the header rows, at upload time."""
    with open(path, "rb") as handle:
        magic = handle.read(8)
    if not magic:
        raise BadFile(_("文件是空的，没有任何内容。"))
    name = original_name.lower()
    if magic.startswith(OLE_MAGIC):
        raise BadFile(_("文件设有打开密码，或是旧版 .xls 格式：请在 Excel 或 WPS 中取消密码，"
                        "另存为 .xlsx 后再导入。"))
    if magic.startswith(ZIP_MAGIC):
        return _read_workbook(path, head)
    if name.endswith((".xlsx", ".xlsm")):
        raise BadFile(_("文件扩展名是 .xlsx，但内容不是 Excel 工作簿：文件可能已损坏。"))
    if name.endswith(".csv") or not name:
        return [_read_csv(path, head)]
    raise BadFile(_("不是可以导入的表格文件：请上传 .xlsx、.xlsm 或 .csv 文件。"))


def _read_workbook(path, head=None):
    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        raise BadFile(_("文件已损坏，无法作为 Excel 工作簿打开。")) from None
    if "xl/workbook.xml" not in names:
        raise BadFile(_("这是一个压缩文件，但不是 Excel 工作簿（.docx、.zip 等不能导入）。"))
    if unpacked > MAX_UNPACKED_BYTES:
        raise BadFile(_("工作簿解压后过大，请拆分后分批导入。"))
    try:
        workbook = load_workbook(path, read_only=True, data_only=True, keep_vba=False, keep_links=False)
    except Exception:  # openpyxl raises many kinds for a damaged part; each means the same to the user
        raise BadFile(_("文件已损坏，无法作为 Excel 工作簿打开。")) from None
    try:
        sheets = []
        budget = max_rows()
        for worksheet in workbook.worksheets:
            if not hasattr(worksheet, "iter_rows"):
                continue  # a chart sheet
            if (worksheet.max_row or 0) > max_rows() + SCAN_ALLOWANCE:  # what the sheet says of itself
                raise BadFile(_("文件超过 %(limit)s 行数据，请拆分后分批导入。") % {"limit": max_rows()})
            # Some programs write a wrong <dimension>; read-only mode would trust it and stop early.
            worksheet.reset_dimensions()
            rows = _sheet_rows(worksheet, budget, head)
            budget -= len(rows)
            sheets.append(Sheet(worksheet.title, rows))
    except BadFile:
        raise
    except Exception:
        raise BadFile(_("文件已损坏，无法读取其中的工作表。")) from None
    finally:
        workbook.close()
    return sheets


def _sheet_rows(worksheet, budget, head=None):
    rows = []
    # No max_col: openpyxl would pad every row to it; rows keep their own length, cut at MAX_COLUMNS.
    for number, cells in enumerate(worksheet.iter_rows(values_only=True), start=1):
        values = tuple(clean(value) for value in cells[:MAX_COLUMNS])
        if not any(value is not None for value in values):
            continue
        if len(rows) >= budget:
            raise BadFile(_("文件超过 %(limit)s 行数据，请拆分后分批导入。") % {"limit": max_rows()})
        rows.append((number, values))
        if head is not None and len(rows) >= head:
            break
    return rows


def clean(value):
    """A cell's value as the importers expect it: stripped text, int for whole numbers, date for
    dates (a time of day in a date column is noise); None for empty."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.replace("\u3000", " ").replace("\xa0", " ").strip()
        return value or None
    if isinstance(value, bool):
        return value
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, (datetime.date, int, float)):
        return value
    return str(value).strip() or None


def _decode(data):
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8", errors="strict")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    if b"\x00" in data:
        raise BadFile(_("不是可以导入的表格文件：请上传 .xlsx、.xlsm 或 .csv 文件。"))
    for encoding in ("utf-8", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise BadFile(_("无法识别 CSV 文件的编码：请在 Excel 中另存为“CSV UTF-8（逗号分隔）”后再导入。"))


def _read_csv(path, head=None):
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        text = _decode(data)
    except UnicodeDecodeError:
        raise BadFile(_("CSV 文件的编码有误：文件开头标明 UTF-8，但内容不是 UTF-8。")) from None
    sample = text[:20000]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",\t;|")
    except csv.Error:
        dialect = csv.excel
    rows = []
    limit = max_rows()
    try:
        for number, cells in enumerate(csv.reader(io.StringIO(text, newline=""), dialect), start=1):
            values = tuple(clean(value) for value in cells[:MAX_COLUMNS])
            if not any(value is not None for value in values):
                continue
            if len(rows) >= limit:
                raise BadFile(_("文件超过 %(limit)s 行数据，请拆分后分批导入。") % {"limit": limit})
            rows.append((number, values))
            if head is not None and len(rows) >= head:
                break
    except csv.Error:
        raise BadFile(_("CSV 文件格式有误（引号不成对），无法读取。")) from None
    if not rows:
        raise BadFile(_("文件是空的，没有任何内容。"))
    return Sheet("CSV", rows)
