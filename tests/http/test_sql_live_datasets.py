"""Live SQL datasets (issue 16, point 4: a query "added to a dashboard as a widget of any
chart type (a sql source for widgets, its parameters bound to dashboard filters)"):
POST /api/v1/sql/datasets with "mode": "live" makes a dataset whose charts run the query
over the workspace's current datasets; {{parameters}} take the dashboard filters' values,
bound, never written into the SQL; a new upload shows in the next chart; the sandbox and
the workspace boundary hold."""
from __future__ import annotations

import io

import pytest

from tests.conftest import bearer
from tests.http.test_sql_editor import run, upload

ORDERS = (b"order_id,customer_id,amount,ordered\n1,10,5.5,2024-01-03\n2,10,4.5,2024-02-10\n"
          b"3,20,100,2024-02-11\n4,30,1,2024-03-01\n5,20,20,2024-03-05\n")
CUSTOMERS = b"customer_id,name,region\n10,Ada,North\n20,Bob,South\n30,Cy,North\n"
TOTALS = '''SELECT c.name, c.region, sum(o.amount) AS total, count(*) AS orders
FROM "Orders" o JOIN customers c USING (customer_id)
WHERE 1 = 1
  [[AND c.region IN ({{region}})]]
  [[AND o.ordered BETWEEN {{period:date}}]]
GROUP BY ALL -- one row per customer'''


@pytest.fixture
def shop(client, ada):
    orders = upload(client, ada, "Orders", ORDERS)
    upload(client, ada, "customers", CUSTOMERS)
    return orders["workspace_id"]


def make_live(client, token, workspace_id, sql=TOTALS, name="Totals", **extra):
    return client.post("/api/v1/sql/datasets", headers=bearer(token), json={
        "workspace_id": workspace_id, "name": name, "sql": sql, "mode": "live", **extra})


def rows_of(client, token, dataset_id, spec, filters=None):
    answer = client.post("/api/v1/query", headers=bearer(token),
                         json={"dataset_id": dataset_id, "spec": spec, **({"filters": filters} if filters else {})})
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["rows"]


BY_NAME = {"type": "bar", "x": "name", "y": "total", "agg": "sum", "sort": "x"}
COUNT_BY_NAME = {"type": "bar", "x": "name", "agg": "count", "sort": "x"}


def test_a_live_query_is_a_dataset_every_chart_reads(client, ada, shop, app_storage, admin):
    made = make_live(client, ada, shop)
    assert made.status_code == 201, made.get_json()
    dataset = made.get_json()
    assert dataset["rows"] == 3  # the sample: the whole result here
    info = client.get(f"/api/v1/datasets/{dataset['id']}/sync", headers=bearer(ada)).get_json()
    assert info["source"] == "query" and info["mode"] == "live"
    assert info["parameters"] == [{"name": "region", "type": "text", "filter_kind": "multi_select"},
                                  {"name": "period", "type": "date", "filter_kind": "date_range"}]
    assert "sample" in info["notes"][0]
    # Charts run the query: optional clauses left out while their parameter has no value.
    assert rows_of(client, ada, dataset["id"], BY_NAME) == [["Ada", 10.0], ["Bob", 120.0], ["Cy", 1.0]]
    kpi = client.post("/api/v1/query", headers=bearer(ada), json={
        "dataset_id": dataset["id"], "spec": {"type": "kpi", "y": "orders", "agg": "sum"}}).get_json()
    assert kpi["rows"][0][kpi["columns"].index("y")] == 5
    # A widget filter on the result, and the widget's own parameter values.
    assert rows_of(client, ada, dataset["id"], BY_NAME, [{"column": "total", "op": ">", "value": 5}]) == \
        [["Ada", 10.0], ["Bob", 120.0]]
    north = rows_of(client, ada, dataset["id"], {**BY_NAME, "parameters": {"region": ["North"]}})
    assert north == [["Ada", 10.0], ["Cy", 1.0]]
    february = rows_of(client, ada, dataset["id"], {**BY_NAME, "parameters": {"period": ["2024-02-01", "2024-02-29"]}})
    assert february == [["Ada", 4.5], ["Bob", 100.0]]
    open_end = rows_of(client, ada, dataset["id"], {**BY_NAME, "parameters": {"period": ["2024-03-01", None]}})
    assert open_end == [["Bob", 20.0], ["Cy", 1.0]]
    # The editor runs the same text (its trailing -- comment too), parameters left out.
    assert sorted(run(client, ada, shop, TOTALS).get_json()["rows"]) == [
        ["Ada", "North", 10.0, 2], ["Bob", "South", 120.0, 2], ["Cy", "North", 1.0, 1]]
    # It is not a table for the SQL editor (its file is a sample, not its rows).
    tables = client.get(f"/api/v1/sql/tables?workspace_id={shop}", headers=bearer(ada)).get_json()["tables"]
    assert set(tables) == {"Orders", "customers"}


