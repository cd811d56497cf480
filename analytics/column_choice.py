"""Which columns to choose on a person's behalf, read from the columns' roles.

Generated dashboards, the widget editor's defaults and the Analyze forms' defaults all
ask the same questions: which is the main measure, which category splits the data best,
which column is the time, which identifier names customers or orders. They ask them
here, of one ``Columns`` object built from the dataset's schema, its roles
(``analytics.roles.infer_roles`` or a person's correction) and, when at hand, the column
summary (distinct counts, missing counts, min and max). No rule about what a column *is*
lives here: that is ``analytics.roles``; this module only ranks what the roles allow.
"""
from __future__ import annotations

import datetime as dt
import re

from analytics.roles import can_aggregate, default_agg

NUMERIC = ("integer", "float", "decimal")
TEMPORAL = ("date", "timestamp")
MEASURE_ROLES = ("measure_additive", "measure")
# Roles whose values name or number things: counted, never summed, averaged or binned.
NEVER_AGGREGATED = ("identifier", "code", "date_part", "constant")

# A measure that is missing in more than this share of rows is a poor headline.
MOSTLY_MISSING = 0.5
# Words that make a measure the one a person looks at first: money before quantities.
MAIN_WORDS = (("revenue", "sales", "amount", "turnover", "income", "profit", "spend", "cost", "value", "price",
               "total"),
              ("quantity", "qty", "units", "volume", "orders", "count", "distance", "weight", "duration"))
# Names of identifiers people count ("how many customers, orders, users").
ENTITY_WORDS = ("customer", "client", "user", "member", "account", "visitor", "person", "patient", "player",
                "order", "invoice", "transaction", "session", "ticket", "tail", "device")
CUSTOMER_WORDS = ("customer", "client", "user", "member", "account", "visitor", "person", "buyer", "shopper")
ORDER_WORDS = ("order", "invoice", "transaction", "basket", "receipt", "ticket")
EVENT_WORDS = ("event", "action", "page", "step", "stage", "type", "activity", "name")
TIME_WORDS = ("date", "time", "timestamp", "created", "day", "ts", "when", "at")
# At most this many values for a category to be a chart's axis on its own (top N beyond).
FEW_VALUES = 50
# Places that group rows like a category (coordinates and postal codes do not).
GROUPED_PLACES = ("country", "region", "city")
# A pie is read only when it has few slices.
PIE_VALUES = 8
# Time grains, finest first, with their length in days; a time series gets the finest
# grain that draws at most MAX_POINTS points and is not finer than the data's own spacing.
GRAIN_DAYS = (("hour", 1 / 24), ("day", 1), ("week", 7), ("month", 30.44), ("quarter", 91.3), ("year", 365.25))
MAX_POINTS = 200
SERIES_POINTS = 1000


