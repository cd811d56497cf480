"""What every widget type is made of: its editor fields, its query (spec → SQL over a
FROM-able source, identifiers checked and quoted, values bound as ``$n`` parameters) and
its output (the small result → a figure, a KPI, a table or text).

The SQL pieces shared by several types live here too (dimensions with time grains,
measures with aggregations, filters), so a type module only says what is particular to it.
"""
from __future__ import annotations

import datetime as dt
import decimal
import math
from dataclasses import asdict, dataclass

import plotly.graph_objects as go  # imported once at start-up, not on the first widget

from analytics.sql import quote_ident
from errors import InvalidSpec

NUMERIC = ("integer", "float", "decimal")
TEMPORAL = ("date", "timestamp")
DISCRETE = ("text", "categorical", "boolean", "integer")
ANY = ("integer", "float", "decimal", "boolean", "date", "timestamp", "text", "categorical")
DIMENSION = ANY

AGGS = ("count", "count_distinct", "sum", "mean", "median", "min", "max", "percentile")
AGG_LABELS = {"count": "Count", "count_distinct": "Distinct count", "sum": "Sum", "mean": "Average",
              "median": "Median", "min": "Minimum", "max": "Maximum", "percentile": "Percentile"}
# Aggregations that need a numeric measure; count, count_distinct, min and max take any column.
NUMERIC_AGGS = ("sum", "mean", "median", "percentile")
# How the editor names each aggregation (AGG_LABELS reads inside a sentence: "Distinct count of x").
AGG_OPTION_LABELS = {"count": "Count of rows", "count_distinct": "Count distinct", "sum": "Sum", "mean": "Average",
                     "median": "Median", "min": "Minimum", "max": "Maximum", "percentile": "Percentile"}

# Truncating grains, coarse to fine; drill-down moves one step right.
GRAINS = ("year", "quarter", "month", "week", "day", "hour")
# Cyclic parts of a date (all Mondays together): for "sales by hour and weekday".
PARTS = ("hour_of_day", "weekday", "month_of_year")
GRAIN_LABELS = {"year": "Year", "quarter": "Quarter", "month": "Month", "week": "Week", "day": "Day", "hour": "Hour",
                "hour_of_day": "Hour of day", "weekday": "Weekday", "month_of_year": "Month of year"}
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

OPS = ("=", "!=", "in", "not in", "<", "<=", ">", ">=", "between", "is null", "is not null", "contains")
# Row-level arithmetic for a computed measure, e.g. revenue = Quantity * UnitPrice.
EXPRS = {"mul": "*", "add": "+", "sub": "-", "div": "/"}

NUMBER_FORMATS = ("auto", "integer", "decimal", "percent", "currency", "compact")
NUMBER_FORMAT_LABELS = {"auto": "Automatic", "integer": "Whole number (1,235)", "decimal": "Two decimals (1,234.57)",
                        "percent": "Percent (12.3 %)", "currency": "Currency ($1,234.57)", "compact": "Compact (1.23k)"}
SORT_LABELS = {"-y": "Largest first", "y": "Smallest first", "x": "A to Z, oldest first", "-x": "Z to A, newest first"}
# The d3-format each number format means (plotly and the UI both speak d3-format).
D3_FORMATS = {"auto": "", "integer": ",.0f", "decimal": ",.2f", "percent": ".1%", "currency": "$,.2f",
              "compact": ".3s"}

FIELD_KINDS = ("column", "columns", "agg", "grain", "number", "text", "choice", "bool", "filters", "object")
# "object": a JSON object set by the app, not typed in the editor (an analysis widget's params).

# Every result is capped: a widget's payload must not grow with the dataset.
ROW_CAP = 10_000


