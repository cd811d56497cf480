"""The widget spec: a JSON description of a widget, checked against the dataset's schema.

``normalize_spec`` is the gate every spec passes before it becomes SQL: an unknown type,
key, column, aggregation, operator or grain is refused with a message naming it, values
are coerced to the column's type (they are bound later, never formatted into SQL), and
defaults are filled in, so two specs that mean the same thing normalise to the same dict
(which is what the result cache is keyed by).
"""
from __future__ import annotations

import copy
import datetime as dt
import json
import re

from analytics.widgets.base import (
    AGG_OPTION_LABELS,
    AGGS,
    EXPRS,
    GRAINS,
    NUMERIC,
    NUMERIC_AGGS,
    OPS,
    PARTS,
    TEMPORAL,
    Schema,
    type_words,
)
from analytics.names import check_name
from errors import InvalidSpec

SPEC_VERSION = 1
# Keys any spec may carry besides its type's editor fields.
COMMON_KEYS = ("type", "version", "dataset_id", "title", "description", "filters", "parameters")
MAX_FILTERS = 50
MAX_IN_VALUES = 1000
TEXT_LIMITS = {"title": 200, "description": 2000, "text": 20_000}
DASHBOARD_FILTER_KINDS = ("date_range", "multi_select", "numeric_range")


def _all_field_names() -> set[str]:
    from analytics.widgets import REGISTRY

    return {f.name for wt in REGISTRY.values() for f in wt.fields} | set(COMMON_KEYS)


def normalize_spec(spec: dict, schema: list[dict]) -> dict:
    """The spec checked against ``schema`` (the dataset's [{"name", "type"}]) with defaults
    filled in and ``"version": 1``; InvalidSpec with a clear message when anything is wrong."""
    from analytics.widgets import widget_type

    if not isinstance(spec, dict):
        raise InvalidSpec("A widget spec must be a JSON object")
    version = spec.get("version", SPEC_VERSION)
    if version != SPEC_VERSION:
        raise InvalidSpec(f"Unknown spec version {version!r}; this server reads version {SPEC_VERSION}")
    wt = widget_type(spec.get("type"))
    spec = wt.prepare(dict(spec))
    unknown = sorted(set(spec) - _all_field_names())
    if unknown:
        raise InvalidSpec(f"Unknown spec field {unknown[0]!r}")
    cols = Schema(schema)
    out: dict = {"version": SPEC_VERSION, "type": wt.name}
    if spec.get("dataset_id") is not None:
        out["dataset_id"] = spec["dataset_id"]
    out["title"] = _text(spec, "title")
    out["description"] = _text(spec, "description")
    for fld in wt.fields:
        if fld.name in ("title", "description"):
            continue
        value = spec.get(fld.name)
        if value is None or value == "" or (value == [] and fld.kind == "columns"):
            value = copy.deepcopy(fld.default)
        out[fld.name] = _field_value(fld, value, cols, spec)
    if "filters" not in out:
        out["filters"] = []
    if spec.get("parameters"):
        out["parameters"] = normalize_parameter_values(spec["parameters"])
    _check_measure(out, cols, wt)
    _check_grains(out, cols)
    return wt.normalize(out, cols)


def _text(spec: dict, name: str) -> str:
    value = spec.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidSpec(f"The {name} must be text")
    if len(value) > TEXT_LIMITS[name]:
        raise InvalidSpec(f"The {name} must be at most {TEXT_LIMITS[name]:,} characters long")
    if name == "title":  # a title names a sheet, a file, a chart: one line
        return check_name(value, "widget title", field="title", required=False, error=InvalidSpec)
    return value.strip() if name != "text" else value


def _column(fld, value, cols: Schema):
    if value is None:
        if fld.required:
            raise InvalidSpec(f"Choose a column for {fld.label!r}")
        return None
    if isinstance(value, dict) and fld.name == "y":
        return _expression(value, cols)
    column_type = cols.type_of(value)
    if fld.types and column_type not in fld.types:
        raise InvalidSpec(f"{fld.label!r} needs a column of {type_words(fld.types)}, and {value!r} holds "
                          f"{type_words(column_type)}: choose another column")
    return value