def _words(name: str) -> list[str]:
    """The words of a column name: snake_case, CamelCase, spaces and digits split."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", str(name))
    return re.findall(r"[a-z]+", spaced.lower())


def _mentions(name: str, words) -> int | None:
    """The index in ``words`` of the first word the name starts a word with, or None."""
    found = [i for i, word in enumerate(words) for part in _words(name) if part.startswith(word)]
    return min(found) if found else None


# A role as a dropdown option shows it beside a column name (analytics.roles.ROLE_LABELS
# are the long forms the Columns tab explains them with).
SHORT_ROLE_LABELS = {"identifier": "identifier", "date_part": "date part", "time": "date/time", "code": "code",
                     "category": "category", "measure_additive": "measure, adds up", "measure": "measure, averaged",
                     "geography": "place", "text": "text", "constant": "one value", "boolean": "yes/no"}


def role_label(role: str | None) -> str:
    return SHORT_ROLE_LABELS.get(role or "", role or "unknown")


class Columns:
    """A dataset's columns sorted by what they are good for, from their roles."""

    def __init__(self, schema: list[dict], roles: dict | None, summary: dict | None = None):
        self.schema = [c for c in schema or [] if isinstance(c, dict) and c.get("name") is not None]
        self.names = [c["name"] for c in self.schema]
        self.types = {c["name"]: c.get("type") for c in self.schema}
        roles = roles or {}
        # A role may come as {"role", "detail", ...} or, in a browser store, on the schema entry.
        self.roles = {}
        self.details = {}
        for c in self.schema:
            entry = roles.get(c["name"]) if c["name"] in roles else c
            entry = entry if isinstance(entry, dict) else {"role": entry}
            self.roles[c["name"]] = entry.get("role")
            self.details[c["name"]] = entry.get("detail") or entry.get("role_detail")
        self.rows = int((summary or {}).get("rows") or 0)
        self.info = (summary or {}).get("columns") or {}
        self.sampled = False  # the summary is of a sample: its counts are not the table's

    @classmethod
    def from_schema(cls, schema: list[dict] | None) -> Columns:
        """From schema entries that carry their own role and counts (``column_entry``), as
        the Analyze page keeps them in the browser."""
        schema = [c for c in schema or [] if isinstance(c, dict)]
        rows = next((c.get("rows") for c in schema if c.get("rows") is not None), 0)
        info = {c.get("name"): {"distinct": c.get("distinct"), "missing": c.get("missing")} for c in schema
                if c.get("distinct") is not None}
        return cls(schema, None, {"rows": rows, "columns": info} if info else None)

    # --- facts about one column -------------------------------------------------------------

    def role(self, name) -> str | None:
        return self.roles.get(name)

    def detail(self, name) -> str | None:
        return self.details.get(name)

    def distinct(self, name) -> int | None:
        value = (self.info.get(name) or {}).get("distinct")
        return int(value) if value is not None else None

    def missing_share(self, name) -> float:
        info = self.info.get(name) or {}
        nulls = info.get("missing", info.get("nulls")) or 0
        return nulls / self.rows if self.rows else 0.0

    def aggregatable(self, name) -> bool:
        """Whether sum, average, min, max, a histogram or a scatter axis of it means anything."""
        role = self.role(name)
        return role is not None and can_aggregate(role) and self.types.get(name) in NUMERIC

    def agg_for(self, name) -> str:
        """The aggregation a measure gets by default: sum when it adds up, else the average."""
        return default_agg(self.role(name)) or "mean"

    def _index(self, name) -> int:
        return self.names.index(name)

    # --- ranked lists ----------------------------------------------------------------------

    def measures(self, include_sparse: bool = False) -> list[str]:
        """Real measures, the main one first: measures that add up before those that do
        not, money words (revenue, sales, amount...) before quantity words, then the
        schema's order; mostly-missing ones last (or left out)."""
        found = [n for n in self.names if self.aggregatable(n) and self.role(n) in MEASURE_ROLES]
        if not include_sparse:
            found = [n for n in found if self.missing_share(n) <= MOSTLY_MISSING] or found

        def rank(name):
            money, quantity = _mentions(name, MAIN_WORDS[0]), _mentions(name, MAIN_WORDS[1])
            word = 0 if money is not None else 1 if quantity is not None else 2
            return (self.missing_share(name) > MOSTLY_MISSING, self.role(name) != "measure_additive", word,
                    self._index(name))

        return sorted(found, key=rank)

    def main_measure(self) -> str | None:
        found = self.measures()
        return found[0] if found else None

    def additive_measures(self) -> list[str]:
        return [m for m in self.measures() if self.role(m) == "measure_additive"]

    def main_additive(self) -> str | None:
        found = self.additive_measures()
        return found[0] if found else None

    def averaged_measures(self) -> list[str]:
        return [m for m in self.measures() if self.role(m) != "measure_additive"]

    def varied_measures(self) -> list[str]:
        """The measures with sums and averages taking turns, so a few picks show both kinds."""
        adds, avgs = self.additive_measures(), self.averaged_measures()
        out = []
        for i in range(max(len(adds), len(avgs))):
            out += [m for m in (adds[i] if i < len(adds) else None, avgs[i] if i < len(avgs) else None) if m]
        return out

    def categories(self) -> list[str]:
        """Categories (booleans, regions and cities too) that split the data: the fewest values first among
        those with at most FEW_VALUES, then the bigger ones; a category with one value
        splits nothing and is left out."""
        found = [n for n in self.names if self.role(n) in ("category", "boolean")
                 or self.role(n) == "geography" and self.detail(n) in GROUPED_PLACES]
        if self.info:
            found = [n for n in found if (self.distinct(n) or 0) >= 2]

        def rank(name):
            distinct = self.distinct(name)
            many = distinct is None or distinct > FEW_VALUES
            return (many, distinct if distinct is not None else 0, self.missing_share(name), self._index(name))

        return sorted(found, key=rank)

    def times(self) -> list[str]:
        """Time columns stored as dates or timestamps, names that say "date" or "time"
        first, then the most complete."""
        found = [n for n in self.names if self.role(n) == "time" and self.types.get(n) in TEMPORAL]
        return sorted(found, key=lambda n: (_mentions(n, TIME_WORDS) is None, self.missing_share(n), self._index(n)))

    def any_times(self) -> list[str]:
        """Time columns of any storage type (an event log's epoch numbers too), dates first."""
        stored = self.times()
        return stored + [n for n in self.names if self.role(n) == "time" and n not in stored]

    def date_parts(self, detail: str | None = None) -> list[str]:
        return [n for n in self.names if self.role(n) == "date_part" and (detail is None or self.detail(n) == detail)]

    def year_like_part(self) -> str | None:
        """The coarsest date part to draw a trend over when there is no time column."""
        for detail in ("year", "quarter", "month"):
            found = self.date_parts(detail)
            if found:
                return found[0]
        return None

    def identifiers(self, words=ENTITY_WORDS, repeated_only: bool = False, roles=("identifier",)) -> list[str]:
        """Identifiers, those whose name mentions ``words`` first (in their order). With
        ``repeated_only``, only those whose values repeat (customers of a sales table),
        not a row number, whose distinct count is just the row count. ``roles`` may add
        "code": an invoice or customer number is an identifier to some, a code to others."""
        found = [n for n in self.names if self.role(n) in roles]
        if repeated_only and self.info and self.rows:
            found = [n for n in found if 1 < (self.distinct(n) or 0) < 0.95 * self.rows]

        def rank(name):
            mention = _mentions(name, words)
            return (mention is None, mention or 0, self._index(name))

        return sorted(found, key=rank)

    def named(self, names, words) -> str | None:
        """The first of ``names`` that mentions one of ``words``."""
        return next((n for n in names if _mentions(n, words) is not None), None)

    def geography(self, detail: str) -> list[str]:
        return [n for n in self.names if self.role(n) == "geography" and self.detail(n) == detail]

    def not_constant(self) -> list[str]:
        return [n for n in self.names if self.role(n) != "constant"]

    # --- time ------------------------------------------------------------------------------

    def span(self, name) -> tuple | None:
        info = self.info.get(name) or {}
        lo, hi = info.get("min"), info.get("max")
        if isinstance(lo, dt.date) and isinstance(hi, dt.date):
            return lo, hi
        return None

    def one_row_per_time(self, name) -> bool:
        """Whether each row is its own moment (a series: one row per day or month), so
        that a count of rows per period says nothing and a period should hold one row.
        Moments a day or more apart: an event log's timestamps are unique too, but its
        rows per day are worth counting."""
        distinct = self.distinct(name)
        unique = bool(distinct and self.rows and distinct >= 0.95 * self.rows)
        return unique and (self.spacing_days(name) or 0) >= 0.9

    def spacing_days(self, name) -> float | None:
        """The average distance between two distinct moments of the column, in days."""
        span, distinct = self.span(name), self.distinct(name)
        if span is None or not distinct or distinct < 2:
            return None
        lo, hi = span
        days = (hi - lo).total_seconds() / 86400 if isinstance(lo, dt.datetime) else (hi - lo).days
        return days / (distinct - 1)

    def one_row_per_point(self, name, grain: str) -> bool:
        """Whether each point of a series at ``grain`` holds a single row (a monthly series
        drawn by month), so that its "average" is just the value."""
        spacing = self.spacing_days(name)
        length = dict(GRAIN_DAYS).get(grain)
        return bool(self.one_row_per_time(name) and spacing and length and length <= spacing * 1.5)

    def grain_for(self, name) -> str:
        """The finest grain that draws at most MAX_POINTS points over the column's span
        and is not finer than the data's own spacing (monthly data stays monthly). A
        series with one row per moment keeps its own spacing up to SERIES_POINTS points,
        so that no two rows (two months' population) are added together."""
        span = self.span(name)
        if span is None:
            return "month"
        lo, hi = span
        days = (hi - lo).total_seconds() / 86400 if isinstance(lo, dt.datetime) else (hi - lo).days
        spacing = self.spacing_days(name) or 0
        for grain, length in GRAIN_DAYS:
            too_fine = length < spacing * 0.9 or (length < 1 and not isinstance(lo, dt.datetime))  # dates have no hours
            most = SERIES_POINTS if self.one_row_per_time(name) else MAX_POINTS
            if not too_fine and days / length <= most:
                return grain
        return "year"

    # --- the Analyze forms' defaults --------------------------------------------------------

    def customer(self) -> str | None:
        """Who bought: an identifier named like a customer, else the first whose values repeat."""
        named = self.named(self.identifiers(CUSTOMER_WORDS, True, ("identifier", "code")), CUSTOMER_WORDS)
        found = self.identifiers(CUSTOMER_WORDS, repeated_only=True)
        return named or (found[0] if found else None)

    def order(self) -> str | None:
        """An order or invoice number (only when its name says so: the field is optional)."""
        return self.named(self.identifiers(ORDER_WORDS, roles=("identifier", "code")), ORDER_WORDS)

    def amount(self) -> str | None:
        """What a row is worth: a measure named like money, else the main measure."""
        return self.named(self.measures(), MAIN_WORDS[0]) or self.main_measure()

    def quantity(self) -> str | None:
        """How many: an additive measure named like a quantity (only then: it multiplies the amount)."""
        return self.named(self.additive_measures(), ("quantity", "qty", "units", "count"))

    def entity(self) -> str | None:
        """Whose events: an identifier named like a user, customer or session, else the first."""
        words = CUSTOMER_WORDS + ("session", "device", "visitor")
        found = self.identifiers(words, True, ("identifier", "code"))
        return self.named(found, words) or next((n for n in found if self.role(n) == "identifier"), None)

    def event(self) -> str | None:
        """What happened: a category named like an event or a page, else none."""
        return self.named([n for n in self.names if self.role(n) in ("category", "text")], EVENT_WORDS)

    def time(self) -> str | None:
        found = self.any_times()
        return found[0] if found else None

    # --- option lists --------------------------------------------------------------------

    def ordered(self, names: list[str], prefer: str | None) -> list[str]:
        """``names`` with the columns that suit ``prefer`` first ("measure", "category",
        "time", "identifier", "geography"), in their rank, the rest in schema order."""
        first = {"measure": self.measures(include_sparse=True), "category": self.categories(),
                 "time": self.any_times() + self.date_parts(),
                 "identifier": self.identifiers(), "geography": self.geography("country")}.get(prefer or "", [])
        wanted = [n for n in first if n in names]
        return wanted + [n for n in names if n not in wanted]

    def option_label(self, name, column_type: str | None = None) -> str:
        role = self.role(name)
        kind = role_label(role) if role else (column_type or self.types.get(name) or "")
        detail = self.detail(name)
        if detail and role in ("date_part", "geography"):
            kind = f"{kind}: {str(detail).replace('_', ' ')}"
        return f"{name}  ·  {kind}" if kind else str(name)


