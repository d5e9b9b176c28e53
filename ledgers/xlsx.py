"""The one way user text reaches a spreadsheet cell: `FastRows`.

openpyxl writes any string starting with "=" as a live formula, and Excel/WPS may turn "+", "-" and
"@" into one when the user edits the cell. Control characters make the writer raise and abort the
whole export. `FastRows` writes every string as an inline string (never a formula) after
`safe_text`, and text that looks like a formula also gets Excel's "quote prefix" style, so it stays
text even when someone edits it. The text itself is unchanged (a literal "_xHHHH_" is escaped so
that Excel shows it as typed, see `excel_literal`).
"""

import re

from openpyxl.cell import WriteOnlyCell

MAX_CELL_CHARS = 32767
TRUNCATION_MARK = "…（已截断）"
# Control characters, and what XML 1.0 cannot carry at all (lone surrogates, U+FFFE, U+FFFF).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
FORMULA_STARTS = ("=", "+", "-", "@")
# Excel and WPS read "_xHHHH_" in a string cell as the character U+HHHH (ECMA-376 ST_Xstring), so
# typed "_x003D_1" would show as "=1". An underscore that starts such a sequence is written as
# "_x005F_" (an escaped underscore), which they read back as "_". A lookahead, so that in
# "_x0041_x0042_" the second sequence, sharing the first one's closing underscore, is escaped too.
_EXCEL_ESCAPE = re.compile("_(?=x[0-9A-Fa-f]{4}_)")


def safe_text(value):
    """The text as it may stand in a cell: control characters removed, cut to the cell limit."""
    if value is None:
        return ""
    text = _CONTROL.sub("", str(value))
    if len(text) > MAX_CELL_CHARS:
        text = text[: MAX_CELL_CHARS - len(TRUNCATION_MARK)] + TRUNCATION_MARK
    return text


def excel_literal(text):
    """The text with every literal "_xHHHH_" protected from Excel's decoding."""
    return _EXCEL_ESCAPE.sub("_x005F_", text)


def display_width(text):
    """Column width for text: CJK characters take two columns in Excel and WPS."""
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in str(text))


# -- styles and fast rows for write-only sheets ----------------------------------------------------


def style(sheet, *, number_format=None, font=None, fill=None, alignment=None, border=None):
    """A style array for the sheet's workbook; `FastRows.style_id` turns it into the id cells use."""
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


class Styled(tuple):
    """(value, style id) for one `FastRows` cell that needs a style (a date format, a bold header)."""

    def __new__(cls, value, style_id):
        return super().__new__(cls, (value, style_id))


class FastRows:
    """Rows of plain values written straight into a write-only sheet's XML: one lxml element per
    row instead of openpyxl's Cell object and nested write per value (the 95,000-item ledger
    export: 26 s -> 16 s). Text goes through `safe_text`; text that looks like a formula gets a
    quote-prefixed style. Set the sheet's column widths, panes and page setup before creating
    this: they are written when the writer starts.

    It replaces two private pieces of openpyxl's write-only worksheet (`_values_to_row` and the
    writer's `write_row`); openpyxl is pinned (requirements.txt) and the read-back tests of every
    export would catch a change."""

    def __init__(self, sheet):
        sheet._get_writer()
        sheet._values_to_row = _as_is
        sheet._writer.write_row = self._write_row
        self.sheet = sheet
        self.workbook = sheet.parent
        self._quoted = {}
        self._letters = []
        self._height = None

    def style_id(self, style_array):
        return str(self.workbook._cell_styles.add(style_array))  # an IndexedList: one id per style

    def append(self, values, height=None):
        """Write a row; `height` (points) for a row of wrapped text, which write-only sheets never
        measure themselves."""
        self._height = height
        self.sheet.append(values)

    def _quoted_style(self, style_id):
        if style_id not in self._quoted:
            from openpyxl.styles.cell_style import StyleArray

            base = self.workbook._cell_styles[int(style_id)] if style_id else StyleArray()
            quoted = StyleArray(base)
            quoted.quotePrefix = 1
            self._quoted[style_id] = self.style_id(quoted)
        return self._quoted[style_id]

    def _letters_for(self, count):
        from openpyxl.utils import get_column_letter

        while len(self._letters) < count:
            self._letters.append(get_column_letter(len(self._letters) + 1))
        return self._letters

    def _write_row(self, xf, row, row_idx):
        from lxml.etree import Element, SubElement
        from openpyxl.utils.datetime import to_excel

        number = str(row_idx)
        element = Element("row", r=number)
        dimension = self.sheet.row_dimensions.get(row_idx)
        if dimension is not None:  # a height set for this row before it was written
            for key, setting in dict(dimension).items():
                element.set(key, setting)
        if self._height:
            element.set("ht", str(self._height))
            element.set("customHeight", "1")
        for letter, value in zip(self._letters_for(len(row)), row):
            style = None
            if type(value) is Styled:
                value, style = value
            if value is None:
                if style is not None:
                    SubElement(element, "c", r=letter + number, s=style)
                continue
            cell_element = SubElement(element, "c", r=letter + number)
            if isinstance(value, str):
                text = safe_text(value)
                if text.startswith(FORMULA_STARTS):
                    style = self._quoted_style(style)
                cell_element.set("t", "inlineStr")
                holder = SubElement(SubElement(cell_element, "is"), "t")
                holder.text = excel_literal(text)
                if text != text.strip():
                    holder.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
            elif isinstance(value, bool):
                cell_element.set("t", "b")
                SubElement(cell_element, "v").text = "1" if value else "0"
            else:
                if hasattr(value, "year"):  # date or datetime: a serial number shown by its format
                    value = to_excel(value, self.workbook.epoch)
                cell_element.set("t", "n")
                SubElement(cell_element, "v").text = repr(value) if isinstance(value, float) else str(value)
            if style is not None:
                cell_element.set("s", style)
        xf.write(element)


def _as_is(values, row_idx):
    return values
