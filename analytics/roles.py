"""What each column *is*: its role. One rule, used everywhere the app chooses on a
person's behalf (generated dashboards, the widget editor, the Analyze forms, the
profile's alerts), so that a mistake is fixed once.

Roles (the strings other modules compare against):
identifier, date_part, time, code, category, measure_additive, measure, geography,
text, constant, boolean.

The decision uses the column's name AND its values together: a column named "year"
whose values are whole numbers between 1700 and 2200 is a date part; "year" with values
1 to 5 (year of study) is not. Names alone are too easy to fool, values alone cannot
tell a flight number from a distance.

Pure: ``infer_roles(schema, stats, rows)`` takes per-column statistics (from the
profile, ``stats_from_profile``, or the one-scan summary in ``analytics.column_stats``)
and returns ``{column: {"role", "detail", "reason"}}``.
"""
from __future__ import annotations

import math
import re

ROLES = ("identifier", "date_part", "time", "code", "category", "measure_additive", "measure", "geography",
         "text", "constant", "boolean")

ROLE_LABELS = {
    "identifier": "Identifier or row number",
    "date_part": "Part of a date (year, month, …)",
    "time": "Date or time",
    "code": "Code (a number or tag that names something)",
    "category": "Category",
    "measure_additive": "Measure that adds up (amounts, counts)",
    "measure": "Measure to average (rates, prices, ages, scores)",
    "geography": "Place",
    "text": "Free text or names",
    "constant": "One value only",
    "boolean": "Yes / no",
}

DETAILS = {
    "date_part": ("year", "quarter", "month", "week", "day", "weekday", "hour", "minute"),
    "geography": ("country", "region", "state", "city", "latitude", "longitude", "postal_code"),
    "code": ("postal_code",),
}

DETAIL_LABELS = {
    "year": "year", "quarter": "quarter", "month": "month", "week": "week of the year", "day": "day of the month",
    "weekday": "day of the week", "hour": "hour", "minute": "minute", "country": "country", "region": "region",
    "state": "state or province", "city": "city", "latitude": "latitude", "longitude": "longitude",
    "postal_code": "postal code",
}

AGGREGATABLE = {"measure_additive", "measure"}
# Roles a chart may group or count by (a bar per value, a filter of values).
GROUPABLE = {"category", "code", "date_part", "geography", "boolean"}


def default_agg(role: str | None) -> str | None:
    """How a measure of this role is summarised by default: "sum" for amounts and counts,
    "mean" for rates, prices, ages, delays; None for a role that is not aggregated (an
    identifier, code, date part, ... is counted, never summed or averaged)."""
    if role == "measure_additive":
        return "sum"
    if role == "measure":
        return "mean"
    return None


def can_aggregate(role: str | None) -> bool:
    """True when summing or averaging a column of this role means something."""
    return role in AGGREGATABLE


def validate(role, detail=None) -> tuple[str, str | None]:
    """(role, detail) checked against the vocabulary; ValueError with a person's message."""
    if not isinstance(role, str) or role not in ROLES:
        shown = role if isinstance(role, str) and len(role) <= 40 else "that"
        raise ValueError(f"{shown!r} is not a column role; choose one of: {', '.join(ROLES)}")
    if detail in (None, ""):
        return role, None
    allowed = DETAILS.get(role, ())
    if not isinstance(detail, str) or detail not in allowed:
        shown = detail if isinstance(detail, str) and len(detail) <= 40 else "that"
        if not allowed:
            raise ValueError(f"The role {role!r} takes no detail (got {shown!r})")
        raise ValueError(f"{shown!r} is not a detail of {role!r}; choose one of: {', '.join(allowed)}")
    return role, detail


def check_fits(role: str, detail: str | None, column_type: str, column: str = "this column") -> None:
    """ValueError when the column's type cannot be what the role says: a measure or a
    latitude must hold numbers, a time must hold dates (queries would fail otherwise)."""
    if role in AGGREGATABLE and column_type not in NUMERIC:
        raise ValueError(f"{column} holds {column_type} values: only a column of numbers can be a measure")
    if detail in ("latitude", "longitude") and column_type not in NUMERIC:
        raise ValueError(f"{column} holds {column_type} values: a {detail} must be a number")
    if role == "time" and column_type not in TEMPORAL:
        raise ValueError(f"{column} holds {column_type} values: only a column of dates or times can be a time; "
                         "change its type when you import it, or choose 'date part' or 'code'")