def column_entry(column: dict, roles: dict, summary: dict | None) -> dict:
    """One schema entry with its role and counts, small enough to keep in a browser store
    (the table's row count rides on every entry, so a list of them is enough)."""
    role = roles.get(column["name"]) or {}
    stats = ((summary or {}).get("columns") or {}).get(column["name"]) or {}
    return {"name": column["name"], "type": column["type"], "role": role.get("role"), "detail": role.get("detail"),
            "distinct": stats.get("distinct"), "missing": stats.get("missing", stats.get("nulls")),
            "rows": (summary or {}).get("rows")}


# --- the widget editor's defaults ----------------------------------------------------------

# What each column field of a widget type is filled with: the preference of its options
# and the column a new widget starts with.
FIELD_PREFERENCE = {"y": "measure", "values": "measure", "size": "measure", "per": "identifier"}
X_PREFERENCE = {"line": "time", "area": "time", "histogram": "measure", "scatter": "measure", "map": "geography",
                "kpi": "time"}


def field_preference(type_name: str | None, field_name: str) -> str | None:
    """Which columns suit a field of a widget type best (for ordering its options)."""
    if field_name == "x":
        return X_PREFERENCE.get(type_name or "", "category")
    if field_name in ("group", "rows", "columns"):
        return "category"
    if field_name == "sort":
        return None
    return FIELD_PREFERENCE.get(field_name)


