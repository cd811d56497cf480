"""Pie or donut: shares of the top categories."""
from __future__ import annotations

from analytics.widgets import _category as cat
from analytics.widgets.base import (
    DISCRETE,
    EditorField,
    WidgetType,
    f_agg,
    f_description,
    f_filters,
    f_grain,
    f_limit,
    f_number_format,
    f_other,
    f_percentile,
    f_title,
    f_x,
    f_y,
    figure_output,
)
from analytics.widgets.theme import base_layout


class Pie(WidgetType):
    name = "pie"
    label = "Pie / donut"
    icon = "pie-chart"
    fields = [
        f_title(), f_description(),
        f_x("Slices", types=DISCRETE + ("date", "timestamp")), f_grain(), f_y(), f_agg("sum"), f_percentile(),
        EditorField("donut", "Donut", "bool", default=False),
        # On by default: a pie's shares are of its slices, so leaving the rest out inflates them.
        f_limit(10, 50, "Slices (top N)"), f_other(True), f_number_format(), f_filters(),
    ]

    def normalize(self, spec, schema):
        spec["sort"] = "-y"
        return spec

    def query(self, spec, schema, source_sql):
        return cat.category_query(spec, schema, source_sql)

    def render(self, result, spec):
        (_name, _raw, xs, labels, ys), = cat.series(result, spec)
        trace = {"type": "pie", "labels": [str(v) for v in labels], "values": ys, "customdata": cat.customdata(xs),
                 "hole": 0.5 if spec.get("donut") else 0, "sort": False, "textinfo": "percent",
                 "textposition": "inside"}
        return {**figure_output([trace], base_layout(spec, showlegend=True)),
                "note": cat.top_note(result, spec, "slices")}

    def click_filter(self, spec, point):
        return cat.category_click(spec, point)


WIDGET = Pie()