def _expression(value: dict, cols: Schema) -> dict:
    """A computed measure such as revenue: {"expr": "mul", "columns": ["Quantity", "UnitPrice"]}."""
    expr = value.get("expr")
    if expr not in EXPRS:
        raise InvalidSpec(f"Unknown expression {expr!r}; choose one of {', '.join(EXPRS)}")
    columns = value.get("columns")
    if set(value) - {"expr", "columns"}:
        raise InvalidSpec("A computed value takes only 'expr' and 'columns'")
    if not isinstance(columns, list) or len(columns) != 2:
        raise InvalidSpec("A computed value needs exactly two columns")
    for name in columns:
        if cols.type_of(name) not in NUMERIC:
            raise InvalidSpec(f"A computed value needs numeric columns; {name!r} is {cols.type_of(name)}")
    return {"expr": expr, "columns": list(columns)}


def _number(fld, value):
    if value is None:
        if fld.required:
            raise InvalidSpec(f"{fld.label!r} needs a number")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise InvalidSpec(f"{fld.label!r} must be a number, not {value!r}") from None
    if value != value:  # NaN
        raise InvalidSpec(f"{fld.label!r} must be a number")
    if fld.minimum is not None and value < fld.minimum or fld.maximum is not None and value > fld.maximum:
        raise InvalidSpec(f"{fld.label!r} must be between {fld.minimum:g} and {fld.maximum:g}")
    # Counts (limit, bins, page sizes) are whole numbers; the rest may be fractions.
    if fld.name in ("limit", "bins", "page", "page_size"):
        if value != int(value):
            raise InvalidSpec(f"{fld.label!r} must be a whole number")
        return int(value)
    return value


def _field_value(fld, value, cols: Schema, spec: dict):
    kind = fld.kind
    if kind == "column":
        return _column(fld, value, cols)
    if kind == "columns":
        if value is None:
            value = []
        if not isinstance(value, list):
            raise InvalidSpec(f"{fld.label!r} must be a list of columns")
        if fld.required and not value:
            raise InvalidSpec(f"Choose at least one column for {fld.label!r}")
        if len(value) > 50:
            raise InvalidSpec(f"{fld.label!r} takes at most 50 columns")
        if len(set(map(str, value))) != len(value):
            raise InvalidSpec(f"{fld.label!r} names a column twice")
        return [_column(fld, v, cols) for v in value]
    if kind == "agg":
        value = value or fld.default or "count"
        if value not in AGGS:
            raise InvalidSpec(f"Unknown aggregation {value!r}; choose one of {', '.join(AGGS)}")
        return value
    if kind == "grain":
        if value is None:
            return None
        if value not in GRAINS + PARTS:
            raise InvalidSpec(f"Unknown time grain {value!r}; choose one of {', '.join(GRAINS + PARTS)}")
        return value
    if kind == "number":
        return _number(fld, value)
    if kind == "text":
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise InvalidSpec(f"{fld.label!r} must be text")
        limit = TEXT_LIMITS.get(fld.name, 2000)
        if len(value) > limit:
            raise InvalidSpec(f"{fld.label!r} must be at most {limit:,} characters long")
        return value
    if kind == "choice":
        if value is None:
            if fld.required:
                raise InvalidSpec(f"Choose a value for {fld.label!r}")
            return None
        if value not in fld.choices:
            raise InvalidSpec(f"{fld.label!r} must be one of {', '.join(map(str, fld.choices))}, not {value!r}")
        return value
    if kind == "bool":
        if value is None:
            return bool(fld.default)
        if not isinstance(value, bool):
            raise InvalidSpec(f"{fld.label!r} must be true or false")
        return value
    if kind == "filters":
        return normalize_filters(value, cols)
    if kind == "object":
        return _object(fld, value)
    raise InvalidSpec(f"Unknown field kind {kind!r}")


MAX_OBJECT_CHARS = 20_000