def describe(role: str, detail: str | None = None) -> str:
    """The role in a few of a person's words, with its detail ("Part of a date: month")."""
    label = ROLE_LABELS.get(role, role).split(" (")[0]
    return f"{label}: {DETAIL_LABELS.get(detail, detail)}" if detail else label


# --- names ----------------------------------------------------------------------------------

def words(name: str) -> list[str]:
    """A column name as lower-case words: "CustomerID" → customer, id; "gdpPercap" → gdp,
    percap; "dep_delay" → dep, delay; "Annual Income (k$)" → annual, income, k."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", spaced)
    return re.findall(r"[a-z]+|[0-9]+", spaced.lower())


_ID_LAST = {"id", "ids", "key", "uuid", "guid", "pk", "identifier"}
_ROW_NUMBER_NAMES = {"index", "idx", "row", "rownum", "rowid", "row_number", "unnamed", "rank", "ranking", "no",
                     "nr", "sn", "sno", "serial"}
_CODE_LAST = {"code", "codes", "zip", "zipcode", "postcode", "postal", "no", "nr", "num", "number", "sku", "isbn",
              "ean", "upc", "phone", "fips", "naics", "sic", "flight", "iata", "icao", "faa", "tz", "cusip", "iban",
              "msisdn", "plate", "tail", "tailnum", "fax"}
_CODE_SUFFIXES = ("code", "num", "zip")
_POSTAL = {"zip", "zipcode", "postcode", "postal", "plz", "cep", "pincode"}

# Date parts: the words that name them and the whole-number range their values must fit.
# Compound names first: "day_of_week" is a weekday, "hour_of_day" an hour.
_DATE_PARTS = (
    ("weekday", {"weekday", "dow", "wday", "dayofweek", "weekdaynum"}, 0, 7),
    ("hour", {"hour", "hr", "hh", "hourofday"}, 0, 24),
    ("minute", {"minute", "minuteofhour"}, 0, 59),
    ("quarter", {"quarter", "qtr"}, 1, 4),
    ("month", {"month", "mon", "mnth", "mm", "monthnum", "monthofyear"}, 1, 12),
    ("week", {"week", "wk", "weeknum", "isoweek", "weekofyear"}, 0, 53),
    ("day", {"day", "dd", "dom", "mday", "dayofmonth"}, 1, 31),
    ("year", {"year", "yr", "yyyy", "yearid", "season"}, 1000, 2200),
)
_MONTH_WORDS = {"month", "mon", "mnth", "monthname", "months"}
_YEAR_WORDS = {"year", "yr", "yyyy", "season"}
# Two-word spellings of the same ("day_of_week", "hour_of_day"); their joined form is looked up.
_JOINABLE = ("of", "the")

_GEO_WORDS = (
    ("country", {"country", "countries", "nation", "nationality", "countryname"}),
    ("state", {"state", "province", "prefecture", "canton", "county"}),
    ("region", {"region", "continent", "subregion", "territory", "district"}),
    ("city", {"city", "town", "municipality", "village", "locality"}),
)
_LAT = {"lat", "latitude", "latitud", "breitengrad"}
_LON = {"lon", "lng", "long", "longitude", "longitud"}

_TEXT_WORDS = {"name", "names", "title", "description", "desc", "comment", "comments", "text", "note", "notes",
               "message", "review", "summary", "address", "street", "email", "mail", "url", "link", "remarks",
               "body", "content", "subject", "label"}

# Measures whose values are attributes of each row's thing, or signed deviations: a sum
# over rows answers no question (a total of ages, of prices, of delays where early
# flights cancel late ones), an average does. Checked before the additive words, so a
# "Spending Score" or a "total_rate" is averaged.
_MEAN_WORDS = {
    "score", "scores", "rate", "rates", "ratio", "percent", "percentage", "pct", "perc", "share", "proportion",
    "fraction", "price", "prices", "age", "rating", "ratings", "avg", "average", "mean", "median", "temperature",
    "temp", "delay", "delays", "late", "lateness", "speed", "velocity", "pressure", "humidity", "humid", "density",
    "percap", "capita", "per", "margin", "probability", "prob", "bmi", "height", "width", "length", "depth", "weight",
    "mass", "diameter", "size", "elevation", "altitude", "alt", "latency", "grade", "gpa", "index", "exp",
    "expectancy", "level", "ph", "wind", "dewp", "visib", "uv", "carat", "rank", "stars", "star", "accuracy", "yield",
    "growth", "change", "return", "returns", "unemployment", "bpm",
    "volatility", "iq", "salary", "wage", "wages", "mpg", "horsepower", "hp",
    "acceleration", "displacement", "cylinders", "petal", "sepal", "flipper", "interest", "coupon",
}
# Non-negative quantities of stuff whose total over rows is itself a quantity: money spent
# or earned, items, people, events, and the distance and time of trips (miles flown,
# minutes in the air add up to the fleet's miles and block hours).
_SUM_WORDS = {
    "sales", "sale", "revenue", "revenues", "amount", "amounts", "quantity", "qty", "count", "counts", "total",
    "cost", "costs", "profit", "profits", "units", "volume", "spend", "spending", "spent", "paid",
    "payment", "income", "turnover", "orders", "visits", "clicks", "views", "impressions", "sold", "duration",
    "minutes", "mins", "hours", "seconds", "secs", "days", "distance", "miles", "km", "kms", "population", "pop",
    "deaths", "death", "cases", "births", "votes", "vote", "precip", "precipitation", "rain", "rainfall", "snow",
    "passengers", "seats", "guests", "items", "goals", "medals", "gold", "silver", "bronze", "downloads",
    "installs", "sessions", "users", "customers", "employees", "tip", "tips", "gdp", "expense", "expenses",
    "budget", "balance", "debt", "energy", "kwh", "consumption", "production", "output", "emissions", "loss",
    "losses", "damage", "donations", "subscribers", "followers", "likes", "transactions",
    "bookings", "nights", "trips", "rides", "calls", "tickets", "crimes", "accidents", "injuries", "fatalities",
    "generation", "freq", "inventory", "stock", "headcount",
}
# Mean words that also end longer names ("bodywt", "heartrate", "unitprice").
_MEAN_SUFFIXES = ("wt", "weight", "rate", "price", "score", "ratio", "pct", "temp", "speed", "height", "length",
                  "width", "mass")
# Levels counted at a moment (people, balances, stock): they add up across things, but
# a table with one row per period holds the same people or money again in every row, so
# a yearly "total" of monthly rows would count them twelve times.
_LEVEL_WORDS = {"population", "pop", "balance", "inventory", "stock", "headcount", "employees", "subscribers",
                "users", "customers", "followers", "debt", "unemployed", "employed"}
# "time" as the last word of a number column: a duration (air_time) unless the values are
# clock times written as hhmm.
_DURATION_LAST = {"time", "duration", "elapsed"}
# Names of integer columns that may hold Unix times (seconds or milliseconds since 1970).
_EPOCH_WORDS = {"ts", "timestamp", "time", "epoch", "unix", "registration", "created", "updated", "date", "datetime",
                "at", "when", "modified"}
_COUNT_FIRST = {"n", "num", "number", "no", "count", "nb", "nbr", "total", "qty"}

_WEEKDAY_NAMES = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "mon", "tue",
                  "tues", "wed", "thu", "thur", "thurs", "fri", "sat", "sun"]
_MONTH_NAMES = ["january", "february", "march", "april", "may", "june", "july", "august", "september",
                "october", "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept",
                "oct", "nov", "dec"]
WEEKDAY_NAMES = sorted(set(_WEEKDAY_NAMES))
MONTH_NAMES = sorted(set(_MONTH_NAMES))

# A share of values at least this large decides a pattern (digits, weekday names, ...).
PATTERN_SHARE = 0.9
# Whole numbers with at most this many distinct values, each repeated, name groups.
FEW_DISTINCT = 12
ROWS_PER_GROUP = 5
# Text with at most this many distinct values is a category; more, and a category only
# while the values repeat (distinct/values at most CATEGORY_SHARE) and are short.
CATEGORY_MAX_DISTINCT = 50
CATEGORY_SHARE = 0.2
CATEGORY_MAX_LENGTH = 40
LONG_TEXT = 50
# Whole, non-negative numbers with skewness at least this (a long tail of large values)
# look like amounts or counts: the shape money and tallies have, unlike ages or scores.
# Not below AMOUNT_MIN_VALUES values: skewness of a handful says little.
AMOUNT_SKEW = 2.0
AMOUNT_MIN_VALUES = 30

NUMERIC = ("integer", "float", "decimal")
TEMPORAL = ("date", "timestamp")
TEXTUAL = ("text", "categorical")


def _joined(ws: list[str]) -> set[str]:
    """The words, plus each run of words joined without separators ("day of week" →
    "dayofweek"), so spelled-out names meet the same sets."""
    found = set(ws)
    found.add("".join(ws))
    found.add("".join(w for w in ws if w not in _JOINABLE))
    return found


def _num(value) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _fmt(value) -> str:
    number = _num(value)
    if number is None:
        return str(value)
    return f"{int(number)}" if number == int(number) else f"{number:g}"


class _Column:
    """One column's facts, read from the stats with defaults for what a source lacks."""

    def __init__(self, entry: dict, stats: dict, rows: int):
        self.name = entry["name"]
        self.type = entry.get("type") or "text"
        self.stats = stats
        self.rows = int(rows or 0)
        missing = stats.get("missing", stats.get("nulls"))
        self.missing = int(missing) if missing is not None else 0
        self.count = max(self.rows - self.missing, 0) if self.rows else int(stats.get("count") or 0)
        distinct = stats.get("distinct")
        self.distinct = int(distinct) if distinct is not None else None
        self.min, self.max = _num(stats.get("min")), _num(stats.get("max"))
        self.words = words(self.name)
        self.joined = _joined(self.words)
        self.last = self.words[-1] if self.words else ""
        self.first = self.words[0] if self.words else ""
        self.numeric = self.type in NUMERIC
        self.textual = self.type in TEXTUAL

    @property
    def integral(self) -> bool:
        if self.type == "integer":
            return True
        flag = self.stats.get("integral")
        return bool(flag) if flag is not None else False

    def share(self, key: str) -> float:
        return float(self.stats.get(key) or 0.0)

    def within(self, low: float, high: float) -> bool:
        return self.min is not None and self.max is not None and low <= self.min and self.max <= high

    def unique(self) -> bool:
        return self.distinct is not None and self.count >= 2 and self.distinct >= self.count

    def nearly_unique(self) -> bool:
        return self.distinct is not None and self.count >= 2 and self.distinct >= 0.95 * self.count

    def dense_run(self) -> bool:
        """Whole numbers that count rows: each value once, and the range no wider than the
        number of values (1, 2, 3, ... with at most a few gaps)."""
        if not (self.integral and self.nearly_unique() and self.min is not None and self.max is not None):
            return False
        return (self.max - self.min + 1) <= 1.05 * self.count + 1


