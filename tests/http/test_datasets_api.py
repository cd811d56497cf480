"""Datasets through the API: upload (whole and chunked), rows, export, versions, and a
second user who must not reach any of it."""
import csv
import io
import json
import time
from pathlib import Path

import openpyxl
import pytest

from tests.conftest import bearer, post_callback, sign_in

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"


def upload(client, token, data: bytes, filename: str, **form):
    return client.post("/api/v1/datasets", data={"file": (io.BytesIO(data), filename), **form}, headers=bearer(token))


def wait_job(client, token, url):
    for _ in range(200):
        job = client.get(url, headers=bearer(token)).get_json()
        if job["status"] in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.05)
    raise AssertionError("the job did not finish")


def test_upload_answers_201_with_the_contract(client, ada):
    response = upload(client, ada, (SAMPLES / "vgsales.csv").read_bytes(), "vgsales.csv")
    assert response.status_code == 201
    body = response.get_json()
    assert {"id", "name", "version", "rows", "columns"} <= set(body)
    assert (body["name"], body["version"], body["rows"]) == ("vgsales", 1, 16598)
    assert body["columns"][:4] == [{"name": "Rank", "type": "integer"}, {"name": "Name", "type": "text"},
                                   {"name": "Platform", "type": "categorical"}, {"name": "Year", "type": "integer"}]
    listed = client.get("/api/v1/datasets", headers=bearer(ada)).get_json()["datasets"]
    assert [(d["id"], d["rows"]) for d in listed] == [(body["id"], 16598)]


def test_online_retail_types_and_counts(client, ada):
    body = upload(client, ada, (SAMPLES / "online-retail.csv.gz").read_bytes(), "online-retail.csv.gz").get_json()
    types = {c["name"]: c["type"] for c in body["columns"]}
    assert body["rows"] == 541909
    assert types["InvoiceDate"] == "timestamp" and types["CustomerID"] == "float"
    rows = client.get(f"/api/v1/datasets/{body['id']}/rows?limit=1&filter=" +
                      json.dumps({"CustomerID": {"filterType": "number", "type": "blank"}}),
                      headers=bearer(ada)).get_json()
    assert rows["total"] == 135080
    first = client.get(f"/api/v1/datasets/{body['id']}/rows?limit=1", headers=bearer(ada)).get_json()["rows"][0]
    assert first["InvoiceDate"] == "2010-12-01T08:26:00"


def test_rows_paging_sorting_and_filtering(client, ada):
    dataset = upload(client, ada, (SAMPLES / "vgsales.csv").read_bytes(), "vgsales.csv").get_json()
    page = client.get(f"/api/v1/datasets/{dataset['id']}/rows?offset=0&limit=3&sort=-Global_Sales",
                      headers=bearer(ada)).get_json()
    assert [r["Name"] for r in page["rows"]] == ["Wii Sports", "Super Mario Bros.", "Mario Kart Wii"]
    assert page["total"] == 16598
    flt = json.dumps({"Platform": {"filterType": "text", "type": "equals", "filter": "GB"}})
    page = client.get(f"/api/v1/datasets/{dataset['id']}/rows?limit=2&sort=Year&filter={flt}", headers=bearer(ada)).get_json()
    assert page["total"] == 98 and all(r["Platform"] == "GB" for r in page["rows"])
    bad = client.get(f"/api/v1/datasets/{dataset['id']}/rows?sort=DROP TABLE", headers=bearer(ada))
    assert bad.status_code == 400 and "no column" in bad.get_json()["error"]["message"]


