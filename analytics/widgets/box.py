"""Box plot: quartiles per category computed in SQL (whiskers at the furthest values within
1.5 × IQR, as plotly draws them from raw data), so no raw rows leave the database."""
from __future__ import annotations

from analytics.widgets.base import (
    DISCRETE,
    NUMERIC,
    EditorField,
    Params,
    Schema,
    WidgetType,
    click_value,
    equals_filter,
    f_description,
    f_filters,
    f_title,
    figure_output,
    filter_sql,
    grain_label,
    plain,
)
from analytics.widgets._category import top_note
from analytics.widgets.theme import base_layout


class Box(WidgetType):
    name = "box"
    label = "Box plot"
    icon = "distribute-vertical"
    fields = [
        f_title(), f_description(),
        EditorField("y", "Value", "column", required=True, types=list(NUMERIC)),
        EditorField("x", "One box per", "column", types=list(DISCRETE)),
        EditorField("limit", "Boxes (top N by rows)", "number", default=20, minimum=1, maximum=100),
        f_filters(),
    ]

    def query(self, spec, schema, source_sql):
        cols = Schema(schema)
        params = Params()
        y = cols.col(spec["y"])
        x = cols.col(spec["x"]) if spec.get("x") else "'All'"
        where = filter_sql(cols, spec.get("filters"), params)
        limit = params.add(int(spec["limit"]))
        sql = (f"WITH base AS NOT MATERIALIZED (SELECT {x} AS x, CAST({y} AS DOUBLE) AS v FROM {source_sql} "
               f"WHERE {where} AND {y} IS NOT NULL), "
               "s AS (SELECT x, quantile_cont(v, 0.25) AS q1, median(v) AS med, quantile_cont(v, 0.75) AS q3, "
               f"avg(v) AS mean, count(*) AS n, count(*) OVER () AS __n_all FROM base GROUP BY x "
               f"ORDER BY n DESC, x LIMIT {limit}) "
               "SELECT s.x, s.q1, s.med, s.q3, s.mean, s.n, "
               "min(b.v) FILTER (WHERE b.v >= s.q1 - 1.5 * (s.q3 - s.q1)) AS lo, "
               "max(b.v) FILTER (WHERE b.v <= s.q3 + 1.5 * (s.q3 - s.q1)) AS hi, s.__n_all "
               "FROM s JOIN base AS b ON b.x IS NOT DISTINCT FROM s.x "
               "GROUP BY s.x, s.q1, s.med, s.q3, s.mean, s.n, s.__n_all ORDER BY s.n DESC, s.x")
        return sql, params.values

    def render(self, result, spec):
        traces = []
        for x, q1, med, q3, mean, n, lo, hi, *_ in result["rows"]:
            label = str(grain_label(x, None))
            traces.append({"type": "box", "name": label, "x": [label], "q1": [q1], "median": [med], "q3": [q3],
                           "mean": [mean], "lowerfence": [lo], "upperfence": [hi],
                           "customdata": [[plain(x)]], "showlegend": False})
        return {**figure_output(traces, base_layout(spec, yaxis={"title": {"text": spec["y"]}})),
                "note": top_note(result, spec, "boxes", offers_other=False)}

    def click_filter(self, spec, point):
        value, ok = click_value(point)
        if not ok or not spec.get("x"):
            return None
        return equals_filter(spec["x"], value)


WIDGET = Box()