def may_be_clock_time(name: str) -> bool:
    """Whether a number column's name allows clock times written as hhmm (dep_time,
    sched_arr_time): only then do the summary and the profile count the values that
    cannot be one (``minutes_over_59``)."""
    ws = words(name)
    return bool(ws) and ws[-1] in _DURATION_LAST | {"dep", "arr"}


def _result(role: str, detail: str | None, reason: str) -> dict:
    return {"role": role, "detail": detail, "reason": reason}


def infer_role(entry: dict, stats: dict | None, rows: int, one_row_per_period: bool = False) -> dict:
    """The role of one column (see infer_roles). ``one_row_per_period``: the table is a
    time series, one row per date (levels such as a population are then averaged)."""
    c = _Column(entry, stats or {}, rows)
    return (_empty_or_constant(c) or _boolean(c) or _time(c) or _geography(c) or _date_part(c)
            or _identifier(c) or _code(c) or (_measure(c, one_row_per_period) if c.numeric else None) or _text(c)
            or _result("category", None, "Values that repeat: a category to group by"))


def infer_roles(schema: list[dict], stats: dict[str, dict] | None, rows: int) -> dict[str, dict]:
    """{column: {"role", "detail", "reason"}} for every column of ``schema`` ({"name",
    "type"}), from ``stats`` ({column: {"distinct", "missing", "min", "max", ...}}, see
    analytics.column_stats) and the table's row count."""
    stats = stats or {}
    periodic = any(entry.get("type") in TEMPORAL and _Column(entry, stats.get(entry["name"]) or {}, rows).unique()
                   for entry in schema)
    return {entry["name"]: infer_role(entry, stats.get(entry["name"]), rows, periodic) for entry in schema}