def test_export_formats_and_formula_neutralisation(client, ada):
    data = b"label,amount,note\n=HYPERLINK(\"x\"),-5,+plus\n-12.5,3,@at\nplain,7,\ttab\n"
    dataset = upload(client, ada, data, "tricky.csv").get_json()
    response = client.get(f"/api/v1/datasets/{dataset['id']}/export?format=csv", headers=bearer(ada))
    assert response.status_code == 200 and response.headers["Content-Disposition"] == "attachment; filename=tricky.csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["label", "amount", "note"]
    assert rows[1] == ["'=HYPERLINK(\"x\")", "-5", "'+plus"]
    assert rows[2] == ["-12.5", "3", "'@at"]  # a negative number stays a number
    assert rows[3] == ["plain", "7", "'\ttab"]
    response = client.get(f"/api/v1/datasets/{dataset['id']}/export?format=xlsx&sort=-amount", headers=bearer(ada))
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0] == ("label", "amount", "note") and values[1] == ("plain", 7, "'\ttab")
    assert values[3] == ("'=HYPERLINK(\"x\")", -5, "'+plus")
    response = client.get(f"/api/v1/datasets/{dataset['id']}/export?format=parquet", headers=bearer(ada))
    assert response.data[:4] == b"PAR1"
    assert client.get(f"/api/v1/datasets/{dataset['id']}/export?format=doc", headers=bearer(ada)).status_code == 400


def test_chunked_upload_resumes_and_imports(client, ada):
    data = (SAMPLES / "mall-customers.csv").read_bytes()
    started = client.post("/api/v1/uploads", json={"filename": "../../etc/passwd\x07.csv", "size": len(data)},
                          headers=bearer(ada))
    assert started.status_code == 201
    up = started.get_json()
    assert up["filename"] == "passwd.csv" and up["offset"] == 0
    url = f"/api/v1/uploads/{up['id']}"
    assert client.put(f"{url}?offset=0", data=data[:1000], headers=bearer(ada)).get_json()["offset"] == 1000
    # The connection dropped; the client asks where to resume.
    assert client.get(url, headers=bearer(ada)).get_json()["offset"] == 1000
    stale = client.put(f"{url}?offset=0", data=data[:1000], headers=bearer(ada))
    assert stale.status_code == 409 and stale.get_json()["error"]["details"] == {"offset": 1000}
    done = client.put(f"{url}?offset=1000", data=data[1000:], headers=bearer(ada)).get_json()
    assert done["status"] == "complete"
    inspected = client.get(f"{url}/inspect", headers=bearer(ada)).get_json()["inspection"]
    assert [c["name"] for c in inspected["columns"]][:2] == ["CustomerID", "Genre"] and len(inspected["rows"]) == 20
    started = client.post(f"{url}/import", headers=bearer(ada), json={"name": "Mall", "columns": [
        {"source": "CustomerID", "include": False}, {"source": "Genre", "name": "Gender"},
        {"source": "Age", "type": "float"}]})
    assert started.status_code == 202
    job = wait_job(client, ada, started.get_json()["status_url"])
    assert job["status"] == "done", job
    made = job["result"]
    assert (made["name"], made["rows"]) == ("Mall", 200)
    assert [c["name"] for c in made["columns"]] == ["Gender", "Age", "Annual Income (k$)", "Spending Score (1-100)"]
    assert made["columns"][1]["type"] == "float"
    assert client.get(url, headers=bearer(ada)).status_code == 404  # the upload is gone once imported


def test_upload_limits(app, client, ada):
    uploads = app.server.extensions["datainsight"]["storage"].uploads
    too_big = uploads.max_bytes + 1
    response = client.post("/api/v1/uploads", json={"filename": "big.csv", "size": too_big}, headers=bearer(ada))
    assert response.status_code == 413 and "DATAINSIGHT_MAX_UPLOAD_MB" in response.get_json()["error"]["message"]
    up = client.post("/api/v1/uploads", json={"filename": "x.csv", "size": 10}, headers=bearer(ada)).get_json()
    response = client.put(f"/api/v1/uploads/{up['id']}?offset=0", data=b"a" * 11, headers=bearer(ada))
    assert response.status_code == 413
    uploads.max_bytes = 1000  # a tiny limit for the whole-file route
    response = upload(client, ada, b"a,b\n" + b"1,2\n" * 600, "big.csv")
    assert response.status_code == 413 and response.get_json()["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize(
    "data,name,message",
    [
        (b"", "empty.csv", "empty"),
        (b"a,b,c\n", "header.csv", "no rows"),
        (bytes(range(256)) * 50, "garbage.csv", "not text"),
        (b"just text, not a workbook", "book.xlsx", "not one"),
        (b"[1, 2, 3]", "numbers.json", "not a table"),
    ],
)
def test_bad_files_get_a_clear_message_and_leave_nothing(client, ada, app_storage, data, name, message):
    response = upload(client, ada, data, name)
    assert response.status_code in (400, 422)
    assert message in response.get_json()["error"]["message"]
    assert client.get("/api/v1/datasets", headers=bearer(ada)).get_json()["datasets"] == []
    assert list((app_storage.data_dir / "datasets").glob("*.parquet")) == []
    assert list((app_storage.data_dir / "uploads").glob("*")) == []


