"""Numbers as people write them in exports: "1.234,56" (decimal comma), "1,234.50"
(thousands comma), "1 234" (French spaces), "1'234" (Swiss), "$1,234.00", "12 %",
"(123)" for -123 (finance), and "-", "--", "n/a" for a missing value.

A column of text is read as numbers only when every value that is not a missing-value
word reads under ONE convention (one decimal mark, one thousands separator, one currency,
percent signs on all values or none). "1,234" alone fits both "decimal comma" (1.234) and
"thousands comma" (1234): the decimal mark the rest of the file proves decides, and
without proof the delimiter does (a semicolon file is European: decimal comma). The
detection is pure Python over the distinct sampled values of columns that look like
numbers at all; the conversion is SQL (number_sql) so that writing stays in DuckDB.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from storage.duck import literal

# Words that stand for "no value" in a numeric column of an export: "-" and "--" (Excel
# and finance), dashes, "." and "x" (German statistics offices), ":" (Eurostat), "...".
# Only read as missing when every other value of the column is a number.
MISSING_WORDS = ("-", "--", "---", "–", "—", ".", "..", "...", "…", ":", "x", "X", "n/a", "N/A", "n.a.", "N.A.",
                 "na", "NA", "#N/A", "NULL", "null", "NaN", "nan", "?")
CURRENCIES = ("$", "€", "£", "¥", "₹", "EUR", "USD", "GBP", "CHF", "JPY")
DECIMALS = (".", ",")
THOUSANDS = ("", ",", ".", " ", "'")  # " " stands for any space (normal, non-breaking, narrow)
SPACES = " \u00a0\u202f"
APOSTROPHES = "'\u2019"

_CURRENCY = "|".join(re.escape(c) for c in CURRENCIES)
# The shape of a number with its trimmings; the body is checked per convention below.
_SHAPE = re.compile(
    rf"^(?P<open>\()?\s*(?P<sign1>[-+\u2212])?\s*(?P<cur1>{_CURRENCY})?\s*(?P<sign2>[-+\u2212])?\s*"
    rf"(?P<body>[0-9](?:[0-9.,'\u2019{SPACES}]*[0-9])?|[.,][0-9]+)"
    rf"\s*(?P<cur2>{_CURRENCY})?\s*(?P<pct>%)?\s*(?P<close>\))?$"
)
# What a column must look like before the per-convention check is worth doing: digits,
# separators, signs, currency and percent signs. Cheap enough to run on every text
# column of the sample in SQL (RE2 syntax).
_CURRENCY_SQL = r"([$€£¥₹]|EUR|USD|GBP|CHF|JPY)?"
LOOKS_NUMERIC_SQL = (r"^\(?\s*[-+\x{2212}]?\s*" + _CURRENCY_SQL + r"\s*[-+\x{2212}]?\s*[0-9.,]"
                     r"[0-9.,'\x{2019}\s\x{00a0}\x{202f}]*\s*" + _CURRENCY_SQL + r"\s*%?\s*\)?$")
MISSING_WORDS_SQL = "[" + ", ".join(literal(w) for w in MISSING_WORDS) + "]"


@dataclass
class NumberFormat:
    """How one column writes its numbers."""

    decimal: str = "."
    thousands: str = ""
    currency: str = ""
    percent: bool = False
    parentheses: bool = False  # negatives written (123)
    missing: list[str] = field(default_factory=list)  # the missing-value words seen
    integer: bool = False
    ambiguous: bool = False  # "1,234" fitted both decimal marks; the file's decided

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> "NumberFormat | None":
        if not data:
            return None
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    @property
    def is_plain(self) -> bool:
        """Whether DuckDB reads these values itself (1234.5, no trimmings)."""
        return (self.decimal == "." and not self.thousands and not self.currency and not self.percent
                and not self.parentheses and not self.missing)

    def describe(self) -> str:
        """In words for the import screen: "decimal comma, thousands separator ., '-' read as missing"."""
        parts = []
        if self.decimal == "," and not self.integer:
            parts.append("decimal comma")
        if self.thousands:
            parts.append(f"thousands separator {THOUSANDS_LABELS[self.thousands]}")
        if self.currency:
            parts.append(f"currency {self.currency} dropped")
        if self.percent:
            parts.append("% dropped (values in percent)")
        if self.parentheses:
            parts.append("(123) read as -123")
        if self.missing:
            parts.append(", ".join(f"'{w}'" for w in self.missing) + " read as missing")
        return ", ".join(parts)


THOUSANDS_LABELS = {"": "none", ",": "','", ".": "'.'", " ": "space", "'": "apostrophe"}


def _body_fits(body: str, decimal: str, thousands: str) -> bool:
    if thousands == " ":
        separators = "[" + SPACES + "]"
    elif thousands == "'":
        separators = "[" + APOSTROPHES + "]"
    else:
        separators = re.escape(thousands)
    dec = re.escape(decimal)
    plain = rf"[0-9]+(?:{dec}[0-9]+)?|{dec}[0-9]+"
    if thousands:
        grouped = rf"[0-9]{{1,3}}(?:{separators}[0-9]{{3}})+(?:{dec}[0-9]+)?"
        return re.fullmatch(f"{grouped}|{plain}", body) is not None
    return re.fullmatch(plain, body) is not None


CONVENTIONS = tuple((d, t) for d in DECIMALS for t in THOUSANDS if t != d)


def detect(values: list[str], decimal: str | None = None, thousands: str | None = None) -> dict | None:
    """What the distinct ``values`` of one column allow: None when they are not all
    numbers under one convention, else {"fits": [(decimal, thousands), ...],
    "format": NumberFormat without the decimal decided}. ``decimal``/``thousands`` are
    the person's choices and narrow the conventions tried."""
    conventions = [(d, t) for d, t in CONVENTIONS
                   if (decimal is None or d == decimal) and (thousands is None or t in (thousands, ""))]
    fits = set(conventions)
    currencies, missing = set(), []
    percent_values = numbers = 0
    parentheses = False
    for raw in values:
        value = raw.strip(SPACES + "\t")
        if not value:
            continue
        if value in MISSING_WORDS:
            if value not in missing:
                missing.append(value)
            continue
        match = _SHAPE.match(value)
        if match is None or bool(match["open"]) != bool(match["close"]):
            return None
        if match["open"] and (match["sign1"] or match["sign2"]):
            return None  # "(-12)" says nothing a person means
        if match["cur1"] and match["cur2"]:
            return None
        body = match["body"]
        if len(body) > 1 and body[0] == "0" and body[1].isdigit():
            return None  # 007, 01234: codes keep their zeros
        numbers += 1
        parentheses = parentheses or bool(match["open"])
        percent_values += bool(match["pct"])
        if match["cur1"] or match["cur2"]:
            currencies.add(match["cur1"] or match["cur2"])
        fits = {(d, t) for d, t in fits if _body_fits(body, d, t)}
        if not fits or len(currencies) > 1:
            return None
    if not numbers or percent_values not in (0, numbers):
        return None
    ordered = [c for c in conventions if c in fits]
    return {"fits": ordered, "format": NumberFormat(currency=next(iter(currencies), ""), percent=bool(percent_values),
                                                    parentheses=parentheses, missing=missing)}