# --- the rules, in the order they are tried -------------------------------------------------

def _empty_or_constant(c: _Column) -> dict | None:
    if c.rows and c.count == 0:
        return _result("constant", None, "No values at all: every row is empty")
    if c.distinct == 1:
        top = c.stats.get("top_values") or []
        value = top[0]["value"] if top and isinstance(top[0], dict) else (c.min if c.min is not None else None)
        shown = f" ({_fmt(value)})" if value is not None else ""
        return _result("constant", None, f"One value only{shown}: nothing to compare or add up")
    return None


def _boolean(c: _Column) -> dict | None:
    if c.type == "boolean":
        return _result("boolean", None, "True or false values")
    if c.numeric and c.distinct == 2 and c.min == 0 and c.max == 1 and c.integral and not (
            c.joined & (_SUM_WORDS | _MEAN_WORDS) - {"index"}):
        return _result("boolean", None, "Only 0 and 1: a yes/no flag (its average is the share of yeses)")
    return None


def _time(c: _Column) -> dict | None:
    if c.type in TEMPORAL:
        return _result("time", None, "Dates" + (" and times" if c.type == "timestamp" else "")
                       + ": the axis for trends over time")
    return None


def _geography(c: _Column) -> dict | None:
    if c.numeric:
        if c.joined & _LAT and c.within(-90, 90) and not c.integral:
            return _result("geography", "latitude", "Named latitude, with values between -90 and 90")
        if c.joined & _LON and c.within(-180, 180) and not c.integral:
            return _result("geography", "longitude", "Named longitude, with values between -180 and 180")
        return None
    if not c.textual:
        return None
    hints = set(c.stats.get("semantic") or ())
    country_values = c.share("country_share") >= PATTERN_SHARE or "country_name" in hints or "country_code" in hints
    for detail, names in _GEO_WORDS:
        if c.joined & names and not c.share("digits_share") >= PATTERN_SHARE:
            return _result("geography", detail, f"Named {DETAIL_LABELS[detail]}: a place, to map or group by")
    if country_values and not c.joined & _ID_LAST:
        return _result("geography", "country", "Its values are country names or codes")
    return None