@dataclass
class EditorField:
    """One control in the widget editor; the UI builds the whole form from these."""

    name: str
    label: str
    kind: str
    required: bool = False
    types: list[str] | None = None
    choices: list | None = None
    default: object = None
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    # The words each choice is shown with, {value: label}: the editor, the API and any other
    # UI read the same ones (GET /api/v1/widget-types lists them as "options").
    labels: dict | None = None

    def __post_init__(self):
        if self.kind not in FIELD_KINDS:
            raise ValueError(f"unknown editor field kind {self.kind!r}")
        if self.types is not None:
            self.types = list(self.types)
        if self.choices is not None:
            self.choices = list(self.choices)

    def options(self) -> list[dict]:
        """The choices as [{"value", "label"}], in words: "Vertical bars" for "v"."""
        words = self.labels or {"agg": AGG_OPTION_LABELS, "grain": GRAIN_LABELS}.get(self.kind) or {}
        return [{"value": c, "label": words.get(c, str(c).replace("_", " ").capitalize())}
                for c in self.choices or []]

    def public_dict(self) -> dict:
        out = asdict(self)
        out.pop("labels")
        if self.choices is not None:
            out["options"] = self.options()
        return out


class Params:
    """Bound values, referenced as ``$1, $2, ...`` so SQL pieces can be built in any order."""

    def __init__(self):
        self.values: list = []

    def add(self, value) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


class MissingColumn(InvalidSpec):
    """A spec names a column the dataset does not have (a typo, or a saved widget whose
    column a new version dropped or renamed); ``details["column"]`` names it."""


TYPE_WORDS = {"integer": "whole numbers", "float": "numbers", "decimal": "numbers", "boolean": "true/false values",
              "date": "dates", "timestamp": "dates and times", "text": "text", "categorical": "categories"}


def type_words(types) -> str:
    """Column types in words: ["integer", "float", "decimal"] → "numbers"."""
    words = list(dict.fromkeys(TYPE_WORDS.get(t, t) for t in ([types] if isinstance(types, str) else types)))
    if set(words) >= {"whole numbers", "numbers"}:
        words.remove("whole numbers")
    return " or ".join(words)


class Schema:
    """The dataset's columns by name, and the checks every identifier passes before SQL."""

    def __init__(self, schema: list[dict]):
        self.columns = [c["name"] for c in schema]
        self.types = {c["name"]: c["type"] for c in schema}
        # Optional exact bounds of integer and float columns (from the file's statistics):
        # a whole-table distinct count uses a bitmap, a histogram skips a pass for its bins.
        self.ranges = {c["name"]: (int(c["min"]), int(c["max"])) if c["type"] == "integer"
                       else (float(c["min"]), float(c["max"])) for c in schema
                       if c.get("type") in ("integer", "float") and c.get("min") is not None
                       and c.get("max") is not None}

    def type_of(self, name) -> str:
        if not isinstance(name, str) or name not in self.types:
            message = f"There is no column {name!r} in this dataset"
            close = self.similar(name)
            raise MissingColumn(message + (f"; did you mean {close!r}?" if close else ""),
                                details={"column": name if isinstance(name, str) else None, "similar": close})
        return self.types[name]

    def similar(self, name) -> str | None:
        """The column a misspelt or renamed one most likely means (same name in another
        case or spacing first), or None."""
        if not isinstance(name, str):
            return None
        folded = {c.lower().replace(" ", "").replace("_", ""): c for c in self.columns}
        key = name.lower().replace(" ", "").replace("_", "")
        if key in folded:
            return folded[key]
        import difflib

        found = difflib.get_close_matches(name, self.columns, n=1, cutoff=0.8)
        return found[0] if found else None

    def col(self, name) -> str:
        """The quoted identifier of a column that exists."""
        self.type_of(name)
        return quote_ident(name)


# --- SQL pieces ------------------------------------------------------------------------


