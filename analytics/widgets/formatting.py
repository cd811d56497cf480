"""Numbers as the dashboard shows them, shared by the screen, the PDF, the HTML report
and the schedule's mail so that a KPI reads the same everywhere.

Two rules beyond plain d3-formats:
- Years and other date parts, identifiers and codes are labels, not amounts: never a
  thousands separator ("2013", not "2,013"). A column's role says so when it is known
  (``role`` strings: "date_part", "identifier", "code", "measure", ...); without one, an
  integer column named like a date part (year, month, day, hour, quarter, weekday...) with
  values that fit one, or named like an identifier (…ID, …No, code, zip), is taken as one.
- One column, one look: a table column gets one number of decimals decided from all its
  values (``column_d3_format``), so "9,952.00" sits above "10,086.02", never "9,952".
"""
from __future__ import annotations

import math
import re

# Roles whose numbers are labels: written without thousands separators.
LABEL_ROLES = ("date_part", "identifier", "code")
# Name words of a date part and the largest value each can hold (a "week" column with
# values up to 99 is hours per week, not a week number).
DATE_PART_WORDS = {"year": 9999, "yr": 9999, "quarter": 4, "qtr": 4, "month": 12, "week": 53, "weekday": 7,
                   "dow": 7, "day": 31, "hour": 23, "minute": 59, "second": 59}
IDENTIFIER_WORDS = ("id", "no", "code", "zip", "zipcode", "postcode", "postal", "fips", "isbn", "ean", "sku")
# Above this many digits a KPI card switches to compact notation (336.8K) on a phone.
COMPACT_ABOVE = 1e5


def name_words(name) -> list[str]:
    """The words of a column name: "CustomerID" → customer, id; "order_year" → order, year."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", str(name or ""))
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", text)
    return [w for w in re.split(r"[^A-Za-z0-9]+", text.lower()) if w]


def no_separator(name, role: str | None, values, whole: bool) -> bool:
    """Whether a column's numbers are labels (years, ids, codes) shown without separators."""
    if role is not None:
        return role in LABEL_ROLES
    if not whole:
        return False
    words = name_words(name)
    numbers = [abs(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    top = max(numbers, default=0)
    if any(w in DATE_PART_WORDS and top <= DATE_PART_WORDS[w] for w in words):
        return True
    return any(w in IDENTIFIER_WORDS for w in words)


def decimals_for(values) -> int:
    """One number of decimals for a whole column: the fewest (up to 2) that write every
    value exactly; beyond that 2, or two significant digits of its smallest fraction
    (0.0034 → 4 decimals, at most 6)."""
    numbers = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)
               and math.isfinite(v)]
    for d in (0, 1, 2):
        if all(abs(round(v, d) - v) <= 1e-9 * max(1.0, abs(v)) for v in numbers):
            return d
    smallest = min((abs(v) for v in numbers if v != 0), default=1.0)
    if smallest >= 1:
        return 2
    return max(2, min(6, 1 - math.floor(math.log10(smallest))))


def decimals_for_step(step: float) -> int:
    """Decimals that write multiples of ``step`` exactly (0.25 → 2, 5 → 0)."""
    for d in range(0, 13):
        if abs(round(step, d) - step) <= 1e-12 * max(1.0, abs(step)):
            return d
    return 12


def column_d3_format(values, role: str | None = None, name=None, column_type: str | None = None) -> str:
    """The d3-format one column of numbers is written with: "d" for labels (2013, 17850),
    ",.Nf" otherwise, N from all the column's values (an integer column: 0)."""
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    whole = column_type == "integer" or all(float(v).is_integer() for v in numbers if math.isfinite(v))
    if no_separator(name, role, numbers, whole) and whole:
        return "d"
    return f",.{0 if column_type == 'integer' else decimals_for(numbers)}f"


def table_formats(columns: list, rows: list[list], types: dict | None = None, roles: dict | None = None) -> list:
    """One d3-format per table column (None for a column without numbers), each decided
    from all of the column's values shown, its type and its role."""
    types, roles = types or {}, roles or {}
    out = []
    for i, name in enumerate(columns):
        values = [r[i] for r in rows if i < len(r)]
        numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if not numbers:
            out.append(None)
            continue
        out.append(column_d3_format(numbers, roles.get(name), name, types.get(name)))
    return out


def format_cell(value, d3_format: str | None) -> str:
    """A table cell as its column's format writes it ("" for an empty cell)."""
    if value is None:
        return ""
    if d3_format is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return format_number(value, d3_format)


def format_number(value, d3_format: str | None = None) -> str:
    """A number as the widget's d3-format asks (the subset the widget registry uses:
    ",.0f", ",.2f", ",.Nf", ".Nf", "d", ",d", ".1%", "$,.2f", ".3s"); thousands
    separators otherwise, never on whole numbers below 10,000 written with "d"."""
    if value is None:
        return "–"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "–"
    fmt = d3_format or ""
    prefix = "$" if fmt.startswith("$") else ""
    if fmt.endswith("%"):
        return f"{value:.1%}"
    if fmt.endswith("s"):  # SI prefixes: 1.23M, 45.6k
        for limit, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
            if abs(value) >= limit:
                return f"{prefix}{value / limit:.3g}{suffix}"
        return f"{prefix}{value:.3g}"
    if fmt in ("d", ",d"):
        whole = int(round(value))
        return f"{whole:,}" if fmt == ",d" else str(whole)
    fixed = re.fullmatch(r"\$?(,?)\.(\d+)f", fmt)
    if fixed:
        return f"{prefix}{value:{fixed.group(1)}.{int(fixed.group(2))}f}"
    if float(value).is_integer():
        return f"{prefix}{value:,.0f}"
    if abs(value) >= 100:
        return f"{prefix}{value:,.2f}"
    return f"{prefix}{value:,.4g}"


def compact_number(value, d3_format: str | None = None) -> str:
    """A long number in a few characters for a small card: 336,776 → "336.8K",
    1,234,567 → "1.2M"; short ones as ``format_number`` writes them."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or abs(value) < COMPACT_ABOVE or (d3_format or "").endswith("%"):
        return format_number(value, d3_format)
    prefix = "$" if (d3_format or "").startswith("$") else ""
    units = ((1e3, "K"), (1e6, "M"), (1e9, "B"), (1e12, "T"))
    index = max(i for i, (limit, _) in enumerate(units) if abs(value) >= limit)
    text = f"{abs(value) / units[index][0]:.1f}"
    if float(text) >= 1000 and index + 1 < len(units):  # 999,960 is "1.0M", not "1000.0K"
        index += 1
        text = f"{abs(value) / units[index][0]:.1f}"
    return f"{'-' if value < 0 else ''}{prefix}{text}{units[index][1]}"