def _date_part(c: _Column) -> dict | None:
    if c.numeric and c.integral:
        for detail, names, low, high in _DATE_PARTS:
            if c.joined & names and c.within(low, high):
                return _result("date_part", detail, f"Named {DETAIL_LABELS[detail]}, with whole numbers from "
                               f"{_fmt(c.min)} to {_fmt(c.max)}: part of a date, never summed or averaged")
    if c.textual:
        if c.share("weekday_share") >= PATTERN_SHARE:
            return _result("date_part", "weekday", "Its values are names of weekdays")
        # "May" alone is a name too: month names decide only with a month-like name or
        # with enough different months.
        if c.share("month_share") >= PATTERN_SHARE and (c.joined & _MONTH_WORDS or (c.distinct or 0) >= 6):
            return _result("date_part", "month", "Its values are names of months")
        if c.share("digits_share") >= PATTERN_SHARE and c.joined & _YEAR_WORDS:
            low, high = _num(c.stats.get("numeric_min")), _num(c.stats.get("numeric_max"))
            if low is not None and high is not None and 1000 <= low <= high <= 2200:
                return _result("date_part", "year", f"Named year, with years from {_fmt(low)} to {_fmt(high)} "
                               "written as text")
    return None


def _identifier(c: _Column) -> dict | None:
    if c.type not in NUMERIC + TEXTUAL:
        return None
    if c.last in _ID_LAST or c.first == "id" and len(c.words) > 1 and c.words[1] not in _SUM_WORDS:
        return _result("identifier", None, "Named like an ID: it tells rows (or the things they are about) apart")
    named = bool(c.joined & _ROW_NUMBER_NAMES) or not c.words
    # A few rows numbered 1..n by chance are not enough to call a measure a row number.
    if c.numeric and c.dense_run() and (named or c.count >= 20):
        return _result("identifier", None, ("Named like a row number, with " if named else "")
                       + f"whole numbers {_fmt(c.min)} to {_fmt(c.max)}, each used once: a row number")
    if c.numeric and c.joined & _ROW_NUMBER_NAMES and c.integral and c.nearly_unique():
        return _result("identifier", None, "Named like a row number or rank, with a different value in almost every row")
    if c.textual and c.unique() and c.count >= 20 and (c.stats.get("length_mean") or 0) <= CATEGORY_MAX_LENGTH \
            and not c.joined & _TEXT_WORDS:
        return _result("identifier", None, "Short text that differs in every row: a key")
    return None