def proven_decimal(found: dict) -> str | None:
    """The decimal mark one column's values prove, or None when both fit."""
    marks = {d for d, _ in found["fits"]}
    return next(iter(marks)) if len(marks) == 1 else None


def decide(found: dict, decimal: str, values: list[str]) -> NumberFormat:
    """The column's format under the file's ``decimal`` mark (used only when the values
    allow both marks), with the thousands separator the values use."""
    marks = [d for d, _ in found["fits"]]
    chosen = decimal if decimal in marks else marks[0]
    separators = [t for d, t in found["fits"] if d == chosen]
    # A separator no value uses fits trivially; "" fits only when none is used.
    thousands = "" if "" in separators else separators[0]
    fmt = found["format"]
    fmt.decimal, fmt.thousands = chosen, thousands
    fmt.ambiguous = len(set(marks)) > 1 and _uses_mark(values, ",." if chosen == "." else ".,")
    fmt.integer = not any(_has_fraction(v, chosen, thousands) for v in values)
    return fmt


def _uses_mark(values: list[str], marks: str) -> bool:
    return any(m in v for v in values for m in marks)


def _has_fraction(value: str, decimal: str, thousands: str) -> bool:
    value = value.strip(SPACES + "\t")
    if value in MISSING_WORDS:
        return False
    match = _SHAPE.match(value)
    return match is not None and decimal in match["body"] and decimal != thousands


def parse_value(value: str, fmt: NumberFormat) -> float | None:
    """One value read under ``fmt`` in Python, as number_sql reads it in SQL (for the
    examples the import screen shows)."""
    value = value.strip(SPACES + "\t")
    if not value or value in MISSING_WORDS:
        return None
    match = _SHAPE.match(value)
    if match is None:
        return None
    body = re.sub("[" + SPACES + APOSTROPHES + "]", "", match["body"])
    if fmt.thousands in (",", "."):
        body = body.replace(fmt.thousands, "")
    if fmt.decimal == ",":
        body = body.replace(",", ".")
    number = float(body)
    negative = bool(match["open"]) or "-" in (match["sign1"] or "") + (match["sign2"] or "") \
        or "\u2212" in (match["sign1"] or "") + (match["sign2"] or "")
    return -number if negative else number


def number_sql(fmt: NumberFormat, source_expr: str, cast: str, target: str) -> str:
    """SQL turning the text ``source_expr`` written in ``fmt`` into ``target`` (DOUBLE or
    BIGINT): missing words become NULL, (123) becomes -123, currency, percent signs,
    spaces and the thousands separator go, the decimal mark becomes a point."""
    text = f"trim(CAST({source_expr} AS VARCHAR), {literal(SPACES + chr(9))})"
    strip = r"[\s\x{00a0}\x{202f}()%$€£¥₹]|EUR|USD|GBP|CHF|JPY"
    if fmt.thousands == "'":
        strip += r"|['\x{2019}]"
    cleaned = f"replace(regexp_replace({text}, {literal(strip)}, '', 'g'), '\u2212', '-')"
    if fmt.thousands in (",", "."):
        cleaned = f"replace({cleaned}, {literal(fmt.thousands)}, '')"
    if fmt.decimal == ",":
        cleaned = f"replace({cleaned}, ',', '.')"
    signed = f"(CASE WHEN starts_with({text}, '(') THEN '-' ELSE '' END || {cleaned})" if fmt.parentheses else cleaned
    return (f"CASE WHEN {text} = '' OR list_contains({MISSING_WORDS_SQL}, {text}) THEN NULL "
            f"ELSE {cast}({signed} AS {target}) END")
