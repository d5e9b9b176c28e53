"""The one way user text reaches a spreadsheet cell.

openpyxl writes any string starting with "=" as a live formula, and Excel/WPS may turn "+", "-" and
"@" into one when the user edits the cell. Control characters make openpyxl raise and abort the
whole export. Every export writes user text through `text_cell` (or `safe_text` for a normal-mode
sheet): the cell is typed as a string, and text that looks like a formula also gets Excel's
"quote prefix" flag, so it stays text even when someone edits it. The text itself is unchanged.
"""

import re

from openpyxl.cell import WriteOnlyCell

MAX_CELL_CHARS = 32767
TRUNCATION_MARK = "…（已截断）"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
FORMULA_STARTS = ("=", "+", "-", "@")


def safe_text(value):
    """The text as it may stand in a cell: control characters removed, cut to the cell limit."""
    if value is None:
        return ""
    text = _CONTROL.sub("", str(value))
    if len(text) > MAX_CELL_CHARS:
        text = text[: MAX_CELL_CHARS - len(TRUNCATION_MARK)] + TRUNCATION_MARK
    return text


def protect(cell, value):
    """Put `value` into `cell` as plain text; works for write-only and normal-mode cells."""
    text = safe_text(value)
    cell.value = text
    cell.data_type = "s"  # never "f", whatever the text starts with
    if text.startswith(FORMULA_STARTS):
        cell.quotePrefix = True
    return cell


def text_cell(sheet, value, style=None):
    """A write-only cell holding `value` as text, never a formula."""
    cell = WriteOnlyCell(sheet)
    if style is not None:
        cell.style = style
    return protect(cell, value)


def display_width(text):
    """Column width for text: CJK characters take two columns in Excel and WPS."""
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in str(text))


# -- fast rows for large write-only sheets --------------------------------------------------------
#
# openpyxl (3.1.5, pinned in requirements.txt) converts every appended value through
# `_values_to_row`, which first tries each one as a plain value and builds an exception for every
# ready-made cell; with a number format set cell by cell on top, that is most of an export's time.
# `stream_cells` lets a sheet take ready-made cells as they are, and `style` makes a style once per
# workbook, so each cell only copies an array.


def stream_cells(sheet):
    sheet._values_to_row = _place_cells
    return sheet


def _place_cells(cells, row_number):
    for column, placed in enumerate(cells, start=1):
        placed.row, placed.column = row_number, column
    return cells


def style(sheet, *, number_format=None, font=None, fill=None, alignment=None, border=None):
    """A style array registered in the sheet's workbook, to pass to `cell(..., style=...)`."""
    from openpyxl.styles.cell_style import StyleArray

    sample = WriteOnlyCell(sheet)
    if number_format is not None:
        sample.number_format = number_format
    if font is not None:
        sample.font = font
    if fill is not None:
        sample.fill = fill
    if alignment is not None:
        sample.alignment = alignment
    if border is not None:
        sample.border = border
    return StyleArray(sample._style)


def cell(sheet, value, style=None):
    """A cell for a `stream_cells` sheet: text through `protect`, other values as they are."""
    from openpyxl.cell.cell import Cell

    if isinstance(value, str):
        return protect(Cell(sheet, style_array=style), value)
    return Cell(sheet, value=value, style_array=style)
