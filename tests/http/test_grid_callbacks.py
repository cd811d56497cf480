"""The dataset page's grid through its Dash callbacks, as the browser posts them: the
"N of M rows match" line for a filter model, the column definitions (filter, opening
operator, number format), a bad filter answered in words, and a second user whose
crafted requests get nothing."""
from pathlib import Path

import pandas as pd

from tests.conftest import post_callback, render_page, sign_in

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ROWS_OUTPUTS = [("dataset-grid", "getRowsResponse"), ("dataset-grid-count", "children"), ("export-csv", "href"),
                ("export-xlsx", "href"), ("export-parquet", "href")]


def vgsales(app_storage, admin):
    principal = admin.principal()
    workspace = app_storage.workspaces.personal_workspace(principal).id
    return app_storage.datasets.create_from_file(principal, workspace, FIXTURES / "vgsales.csv", "vgsales.csv")


def grid_rows(client, dataset_id, filter_model, sort_model=(), start=0, end=100):
    request = {"startRow": start, "endRow": end, "sortModel": list(sort_model), "filterModel": filter_model}
    response = post_callback(client, ROWS_OUTPUTS, [("dataset-grid", "getRowsRequest", request)],
                             [("dataset-id", "data", dataset_id)], changed=["dataset-grid.getRowsRequest"])
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["response"]


def grid_columns(client, dataset_id):
    return post_callback(client, [("dataset-grid", "columnDefs")], [("dataset-id", "data", dataset_id)],
                         changed=["dataset-id.data"])


def test_the_grid_says_how_many_rows_match_its_filters(client, app_storage, admin):
    dataset = vgsales(app_storage, admin)
    frame = pd.read_csv(FIXTURES / "vgsales.csv")
    sign_in(client, "ada@example.com")

    body = grid_rows(client, dataset.id, {})
    assert body["dataset-grid-count"]["children"] == "16,598 rows"
    assert body["dataset-grid"]["getRowsResponse"]["rowCount"] == 16_598

    model = {"Platform": {"filterType": "text", "type": "equals", "filter": "Wii"},
             "Global_Sales": {"filterType": "number", "type": "greaterThan", "filter": 1}}
    expected = int(((frame.Platform == "Wii") & (frame.Global_Sales > 1)).sum())
    body = grid_rows(client, dataset.id, model, sort_model=[{"colId": "Global_Sales", "sort": "desc"}])
    assert body["dataset-grid-count"]["children"] == f"{expected:,} of 16,598 rows match"
    response = body["dataset-grid"]["getRowsResponse"]
    assert response["rowCount"] == expected
    assert response["rowData"][0]["Name"] == "Wii Sports"
    assert all(r["Platform"] == "Wii" and r["Global_Sales"] > 1 for r in response["rowData"])
    # A later block of the same filter answers the same count.
    later = grid_rows(client, dataset.id, model, start=100, end=200)
    assert later["dataset-grid-count"]["children"] == f"{expected:,} of 16,598 rows match"
    assert len(later["dataset-grid"]["getRowsResponse"]["rowData"]) == expected - 100

    # A number range: both ends included.
    model = {"Year": {"filterType": "number", "type": "inRange", "filter": 2000, "filterTo": 2001}}
    expected = int(frame.Year.isin([2000, 2001]).sum())
    assert grid_rows(client, dataset.id, model)["dataset-grid-count"]["children"] == f"{expected:,} of 16,598 rows match"


def test_a_bad_filter_is_answered_in_words(client, app_storage, admin):
    dataset = vgsales(app_storage, admin)
    sign_in(client, "ada@example.com")
    body = grid_rows(client, dataset.id, {"Global_Sales": {"filterType": "number", "type": "greaterThan",
                                                           "filter": "lots"}})
    assert body["dataset-grid"]["getRowsResponse"] == {"rowData": [], "rowCount": 0}
    assert body["dataset-grid-count"]["children"] == "A number filter needs a number"
    body = grid_rows(client, dataset.id, {"Nope": {"type": "equals", "filter": 1}})
    assert body["dataset-grid-count"]["children"] == "There is no column 'Nope' in this dataset"
    body = grid_rows(client, dataset.id, {}, start="zero")
    assert body["dataset-grid"]["getRowsResponse"]["rowCount"] == 0


