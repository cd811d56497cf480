"""The data grid's column definitions (components/grid.py): the filter each column gets and
the operator it opens on, the number format (one number of decimals per column; no
thousands separator for date parts, identifiers and codes), roles passed in or guessed
from the name, and the formatter in assets/grid.js that the definitions name."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from components.grid import column_def, column_defs, fallback_role, match_count_text

GRID_JS = Path(__file__).resolve().parents[2] / "assets" / "grid.js"


@pytest.mark.parametrize("name, column_type, role", [
    ("year", "integer", "date_part"), ("Year", "float", "date_part"), ("YEAR", "integer", "date_part"),
    ("order_year", "integer", "date_part"), ("Month", "integer", "date_part"), ("day", "integer", "date_part"),
    ("hour", "integer", "date_part"), ("quarter", "integer", "date_part"), ("Weekday", "integer", "date_part"),
    ("day_of_week", "integer", "date_part"), ("minute", "integer", "date_part"),
    ("id", "integer", "identifier"), ("CustomerID", "float", "identifier"), ("customer_id", "integer", "identifier"),
    ("OrderId", "integer", "identifier"), ("user key", "integer", "identifier"),
    ("zip", "integer", "code"), ("ZipCode", "integer", "code"), ("postal_code", "integer", "code"),
    ("InvoiceNo", "integer", "code"), ("order_number", "integer", "code"),
    # Not roles that change the format: measures, and names that only contain a part.
    ("years_experience", "integer", None), ("yearly_income", "float", None), ("days", "integer", None),
    ("distance", "integer", None), ("dep_delay", "float", None), ("Global_Sales", "float", None),
    ("paid", "integer", None), ("Annual Income (k$)", "integer", None), ("video", "integer", None),
    # Only numbers have these roles here: a text "year" is text.
    ("year", "text", None), ("customer_id", "text", None),
])
def test_fallback_role_from_name_and_type(name, column_type, role):
    assert fallback_role(name, column_type) == role


def formatter(definition: dict) -> str:
    return definition["valueFormatter"]["function"]


def test_numbers_open_on_greater_than_and_keep_one_format_per_column():
    defs = {d["field"]: d for d in column_defs(
        [{"name": "distance", "type": "integer"}, {"name": "amount", "type": "float"},
         {"name": "rate", "type": "float"}, {"name": "year", "type": "integer"}, {"name": "flight", "type": "integer"}],
        decimals={"amount": 2, "rate": 4},
    )}
    assert defs["distance"]["filter"] == "agNumberColumnFilter"
    assert defs["distance"]["filterParams"]["defaultOption"] == "greaterThan"
    assert defs["distance"]["filterParams"]["inRangeInclusive"] is True  # storage filters with BETWEEN
    assert defs["distance"]["filterParams"]["buttons"] == ["apply", "reset"]
    assert formatter(defs["distance"]) == "gridNumber(params.value, 0, true)"
    assert formatter(defs["amount"]) == "gridNumber(params.value, 2, true)"
    assert formatter(defs["rate"]) == "gridNumber(params.value, 4, true)"
    # A year: no separator, no decimals, and a filter that opens on "Equals".
    assert formatter(defs["year"]) == "gridNumber(params.value, 0, false)"
    assert defs["year"]["filterParams"]["defaultOption"] == "equals"
    assert "date part" in defs["year"]["headerTooltip"]
    # Without a stored role a flight number looks like a measure...
    assert formatter(defs["flight"]) == "gridNumber(params.value, 0, true)"
    assert all(d["type"] == "rightAligned" for d in defs.values())


def test_stored_roles_win_over_the_name():
    schema = [{"name": "flight", "type": "integer"}, {"name": "year", "type": "integer"},
              {"name": "Year", "type": "float"}]
    defs = {d["field"]: d for d in column_defs(schema, roles={"flight": "code", "year": "measure"},
                                               decimals={"Year": 1})}
    assert formatter(defs["flight"]) == "gridNumber(params.value, 0, false)"
    assert defs["flight"]["filterParams"]["defaultOption"] == "equals"
    assert formatter(defs["year"]) == "gridNumber(params.value, 0, true)"
    assert defs["year"]["filterParams"]["defaultOption"] == "greaterThan"
    # A year stored as a float (missing years) still shows "2006", not "2,006.0".
    assert formatter(defs["Year"]) == "gridNumber(params.value, 0, false)"


def test_dates_open_on_in_range_and_text_on_contains():
    date = column_def({"name": "day", "type": "date"})
    assert (date["filter"], date["filterParams"]["defaultOption"]) == ("agDateColumnFilter", "inRange")
    assert date["filterParams"]["maxNumConditions"] == 1 and "valueFormatter" not in date
    stamp = column_def({"name": "time_hour", "type": "timestamp"})
    assert stamp["filterParams"]["defaultOption"] == "inRange"
    assert formatter(stamp) == "gridTimestamp(params.value)"
    for kind in ("text", "categorical", "boolean"):
        text = column_def({"name": "carrier", "type": kind})
        assert (text["filter"], text["filterParams"]["defaultOption"]) == ("agTextColumnFilter", "contains")
        assert "valueFormatter" not in text and "type" not in text


def test_floats_default_to_two_decimals_until_the_values_are_read():
    assert formatter(column_def({"name": "x", "type": "float"})) == "gridNumber(params.value, 2, true)"
    assert formatter(column_def({"name": "x", "type": "float"}, decimals=0)) == "gridNumber(params.value, 0, true)"


def test_the_count_line():
    assert match_count_text(336_776, 336_776) == "336,776 rows"
    assert match_count_text(1, 1) == "1 row"
    assert match_count_text(12_345, 336_776) == "12,345 of 336,776 rows match"
    assert match_count_text(0, 10) == "0 of 10 rows match"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_formatter_in_assets_grid_js():
    calls = [[2013, 0, False], [9952, 2, True], [10086.02, 2, True], [1234567.891, 0, True], [None, 2, True],
             ["", 0, True], [0.5, 4, True], [-1234.5, 1, True], ["12.5", 2, True], ["n/a", 2, True]]
    script = (f"global.window = {{}}; require({json.dumps(str(GRID_JS))});"
              f"const f = window.dashAgGridFunctions;"
              f"console.log(JSON.stringify({json.dumps(calls)}.map(c => f.gridNumber(...c)).concat("
              f"[f.gridTimestamp('2013-01-01T05:00:00'), f.gridTimestamp(null)])));")
    out = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=30, check=True).stdout
    assert json.loads(out) == ["2013", "9,952.00", "10,086.02", "1,234,568", "", "", "0.5000", "-1,234.5", "12.50",
                               "n/a", "2013-01-01 05:00:00", ""]


def test_dotted_column_names_are_whole_columns():
    from components.grid import data_grid

    grid = data_grid("g", [{"name": "price.eur", "type": "float"}]).children[1]
    assert grid.dashGridOptions["suppressFieldDotNotation"] is True
    assert grid.columnDefs[0]["field"] == "price.eur"
