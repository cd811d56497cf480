"""Scatter: two numeric columns, sampled to a stated cap, with an optional least-squares
trend line fitted in SQL over all the filtered rows (not only the sample)."""
from __future__ import annotations

import math

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
    plain,
)
from analytics.widgets.theme import base_layout


# DuckDB takes a sample size only as SQL text, so the size is one of these words of ours,
# looked up by the chosen number, never the request's own text.
SAMPLE_SIZES = {500: "500", 1000: "1000", 2000: "2000", 5000: "5000"}


class Scatter(WidgetType):
    name = "scatter"
    label = "Scatter plot"
    icon = "diagram-3"
    fields = [
        f_title(), f_description(),
        EditorField("x", "X axis", "column", required=True, types=list(NUMERIC)),
        EditorField("y", "Y axis", "column", required=True, types=list(NUMERIC)),
        EditorField("group", "Colour by", "column", types=list(DISCRETE)),
        EditorField("size", "Size by", "column", types=list(NUMERIC)),
        EditorField("limit", "Points shown (sample)", "choice", choices=list(SAMPLE_SIZES), default=2000,
                    labels={n: f"{n:,} points" for n in SAMPLE_SIZES}),
        EditorField("trendline", "Trend line", "bool", default=False),
        f_filters(),
    ]

    def query(self, spec, schema, source_sql):
        cols = Schema(schema)
        params = Params()
        x, y = cols.col(spec["x"]), cols.col(spec["y"])
        extra = ""
        if spec.get("group"):
            extra += f", {cols.col(spec['group'])} AS g"
        if spec.get("size"):
            extra += f", CAST({cols.col(spec['size'])} AS DOUBLE) AS s"
        where = filter_sql(cols, spec.get("filters"), params)
        size = SAMPLE_SIZES[spec["limit"]]
        # A uniform sample of the filtered rows (reservoir, fixed seed: the same points for
        # the same data), and the least-squares fit over all of them.
        sql = (f"WITH base AS NOT MATERIALIZED (SELECT CAST({x} AS DOUBLE) AS x, CAST({y} AS DOUBLE) AS y{extra} "
               f"FROM {source_sql} WHERE {where} AND {x} IS NOT NULL AND {y} IS NOT NULL), "
               "fit AS (SELECT count(*) AS n, regr_slope(y, x) AS slope, regr_intercept(y, x) AS intercept FROM base) "
               f"SELECT sample.*, fit.n, fit.slope, fit.intercept FROM "
               f"(SELECT * FROM base USING SAMPLE reservoir({size} ROWS) REPEATABLE (7)) AS sample CROSS JOIN fit")
        return sql, params.values

    def render(self, result, spec):
        columns, rows = result["columns"], result["rows"]
        idx = {c: i for i, c in enumerate(columns)}
        groups: dict = {}
        for r in rows:
            groups.setdefault(plain(r[idx["g"]]) if "g" in idx else None, []).append(r)
        traces = []
        sizes = [r[idx["s"]] for r in rows if r[idx["s"]] is not None] if "s" in idx else []
        top = max(sizes) if sizes else None
        for g, members in groups.items():
            trace = {"type": "scatter", "mode": "markers",
                     "name": "" if g is None else str(g), "x": [plain(r[0]) for r in members],
                     "y": [plain(r[1]) for r in members], "customdata": [[g] for _ in members],
                     "marker": {"opacity": 0.7}}
            if top:
                trace["marker"]["size"] = [4 + 26 * (max(0.0, r[idx["s"]] or 0) / top) for r in members]
            traces.append(trace)
        total = rows[0][idx["n"]] if rows else 0
        note = None
        fitted = bool(rows) and _finite(rows[0][idx["slope"]]) and _finite(rows[0][idx["intercept"]])
        if spec.get("trendline") and rows and not fitted:
            # A column that never changes has no slope: draw the points, say why there is no line.
            xs = {r[0] for r in rows}
            note = (f"No trend line: {spec['x']} has one value only ({plain(rows[0][0]):g})" if len(xs) == 1
                    else "No trend line: the points do not vary enough to fit one")
        if spec.get("trendline") and fitted:
            slope, intercept = rows[0][idx["slope"]], rows[0][idx["intercept"]]
            xs = [r[0] for r in rows]
            lo, hi = min(xs), max(xs)
            traces.append({"type": "scatter", "mode": "lines", "name": "Trend", "x": [lo, hi],
                           "y": [intercept + slope * lo, intercept + slope * hi], "hoverinfo": "skip",
                           "line": {"dash": "dash", "color": "#6c757d"}})
        layout = base_layout(spec, showlegend=bool(spec.get("group")) or bool(spec.get("trendline")),
                             xaxis={"title": {"text": spec["x"]}}, yaxis={"title": {"text": spec["y"]}})
        if total > len(rows):
            layout["annotations"] = [{"text": f"Sample of {len(rows):,} of {total:,} points", "showarrow": False,
                                      "xref": "paper", "yref": "paper", "x": 1, "y": 1, "xanchor": "right",
                                      "font": {"size": 10, "color": "#6c757d"}}]
        return {**figure_output(traces, layout), "note": note}

    def click_filter(self, spec, point):
        value, ok = click_value(point)
        if not ok or not spec.get("group"):
            return None
        return equals_filter(spec["group"], value)


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


WIDGET = Scatter()
