"""Histogram: a numeric column cut into equal-width bins, counted in SQL."""
from __future__ import annotations

from analytics.widgets.base import (
    NUMERIC,
    EditorField,
    Params,
    Schema,
    WidgetType,
    f_description,
    f_filters,
    f_title,
    figure_output,
    filter_sql,
)
from analytics.widgets.theme import base_layout


def bin_edges(lo: float, hi: float, bins: int) -> list[float]:
    width = (hi - lo) / bins if hi > lo else 1.0
    return [lo + i * width for i in range(bins + 1)]


class Histogram(WidgetType):
    name = "histogram"
    label = "Histogram"
    icon = "bar-chart-steps"
    fields = [
        f_title(), f_description(),
        EditorField("x", "Column", "column", required=True, types=list(NUMERIC)),
        EditorField("bins", "Bins", "number", default=30, minimum=1, maximum=200),
        f_filters(),
    ]

    def query(self, spec, schema, source_sql):
        cols = Schema(schema)
        params = Params()
        x = cols.col(spec["x"])
        where = filter_sql(cols, spec.get("filters"), params)
        bins = params.add(int(spec["bins"]))
        if not spec.get("filters") and spec["x"] in cols.ranges:
            # Unfiltered, the bounds are the file's statistics: one pass, no join.
            low, high = cols.ranges[spec["x"]]
            lo, hi = f"CAST({params.add(low)} AS DOUBLE)", f"CAST({params.add(high)} AS DOUBLE)"
            v = f"CAST({x} AS DOUBLE)"
            return (f"SELECT greatest(least(coalesce(CAST(floor(({v} - {lo}) / nullif({hi} - {lo}, 0) * {bins}) "
                    f"AS BIGINT), 0), {bins} - 1), 0) AS bin, count(*) AS n, any_value({lo}) AS lo, "
                    f"any_value({hi}) AS hi FROM {source_sql} WHERE {where} AND {x} IS NOT NULL AND isfinite({v}) "
                    "GROUP BY bin ORDER BY bin"), params.values
        # The last bin is closed on the right, like numpy.histogram, so max falls in it.
        # NOT MATERIALIZED: scanning the column twice is cheaper than keeping every value.
        sql = (f"WITH base AS NOT MATERIALIZED (SELECT CAST({x} AS DOUBLE) AS v FROM {source_sql} WHERE {where} "
               f"AND {x} IS NOT NULL AND isfinite(CAST({x} AS DOUBLE))), "
               "bounds AS (SELECT min(v) AS lo, max(v) AS hi FROM base) "
               f"SELECT greatest(least(coalesce(CAST(floor((v - lo) / nullif(hi - lo, 0) * {bins}) AS BIGINT), 0), "
               f"{bins} - 1), 0) AS bin, count(*) AS n, any_value(lo) AS lo, any_value(hi) AS hi "
               "FROM base CROSS JOIN bounds GROUP BY bin ORDER BY bin")
        return sql, params.values

    def render(self, result, spec):
        rows = result["rows"]
        bins = int(spec["bins"])
        counts = [0] * bins
        edges = [0.0, 1.0]
        if rows:
            lo, hi = float(rows[0][2]), float(rows[0][3])
            edges = bin_edges(lo, hi, bins)
            for b, n, _, _ in rows:
                counts[int(b)] = int(n)
        else:
            bins, counts = 0, []
        centers = [(edges[i] + edges[i + 1]) / 2 for i in range(bins)]
        widths = [edges[i + 1] - edges[i] for i in range(bins)]
        trace = {"type": "bar", "x": centers, "y": counts, "width": widths, "name": spec["x"],
                 "customdata": [[edges[i], edges[i + 1]] for i in range(bins)],
                 "hovertemplate": "%{customdata[0]:.4g} – %{customdata[1]:.4g}: %{y:,}<extra></extra>"}
        layout = base_layout(spec, bargap=0.02, xaxis={"title": {"text": spec["x"]}})
        return figure_output([trace], layout)

    def click_filter(self, spec, point):
        data = point.get("customdata") if isinstance(point, dict) else None
        if not isinstance(data, list) or len(data) != 2:
            return None
        return {"column": spec["x"], "op": "between", "value": [data[0], data[1]]}


WIDGET = Histogram()
