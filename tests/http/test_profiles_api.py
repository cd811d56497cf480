"""The profile through the API: the contract, running then ready, the HTML download,
profiles per version, clean-up on delete, and a second user who gets 404 everywhere."""
from __future__ import annotations

import io
import re
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

import storage.profiles as profiles_module
from tests.conftest import _post_callback, bearer, post_callback, sign_in

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

COLUMN_FIELDS = {"name", "type", "count", "missing", "distinct", "min", "max", "mean", "std", "median", "q05", "q25",
                 "q75", "q95", "skewness", "kurtosis", "zeros", "negatives", "top_values", "histogram"}


def upload(client, token, data: bytes, filename: str):
    response = client.post("/api/v1/datasets", data={"file": (io.BytesIO(data), filename)}, headers=bearer(token))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def wait_ready(client, token, dataset_id, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/api/v1/datasets/{dataset_id}/profile", headers=bearer(token)).get_json()
        if body["status"] != "running":
            return body
        time.sleep(0.1)
    raise AssertionError("the profile did not finish")


@pytest.fixture
def gate(monkeypatch):
    """Holds every profile computation until the test opens the gate."""
    event = threading.Event()
    real = profiles_module.compute_profile

    def held(*args, **kwargs):
        kwargs["report"](0.0, "Waiting")
        assert event.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(profiles_module, "compute_profile", held)
    yield event
    event.set()


def test_contract_running_then_ready(client, ada, gate):
    dataset = upload(client, ada, (FIXTURES / "shopping_data.csv").read_bytes(), "mall.csv")
    url = f"/api/v1/datasets/{dataset['id']}/profile"
    running = client.get(url, headers=bearer(ada))
    assert running.status_code == 200
    body = running.get_json()
    assert body["status"] == "running" and 0 <= body["progress"] < 1
    assert body["table"] is None and body["columns"] is None and body["alerts"] is None
    html = client.get(url + ".html", headers=bearer(ada))
    assert html.status_code == 409 and "not ready" in html.get_json()["error"]["message"]
    gate.set()
    body = wait_ready(client, ada, dataset["id"])
    assert body["status"] == "ready" and body["progress"] == 1.0 and body["version"] == 1
    assert {"rows", "columns", "missing_cells", "duplicate_rows"} <= set(body["table"])
    assert (body["table"]["rows"], body["table"]["columns"]) == (200, 5)
    frame = pd.read_csv(FIXTURES / "shopping_data.csv")
    columns = {c["name"]: c for c in body["columns"]}
    for col in body["columns"]:
        assert COLUMN_FIELDS <= set(col)
    age = columns["Age"]
    assert (age["count"], age["distinct"], age["min"], age["max"]) == (200, frame["Age"].nunique(), 18, 70)
    assert age["mean"] == pytest.approx(frame["Age"].mean(), rel=1e-9)
    assert age["std"] == pytest.approx(frame["Age"].std(), rel=1e-9)
    assert age["skewness"] == pytest.approx(frame["Age"].skew(), rel=1e-9)
    assert sum(age["histogram"]["counts"]) == 200 and age["top_values"][0]["count"] == frame["Age"].value_counts().iloc[0]
    genre = columns["Genre"]
    assert genre["mean"] is None and genre["std"] is None and genre["histogram"] is None  # not applicable: null
    assert genre["top_values"][0] == {"value": "Female", "count": 112, "share": 0.56}
    assert set(body["correlations"]) >= {"pearson", "spearman"}
    pearson = body["correlations"]["pearson"]
    assert pearson["columns"] == ["CustomerID", "Age", "Annual Income (k$)", "Spending Score (1-100)"]
    assert pearson["matrix"][1][3] == pytest.approx(frame["Age"].corr(frame["Spending Score (1-100)"]), rel=1e-9)
    assert all({"type", "column", "message"} <= set(a) for a in body["alerts"])
    assert ("unique", "CustomerID") in {(a["type"], a["column"]) for a in body["alerts"]}


def test_html_download_is_self_contained(client, ada, app_storage):
    dataset = upload(client, ada, (FIXTURES / "online-retail-20k.csv").read_bytes(), "retail.csv")
    assert wait_ready(client, ada, dataset["id"])["status"] == "ready"
    response = client.get(f"/api/v1/datasets/{dataset['id']}/profile.html", headers=bearer(ada))
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "attachment" in response.headers["Content-Disposition"]
    page = response.get_data(as_text=True)
    assert not re.search(r"<script[^>]+src=", page, re.IGNORECASE)
    assert not re.search(r"<link[^>]+href=[\"']?https?://", page, re.IGNORECASE)
    assert "Plotly.newPlot" in page and page.count("<section class='card'") == 8
    assert "CustomerID is missing in 6,653 rows (33.3 %)" in page
    assert "InvoiceNo has 938 distinct values" in page
    assert "Quantity has 309 negative values" in page


def test_online_retail_alerts_through_the_app(client, ada):
    dataset = upload(client, ada, (FIXTURES / "online-retail-20k.csv").read_bytes(), "retail.csv")
    body = wait_ready(client, ada, dataset["id"])
    alerts = {(a["type"], a["column"]) for a in body["alerts"]}
    assert {("missing", "CustomerID"), ("negatives", "Quantity"), ("high_cardinality", "InvoiceNo")} <= alerts
    columns = {c["name"]: c for c in body["columns"]}
    assert columns["InvoiceDate"]["type"] == "timestamp" and sum(columns["InvoiceDate"]["hour_counts"]) == 20000
    assert columns["InvoiceDate"]["min"] == "2010-12-01T08:26:00"


def test_new_version_gets_its_own_profile_and_delete_leaves_nothing(client, ada, app_storage):
    dataset = upload(client, ada, b"a,b\n1,x\n2,y\n3,y\n", "t.csv")
    first = wait_ready(client, ada, dataset["id"])
    assert (first["version"], first["table"]["rows"]) == (1, 3)
    url = f"/api/v1/datasets/{dataset['id']}/versions"
    response = client.post(url, data={"file": (io.BytesIO(b"c\n5\n5\n"), "other.csv")}, headers=bearer(ada))
    assert response.status_code == 201
    second = wait_ready(client, ada, dataset["id"])
    assert (second["version"], second["table"]["rows"], second["table"]["duplicate_rows"]) == (2, 2, 1)
    assert [c["name"] for c in second["columns"]] == ["c"]
    files = sorted(p.name for p in (app_storage.data_dir / "profiles").iterdir())
    assert files == [f"{dataset['id']}-v1.json", f"{dataset['id']}-v2.json"]
    assert client.delete(f"/api/v1/datasets/{dataset['id']}", headers=bearer(ada)).status_code == 204
    assert list((app_storage.data_dir / "profiles").iterdir()) == []


def test_failed_profile_says_why_and_can_be_computed_again(client, ada, app_storage, monkeypatch):
    real = profiles_module.compute_profile

    def broken(*args, **kwargs):
        from errors import AnalysisError
        raise AnalysisError("The file could not be read")

    monkeypatch.setattr(profiles_module, "compute_profile", broken)
    dataset = upload(client, ada, b"a\n1\n2\n", "t.csv")
    body = wait_ready(client, ada, dataset["id"])
    assert (body["status"], body["message"]) == ("failed", "The file could not be read")
    monkeypatch.setattr(profiles_module, "compute_profile", real)
    again = client.post(f"/api/v1/datasets/{dataset['id']}/profile", headers=bearer(ada))
    assert again.status_code == 202
    assert wait_ready(client, ada, dataset["id"])["status"] == "ready"


def test_orphan_profiles_are_swept_at_start_up(app_storage):
    folder = app_storage.data_dir / "profiles"
    (folder / "999-v1.json").write_text("{}")
    (folder / "999-v1.job").write_text("x")
    assert app_storage.profiles.sweep() == 2 and list(folder.iterdir()) == []


def test_second_user_gets_404(client, ada, bob):
    dataset = upload(client, ada, (FIXTURES / "shopping_data.csv").read_bytes(), "mall.csv")
    wait_ready(client, ada, dataset["id"])
    url = f"/api/v1/datasets/{dataset['id']}/profile"
    for method, path in [("get", url), ("post", url), ("get", url + ".html")]:
        response = getattr(client, method)(path, headers=bearer(bob))
        assert response.status_code == 404, (method, path)
        assert "no dataset" in response.get_json()["error"]["message"]
    assert client.get("/api/v1/datasets/abc/profile", headers=bearer(ada)).status_code == 404


def _load(client, dataset_id, tab="profile"):
    return post_callback(client, [("profile-body", "children"), ("profile-poll", "disabled")],
                         [("dataset-tabs", "active_tab", tab), ("profile-poll", "n_intervals", 1)],
                         [("dataset-id", "data", dataset_id)], changed=["dataset-tabs.active_tab"])


def test_profile_tab_callbacks(make_client, ada, admin, second_user):
    api = make_client()
    dataset = upload(api, ada, (FIXTURES / "online-retail-20k.csv").read_bytes(), "retail.csv")
    wait_ready(api, ada, dataset["id"])
    browser = make_client()
    sign_in(browser, "ada@example.com")
    response = _load(browser, dataset["id"])
    assert response.status_code == 200
    body = response.get_json()["response"]
    assert body["profile-poll"]["disabled"] is True
    text = str(body["profile-body"]["children"])
    assert "profile-view" in text and "CustomerID is missing in 6,653 rows" in text and "Download HTML" in text
    # Another tab: nothing is read and polling stops.
    assert _load(browser, dataset["id"], tab="data").get_json()["response"]["profile-poll"]["disabled"] is True
    filtered = post_callback(browser, [("profile-cards", "children")],
                             [("profile-search", "value", "quant"), ("profile-type-filter", "value", "numeric"),
                              ("profile-alert-filter", "value", "negatives")],
                             [("dataset-id", "data", dataset["id"])], changed=["profile-search.value"])
    cards = str(filtered.get_json()["response"]["profile-cards"]["children"])
    assert "1 of 8 columns" in cards and "Quantity" in cards and "UnitPrice" not in cards
    heat = post_callback(browser, [("profile-heatmap", "children")], [("profile-corr-method", "value", "spearman")],
                         [("dataset-id", "data", dataset["id"])], changed=["profile-corr-method.value"])
    assert "Spearman" in str(heat.get_json()["response"]["profile-heatmap"]["children"])
    # Bob crafts the same posts for Ada's dataset: he learns nothing.
    bob_browser = make_client()
    sign_in(bob_browser, "bob@example.com")
    crafted = str(_load(bob_browser, dataset["id"]).get_json())
    assert "no dataset" in crafted and "CustomerID" not in crafted
    crafted = post_callback(bob_browser, [("profile-cards", "children")],
                            [("profile-search", "value", ""), ("profile-type-filter", "value", "all"),
                             ("profile-alert-filter", "value", "all")],
                            [("dataset-id", "data", dataset["id"])], changed=["profile-search.value"])
    assert "no dataset" in str(crafted.get_json()) and "Quantity" not in str(crafted.get_json())
    callback_map = bob_browser.application.extensions["datainsight_dash"].callback_map
    retry_key = next(k for k, c in callback_map.items() if any(i["id"] == "profile-retry" for i in c["inputs"]))
    crafted = _post_callback(bob_browser, retry_key, [("profile-body", "children"), ("profile-poll", "disabled")],
                             [("profile-retry", "n_clicks", 1)], [("dataset-id", "data", dataset["id"])],
                             changed=["profile-retry.n_clicks"])
    assert "no dataset" in str(crafted.get_json())


def test_cancel_stops_the_profile_and_compute_again_finishes_it(client, ada, bob, app_storage, admin, gate):
    team = app_storage.workspaces.create(admin.principal(), "Team").id
    app_storage.workspaces.add_member(admin.principal(), team, "bob@example.com", "viewer")
    response = client.post("/api/v1/datasets", headers=bearer(ada),
                           data={"file": (io.BytesIO((FIXTURES / "shopping_data.csv").read_bytes()), "mall.csv"),
                                 "workspace_id": str(team)})
    assert response.status_code == 201
    url = f"/api/v1/datasets/{response.get_json()['id']}/profile"
    assert client.get(url, headers=bearer(ada)).get_json()["status"] == "running"
    # A viewer sees the profile but may not stop it for everyone.
    refused = client.post(url + "/cancel", headers=bearer(bob))
    assert refused.status_code == 403 and "needs an editor" in refused.get_json()["error"]["message"]
    cancelling = client.post(url + "/cancel", headers=bearer(ada))
    assert cancelling.status_code == 200
    assert cancelling.get_json()["status"] == "running" and cancelling.get_json()["message"] == "Cancelling…"
    gate.set()  # the computation goes on to its first step, which sees the request
    body = wait_ready(client, ada, response.get_json()["id"])
    assert (body["status"], body["cancelled"]) == ("failed", True)
    assert body["message"].startswith("Profiling was cancelled") and body["columns"] is None
    nothing = client.post(url + "/cancel", headers=bearer(ada))
    assert nothing.status_code == 409 and "not being computed" in nothing.get_json()["error"]["message"]
    assert client.post(url, headers=bearer(ada)).status_code == 202
    assert wait_ready(client, ada, response.get_json()["id"])["status"] == "ready"


def test_cancel_button_callback(make_client, ada, admin, gate):
    api = make_client()
    dataset = upload(api, ada, (FIXTURES / "shopping_data.csv").read_bytes(), "mall.csv")
    browser = make_client()
    sign_in(browser, "ada@example.com")
    running = _load(browser, dataset["id"]).get_json()["response"]
    assert "profile-cancel" in str(running["profile-body"]["children"]) and running["profile-poll"]["disabled"] is False
    callback_map = browser.application.extensions["datainsight_dash"].callback_map
    key = next(k for k, c in callback_map.items() if any(i["id"] == "profile-cancel" for i in c["inputs"]))
    outputs = [("profile-body", "children"), ("profile-poll", "disabled"), ("profile-cancel-feedback", "children")]
    clicked = _post_callback(browser, key, outputs, [("profile-cancel", "n_clicks", 1)],
                             [("dataset-id", "data", dataset["id"])], changed=["profile-cancel.n_clicks"])
    assert clicked.status_code == 200
    assert clicked.get_json()["response"]["profile-poll"]["disabled"] is False  # the poll shows it stop
    gate.set()
    wait_ready(api, ada, dataset["id"])
    shown = str(_load(browser, dataset["id"]).get_json()["response"]["profile-body"]["children"])
    assert "Profiling was cancelled" in shown and "profile-retry" in shown
    # Clicking again when nothing runs says so in place.
    again = _post_callback(browser, key, outputs, [("profile-cancel", "n_clicks", 2)],
                           [("dataset-id", "data", dataset["id"])], changed=["profile-cancel.n_clicks"])
    assert "not being computed" in str(again.get_json()["response"]["profile-cancel-feedback"])


def test_viewers_are_not_offered_cancel_or_compute_again(make_client, ada, bob, app_storage, admin, gate):
    team = app_storage.workspaces.create(admin.principal(), "Team").id
    app_storage.workspaces.add_member(admin.principal(), team, "bob@example.com", "viewer")
    api = make_client()
    response = api.post("/api/v1/datasets", headers=bearer(ada),
                        data={"file": (io.BytesIO((FIXTURES / "shopping_data.csv").read_bytes()), "mall.csv"),
                              "workspace_id": str(team)})
    dataset_id = response.get_json()["id"]
    viewer, editor = make_client(), make_client()
    sign_in(viewer, "bob@example.com")
    sign_in(editor, "ada@example.com")
    running = str(_load(viewer, dataset_id).get_json()["response"]["profile-body"]["children"])
    assert "Profiling this dataset" in running and "'profile-cancel'" not in running
    assert "'profile-cancel'" in str(_load(editor, dataset_id).get_json()["response"]["profile-body"]["children"])
    assert api.post(f"/api/v1/datasets/{dataset_id}/profile/cancel", headers=bearer(ada)).status_code == 200
    gate.set()
    assert wait_ready(api, ada, dataset_id)["status"] == "failed"
    failed = str(_load(viewer, dataset_id).get_json()["response"]["profile-body"]["children"])
    assert "Profiling was cancelled" in failed and "'profile-retry'" not in failed
    assert "An editor of this workspace can compute it again" in failed
    assert "Compute again" in str(_load(editor, dataset_id).get_json()["response"]["profile-body"]["children"])
