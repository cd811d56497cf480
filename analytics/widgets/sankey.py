"""Sankey: flows from the values of one column to the values of another, top N links."""
from __future__ import annotations

from analytics.widgets.base import (
    DISCRETE,
    EditorField,
    Params,
    Schema,
    WidgetType,
    aggregate_sql,
    click_value,
    equals_filter,
    f_agg,
    f_description,
    f_filters,
    f_number_format,
    f_percentile,
    f_title,
    f_y,
    figure_output,
    filter_sql,
    grain_label,
    plain,
)
from analytics.widgets.theme import COLORWAY, base_layout
from errors import InvalidSpec


class Sankey(WidgetType):
    name = "sankey"
    label = "Sankey"
    icon = "shuffle"
    fields = [
        f_title(), f_description(),
        EditorField("x", "From", "column", required=True, types=list(DISCRETE)),
        EditorField("group", "To", "column", required=True, types=list(DISCRETE)),
        f_y(), f_agg("count"), f_percentile(),
        EditorField("limit", "Links (top N)", "number", default=40, minimum=1, maximum=200),
        f_number_format(), f_filters(),
    ]

    def normalize(self, spec, schema):
        if spec["x"] == spec["group"]:
            raise InvalidSpec("A sankey needs two different columns for From and To")
        return spec

    def query(self, spec, schema, source_sql):
        cols = Schema(schema)
        params = Params()
        agg = aggregate_sql(spec, cols, params)
        where = filter_sql(cols, spec.get("filters"), params)
        limit = params.add(int(spec["limit"]))
        sql = (f"SELECT {cols.col(spec['x'])} AS x, {cols.col(spec['group'])} AS g, {agg} AS y FROM {source_sql} "
               f"WHERE {where} GROUP BY 1, 2 ORDER BY y DESC NULLS LAST, x, g LIMIT {limit}")
        return sql, params.values

    def render(self, result, spec):
        sources, targets = [], []
        for x, g, _ in result["rows"]:
            if plain(x) not in sources:
                sources.append(plain(x))
            if plain(g) not in targets:
                targets.append(plain(g))
        # Each side gets its own nodes: the same value on both sides would make a cycle.
        labels = [str(grain_label(v, None)) for v in sources] + [str(grain_label(v, None)) for v in targets]
        colours = [COLORWAY[i % len(COLORWAY)] for i in range(len(sources))] + ["#adb5bd"] * len(targets)
        link = {"source": [], "target": [], "value": [], "customdata": []}
        for x, g, y in result["rows"]:
            link["source"].append(sources.index(plain(x)))
            link["target"].append(len(sources) + targets.index(plain(g)))
            link["value"].append(plain(y) or 0)
            link["customdata"].append([plain(x)])
        trace = {"type": "sankey", "node": {"label": labels, "color": colours, "pad": 12, "thickness": 14,
                                            "customdata": [[v] for v in sources] + [[None] for _ in targets]},
                 "link": link}
        return figure_output([trace], base_layout({}))

    def click_filter(self, spec, point):
        value, ok = click_value(point)
        if not ok or value is None:
            return None
        return equals_filter(spec["x"], value)


WIDGET = Sankey()
