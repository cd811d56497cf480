"""The dataset's data grid: AG Grid's infinite row model over DuckDB (rows fetched page by
page by callbacks/datasets.py), with a line above it that says how many rows match the
filters. Pure rendering.

Each column's definition decides three things a person meets first:
- which filter it gets and the operator that filter opens on (a number opens on "Greater
  than", a date on "In range", text on "Contains"; a year, an id or a code on "Equals",
  because "year > 2013" or "id > 5" is rarely what anyone asks);
- how its numbers are shown: one number of decimals per column (integers none, floats as
  many as the column's values need, from ``decimals``), and no thousands separator for
  date parts, identifiers and codes ("2013", never "2,013");
- its tooltip (type and role).

A column's role ("date_part", "identifier", "code", "measure", ...) comes from the
dataset's stored roles when the caller passes them; otherwise ``fallback_role`` guesses
the three roles that change formatting from the column's name and type.
"""
from __future__ import annotations

import re

import dash_ag_grid as dag
from dash import html

NUMERIC_TYPES = ("integer", "float")
DATE_TYPES = ("date", "timestamp")
# Roles whose numbers name things or count calendar units: no separator, no decimals,
# and a filter that opens on "Equals".
LABEL_ROLES = ("date_part", "identifier", "code")
DATE_PART_NAMES = ("year", "quarter", "month", "week", "day", "weekday", "dayofweek", "day_of_week", "dow",
                   "hour", "minute", "second")
_DATE_PART = re.compile(r"(^|_)(" + "|".join(DATE_PART_NAMES) + r")$")
_IDENTIFIER = re.compile(r"(^|_)(id|key|uuid)$")
_CODE = re.compile(r"(^|_)(code|zip|zipcode|postcode|postal_code|no|nr|num|number)$")
DEFAULT_FLOAT_DECIMALS = 2  # until the column's own values have been read
FILTER_BUTTONS = {"buttons": ["apply", "reset"], "closeOnApply": True}


def _snake(name: str) -> str:
    """"CustomerID" -> "customer_id", "Order Year" -> "order_year"."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", str(name).strip())
    return re.sub(r"[^0-9a-zA-Z]+", "_", spaced).strip("_").lower()


def fallback_role(name: str, column_type: str) -> str | None:
    """The role of a numeric column when the dataset has none stored: "date_part" for a
    year, month, day, hour... column, "identifier" for an id, "code" for a code, zip or
    number; None otherwise (and for every column that is not a number)."""
    if column_type not in NUMERIC_TYPES:
        return None
    snake = _snake(name)
    if _DATE_PART.search(snake):
        return "date_part"
    if _IDENTIFIER.search(snake) or snake.endswith("id") and str(name).endswith(("ID", "Id")):
        return "identifier"
    if _CODE.search(snake):
        return "code"
    return None


def number_format(column_type: str, role: str | None, decimals: int | None) -> tuple[int, bool]:
    """(decimals, thousands separator) of a numeric column."""
    if role in LABEL_ROLES:
        return 0, False
    if column_type == "integer":
        return 0, True
    return (DEFAULT_FLOAT_DECIMALS if decimals is None else int(decimals)), True


def column_def(column: dict, role: str | None = None, decimals: int | None = None) -> dict:
    """One column's definition (see the module's docstring)."""
    name, column_type = column["name"], column["type"]
    role = role or fallback_role(name, column_type)
    definition = {"field": name, "headerName": name, "sortable": True, "resizable": True, "minWidth": 120,
                  "headerTooltip": column_type + (f" · {role.replace('_', ' ')}" if role else "")}
    if column_type in NUMERIC_TYPES:
        places, grouped = number_format(column_type, role, decimals)
        definition.update(
            type="rightAligned",
            filter="agNumberColumnFilter",
            filterParams={**FILTER_BUTTONS, "defaultOption": "equals" if role in LABEL_ROLES else "greaterThan",
                          "inRangeInclusive": True},  # storage/sql.py filters "in range" with BETWEEN
            # assets/grid.js: one number of decimals for the whole column.
            valueFormatter={"function": f"gridNumber(params.value, {places}, {'true' if grouped else 'false'})"},
        )
    elif column_type in DATE_TYPES:
        definition.update(filter="agDateColumnFilter",
                          filterParams={**FILTER_BUTTONS, "defaultOption": "inRange", "inRangeInclusive": True,
                                        "maxNumConditions": 1})
        if column_type == "timestamp":
            definition["valueFormatter"] = {"function": "gridTimestamp(params.value)"}  # assets/grid.js
    else:
        definition.update(filter="agTextColumnFilter", filterParams={**FILTER_BUTTONS, "defaultOption": "contains"})
    return definition


def column_defs(schema: list[dict], roles: dict[str, str] | None = None,
                decimals: dict[str, int] | None = None) -> list[dict]:
    """The grid's column definitions. ``roles``: {column: role} as stored with the dataset
    (None: guessed by name, see fallback_role); ``decimals``: {float column: decimals}
    from DatasetService.column_decimals (None: DEFAULT_FLOAT_DECIMALS)."""
    roles, decimals = roles or {}, decimals or {}
    return [column_def(c, roles.get(c["name"]), decimals.get(c["name"])) for c in schema]


def data_grid(grid_id: str, schema: list[dict], roles: dict[str, str] | None = None,
              decimals: dict[str, int] | None = None) -> html.Div:
    """The grid and, above it, "N of M rows match" (``<grid_id>-count``, written by the
    callback that fetches rows)."""
    grid = dag.AgGrid(
        id=grid_id,
        rowModelType="infinite",
        columnDefs=column_defs(schema, roles, decimals),
        dashGridOptions={"cacheBlockSize": 100, "maxBlocksInCache": 20, "rowBuffer": 0, "infiniteInitialRowCount": 100,
                         "maxConcurrentDatasourceRequests": 2,
                         # A column named "price.eur" is one column, not the "eur" of "price".
                         "suppressFieldDotNotation": True},
        style={"height": "560px"},
        className="ag-theme-quartz datainsight-grid",
    )
    count = html.Div(id=f"{grid_id}-count", className="grid-count small text-body-secondary mb-2",
                     role="status", **{"aria-live": "polite"})
    return html.Div([count, grid])


def match_count_text(matching: int, total: int) -> str:
    """What the line above the grid says."""
    if matching == total:
        return f"{total:,} row{'s' if total != 1 else ''}"
    return f"{matching:,} of {total:,} rows match"
