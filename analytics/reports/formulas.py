"""The one rule for text in a spreadsheet cell: text a spreadsheet would run as a formula
gets a leading apostrophe (as Superset and OWASP do), numbers stay numbers.

A cell is a formula to Excel or LibreOffice when its text starts with = + - @, a tab or a
carriage return. Every writer applies this rule to every text that reaches a cell (data,
column headers, titles, filter descriptions, notes): the streaming xlsx writer in its
``Sheet.append``, the CSV writers through ``neutralise``, DuckDB's CSV export through
the same patterns in SQL (``storage.exports.neutralised_sql``). Text that is only a number
(``-12.5``, ``-1,234.50``, ``+5%``) is left alone: it holds no name, reference or call, so
it cannot run anything, and a negative number written as text stays readable. Number
cells are never touched. Sheet names cannot start with an apostrophe (Excel refuses the
file), so ``sheet_title`` puts an underscore before a trigger instead.
"""
from __future__ import annotations

import re

TRIGGERS = "=+-@\t\r"
# As regular expressions that Python and DuckDB (RE2) read alike: SQL takes them as they are.
TRIGGER_PATTERN = r"^[=+\-@\t\r]"
NUMBER_PATTERN = r"[+-]?[$€£¥]?\.?[0-9][0-9., ]*([eE][+-]?[0-9]+)?%?"  # a whole text that is a number
_NUMBER = re.compile(NUMBER_PATTERN)
_SHEET_BAD = re.compile(r"[\[\]:*?/\\\x00-\x1f]")
SHEET_NAME_MAX = 31  # Excel's limit


def neutralise(value):
    """``value`` as a cell may hold it: text that would run as a formula gets a leading
    apostrophe; anything else (numbers, dates, safe text) comes back as it was."""
    if isinstance(value, str) and value[:1] in TRIGGERS and value and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def cell_text(value) -> str:
    """A value that is neither text nor a number (a list, an interval, a decimal) as the
    text a cell shows, neutralised like any text."""
    return neutralise(str(value))


def sheet_title(name) -> str:
    """A valid Excel sheet name that does not start like a formula: no []:*?/\\ or
    control characters, no apostrophe at either end, 31 characters at most, not
    "History" (Excel keeps that name for itself). Applying it twice changes nothing."""
    text = _SHEET_BAD.sub("_", "" if name is None else str(name)).strip("'").strip()
    if text[:1] in TRIGGERS and text:
        text = "_" + text
    text = text[:SHEET_NAME_MAX].rstrip("'") or "Sheet"
    return text + "_" if text.lower() == "history" else text
