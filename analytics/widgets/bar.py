"""Bar chart: grouped, stacked or 100 % stacked, vertical or horizontal."""
from __future__ import annotations

from analytics.widgets import _category as cat
from analytics.widgets.base import (
    DIMENSION,
    D3_FORMATS,
    EditorField,
    WidgetType,
    f_agg,
    f_description,
    f_filters,
    f_grain,
    f_group,
    f_limit,
    f_number_format,
    f_other,
    f_per,
    f_percentile,
    f_sort,
    f_title,
    f_x,
    f_y,
    figure_output,
)
from analytics.widgets.theme import base_layout

BARMODES = {"grouped": ("group", None), "stacked": ("stack", None), "percent": ("stack", "percent")}
BARMODE_LABELS = {"grouped": "Side by side", "stacked": "Stacked", "percent": "Stacked to 100 %"}


class Bar(WidgetType):
    name = "bar"
    label = "Bar chart"
    icon = "bar-chart"
    fields = [
        f_title(), f_description(),
        f_x("Categories", types=DIMENSION), f_grain(), f_y(), f_agg("sum"), f_percentile(), f_per(),
        f_group(),
        EditorField("stacking", "Bars", "choice", choices=list(BARMODES), default="grouped", labels=BARMODE_LABELS,
                    help="How the bars of one category sit when coloured by a second column"),
        EditorField("orientation", "Orientation", "choice", choices=["v", "h"], default="v",
                    labels={"v": "Vertical bars", "h": "Horizontal bars"}),
        f_sort(), f_limit(20, 500), f_other(False), f_number_format(), f_filters(),
    ]

    def normalize(self, spec, schema):
        spec["sort"] = spec["sort"] or cat.default_sort(spec, schema)
        return spec

    def query(self, spec, schema, source_sql):
        return cat.category_query(spec, schema, source_sql)

    def render(self, result, spec):
        horizontal = spec.get("orientation") == "h"
        traces = []
        for name, _raw, xs, labels, ys in cat.series(result, spec):
            trace = {"type": "bar", "name": name if name is not None else "", "customdata": cat.customdata(xs),
                     "orientation": "h" if horizontal else "v"}
            if horizontal:
                trace.update(x=ys, y=labels)
            else:
                trace.update(x=labels, y=ys)
            traces.append(trace)
        barmode, barnorm = BARMODES[spec.get("stacking") or "grouped"]
        fmt = D3_FORMATS.get(spec.get("number_format") or "auto", "")
        category_axis = {"type": "category"} if spec.get("time_grain") not in ("year", "quarter", "month", "week",
                                                                                   "day", "hour") else {}
        value_axis = {"tickformat": fmt} if fmt else {}
        layout = base_layout({}, barmode=barmode, showlegend=bool(spec.get("group")))
        if barnorm:
            layout["barnorm"] = barnorm
        if horizontal:
            layout["yaxis"] = {**category_axis, "autorange": "reversed"}
            layout["xaxis"] = value_axis
        else:
            layout["xaxis"] = category_axis
            layout["yaxis"] = value_axis
        return {**figure_output(traces, layout), "note": cat.top_note(result, spec)}

    def click_filter(self, spec, point):
        return cat.category_click(spec, point)


WIDGET = Bar()