def _object(fld, value) -> dict:
    """A JSON object kept as it is (its owner checks its contents), of bounded size."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise InvalidSpec(f"{fld.label!r} must be a JSON object")
    try:
        text = json.dumps(value, sort_keys=True)
    except (TypeError, ValueError):
        raise InvalidSpec(f"{fld.label!r} must be plain JSON") from None
    if len(text) > MAX_OBJECT_CHARS:
        raise InvalidSpec(f"{fld.label!r} must be at most {MAX_OBJECT_CHARS:,} characters of JSON")
    return json.loads(text)


def _check_measure(out: dict, cols: Schema, wt) -> None:
    """count needs no y; sum/mean/median/percentile need a numeric one; the rest need one."""
    if "agg" not in out or "y" not in {f.name for f in wt.fields}:
        return  # types whose measure has another name (pivot's values) check it themselves
    agg, y = out["agg"], out.get("y")
    if agg != "count" and y is None:
        raise InvalidSpec(f"The aggregation {agg!r} needs a value column (y)")
    if agg in NUMERIC_AGGS and isinstance(y, str) and cols.type_of(y) not in NUMERIC:
        raise InvalidSpec(f"{AGG_OPTION_LABELS[agg]} needs a column of numbers, and {y!r} holds "
                          f"{type_words(cols.type_of(y))}: choose a number column, or count instead")
    if agg == "percentile" and out.get("percentile") is None:
        out["percentile"] = 90
    if agg != "percentile" and "percentile" in out:
        out["percentile"] = None


def _check_grains(out: dict, cols: Schema) -> None:
    for grain_key, column_key in (("time_grain", "x"), ("group_grain", "group")):
        if out.get(grain_key):
            column = out.get(column_key)
            if column is None:
                raise InvalidSpec(f"A {grain_key.replace('_', ' ')} needs a date column in {column_key!r}")
            if cols.type_of(column) not in TEMPORAL:
                raise InvalidSpec(f"A time grain needs a date or timestamp column; {column!r} is {cols.type_of(column)}")


# --- filters ------------------------------------------------------------------------------


def _scalar(value, column: str, column_type: str, grain: str | None):
    """One filter value coerced to what the column holds; it is bound, never formatted."""
    if grain in PARTS:
        try:
            if isinstance(value, bool):
                raise ValueError
            return int(value)
        except (TypeError, ValueError):
            raise InvalidSpec(f"The filter on {column!r} by {grain} needs a whole number") from None
    if column_type in TEMPORAL or grain in GRAINS:
        if isinstance(value, (dt.date, dt.datetime)):
            return value.isoformat()
        if not isinstance(value, str):
            raise InvalidSpec(f"The filter on {column!r} needs a date like 2024-01-31, not {value!r}")
        try:
            parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InvalidSpec(f"The filter on {column!r} needs a date like 2024-01-31, not {value!r}") from None
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return parsed.isoformat()
    if column_type in NUMERIC:
        if isinstance(value, bool):
            raise InvalidSpec(f"The filter on {column!r} needs a number, not {value!r}")
        if isinstance(value, (int, float)):
            return value
        try:
            number = float(str(value).strip())
        except ValueError:
            raise InvalidSpec(f"The filter on {column!r} needs a number, not {value!r}") from None
        return int(number) if number.is_integer() and column_type == "integer" else number
    if column_type == "boolean":
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "false"):
            return str(value).lower() == "true"
        raise InvalidSpec(f"The filter on {column!r} needs true or false, not {value!r}")
    if isinstance(value, (dict, list)) or value is None:
        raise InvalidSpec(f"The filter on {column!r} needs a single value")
    return str(value)


def normalize_filters(filters, cols: Schema) -> list[dict]:
    if filters is None:
        return []
    if not isinstance(filters, list):
        raise InvalidSpec("Filters must be a list")
    if len(filters) > MAX_FILTERS:
        raise InvalidSpec(f"A widget takes at most {MAX_FILTERS} filters")
    out = []
    for flt in filters:
        if not isinstance(flt, dict):
            raise InvalidSpec("Each filter must be an object with column, op and value")
        extra = set(flt) - {"column", "op", "value", "grain"}
        if extra:
            raise InvalidSpec(f"Unknown filter field {sorted(extra)[0]!r}")
        column = flt.get("column")
        column_type = cols.type_of(column)
        op = flt.get("op")
        if not isinstance(op, str) or op.strip().lower() not in OPS:
            raise InvalidSpec(f"Unknown filter operator {op!r}; choose one of {', '.join(OPS)}")
        op = op.strip().lower()
        grain = flt.get("grain")
        if grain is not None:
            if grain not in GRAINS + PARTS:
                raise InvalidSpec(f"Unknown time grain {grain!r}")
            if column_type not in TEMPORAL:
                raise InvalidSpec(f"A filter by {grain} needs a date column; {column!r} is {column_type}")
        value = flt.get("value")
        if op in ("is null", "is not null"):
            value = None
        elif op in ("in", "not in"):
            if not isinstance(value, list) or not value:
                raise InvalidSpec(f"The {op!r} filter on {column!r} needs a non-empty list of values")
            if len(value) > MAX_IN_VALUES:
                raise InvalidSpec(f"The {op!r} filter takes at most {MAX_IN_VALUES} values")
            value = [_scalar(v, column, column_type, grain) for v in value]
        elif op == "between":
            if not isinstance(value, list) or len(value) != 2 or None in value:
                raise InvalidSpec(f"The 'between' filter on {column!r} needs [low, high]")
            value = [_scalar(v, column, column_type, grain) for v in value]
        elif op == "contains":
            if not isinstance(value, str) or not value:
                raise InvalidSpec(f"The 'contains' filter on {column!r} needs some text")
        else:
            if value is None:
                raise InvalidSpec(f"The {op!r} filter on {column!r} needs a value (use 'is null' for empty)")
            value = _scalar(value, column, column_type, grain)
        item = {"column": column, "op": op, "value": value}
        if grain:
            item["grain"] = grain
        out.append(item)
    return out


# --- dashboard filters ------------------------------------------------------------------


def normalize_dashboard_filter(flt: dict) -> dict:
    """A dashboard-level filter's shape (its column is checked per widget dataset later)."""
    if not isinstance(flt, dict):
        raise InvalidSpec("Each dashboard filter must be an object")
    extra = set(flt) - {"id", "column", "kind", "value", "label"}
    if extra:
        raise InvalidSpec(f"Unknown dashboard filter field {sorted(extra)[0]!r}")
    if flt.get("kind") not in DASHBOARD_FILTER_KINDS:
        raise InvalidSpec(f"Unknown dashboard filter kind {flt.get('kind')!r}; "
                          f"choose one of {', '.join(DASHBOARD_FILTER_KINDS)}")
    if not isinstance(flt.get("column"), str) or not flt["column"]:
        raise InvalidSpec("A dashboard filter needs a column")
    fid = flt.get("id")
    if not isinstance(fid, str) or not fid or len(fid) > 64:
        raise InvalidSpec("A dashboard filter needs an id (text, at most 64 characters)")
    value = flt.get("value")
    if value not in (None, []) and not isinstance(value, list):
        raise InvalidSpec(f"The value of dashboard filter {fid!r} must be a list or null")
    if flt["kind"] in ("date_range", "numeric_range") and value not in (None, []) and len(value) != 2:
        raise InvalidSpec(f"The value of dashboard filter {fid!r} must be [start, end]")
    if isinstance(value, list) and len(value) > MAX_IN_VALUES:
        raise InvalidSpec(f"A dashboard filter takes at most {MAX_IN_VALUES} values")
    out = {"id": fid, "column": flt["column"], "kind": flt["kind"], "value": value or None}
    if flt.get("label"):
        out["label"] = str(flt["label"])[:200]
    return out


