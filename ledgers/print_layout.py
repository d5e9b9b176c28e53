"""How a write-only sheet prints: its fit-to-width scale and the row heights its wrapped text needs.

Excel, WPS and LibreOffice shrink a sheet set to "fit to one page wide" until its columns fit the
printable width, and every font shrinks with it: forty columns on A4 print at about 4 pt. The
writers here keep each sheet narrow enough that its smallest text still prints at MIN_PRINTED_PT.

Column widths are in characters of the workbook's default font (Calibri 11: 7 px a character at
96 dpi, so 5.25 pt a unit). Write-only sheets never grow a row for wrapped text, so the height is
estimated from the text's display width (CJK characters count two) and set before the row is written.
"""

import math

MIN_PRINTED_PT = 8
POINTS_PER_WIDTH_UNIT = 7 * 72 / 96  # a Calibri-11 character is 7 px wide at 96 dpi
PAPER_POINTS = {"A4": (595.28, 841.89), "A3": (841.89, 1190.55)}  # portrait (width, height)
MARGIN_INCHES = 0.4  # left and right margins of every printed sheet
LINE_FACTOR = 1.45  # line height as a multiple of the font size (Noto CJK, the tallest, fits)
CELL_PADDING_PX = 4
# A line holds a little less than its width: punctuation may not start a line (kinsoku), so
# LibreOffice and Excel move a character down now and then.
LINE_FILL = 0.92


def printable_width(paper, landscape, margin_inches=MARGIN_INCHES):
    width, height = PAPER_POINTS[paper]
    return (height if landscape else width) - 2 * margin_inches * 72


def print_scale(widths, paper="A4", landscape=True, margin_inches=MARGIN_INCHES):
    """The scale fit-to-width applies: never above 1 (a narrow sheet is not enlarged)."""
    total = sum(widths) * POINTS_PER_WIDTH_UNIT
    return min(1.0, printable_width(paper, landscape, margin_inches) / total) if total else 1.0


def max_total_width(font_size, paper="A4", landscape=True):
    """The widest a sheet may be (in width units) for text of `font_size` to print at MIN_PRINTED_PT."""
    scale = MIN_PRINTED_PT / font_size
    return printable_width(paper, landscape) / scale / POINTS_PER_WIDTH_UNIT


def fast_width(text):
    """Display width, CJK counting two: an upper bound of `xlsx.display_width` computed in C
    (every non-ASCII character counts two), fast enough for every cell of a province's lists."""
    return 2 * len(text) - len(text.encode("ascii", "ignore"))


def text_lines(text, width, font_size=10):
    """Lines `text` takes in a column `width` units wide when wrapped."""
    if not text:
        return 1
    text = str(text)
    capacity = max(1.0, LINE_FILL * (width * 7 - CELL_PADDING_PX) / (font_size * 96 / 72 / 2))
    if "\n" not in text:
        return max(1, math.ceil(fast_width(text) / capacity))
    return sum(max(1, math.ceil(fast_width(line) / capacity)) for line in text.split("\n"))


def row_height(lines, font_size=10):
    return round(lines * font_size * LINE_FACTOR + 3, 1)


class PrintRows:
    """Wraps a `FastRows`: plain text cells get the wrapping style and each row the height its
    wrapped text needs."""

    def __init__(self, rows, widths, wrap_style, *, font_size=11, min_height=15):
        self.rows = rows
        self.widths = widths
        self.wrap_style = wrap_style
        self.font_size = font_size
        self.min_height = min_height

    def append(self, values):
        from .xlsx import Styled

        cells, lines = [], 1
        for value, width in zip(values, self.widths):
            if type(value) is str:
                if value:
                    lines = max(lines, text_lines(value, width, self.font_size))
                value = Styled(value, self.wrap_style)
            cells.append(value)
        cells.extend(values[len(cells):])
        height = row_height(lines, self.font_size)
        self.rows.append(cells, height=height if height > self.min_height else None)
