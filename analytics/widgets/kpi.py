"""KPI number: one aggregate, optionally compared with the previous period (the latest
time bucket against the one before, with the change in per cent) and a sparkline."""
from __future__ import annotations

from analytics.widgets.base import (
    AGG_LABELS,
    D3_FORMATS,
    GRAINS,
    TEMPORAL,
    EditorField,
    Params,
    Schema,
    WidgetType,
    REAGGREGATE,
    aggregate_sql,
    dimension_sql,
    f_agg,
    f_description,
    f_filters,
    f_number_format,
    f_per,
    f_percentile,
    f_title,
    f_y,
    figure_output,
    filter_sql,
    grouped_source,
    plain,
)
from errors import InvalidSpec

MAX_BUCKETS = 400  # sparkline points; the oldest are dropped beyond this


def measure_label(spec: dict) -> str:
    y = spec.get("y")
    if y is None:
        return "Rows"
    name = y if isinstance(y, str) else f" {'×+−÷'['mul add sub div'.split().index(y['expr'])]} ".join(y["columns"])
    label = f"{AGG_LABELS[spec.get('agg') or 'count']} of {name}"
    if spec.get("per"):
        label += f" per {spec['per']}"
    return label


class Kpi(WidgetType):
    name = "kpi"
    label = "KPI number"
    icon = "123"
    fields = [
        f_title(), f_description(),
        f_y(), f_agg("sum"), f_percentile(), f_per(),
        EditorField("x", "Date column", "column", types=list(TEMPORAL),
                    help="Needed to compare with the previous period or draw a sparkline"),
        EditorField("time_grain", "Period", "grain", choices=list(GRAINS),
                    help="The period compared and drawn (month when not set)"),
        EditorField("compare_previous", "Compare with the previous period", "bool", default=False),
        EditorField("sparkline", "Sparkline", "bool", default=False),
        f_number_format(), f_filters(),
    ]

    def normalize(self, spec, schema):
        if (spec["compare_previous"] or spec["sparkline"]) and not spec.get("x"):
            raise InvalidSpec("Choose a date column to compare with the previous period or draw a sparkline")
        if not spec.get("x"):
            spec["time_grain"] = None
        return spec

    def query(self, spec, schema, source_sql):
        cols = Schema(schema)
        params = Params()
        where = filter_sql(cols, spec.get("filters"), params)
        if not spec.get("x"):
            agg = aggregate_sql(spec, cols, params, whole_table=True)
            return (f"SELECT 1 AS is_total, NULL AS b, {agg} AS y, NULL AS total FROM {source_sql} WHERE {where}",
                    params.values)
        grain = spec.get("time_grain") or "month"
        limit = params.add(MAX_BUCKETS + 1)
        if (spec.get("agg") or "count") in REAGGREGATE and not spec.get("per"):
            # The total is the periods combined (rows without a date included): a window
            # over a few hundred rows instead of a second aggregation of every row.
            bucket, source, inner_where, agg = grouped_source({**spec, "time_grain": grain}, cols, params, source_sql,
                                                              where)
            total = f"{REAGGREGATE[spec.get('agg') or 'count']}(y) OVER ()"
            sql = (f"SELECT 0 AS is_total, b, y, {total} AS total FROM (SELECT {bucket} AS b, {agg} AS y "
                   f"FROM {source} WHERE {inner_where} GROUP BY 1) ORDER BY b DESC NULLS LAST LIMIT {limit}")
            return sql, params.values
        bucket = dimension_sql(cols, spec["x"], grain)
        agg = aggregate_sql(spec, cols, params)
        # One scan: the total (grouping set ()) and one row per period, newest first.
        sql = (f"SELECT gb AS is_total, b, y, NULL AS total FROM (SELECT {bucket} AS b, {agg} AS y, "
               f"grouping({bucket}) AS gb FROM {source_sql} WHERE {where} "
               f"GROUP BY GROUPING SETS (({bucket}), ())) ORDER BY is_total DESC, b DESC NULLS LAST LIMIT {limit}")
        return sql, params.values

    def render(self, result, spec):
        rows = result["rows"]
        total = next((r[2] for r in rows if r[0]), None)
        if total is None and rows and rows[0][3] is not None:
            total = rows[0][3]  # the additive total carried on every period row
        buckets = [(r[1], r[2]) for r in rows if not r[0] and r[1] is not None]  # newest first; no undated rows
        value, previous, delta = total, None, None
        if spec.get("compare_previous") and buckets:
            value = buckets[0][1]
            previous = buckets[1][1] if len(buckets) > 1 else None
            if previous not in (None, 0) and value is not None:
                delta = (float(value) - float(previous)) / abs(float(previous)) * 100
        sparkline = None
        if spec.get("sparkline") and buckets:
            points = list(reversed(buckets))
            sparkline = figure_output(
                [{"type": "scatter", "mode": "lines", "x": [plain(b) for b, _ in points],
                  "y": [plain(v) for _, v in points], "line": {"width": 2}, "fill": "tozeroy",
                  "hoverinfo": "x+y"}],
                {"margin": {"l": 0, "r": 0, "t": 0, "b": 0}, "height": 60, "showlegend": False,
                 "xaxis": {"visible": False}, "yaxis": {"visible": False},
                 "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
                 "template": {"layout": {"colorway": ["#0d6efd"]}}},
            )["figure"]
        label = spec.get("title") or measure_label(spec)
        if spec.get("compare_previous") and buckets:
            grain = spec.get("time_grain") or "month"
            label += f" · {_period(buckets[0][0], grain)} vs previous {grain}"
        return {"kind": "kpi", "value": plain(value), "previous": plain(previous),
                "delta_pct": None if delta is None else round(delta, 2), "label": label,
                "format": D3_FORMATS.get(spec.get("number_format") or "auto", ""), "sparkline": sparkline}


def _period(value, grain) -> str:
    from analytics.widgets.base import grain_label

    return str(grain_label(value, grain or "month"))


WIDGET = Kpi()