def dimension_sql(schema: Schema, column: str, grain: str | None) -> str:
    """A column as a grouping key, truncated or cut to a part when a grain is set."""
    col = schema.col(column)
    if not grain:
        return col
    ts = f"CAST({col} AS TIMESTAMP)"
    if grain in GRAINS:
        # The grain is one of a fixed set of words, never the user's text.
        return f"date_trunc('{grain}', {ts})"
    if grain == "hour_of_day":
        return f"hour({ts})"
    if grain == "weekday":
        return f"isodow({ts})"
    if grain == "month_of_year":
        return f"month({ts})"
    raise InvalidSpec(f"Unknown time grain {grain!r}")


def measure_sql(schema: Schema, y) -> str | None:
    """The value to aggregate: a column, or arithmetic on two numeric columns."""
    if y is None:
        return None
    if isinstance(y, str):
        return schema.col(y)
    op = EXPRS[y["expr"]]
    left, right = (f"CAST({schema.col(c)} AS DOUBLE)" for c in y["columns"])
    if op == "/":
        right = f"NULLIF({right}, 0)"
    return f"({left} {op} {right})"


BITMAP_MAX_BITS = 1 << 27  # 16 MB: the largest integer range counted with a bitmap


def distinct_count_sql(schema: Schema, column, params: Params, whole_table: bool) -> str:
    """count(DISTINCT column); over a whole table (one group) of integers whose bounds are
    known and not too far apart, a bitmap of the range instead, about four times faster on
    millions of rows. Never per group: each group would hold its own bitmap."""
    if whole_table and isinstance(column, str) and column in schema.ranges and schema.types[column] == "integer":
        low, high = schema.ranges[column]
        if 0 <= high - low < BITMAP_MAX_BITS:
            return (f"coalesce(bit_count(bitstring_agg({schema.col(column)}, {params.add(low)}, "
                    f"{params.add(high)})), 0)")
    return f"count(DISTINCT {measure_sql(schema, column)})"


def aggregate_sql(spec: dict, schema: Schema, params: Params, whole_table: bool = False) -> str:
    """agg(measure), optionally divided by the distinct count of ``per`` (revenue per order).
    ``whole_table``: the query has no GROUP BY (a KPI without periods)."""
    agg = spec.get("agg") or "count"
    m = measure_sql(schema, spec.get("y"))
    if agg == "count":
        expr = "count(*)" if m is None else f"count({m})"
    elif agg == "count_distinct":
        expr = distinct_count_sql(schema, spec.get("y"), params, whole_table)
    elif agg == "percentile":
        expr = f"quantile_cont({m}, {params.add(float(spec.get('percentile') or 90) / 100)})"
    else:
        expr = {"sum": "sum", "mean": "avg", "median": "median", "min": "min", "max": "max"}[agg] + f"({m})"
    if spec.get("per"):
        expr = f"(CAST({expr} AS DOUBLE) / NULLIF({distinct_count_sql(schema, spec['per'], params, whole_table)}, 0))"
    return expr


# Aggregations whose per-day partial results combine into per-month ones, and how.
REAGGREGATE = {"sum": "sum", "count": "sum", "min": "min", "max": "max"}
COARSE_GRAINS = ("week", "month", "quarter", "year")


def by_day_first(spec: dict, grain: str | None) -> bool:
    """Whether to group by day first and the days into ``grain`` after. Truncating 10 M
    timestamps to a month costs about twice what casting them to a date does, and a few
    hundred days are then cheap to regroup; only for aggregations that combine."""
    return grain in COARSE_GRAINS and (spec.get("agg") or "count") in REAGGREGATE and not spec.get("per")