def suggested_spec(type_name: str | None, columns: Columns) -> dict:
    """The fields a new widget of ``type_name`` starts with over these columns: the main
    measure as its value with the aggregation its role calls for, a category (bars,
    pies), the time (lines) or two measures (a scatter) as its axes. Never a sum or an
    average of an identifier, a code, a date part or a constant: without a measure the
    value is a count of rows."""
    measures, categories, times = columns.measures(), columns.categories(), columns.times()
    main = measures[0] if measures else None
    spec: dict = {}

    def value(agg_key="agg"):
        if main:
            spec["y"], spec[agg_key] = main, columns.agg_for(main)
        else:
            spec[agg_key] = "count"

    if type_name == "kpi":
        value()
    elif type_name in ("line", "area"):
        if times:
            spec["x"], spec["time_grain"] = times[0], columns.grain_for(times[0])
        elif columns.year_like_part():
            spec["x"] = columns.year_like_part()
        elif categories:
            spec["x"] = categories[0]
        value()
    elif type_name in ("bar", "pie", "treemap", "funnel"):
        if categories:
            spec["x"] = categories[0]
        if type_name == "funnel":
            spec["agg"] = "count"
        else:
            value()
    elif type_name == "histogram":
        if main:
            spec["x"] = main
    elif type_name == "scatter":
        if len(measures) >= 2:
            spec["x"], spec["y"] = measures[1], measures[0]
    elif type_name == "box":
        if main:
            spec["y"] = main
        if categories:
            spec["x"] = categories[0]
    elif type_name == "heatmap":
        if len(categories) >= 2:
            spec["x"], spec["group"] = categories[0], categories[1]
        elif categories and times:
            spec["x"], spec["group"], spec["group_grain"] = categories[0], times[0], "weekday"
        value()
    elif type_name == "sankey":
        if len(categories) >= 2:
            spec["x"], spec["group"] = categories[0], categories[1]
        spec["agg"] = "count"
    elif type_name == "map":
        countries = columns.geography("country")
        if countries:
            spec["x"] = countries[0]
        value()
    elif type_name == "pivot":
        if categories:
            spec["rows"] = [categories[0]]
        if main:
            spec["values"], spec["agg"] = main, columns.agg_for(main)
        else:
            spec["agg"] = "count"
    return spec


def aggregated_columns(spec: dict) -> set[str]:
    """The columns a widget spec sums, averages, bins or plots as a number: those whose
    role must allow it. A count or distinct count of a column, and a column used as a
    category axis, group or filter, are not aggregations."""
    out: set[str] = set()

    def columns_of(value):
        if isinstance(value, dict):
            return [c for c in value.get("columns") or [] if isinstance(c, str)]
        return [value] if isinstance(value, str) else []

    kind = spec.get("type")
    agg = spec.get("agg")
    if kind in ("histogram",):
        out.update(columns_of(spec.get("x")))
    elif kind == "scatter":
        for key in ("x", "y", "size"):
            out.update(columns_of(spec.get(key)))
    elif kind == "box":
        out.update(columns_of(spec.get("y")))
    elif kind == "pivot":
        if agg not in ("count", "count_distinct"):
            out.update(columns_of(spec.get("values")))
    elif agg not in (None, "count", "count_distinct"):
        out.update(columns_of(spec.get("y")))
    return out