def dashboard_filter_as_widget_filters(flt: dict, column_type: str) -> list[dict]:
    """One active dashboard filter as widget filters (raw, normalised by the caller)."""
    column, kind, value = flt["column"], flt["kind"], flt.get("value")
    if not value:
        return []
    if kind == "multi_select":
        values = [v for v in value if v is not None]
        return [{"column": column, "op": "in", "value": values}] if values else []
    low, high = (list(value) + [None, None])[:2]
    out = []
    if low not in (None, ""):
        out.append({"column": column, "op": ">=", "value": low})
    if high not in (None, ""):
        # A date-only end on a timestamp column means "through the end of that day".
        if kind == "date_range" and column_type == "timestamp" and isinstance(high, str) and len(high) == 10:
            try:
                next_day = dt.date.fromisoformat(high) + dt.timedelta(days=1)
            except ValueError:
                raise InvalidSpec(f"The filter on {column!r} needs a date like 2024-01-31, not {high!r}") from None
            out.append({"column": column, "op": "<", "value": next_day.isoformat()})
        else:
            out.append({"column": column, "op": "<=", "value": high})
    return out


def apply_dashboard_filters(spec: dict, schema: list[dict], dashboard_filters: list[dict] | None,
                            parameters: list[dict] | None = None) -> dict:
    """The spec with the dashboard's active filters added, only those whose column exists in
    this widget's dataset (a filter on Country leaves a widget over another dataset alone).
    A filter named like one of ``parameters`` (a live SQL dataset's ``{{name}}``) gives that
    parameter its value instead, in ``spec["parameters"]``."""
    if not dashboard_filters:
        return spec
    cols = Schema(schema)
    named = {p["name"] for p in parameters or []}
    added, values = [], {}
    for flt in dashboard_filters:
        flt = normalize_dashboard_filter(flt)
        if flt["column"] in named:
            if flt.get("value"):
                values[flt["column"]] = flt["value"]
            continue
        if flt["column"] not in cols.types:
            continue
        added.extend(dashboard_filter_as_widget_filters(flt, cols.types[flt["column"]]))
    if not added and not values:
        return spec
    out = dict(spec)
    if added:
        out["filters"] = list(spec.get("filters") or []) + normalize_filters(added, cols)
    if values:
        out["parameters"] = {**(spec.get("parameters") or {}), **normalize_parameter_values(values)}
    return out