def grouped_source(spec: dict, schema: Schema, params: Params, source_sql: str, where: str,
                   extra_dims: dict[str, str] | None = None, allow: bool = True) -> tuple[str, str, str, str]:
    """(x expression, FROM, WHERE, aggregate) for grouping by x with its time grain (and by
    ``extra_dims``, {alias: expression}, which the caller then groups by their aliases);
    by day first when that is cheaper (see above) and ``allow``-ed."""
    grain = spec.get("time_grain")
    agg = aggregate_sql(spec, schema, params)
    if not (allow and by_day_first(spec, grain)):
        return dimension_sql(schema, spec["x"], grain), source_sql, where, agg
    extra = "".join(f", {expr} AS {alias}" for alias, expr in (extra_dims or {}).items())
    keys = ", ".join(str(i + 1) for i in range(1 + len(extra_dims or {})))
    inner = (f"(SELECT CAST({schema.col(spec['x'])} AS DATE) AS day_x{extra}, {agg} AS part "
             f"FROM {source_sql} WHERE {where} GROUP BY {keys}) AS by_day")
    return (f"date_trunc('{grain}', CAST(day_x AS TIMESTAMP))", inner, "TRUE",
            f"{REAGGREGATE[spec.get('agg') or 'count']}(part)")


def _cast_param(column_type: str, placeholder: str) -> str:
    if column_type == "date":
        return f"CAST({placeholder} AS DATE)"
    if column_type == "timestamp":
        return f"CAST({placeholder} AS TIMESTAMP)"
    return placeholder


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def filter_sql(schema: Schema, filters: list[dict], params: Params) -> str:
    """Normalised filters as one boolean expression ("TRUE" when there are none)."""
    parts = []
    for flt in filters or []:
        column, op, value, grain = flt["column"], flt["op"], flt.get("value"), flt.get("grain")
        column_type = schema.type_of(column)
        if grain:
            left = dimension_sql(schema, column, grain)
            cast = (lambda p: f"CAST({p} AS TIMESTAMP)") if grain in GRAINS else (lambda p: p)
        else:
            left = schema.col(column)
            cast = lambda p, t=column_type: _cast_param(t, p)  # noqa: E731
        if op == "is null":
            parts.append(f"{left} IS NULL")
        elif op == "is not null":
            parts.append(f"{left} IS NOT NULL")
        elif op in ("in", "not in"):
            holders = ", ".join(cast(params.add(v)) for v in value)
            parts.append(f"{left} {'IN' if op == 'in' else 'NOT IN'} ({holders})")
        elif op == "between":
            parts.append(f"{left} BETWEEN {cast(params.add(value[0]))} AND {cast(params.add(value[1]))}")
        elif op == "contains":
            parts.append(f"CAST({left} AS VARCHAR) ILIKE {params.add('%' + _escape_like(str(value)) + '%')} ESCAPE '\\'")
        else:
            sql_op = "<>" if op == "!=" else op
            parts.append(f"{left} {sql_op} {cast(params.add(value))}")
    return " AND ".join(f"({p})" for p in parts) if parts else "TRUE"


# --- values out ------------------------------------------------------------------------


