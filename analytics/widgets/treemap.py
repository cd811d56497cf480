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
    f_other,
    f_percentile,
    f_title,
    f_x,
    f_y,
    figure_output,
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
        f_other(True), f_number_format(), f_filters(),
    ]

    def normalize(self, spec, schema):
        spec["sort"] = "-y"
        return spec

    def query(self, spec, schema, source_sql):
        return cat.category_query(spec, schema, source_sql, max_groups=30)

    def render(self, result, spec):
        ids, labels, parents, values, custom = [], [], [], [], []

        def node_id(x) -> str:
            return "__other__" if x == cat.OTHER_KEY else str(x)

        lines = cat.series(result, spec)
        if not spec.get("group"):
            (_n, _r, xs, names, ys), = lines
            for x, name, y in zip(xs, names, ys):
                ids.append(node_id(x))
                labels.append(str(name))
                parents.append("")
                values.append(y)
            trace = {"type": "treemap", "ids": ids, "labels": labels, "parents": parents, "values": values,
                     "customdata": cat.customdata(xs)}
        else:
            totals: dict = {}
            names: dict = {}
            for group_label, _raw, xs, x_labels, ys in lines:
                for x, name, y in zip(xs, x_labels, ys):
                    if y is None:
                        continue
                    totals[x] = totals.get(x, 0) + y
                    names[x] = name
                    ids.append(f"{node_id(x)}/{group_label}")
                    labels.append(str(group_label))
                    parents.append(node_id(x))
                    values.append(y)
                    custom.append([] if x == cat.OTHER_KEY else [x])
            for x, total in totals.items():
                ids.append(node_id(x))
                labels.append(str(names[x]))
                parents.append("")
                values.append(total)
                custom.append([] if x == cat.OTHER_KEY else [x])
            trace = {"type": "treemap", "ids": ids, "labels": labels, "parents": parents, "values": values,
                     "customdata": custom, "branchvalues": "total"}
        return {**figure_output([trace], base_layout({})), "note": cat.top_note(result, spec)}

    def click_filter(self, spec, point):
        return cat.category_click(spec, point)


WIDGET = Treemap()