def test_versions_replace_and_append(client, ada):
    first = upload(client, ada, b"a,b\n1,x\n2,y\n", "t.csv").get_json()
    url = f"/api/v1/datasets/{first['id']}/versions"
    appended = client.post(url, data={"file": (io.BytesIO(b"b,a\nz,3\n"), "more.csv"), "mode": "append"},
                           headers=bearer(ada))
    assert appended.status_code == 201 and (appended.get_json()["version"], appended.get_json()["rows"]) == (2, 3)
    wrong = client.post(url, data={"file": (io.BytesIO(b"c\n1\n"), "other.csv"), "mode": "append"}, headers=bearer(ada))
    assert wrong.status_code == 422 and "same columns" in wrong.get_json()["error"]["message"]
    replaced = client.post(url, data={"file": (io.BytesIO(b"c\n1\n"), "other.csv")}, headers=bearer(ada)).get_json()
    assert (replaced["version"], replaced["rows"], replaced["columns"]) == (3, 1, [{"name": "c", "type": "integer"}])
    versions = client.get(url, headers=bearer(ada)).get_json()["versions"]
    assert [(v["version"], v["operation"], v["rows"]) for v in versions] == [(3, "replace", 1), (2, "append", 3),
                                                                            (1, "create", 2)]
    rows = client.get(f"/api/v1/datasets/{first['id']}/rows", headers=bearer(ada)).get_json()["rows"]
    assert rows == [{"c": 1}]


def test_rename_describe_delete(client, ada, app_storage):
    dataset = upload(client, ada, b"a\n1\n", "t.csv").get_json()
    url = f"/api/v1/datasets/{dataset['id']}"
    changed = client.patch(url, json={"name": "Renamed", "description": "Test data"}, headers=bearer(ada)).get_json()
    assert (changed["name"], changed["description"]) == ("Renamed", "Test data")
    assert client.delete(url, headers=bearer(ada)).status_code == 204
    assert client.get(url, headers=bearer(ada)).status_code == 404
    assert list((app_storage.data_dir / "datasets").glob("*.parquet")) == []


def test_samples(client, ada):
    keys = [s["key"] for s in client.get("/api/v1/samples", headers=bearer(ada)).get_json()["samples"]]
    assert "vgsales" in keys and "online-retail" in keys
    made = client.post("/api/v1/samples/mall-customers", headers=bearer(ada))
    assert made.status_code == 201 and made.get_json()["rows"] == 200


def test_second_user_cannot_reach_the_first_users_dataset(client, ada, bob, app_storage, admin):
    dataset = upload(client, ada, (SAMPLES / "mall-customers.csv").read_bytes(), "mall.csv").get_json()
    url = f"/api/v1/datasets/{dataset['id']}"
    for method, path, kwargs in [
        ("get", url, {}), ("get", f"{url}/rows", {}), ("get", f"{url}/export?format=csv", {}),
        ("get", f"{url}/versions", {}), ("patch", url, {"json": {"name": "mine"}}), ("delete", url, {}),
        ("post", f"{url}/versions", {"data": {"file": (io.BytesIO(b"a\n1\n"), "x.csv")}}),
    ]:
        response = getattr(client, method)(path, headers=bearer(bob), **kwargs)
        assert response.status_code == 404, (method, path, response.status_code)
    ada_ws = app_storage.workspaces.personal_workspace(admin.principal()).id
    assert client.get(f"/api/v1/datasets?workspace_id={ada_ws}", headers=bearer(bob)).status_code == 404
    assert upload(client, bob, b"a\n1\n", "x.csv", workspace_id=str(ada_ws)).status_code == 404
    still = client.get(url, headers=bearer(ada)).get_json()
    assert (still["name"], still["version"], still["rows"]) == ("mall", 1, 200)
    # And Bob's uploads are his alone.
    up = client.post("/api/v1/uploads", json={"filename": "x.csv", "size": 4}, headers=bearer(ada)).get_json()
    assert client.put(f"/api/v1/uploads/{up['id']}?offset=0", data=b"a\n1\n", headers=bearer(bob)).status_code == 404
    assert client.delete(f"/api/v1/uploads/{up['id']}", headers=bearer(bob)).status_code == 404