def test_a_new_upload_shows_in_the_next_chart(client, ada, shop, app_storage, admin):
    dataset = make_live(client, ada, shop).get_json()
    assert rows_of(client, ada, dataset["id"], BY_NAME)[1] == ["Bob", 120.0]
    orders = next(d for d in app_storage.datasets.list(admin.principal(), shop) if d.name == "Orders")
    replaced = client.post(f"/api/v1/datasets/{orders.id}/versions", headers=bearer(ada), data={
        "file": (io.BytesIO(ORDERS + b"6,20,1000,2024-04-01\n"), "orders.csv"), "mode": "replace"})
    assert replaced.status_code in (200, 201), replaced.get_json()
    assert rows_of(client, ada, dataset["id"], BY_NAME)[1] == ["Bob", 1120.0]
    # A dataset the query names, renamed: the chart says which table is missing, and works again once it is back.
    renamed = client.patch(f"/api/v1/datasets/{orders.id}", headers=bearer(ada), json={"name": "Old orders"})
    assert renamed.status_code == 200, renamed.get_json()
    missing = client.post("/api/v1/query", headers=bearer(ada), json={"dataset_id": dataset["id"], "spec": BY_NAME})
    assert missing.status_code == 400 and "Orders" in missing.get_json()["error"]["message"]
    client.patch(f"/api/v1/datasets/{orders.id}", headers=bearer(ada), json={"name": "Orders"})
    assert rows_of(client, ada, dataset["id"], BY_NAME)[1] == ["Bob", 1120.0]


def test_dashboard_filters_bind_the_parameters(client, ada, shop, app_storage, admin):
    dataset = make_live(client, ada, shop).get_json()
    board = client.post("/api/v1/dashboards", headers=bearer(ada), json={
        "name": "Customers", "workspace_id": shop,
        "filters": [{"id": "reg", "column": "region", "kind": "multi_select", "value": None},
                    {"id": "when", "column": "period", "kind": "date_range", "value": None}]}).get_json()
    added = client.post(f"/api/v1/dashboards/{board['id']}/widgets", headers=bearer(ada), json={
        "spec": {**BY_NAME, "dataset_id": dataset["id"], "title": "Total by customer"}})
    assert added.status_code == 201, added.get_json()
    widget_id = added.get_json()["widgets"][-1]["id"]

    def drawn(values):
        answer = client.post(f"/api/v1/dashboards/{board['id']}/widgets/{widget_id}/render", headers=bearer(ada),
                             json={"dashboard_filters": values})
        assert answer.status_code == 200, answer.get_json()
        trace = answer.get_json()["figure"]["data"][0]
        return dict(zip(trace["x"], trace["y"]))

    assert drawn([]) == {"Ada": 10.0, "Bob": 120.0, "Cy": 1.0}
    south = [{"id": "reg", "column": "region", "kind": "multi_select", "value": ["South"]}]
    assert drawn(south) == {"Bob": 120.0}
    both = south + [{"id": "when", "column": "period", "kind": "date_range", "value": ["2024-03-01", "2024-03-31"]}]
    assert drawn(both) == {"Bob": 20.0}
    # The filter form offers the parameters, typed, and values for the text one.
    views = app_storage.dashboard_views
    columns = {c["name"]: c for c in views.columns(admin.principal(), board["id"])}
    assert columns["period"]["parameter"] == "date" and columns["period"]["type"] == "date"
    assert views.filter_options(admin.principal(), board["id"])["reg"] == ["North", "South"]
    # A value that does not fit its parameter is a message, not a 500.
    bad = [{"id": "when", "column": "period", "kind": "date_range", "value": ["last tuesday", None]}]
    answer = client.post(f"/api/v1/dashboards/{board['id']}/widgets/{widget_id}/render", headers=bearer(ada),
                         json={"dashboard_filters": bad})
    assert answer.status_code == 400 and "dates like 2024-01-31" in answer.get_json()["error"]["message"]


