"""Heatmap: a value over two dimensions (e.g. weekday × hour of day), top N of each."""
from __future__ import annotations

from analytics.widgets import _category as cat
from analytics.widgets.base import (
    DIMENSION,
    GRAINS,
    EditorField,
    WidgetType,
    f_agg,
    f_description,
    f_filters,
    f_grain,
    f_number_format,
    f_per,
    f_percentile,
    f_title,
    f_y,
    figure_output,
    grain_label,
    plain,
)
from analytics.widgets.theme import SEQUENTIAL, base_layout


class Heatmap(WidgetType):
    name = "heatmap"
    label = "Heatmap"
    icon = "grid-3x3"
    fields = [
        f_title(), f_description(),
        EditorField("x", "Columns (X)", "column", required=True, types=list(DIMENSION)), f_grain(),
        EditorField("group", "Rows (Y)", "column", required=True, types=list(DIMENSION)),
        f_grain("group_grain", "Rows time grain"),
        f_y(), f_agg("sum"), f_percentile(), f_per(),
        EditorField("limit", "Top N per axis", "number", default=30, minimum=1, maximum=100),
        f_number_format(), f_filters(),
    ]

    def normalize(self, spec, schema):
        spec["sort"] = "x" if spec.get("time_grain") or cat.x_is_time(spec, schema) else "-y"
        return spec

    def query(self, spec, schema, source_sql):
        return cat.category_query(spec, schema, source_sql, max_groups=int(spec["limit"]))

    def render(self, result, spec):
        rows = result["rows"]
        xs, gs, cells = [], [], {}
        for x, g, y, *_ in rows:
            kx, kg = plain(x), plain(g)
            if kx not in xs:
                xs.append(kx)
            if kg not in gs:
                gs.append(kg)
            cells[(kx, kg)] = plain(y)
        # Periods and cyclic parts (weekday, hour) read in their own order, not by value.
        if spec.get("time_grain"):
            xs.sort(key=lambda v: (v is None, v))
        if spec.get("group_grain"):
            gs.sort(key=lambda v: (v is None, v))
        raw = {plain(r[0]): r[0] for r in rows}
        graw = {plain(r[1]): r[1] for r in rows}
        x_labels = [str(v) if spec.get("time_grain") in GRAINS else str(grain_label(raw[v], spec.get("time_grain")))
                    for v in xs]
        g_labels = [str(v) if spec.get("group_grain") in GRAINS else str(grain_label(graw[v], spec.get("group_grain")))
                    for v in gs]
        z = [[cells.get((x, g)) for x in xs] for g in gs]
        trace = {"type": "heatmap", "x": x_labels, "y": g_labels, "z": z, "colorscale": SEQUENTIAL,
                 "customdata": [[[x, g] for x in xs] for g in gs], "hoverongaps": False}
        layout = base_layout(spec, xaxis={"type": "category"}, yaxis={"type": "category", "autorange": "reversed"})
        layout["yaxis"].pop("tickformat", None)
        return {**figure_output([trace], layout), "note": cat.top_note(result, spec, "columns", offers_other=False)}

    def click_filter(self, spec, point):
        data = point.get("customdata") if isinstance(point, dict) else None
        if not isinstance(data, list) or not data:
            return None
        return cat.equals_filter(spec["x"], data[0], spec.get("time_grain"))


WIDGET = Heatmap()
