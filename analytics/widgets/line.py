"""Line chart: a value over time (or over any ordered column), optionally one line per group."""
from __future__ import annotations

from analytics.widgets import _category as cat
from analytics.widgets.base import (
    DIMENSION,
    WidgetType,
    f_agg,
    f_description,
    f_filters,
    f_grain,
    f_group,
    f_limit,
    f_number_format,
    f_per,
    f_percentile,
    f_sort,
    f_title,
    f_x,
    f_y,
    figure_output,
)
from analytics.widgets.formatting import no_separator
from analytics.widgets.theme import base_layout


class Line(WidgetType):
    name = "line"
    label = "Line chart"
    icon = "graph-up"
    fill = None
    fields = [
        f_title(), f_description(),
        f_x("X axis (usually a date)", types=DIMENSION), f_grain(), f_y(), f_agg("sum"), f_percentile(), f_per(),
        f_group("One line per"), f_sort(default=None), f_limit(1000, 5000, "Max points"), f_number_format(),
        f_filters(),
    ]

    def normalize(self, spec, schema):
        spec["sort"] = spec["sort"] or "x"  # a line reads left to right
        return spec

    def query(self, spec, schema, source_sql):
        return cat.category_query(spec, schema, source_sql)

    def render(self, result, spec):
        traces = []
        for name, _raw, xs, labels, ys in cat.series(result, spec):
            trace = {"type": "scatter", "mode": "lines+markers" if len(xs) <= 60 else "lines",
                     "name": name if name is not None else "", "x": labels, "y": ys,
                     "customdata": cat.customdata(xs)}
            if self.fill:
                trace["fill"] = self.fill
                if spec.get("group"):
                    trace["stackgroup"] = "one"
            traces.append(trace)
        layout = base_layout(spec, showlegend=bool(spec.get("group")))
        x = spec.get("x")
        if (result.get("types") or {}).get(x) == "integer" and not spec.get("time_grain") and no_separator(
                x, (result.get("roles") or {}).get(x), [r[0] for r in result["rows"]], True):
            layout["xaxis"] = {"tickformat": "d", "hoverformat": "d"}  # years on an axis: 2013, not 2,013
        return {**figure_output(traces, layout),
                "note": cat.top_note(result, spec, "points", offers_other=False)}

    def click_filter(self, spec, point):
        return cat.category_click(spec, point)


WIDGET = Line()