def test_a_required_parameter_needs_a_filter(client, ada, shop):
    sql = 'SELECT name, region FROM customers WHERE region IN ({{region}})'
    dataset = make_live(client, ada, shop, sql=sql, name="Regional").get_json()
    assert dataset["rows"] == 0  # the sample ran with NULL: no rows, but the columns are known
    answer = client.post("/api/v1/query", headers=bearer(ada), json={
        "dataset_id": dataset["id"], "spec": {"type": "table", "columns": ["name"]}})
    assert answer.status_code == 400 and "needs a value for {{region}}" in answer.get_json()["error"]["message"]
    given = rows_of(client, ada, dataset["id"], {**COUNT_BY_NAME, "parameters": {"region": "North"}})
    assert sorted(r[0] for r in given) == ["Ada", "Cy"]
    # The editor tries such a query with NULL and says which parameters it has.
    tried = run(client, ada, shop, sql).get_json()
    assert tried["rows"] == [] and tried["parameters"] == [{"name": "region", "type": "text",
                                                            "filter_kind": "multi_select"}]


def test_bad_queries_and_modes_are_refused(client, ada, shop, app_storage):
    assert make_live(client, ada, shop, sql="SELECT * FROM read_csv('/etc/passwd')").status_code == 400
    assert make_live(client, ada, shop, sql="SELECT {{not a name}}").status_code == 400
    wrong_type = make_live(client, ada, shop, sql="SELECT {{x:money}} AS x")
    assert wrong_type.status_code == 400 and "text, number or date" in wrong_type.get_json()["error"]["message"]
    copy_with_parameters = client.post("/api/v1/sql/datasets", headers=bearer(ada), json={
        "workspace_id": shop, "name": "Copy", "sql": "SELECT * FROM customers WHERE region IN ({{region}})"})
    assert copy_with_parameters.status_code == 400 and "live" in copy_with_parameters.get_json()["error"]["message"]
    assert make_live(client, ada, shop, mode="sometimes").status_code == 400
    assert not list((app_storage.data_dir / "tmp").glob("sql-*.parquet"))
    # Parameter values are bound, never SQL: a quote in a value is a value.
    dataset = make_live(client, ada, shop, sql="SELECT name FROM customers WHERE name IN ({{who}})",
                        name="Who").get_json()
    sneaky = {**COUNT_BY_NAME, "parameters": {"who": ["Ada') OR ('1'='1"]}}
    assert rows_of(client, ada, dataset["id"], sneaky) == []


def test_another_workspace_cannot_reach_it_or_through_it(client, ada, bob, shop, app_storage):
    dataset = make_live(client, ada, shop).get_json()
    assert client.post("/api/v1/query", headers=bearer(bob), json={
        "dataset_id": dataset["id"], "spec": BY_NAME}).status_code == 404
    # Bob's own live query cannot name Ada's datasets, by name or by file.
    path = app_storage.datasets.file_path(app_storage.datasets.in_workspace(dataset["id"], shop))
    mine = upload(client, bob, "Mine", b"x\n1\n")
    for sql in ('SELECT * FROM "Orders"', f"SELECT * FROM read_parquet('{path}')"):
        answer = make_live(client, bob, mine["workspace_id"], sql=sql, name="Peek")
        assert answer.status_code == 400, (sql, answer.get_json())


