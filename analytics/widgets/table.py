"""Table: raw rows, paged and sortable in SQL; the total counts the filtered rows."""
from __future__ import annotations

from analytics.widgets.base import (
    ANY,
    EditorField,
    Params,
    Schema,
    WidgetType,
    f_description,
    f_filters,
    f_title,
    filter_sql,
    plain,
)
from analytics.widgets.formatting import table_formats

MAX_COLUMNS = 50


class Table(WidgetType):
    name = "table"
    label = "Table"
    icon = "table"
    fields = [
        f_title(), f_description(),
        EditorField("columns", "Columns", "columns", types=list(ANY), default=[],
                    help="Leave empty for every column (the first 50)"),
        EditorField("sort", "Sort by", "column", types=list(ANY)),
        EditorField("descending", "Descending", "bool", default=False),
        EditorField("page", "Page", "number", default=0, minimum=0, maximum=1_000_000),
        EditorField("page_size", "Rows per page", "number", default=25, minimum=1, maximum=500),
        f_filters(),
    ]

    def prepare(self, spec):
        sort = spec.get("sort")
        if isinstance(sort, str) and sort.startswith("-"):
            spec["sort"], spec["descending"] = sort[1:], True
        return spec

    def normalize(self, spec, schema):
        if not spec["columns"]:
            spec["columns"] = schema.columns[:MAX_COLUMNS]
        return spec

    @staticmethod
    def rows_parts(spec, schema, params: Params) -> tuple[str, str, str]:
        """(selected columns, WHERE, ORDER BY) of a normalised table spec: its columns
        checked by Schema, its filters' values bound in ``params``."""
        cols = Schema(schema)
        selected = ", ".join(f"{cols.col(c)} AS c{i}" for i, c in enumerate(spec["columns"]))
        where = filter_sql(cols, spec.get("filters"), params)
        order = ""
        if spec.get("sort"):
            order = f"ORDER BY {cols.col(spec['sort'])} {'DESC' if spec.get('descending') else 'ASC'} NULLS LAST"
        return selected, where, order

    def rows_query(self, spec, schema, source_sql) -> tuple[str, list]:
        """Every row of the table, in its order, with its filters, without the page: what
        the Excel and CSV exports stream."""
        params = Params()
        selected, where, order = self.rows_parts(spec, schema, params)
        return f"SELECT {selected} FROM {source_sql} WHERE {where} {order}", params.values

    def query(self, spec, schema, source_sql):
        params = Params()
        selected, where, order = self.rows_parts(spec, schema, params)
        size = params.add(int(spec["page_size"]))
        offset = params.add(int(spec["page"]) * int(spec["page_size"]))
        # The count rides along in one query; the LEFT JOIN keeps it when the page is empty.
        sql = (f"SELECT page.*, total.n AS __total FROM (SELECT count(*) AS n FROM {source_sql} WHERE {where}) AS total "
               f"LEFT JOIN (SELECT 1 AS __present, {selected} FROM {source_sql} WHERE {where} {order} "
               f"LIMIT {size} OFFSET {offset}) AS page ON TRUE")
        return sql, params.values

    def render(self, result, spec):
        rows = result["rows"]
        total = int(rows[0][-1]) if rows else 0
        data = [[plain(v) for v in r[1:-1]] for r in rows if r[0] is not None]
        columns = list(spec["columns"])
        # One format per column ("formats", d3): the card and the reports write cells with
        # formatting.format_cell so one column never mixes "9,952" and "10,086.02".
        return {"kind": "table", "columns": columns, "rows": data, "total": total,
                "page": int(spec["page"]), "page_size": int(spec["page_size"]),
                "formats": table_formats(columns, data, result.get("types"), result.get("roles"))}


WIDGET = Table()