def _code(c: _Column) -> dict | None:
    if c.type not in NUMERIC + TEXTUAL:
        return None
    postal = bool(c.joined & _POSTAL) or any(w.endswith("zip") for w in c.words)
    if postal:
        return _result("code", "postal_code", "Named like a postal code: it names an area, adding it means nothing")
    code_name = c.last in _CODE_LAST or any(c.last.endswith(s) and len(c.last) > len(s) for s in _CODE_SUFFIXES)
    counting = c.first in _COUNT_FIRST and len(c.words) > 1 and c.last not in _CODE_LAST
    if code_name and not counting and not (c.numeric and not c.integral):
        if c.textual or c.distinct is None or c.distinct >= 2:
            return _result("code", None, f"Named like a code or number ({c.last}): it names things, adding it "
                           "means nothing")
    if c.numeric and c.integral and c.joined & _EPOCH_WORDS and c.min is not None and c.max is not None:
        for unit, low, high in (("seconds", 9.4e8, 4.2e9), ("milliseconds", 9.4e11, 4.2e12)):
            if low <= c.min <= c.max <= high:
                return _result("code", None, f"A moment written as {unit} since 1970: a time stored as a number; "
                               "convert it to a date to chart it over time. Adding or averaging it means nothing")
    if c.numeric and c.integral and c.min is not None and c.min >= 0 and c.max is not None and c.max >= 100 \
            and may_be_clock_time(c.name) and c.stats.get("minutes_over_59") == 0 and c.max <= 2400:
        return _result("code", None, f"Clock times written as hhmm ({_fmt(c.max)} is {int(c.max) // 100:02d}:"
                       f"{int(c.max) % 100:02d}): they name moments of the day, adding or averaging them means nothing")
    if c.textual:
        if c.share("leading_zero_share") > 0 and c.share("digits_share") >= PATTERN_SHARE:
            return _result("code", None, "Digits with leading zeros (like 00501): a code written with numbers")
        if c.share("digits_share") >= PATTERN_SHARE and (c.distinct or 0) > FEW_DISTINCT:
            return _result("code", None, "Digits stored as text: codes rather than quantities")
    if c.numeric and c.integral and c.distinct is not None and 2 <= c.distinct <= FEW_DISTINCT \
            and c.count >= ROWS_PER_GROUP * c.distinct and not c.joined & (_SUM_WORDS | _MEAN_WORDS) \
            and c.min is not None and c.min >= 0 and c.max is not None and c.max <= 100:
        return _result("code", None, f"Only {c.distinct} whole numbers, each repeated: numbers that name groups "
                       "(like 1 = retail, 2 = hotel), not quantities")
    return None


