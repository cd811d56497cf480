"""Pivot table: one value aggregated by row columns and (optionally) one column whose
values become the table's columns; the top 30 of those and the top 500 rows by total."""
from __future__ import annotations

from analytics.widgets.base import (
    D3_FORMATS,
    DIMENSION,
    NUMERIC,
    NUMERIC_AGGS,
    EditorField,
    Params,
    Schema,
    WidgetType,
    aggregate_sql,
    f_agg,
    f_description,
    f_filters,
    f_number_format,
    f_percentile,
    f_title,
    filter_sql,
    grain_label,
    plain,
)
from analytics.widgets.formatting import table_formats
from errors import InvalidSpec

MAX_PIVOT_COLUMNS = 30


class Pivot(WidgetType):
    name = "pivot"
    label = "Pivot table"
    icon = "grid"
    fields = [
        f_title(), f_description(),
        EditorField("rows", "Rows", "columns", required=True, types=list(DIMENSION)),
        EditorField("columns", "Columns", "column", types=list(DIMENSION)),
        EditorField("values", "Values", "column", types=list(DIMENSION),
                    help="The column to aggregate; not needed for a count"),
        f_agg("sum"), f_percentile(),
        # Rows x columns must stay under the engine's row cap (300 x 30 = 9,000 cells).
        EditorField("limit", "Rows shown", "number", default=200, minimum=1, maximum=300),
        f_number_format(), f_filters(),
    ]

    def normalize(self, spec, schema):
        if len(spec["rows"]) > 3:
            raise InvalidSpec("A pivot table takes at most 3 row columns")
        agg, values = spec["agg"], spec.get("values")
        if agg != "count" and values is None:
            raise InvalidSpec(f"The aggregation {agg!r} needs a values column")
        if agg in NUMERIC_AGGS and schema.type_of(values) not in NUMERIC:
            raise InvalidSpec(f"The aggregation {agg!r} needs a numeric column; {values!r} is {schema.type_of(values)}")
        if spec.get("columns") in spec["rows"]:
            raise InvalidSpec("A column cannot be both a row and a column of the pivot")
        if agg == "percentile" and spec.get("percentile") is None:
            spec["percentile"] = 90
        return spec

    def query(self, spec, schema, source_sql):
        cols = Schema(schema)
        params = Params()
        agg = aggregate_sql({**spec, "y": spec.get("values")}, cols, params)
        where = filter_sql(cols, spec.get("filters"), params)
        rows = [f"{cols.col(r)} AS r{i}" for i, r in enumerate(spec["rows"])]
        keys = [f"r{i}" for i in range(len(rows))]
        column = f"{cols.col(spec['columns'])}" if spec.get("columns") else "NULL"
        limit = params.add(int(spec["limit"]))
        climit = params.add(MAX_PIVOT_COLUMNS)
        join = " AND ".join(f"t.{k} IS NOT DISTINCT FROM top_r.{k}" for k in keys)
        sql = (
            f"WITH t AS (SELECT {', '.join(rows)}, {column} AS c, {agg} AS v FROM {source_sql} WHERE {where} "
            f"GROUP BY ALL), "
            f"top_c AS (SELECT c, row_number() OVER (ORDER BY sum(v) DESC NULLS LAST, c) AS ck FROM t GROUP BY c "
            f"ORDER BY ck LIMIT {climit}), "
            f"top_r AS (SELECT {', '.join(keys)}, row_number() OVER (ORDER BY {', '.join(k + ' NULLS LAST' for k in keys)}) "
            f"AS rk FROM t GROUP BY {', '.join(keys)} ORDER BY rk LIMIT {limit}) "
            f"SELECT {', '.join('t.' + k for k in keys)}, t.c, t.v, top_r.rk, top_c.ck FROM t "
            f"JOIN top_r ON {join} JOIN top_c ON t.c IS NOT DISTINCT FROM top_c.c ORDER BY top_r.rk, top_c.ck"
        )
        return sql, params.values

    def render(self, result, spec):
        n = len(spec["rows"])
        col_order, row_order, cells = [], [], {}
        for r in result["rows"]:
            key, c, v = tuple(plain(x) for x in r[:n]), r[n], r[n + 1]
            ck = (r[n + 3], plain(c))
            if key not in cells:
                row_order.append(key)
                cells[key] = {}
            if ck not in col_order:
                col_order.append(ck)
            cells[key][ck[1]] = plain(v)
        col_order.sort()
        if spec.get("columns"):
            headers = [str(grain_label(c, None)) for _, c in col_order]
        else:
            headers = [spec.get("values") or "Count"]
        rows = [list(key) + [cells[key].get(c) for _, c in col_order] for key in row_order]
        # Row keys formatted per column (a year as 2013); every value cell is the same
        # measure, so one format decided from all of them.
        keys = table_formats(list(spec["rows"]), rows, result.get("types"), result.get("roles"))
        values = [v for r in rows for v in r[n:]]
        chosen = D3_FORMATS.get(spec.get("number_format") or "auto", "")
        value_format = chosen or table_formats(["value"], [[v] for v in values], {"value": "float"})[0]
        return {"kind": "table", "columns": list(spec["rows"]) + headers, "rows": rows, "total": len(rows),
                "page": 0, "page_size": len(rows), "formats": keys + [value_format] * len(headers)}


WIDGET = Pivot()