def test_viewer_can_read_but_not_change(client, ada, bob, app_storage, admin):
    dataset = upload(client, ada, b"a\n1\n", "t.csv").get_json()
    ada_ws = app_storage.workspaces.personal_workspace(admin.principal()).id
    app_storage.workspaces.add_member(admin.principal(), ada_ws, "bob@example.com", "viewer")
    url = f"/api/v1/datasets/{dataset['id']}"
    assert client.get(f"{url}/rows", headers=bearer(bob)).get_json()["rows"] == [{"a": 1}]
    assert client.patch(url, json={"name": "x"}, headers=bearer(bob)).status_code == 403
    assert client.delete(url, headers=bearer(bob)).status_code == 403
    assert upload(client, bob, b"a\n1\n", "x.csv", workspace_id=str(ada_ws)).status_code == 403


def test_crafted_grid_callback_cannot_read_another_users_rows(make_client, app_storage, admin, second_user):
    path = SAMPLES / "mall-customers.csv"
    dataset = app_storage.datasets.create_from_file(admin.principal(), app_storage.workspaces.personal_workspace(
        admin.principal()).id, path, "mall.csv")
    bob = make_client()
    sign_in(bob, "bob@example.com")
    response = post_callback(
        bob,
        [("dataset-grid", "getRowsResponse"), ("dataset-grid-count", "children"), ("export-csv", "href"),
         ("export-xlsx", "href"), ("export-parquet", "href")],
        [("dataset-grid", "getRowsRequest", {"startRow": 0, "endRow": 100, "sortModel": [], "filterModel": {}})],
        [("dataset-id", "data", dataset.id)],
        changed=["dataset-grid.getRowsRequest"],
    )
    assert response.status_code == 200
    body = response.get_json()["response"]
    assert body["dataset-grid"]["getRowsResponse"] == {"rowData": [], "rowCount": 0}
    # The owner gets rows through the same callback.
    ada_client = make_client()
    sign_in(ada_client, "ada@example.com")
    body = post_callback(
        ada_client,
        [("dataset-grid", "getRowsResponse"), ("dataset-grid-count", "children"), ("export-csv", "href"),
         ("export-xlsx", "href"), ("export-parquet", "href")],
        [("dataset-grid", "getRowsRequest", {"startRow": 0, "endRow": 2, "sortModel": [{"colId": "Age", "sort": "desc"}],
                                             "filterModel": {}})],
        [("dataset-id", "data", dataset.id)],
        changed=["dataset-grid.getRowsRequest"],
    ).get_json()["response"]
    assert body["dataset-grid"]["getRowsResponse"]["rowCount"] == 200
    assert body["dataset-grid"]["getRowsResponse"]["rowData"][0]["Age"] == 70
    assert body["export-csv"]["href"] == f"/api/v1/datasets/{dataset.id}/export?format=csv&sort=-Age"


def test_crafted_delete_callback_cannot_delete_another_users_dataset(make_client, app_storage, admin, second_user):
    dataset = app_storage.datasets.create_from_file(admin.principal(), app_storage.workspaces.personal_workspace(
        admin.principal()).id, SAMPLES / "mall-customers.csv", "mall.csv")
    bob = make_client()
    sign_in(bob, "bob@example.com")
    body = post_callback(bob, [("dataset-delete-feedback", "children"), ("dataset-redirect", "href")],
                         [("dataset-delete-confirm", "n_clicks", 1)], [("dataset-id", "data", dataset.id)],
                         changed=["dataset-delete-confirm.n_clicks"]).get_json()["response"]
    assert "There is no dataset" in json.dumps(body)
    assert app_storage.datasets.get(admin.principal(), dataset.id).rows == 200
