"""Treemap: a value by category, optionally nested one level (x, then group)."""
from __future__ import annotations

from analytics.widgets import _category as cat
from analytics.widgets.base import (
    DISCRETE,
    EditorField,
    WidgetType,
    f_agg,
    f_description,
    f_filters,
    f_number_format,
    f_percentile,
    f_title,
    f_x,
    f_y,
    figure_output,
    grain_label,
    plain,
)
from analytics.widgets.theme import base_layout


class Treemap(WidgetType):
    name = "treemap"
    label = "Treemap"
    icon = "bounding-box"
    fields = [
        f_title(), f_description(),
        f_x("Category", types=DISCRETE), EditorField("group", "Inside each, by", "column", types=list(DISCRETE)),
        f_y(), f_agg("sum"), f_percentile(),
        EditorField("limit", "Categories (top N)", "number", default=20, minimum=1, maximum=100),
        f_number_format(), f_filters(),
    ]

    def normalize(self, spec, schema):
        spec["sort"] = "-y"
        return spec

    def query(self, spec, schema, source_sql):
        return cat.category_query(spec, schema, source_sql, max_groups=30)

    def render(self, result, spec):
        ids, labels, parents, values, custom = [], [], [], [], []
        if not spec.get("group"):
            for x, y in result["rows"]:
                ids.append(str(plain(x)))
                labels.append(str(grain_label(x, None)))
                parents.append("")
                values.append(plain(y))
                custom.append([plain(x)])
            trace = {"type": "treemap", "ids": ids, "labels": labels, "parents": parents, "values": values,
                     "customdata": custom}
        else:
            totals: dict = {}
            for x, g, y in result["rows"]:
                key = plain(x)
                totals[key] = totals.get(key, 0) + (plain(y) or 0)
                ids.append(f"{key}/{plain(g)}")
                labels.append(str(grain_label(g, None)))
                parents.append(str(key))
                values.append(plain(y))
                custom.append([key])
            for key, total in totals.items():
                ids.append(str(key))
                labels.append(str(grain_label(key, None)))
                parents.append("")
                values.append(total)
                custom.append([key])
            trace = {"type": "treemap", "ids": ids, "labels": labels, "parents": parents, "values": values,
                     "customdata": custom, "branchvalues": "total"}
        return figure_output([trace], base_layout({}))

    def click_filter(self, spec, point):
        return cat.category_click(spec, point)


WIDGET = Treemap()