def normalize_parameter_values(values) -> dict:
    """A widget's values for a live SQL dataset's ``{{parameters}}``: {name: [values]}
    (its own, or a dashboard filter's); their types are checked when they are bound."""
    if not isinstance(values, dict) or len(values) > 20:
        raise InvalidSpec("parameters is an object of at most 20 {name: [values]}")
    out = {}
    for name, value in values.items():
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", name):
            raise InvalidSpec(f"{str(name)[:40]!r} is not a parameter name")
        value = value if isinstance(value, list) else [value]
        if len(value) > MAX_IN_VALUES or not all(v is None or isinstance(v, (str, int, float, bool)) for v in value):
            raise InvalidSpec(f"The parameter {name!r} takes at most {MAX_IN_VALUES} text, number or date values")
        if any(isinstance(v, str) and len(v) > 1000 for v in value):
            raise InvalidSpec(f"A value of the parameter {name!r} is longer than 1,000 characters")
        out[name] = value
    return out


def spec_columns(spec: dict) -> set[str]:
    """Every column a (normalised) spec reads: what a share-link viewer may click-filter on."""
    names: set[str] = set()
    for key in ("x", "group", "size", "per", "values"):
        if isinstance(spec.get(key), str):
            names.add(spec[key])
    y = spec.get("y")
    if isinstance(y, str):
        names.add(y)
    elif isinstance(y, dict):
        names.update(c for c in y.get("columns") or [] if isinstance(c, str))
    for key in ("rows", "columns"):
        value = spec.get(key)
        if isinstance(value, str):
            names.add(value)
        elif isinstance(value, list):
            names.update(c for c in value if isinstance(c, str))
    if spec.get("type") == "table" and isinstance(spec.get("sort"), str):
        names.add(spec["sort"])
    for flt in spec.get("filters") or []:
        if isinstance(flt, dict) and isinstance(flt.get("column"), str):
            names.add(flt["column"])
    return names