def plain(value):
    """A value as plain JSON: numpy scalars and arrays, dates, decimals, NaN → null."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return plain(float(value))
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return plain(value.tolist())
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    return str(value)


def grain_label(value, grain: str | None):
    """How a grouped value reads on an axis: weekday numbers as names, month numbers too."""
    if value is None:
        return "(empty)"
    if grain == "weekday":
        return WEEKDAYS[int(value) - 1]
    if grain == "month_of_year":
        return MONTHS[int(value) - 1]
    if grain == "hour_of_day":
        return f"{int(value):02d}:00"
    if isinstance(value, (dt.date, dt.datetime)):
        if grain == "year":
            return str(value.year)
        if grain == "quarter":
            return f"{value.year} Q{(value.month - 1) // 3 + 1}"
        if grain == "month":
            return value.strftime("%Y-%m")
        if grain in ("week", "day"):
            return value.strftime("%Y-%m-%d")
        return plain(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return plain(value)


class WidgetType:
    """One kind of widget. Subclasses set the class attributes and implement query/render."""

    name: str = ""
    label: str = ""
    icon: str = ""
    fields: list[EditorField] = []

    def prepare(self, spec: dict) -> dict:
        """A chance to rewrite shorthand before validation (e.g. a table's "-Name" sort)."""
        return spec

    def normalize(self, spec: dict, schema: Schema) -> dict:
        """Checks across fields that the generic validation cannot make; returns the spec."""
        return spec

    def query(self, spec: dict, schema: list[dict], source_sql: str) -> tuple[str, list] | None:
        raise NotImplementedError

    def render(self, result: dict, spec: dict) -> dict:
        raise NotImplementedError

    def click_filter(self, spec: dict, point: dict) -> dict | None:
        """The filter a click on ``point`` means; None for widgets without clickable marks."""
        return None

    def public_dict(self) -> dict:
        return {"name": self.name, "label": self.label, "icon": self.icon,
                "fields": [f.public_dict() for f in self.fields]}


# --- editor fields several types share ---------------------------------------------------


def f_x(label="X axis", required=True, types=DIMENSION, help=""):
    return EditorField("x", label, "column", required=required, types=list(types), help=help)


def f_y(label="Value", types=ANY):
    # Any type: count, count_distinct, min and max take text and dates too; the numeric
    # aggregations check for a number in normalize_spec.
    return EditorField("y", label, "column", types=list(types),
                       help="The column to aggregate (a number for sum, average, median, percentile); "
                            "not needed for a count.")


def f_agg(default="sum"):
    return EditorField("agg", "Aggregation", "agg", required=True, choices=list(AGGS), default=default)


def f_percentile():
    return EditorField("percentile", "Percentile", "number", default=90, minimum=0, maximum=100,
                       help="Used when the aggregation is percentile")


def f_per():
    return EditorField("per", "Per distinct", "column", types=list(ANY),
                       help="Divide the value by the number of distinct values of this column "
                            "(revenue per order)")


def f_group(label="Colour by", types=DISCRETE):
    return EditorField("group", label, "column", types=list(types))


def f_grain(name="time_grain", label="Time grain"):
    return EditorField(name, label, "grain", choices=list(GRAINS + PARTS),
                       help="Group a date column by this grain")


def f_sort(choices=("-y", "y", "x", "-x"), default=None):
    return EditorField("sort", "Sort", "choice", choices=list(choices), default=default, labels=SORT_LABELS,
                       help="By value (largest or smallest first) or by label")


def f_limit(default=20, maximum=500, label="Top N"):
    return EditorField("limit", label, "number", default=default, minimum=1, maximum=maximum)


def f_filters():
    return EditorField("filters", "Filters", "filters", default=[])


def f_other(default=False):
    return EditorField("other", "Show the rest as \u201cOther\u201d", "bool", default=default,
                       help="Categories beyond the top N added up in one \u201cOther\u201d bar (for a sum or a count); "
                            "when off, the chart's note says how many are left out")


def f_number_format():
    return EditorField("number_format", "Number format", "choice", choices=list(NUMBER_FORMATS), default="auto",
                       labels=NUMBER_FORMAT_LABELS)



def figure_output(data: list[dict], layout: dict) -> dict:
    """A plotly figure (validated by plotly) as plain JSON for the browser."""
    fig = go.Figure(data=data, layout=layout)
    return {"kind": "figure", "figure": plain(fig.to_plotly_json())}


def click_value(point: dict):
    """The raw value a figure stored in a point's customdata (first item)."""
    if not isinstance(point, dict) or "customdata" not in point:
        return None, False
    data = point["customdata"]
    if isinstance(data, list):
        if not data:
            return None, False
        data = data[0]
    return data, True


def equals_filter(column: str, value, grain: str | None = None) -> dict:
    if value is None:
        return {"column": column, "op": "is null", "value": None}
    out = {"column": column, "op": "=", "value": value}
    if grain:
        out["grain"] = grain
    return out


def f_title():
    return EditorField("title", "Title", "text")


def f_description():
    return EditorField("description", "Description", "text")