def test_names_the_charts_could_not_find_and_schedules_are_refused(client, ada, shop, app_storage):
    for sql in ('SELECT 1 AS "  spaced  "', "SELECT {'k': 1} AS s"):  # (a, a is a, a_1 in DuckDB too)
        answer = make_live(client, ada, shop, sql=sql, name="Odd")
        assert answer.status_code == 400 and "plainly" in answer.get_json()["error"]["message"], (sql, answer.get_json())
    assert not any(d.name == "Odd" for d in app_storage.datasets.all_in_workspace(shop))
    dataset = make_live(client, ada, shop, refresh="daily").get_json()
    info = client.get(f"/api/v1/datasets/{dataset['id']}/sync", headers=bearer(ada)).get_json()
    assert info["refresh"] == "manual" and info["next_refresh_at"] is None
    assert client.patch(f"/api/v1/datasets/{dataset['id']}/sync", headers=bearer(ada),
                        json={"refresh": "hourly"}).status_code == 400


def test_a_reused_dataset_id_never_gets_the_old_datasets_query(client, ada, bob, shop, app_storage):
    """SQLite gives a deleted dataset's id to the next dataset: what a process remembers of
    the old one (its query, its connection) must not be used for the new one."""
    secret = make_live(client, ada, shop, sql="SELECT 'ada-secret' AS x FROM range(3)", name="Secret").get_json()
    assert rows_of(client, ada, secret["id"], {"type": "bar", "x": "x", "agg": "count"}) == [["ada-secret", 3]]
    assert client.delete(f"/api/v1/datasets/{secret['id']}", headers=bearer(ada)).status_code == 204
    mine = upload(client, bob, "Mine", b"x\nbob-value\n")
    rows = rows_of(client, bob, mine["id"], {"type": "bar", "x": "x", "agg": "count"})
    assert rows == [["bob-value", 1]], (mine["id"], secret["id"], rows)


def test_a_table_widgets_export_is_the_querys_rows_not_the_sample(client, ada, shop, app_storage, admin):
    sql = "SELECT range AS n FROM range(30000) WHERE 1=1 [[AND range BETWEEN {{n:number}}]]"
    dataset = make_live(client, ada, shop, sql=sql, name="Numbers").get_json()
    board = client.post("/api/v1/dashboards", headers=bearer(ada), json={
        "name": "Numbers", "workspace_id": shop,
        "filters": [{"id": "n", "column": "n", "kind": "numeric_range", "value": [0, 14999]}]}).get_json()
    client.post(f"/api/v1/dashboards/{board['id']}/widgets", headers=bearer(ada), json={
        "spec": {"type": "table", "dataset_id": dataset["id"], "columns": ["n"], "sort": "n"}})
    board = app_storage.dashboards.get(admin.principal(), board["id"])
    widget = board["widgets"][-1]
    data = app_storage.reports._widget_report(board, widget, {}, [],
                                              lambda i: app_storage.datasets.get(admin.principal(), i))["data"]
    values = [r[0] for r in data["rows"]]
    assert "stream" not in data and data.get("capped") and max(values) <= 14999 and len(values) == 10_000


def test_downloading_a_live_dataset_says_it_is_a_sample(client, ada, shop):
    dataset = make_live(client, ada, shop).get_json()
    answer = client.get(f"/api/v1/datasets/{dataset['id']}/export?format=csv", headers=bearer(ada))
    assert answer.status_code == 200 and "Totals (sample).csv" in answer.headers["Content-Disposition"]
    assert answer.get_data(as_text=True).count("\n") == 4  # the header and the sample's 3 rows