def _measure(c: _Column, one_row_per_period: bool = False) -> dict | None:
    negatives = c.min is not None and c.min < 0
    mean_words = c.joined & _MEAN_WORDS | {w for w in c.words if w.endswith(_MEAN_SUFFIXES)}
    sum_words = c.joined & _SUM_WORDS
    counting = c.first in _COUNT_FIRST and len(c.words) > 1
    level = c.joined & _LEVEL_WORDS
    if level and one_row_per_period and not mean_words:
        word = next((w for w in c.words if w in level), sorted(level)[0])
        return _result("measure", None, f"A level counted each period ({word}) in a table with one row per date: "
                       "a total over periods would count the same again, so averaged")
    if mean_words:
        word = next((w for w in c.words if w in mean_words), sorted(mean_words)[0])
        return _result("measure", None, f"A measure to average ({word}): a total of it over rows answers no question")
    if sum_words or counting:
        word = next((w for w in c.words if w in sum_words), "count")
        return _result("measure_additive", None, f"An amount that adds up ({word}): totals over rows mean something")
    if c.last in _DURATION_LAST:
        return _result("measure_additive", None, "A duration per row: durations add up to the time spent in total")
    skew = _num(c.stats.get("skewness"))
    if not negatives and c.integral and skew is not None and skew >= AMOUNT_SKEW and c.count >= AMOUNT_MIN_VALUES:
        return _result("measure_additive", None, "Whole numbers, never negative, with a long tail of large values, "
                       "like money or counts: totals over rows mean something")
    if negatives:
        return _result("measure", None, "A number that can be negative (a change or a balance): averaged, not summed")
    return _result("measure", None, "A number per row with no sign that it adds up: averaged, not summed")


def _text(c: _Column) -> dict | None:
    if not c.textual:
        return None
    length = c.stats.get("length_mean") or 0
    distinct, count = c.distinct, c.count
    if c.joined & _TEXT_WORDS and (distinct is None or distinct > CATEGORY_MAX_DISTINCT):
        return _result("text", None, "Named like names or free text, with many different values")
    if length > LONG_TEXT:
        return _result("text", None, f"Long text (about {round(length)} characters a value): free text, not a category")
    if distinct is not None and distinct <= CATEGORY_MAX_DISTINCT:
        return _result("category", None, f"{distinct} different values that repeat: a category to group by")
    if distinct is not None and count and distinct / count <= CATEGORY_SHARE and length <= CATEGORY_MAX_LENGTH:
        return _result("category", None, f"{distinct:,} short values that repeat (about {count // max(distinct, 1)} "
                       "rows each): a category")
    return _result("text", None, "Many different values: names or free text rather than a category")


# --- stats from a profile -------------------------------------------------------------------

def stats_from_profile(profile_columns: list[dict]) -> dict[str, dict]:
    """The stats infer_roles reads, from a profile's columns (analytics.profiling): the
    same keys as analytics.column_stats gives, the text patterns from the profile's
    sampled "patterns"."""
    found = {}
    for col in profile_columns:
        entry = {key: col.get(key) for key in ("distinct", "missing", "min", "max", "mean", "std", "skewness",
                                               "negatives", "zeros", "length_mean", "length_max", "top_values",
                                               "semantic", "integral", "minutes_over_59")}
        entry["distinct_estimated"] = bool(col.get("distinct_estimated"))
        entry["nulls"] = entry["missing"]
        patterns = col.get("patterns") or {}
        entry.update(digits_share=patterns.get("digits"), leading_zero_share=patterns.get("leading_zero"),
                     weekday_share=patterns.get("weekday"), month_share=patterns.get("month"),
                     country_share=max(patterns.get("country_name") or 0, patterns.get("country_code") or 0),
                     numeric_min=patterns.get("numeric_min"), numeric_max=patterns.get("numeric_max"))
        found[col["name"]] = entry
    return found
