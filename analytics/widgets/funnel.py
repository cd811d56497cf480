"""Funnel: a value per stage, largest first (or in label order with sort "x")."""
from __future__ import annotations

from analytics.widgets import _category as cat
from analytics.widgets.base import (
    DISCRETE,
    WidgetType,
    f_agg,
    f_description,
    f_filters,
    f_limit,
    f_number_format,
    f_percentile,
    f_sort,
    f_title,
    f_x,
    f_y,
    figure_output,
)
from analytics.widgets.theme import base_layout


class Funnel(WidgetType):
    name = "funnel"
    label = "Funnel"
    icon = "funnel"
    fields = [
        f_title(), f_description(),
        f_x("Stage", types=DISCRETE), f_y(), f_agg("count"), f_percentile(),
        f_sort(default="-y"), f_limit(10, 50, "Stages"), f_number_format(), f_filters(),
    ]

    def query(self, spec, schema, source_sql):
        return cat.category_query(spec, schema, source_sql)

    def render(self, result, spec):
        (_n, _r, xs, labels, ys), = cat.series(result, spec)
        trace = {"type": "funnel", "y": [str(v) for v in labels], "x": ys, "customdata": [[x] for x in xs],
                 "textinfo": "value+percent initial"}
        layout = base_layout({}, yaxis={"type": "category"})
        return {**figure_output([trace], layout), "note": cat.top_note(result, spec, "stages", offers_other=False)}

    def click_filter(self, spec, point):
        return cat.category_click(spec, point)


WIDGET = Funnel()