def test_column_definitions_of_the_page_and_the_callback(client, app_storage, admin):
    dataset = vgsales(app_storage, admin)
    sign_in(client, "ada@example.com")
    defs = {d["field"]: d for d in grid_columns(client, dataset.id).get_json()["response"]["dataset-grid"]["columnDefs"]}
    # Year: a date part; no thousands separator, opens on "Equals".
    assert defs["Year"]["valueFormatter"] == {"function": "gridNumber(params.value, 0, false)"}
    assert defs["Year"]["filterParams"]["defaultOption"] == "equals"
    # Sales: a float measure with two decimals read from its values, opens on "Greater than".
    assert defs["Global_Sales"]["filter"] == "agNumberColumnFilter"
    assert defs["Global_Sales"]["filterParams"]["defaultOption"] == "greaterThan"
    assert defs["Global_Sales"]["valueFormatter"] == {"function": "gridNumber(params.value, 2, true)"}
    # Rank: a row number by its role (1..n), so written like an id.
    assert app_storage.roles.get(admin.principal(), dataset.id)["Rank"]["role"] == "identifier"
    assert defs["Rank"]["valueFormatter"] == {"function": "gridNumber(params.value, 0, false)"}
    assert (defs["Name"]["filter"], defs["Name"]["filterParams"]["defaultOption"]) == ("agTextColumnFilter", "contains")
    # The page draws the grid with the same filters before the decimals are read.
    page = render_page(client, f"/datasets/{dataset.id}").get_data(as_text=True)
    assert '"gridNumber(params.value, 0, false)"' in page and '"dataset-grid-count"' in page


def test_a_second_user_gets_nothing_from_crafted_grid_requests(make_client, app_storage, admin, second_user):
    dataset = vgsales(app_storage, admin)
    bob = make_client()
    sign_in(bob, "bob@example.com")
    body = grid_rows(bob, dataset.id, {"Platform": {"filterType": "text", "type": "equals", "filter": "Wii"}})
    assert body["dataset-grid"]["getRowsResponse"] == {"rowData": [], "rowCount": 0}
    assert body["dataset-grid-count"]["children"] == f"There is no dataset {dataset.id} that you can see"
    assert "export-csv" not in body  # no links to the owner's data either
    # The column definitions (names of the owner's columns) are not sent either.
    response = grid_columns(bob, dataset.id)
    assert response.status_code == 204 or response.get_json()["response"] == {}
    assert "Global_Sales" not in response.get_data(as_text=True)


def test_the_grid_writes_numbers_as_the_column_roles_say(client, app_storage, admin):
    """The callback's column definitions follow the stored roles: a flight number (a code
    its name does not give away) has no separator and opens on "Equals"; a person's
    correction to a measure brings the separator back."""
    principal = admin.principal()
    workspace = app_storage.workspaces.personal_workspace(principal).id
    flights = app_storage.datasets.create_from_file(principal, workspace, FIXTURES / "public" / "flights_sample.csv",
                                                    "flights_sample.csv")
    sign_in(client, "ada@example.com")

    def flight_def():
        defs = grid_columns(client, flights.id).get_json()["response"]["dataset-grid"]["columnDefs"]
        return {d["field"]: d for d in defs}["flight"]

    assert flight_def()["valueFormatter"] == {"function": "gridNumber(params.value, 0, false)"}
    assert flight_def()["filterParams"]["defaultOption"] == "equals"
    app_storage.roles.set(principal, flights.id, "flight", "measure")
    assert flight_def()["valueFormatter"] == {"function": "gridNumber(params.value, 0, true)"}
