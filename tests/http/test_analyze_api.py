"""POST /api/v1/analyze/<kind>: the contract fields, background runs, errors as JSON, saving
cluster labels, and a second user who reaches none of it through the API or a crafted
callback post."""
import json
import time
from pathlib import Path

import pytest

from tests.conftest import bearer, post_callback, sign_in

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
INCOME, SCORE = "Annual Income (k$)", "Spending Score (1-100)"


@pytest.fixture
def mall(app_storage, admin):
    principal = admin.principal()
    return app_storage.datasets.create_from_file(principal, app_storage.workspaces.personal_workspace(principal).id,
                                                 FIXTURES / "shopping_data.csv", "mall.csv")


def analyze(client, token, kind, body, query=""):
    return client.post(f"/api/v1/analyze/{kind}{query}", json=body, headers=bearer(token))


def wait_job(client, token, url):
    for _ in range(400):
        job = client.get(url, headers=bearer(token)).get_json()
        if job["status"] in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.05)
    raise AssertionError("the job did not finish")


def test_regression_contract(client, ada, mall):
    response = analyze(client, ada, "regression", {"dataset_id": mall.id, "target": SCORE,
                                                    "features": ["Genre", "Age", INCOME], "model": "ols",
                                                    "missing": "drop"})
    assert response.status_code == 200
    body = response.get_json()
    assert {"n", "r2", "adj_r2", "coefficients", "term_naming"} <= set(body)
    assert (body["n"], body["dataset_id"], body["version"], body["kind"]) == (200, mall.id, 1, "regression")
    assert set(body["coefficients"][0]) >= {"term", "estimate", "std_error", "t", "p", "ci_low", "ci_high"}
    assert [c["term"] for c in body["coefficients"]][:2] == ["Intercept", "C(Genre)[T.Male]"]


def test_clustering_contract_and_labels(client, ada, mall, app_storage):
    params = {"dataset_id": mall.id, "features": [INCOME, SCORE], "k": None, "k_range": [2, 8], "seed": 0}
    body = analyze(client, ada, "clustering", params).get_json()
    assert {"k", "silhouette", "davies_bouldin", "calinski_harabasz", "sizes", "clusters", "sample_size"} <= set(body)
    assert body["k"] == 5 and sum(body["sizes"]) == 200 and body["sample_size"] == 200
    assert set(body["clusters"][0]) >= {"id", "size", "description", "profile"}
    saved = client.post("/api/v1/analyze/clustering/labels", json=dict(params, column="segment"), headers=bearer(ada))
    assert saved.status_code == 201
    dataset = saved.get_json()
    assert dataset["version"] == 2 and dataset["columns"][-1] == {"name": "segment", "type": "integer"}
    rows = client.get(f"/api/v1/datasets/{mall.id}/rows?limit=200", headers=bearer(ada)).get_json()
    assert "segment" in json.dumps(rows)


def test_stats_and_correlation(client, ada, mall):
    stats = analyze(client, ada, "stats", {"dataset_id": mall.id, "analysis": "test", "column": SCORE, "group": "Genre"})
    assert stats.status_code == 200 and stats.get_json()["test"] == "Welch's t-test (two-sided)"
    corr = analyze(client, ada, "correlation", {"dataset_id": mall.id, "columns": ["Age", SCORE]})
    assert corr.status_code == 200 and corr.get_json()["matrix"][0][1] < 0


def test_async_runs_as_a_job(client, ada, mall):
    response = analyze(client, ada, "clustering", {"dataset_id": mall.id, "features": [INCOME, SCORE], "k": 4},
                       "?async=1")
    assert response.status_code == 202
    job = wait_job(client, ada, response.get_json()["status_url"])
    assert job["status"] == "done" and job["result"]["k"] == 4 and job["kind"] == "analyze:clustering"


def test_errors_are_json_with_a_code(client, ada, mall):
    unknown = analyze(client, ada, "astrology", {"dataset_id": mall.id})
    assert unknown.status_code == 400 and unknown.get_json()["error"]["code"] == "invalid_spec"
    assert "Unknown analysis 'astrology'" in unknown.get_json()["error"]["message"]
    bad = analyze(client, ada, "regression", {"dataset_id": mall.id, "target": "Genre", "features": ["Age"],
                                              "model": "ols"})
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "analysis_failed"
    assert "needs a numeric target" in bad.get_json()["error"]["message"]
    missing = analyze(client, ada, "regression", {"target": SCORE})
    assert missing.status_code == 400 and "dataset_id" in missing.get_json()["error"]["message"]
    later = analyze(client, ada, "clustering", {"dataset_id": mall.id, "features": ["Nope"]}, "?async=1")
    assert later.status_code == 202  # validated in the job: the failure is the job's message
    job = wait_job(client, ada, later.get_json()["status_url"])
    assert job["status"] == "failed" and "There is no column 'Nope'" in job["message"]
    assert job["result"]["error"]["code"] == "invalid_spec"


def test_second_user_gets_404_through_the_api(client, ada, bob, mall, app_storage, admin):
    for kind, body in (("regression", {"target": SCORE, "features": ["Age"]}), ("clustering", {"features": ["Age"]}),
                       ("stats", {}), ("correlation", {})):
        response = analyze(client, bob, kind, dict(body, dataset_id=mall.id))
        assert response.status_code == 404, kind
        assert analyze(client, bob, kind, dict(body, dataset_id=mall.id), "?async=1").status_code == 404
    labels = client.post("/api/v1/analyze/clustering/labels", json={"dataset_id": mall.id, "features": ["Age"], "k": 2},
                         headers=bearer(bob))
    assert labels.status_code == 404
    own_job = analyze(client, ada, "stats", {"dataset_id": mall.id}, "?async=1").get_json()
    assert client.get(own_job["status_url"], headers=bearer(bob)).status_code == 404
    assert app_storage.datasets.get(admin.principal(), mall.id).version == 1


def _start_regression(client, dataset_id, references=(), positive=None, kept=None, target=SCORE,
                      features=("Age", "Genre")):
    return post_callback(
        client,
        [("reg-job", "data"), ("reg-params", "data"), ("reg-poll", "disabled"), ("reg-running", "style"),
         ("reg-status", "children"), ("reg-result", "children"), ("reg-progress", "value")],
        [("reg-run", "n_clicks", 1)],
        [("analyze-dataset", "value", dataset_id), ("reg-target", "value", target),
         ("reg-features", "value", list(features)), ("reg-model", "value", "auto"), ("reg-missing", "value", "drop"),
         ("reg-se", "value", "classical"),
         ({"type": "reg-reference", "index": "ALL"}, "value", [(name, level) for name, level in references]),
         ({"type": "reg-reference", "index": "ALL"}, "id",
          [(name, {"type": "reg-reference", "index": name}) for name, _ in references]),
         ("reg-positive", "value", positive), ("reg-data", "data", kept)],
        changed=["reg-run.n_clicks"],
    ).get_json()["response"]


def _poll_regression(client, job_id):
    for _ in range(200):
        body = post_callback(
            client,
            [("reg-progress", "value"), ("reg-running", "style"), ("reg-status", "children"), ("reg-result", "children"),
             ("reg-job", "data"), ("reg-poll", "disabled"), ("reg-data", "data")],
            [("reg-poll", "n_intervals", 1)], [("reg-job", "data", job_id)], changed=["reg-poll.n_intervals"],
        ).get_json()["response"]
        if body.get("reg-poll", {}).get("disabled"):
            return body
        time.sleep(0.05)
    raise AssertionError("the job did not finish")


def test_callbacks_run_for_the_owner_and_refuse_a_crafted_post(make_client, app_storage, admin, second_user, mall):
    owner = make_client()
    sign_in(owner, "ada@example.com")
    started = _start_regression(owner, mall.id)
    job_id = started["reg-job"]["data"]
    assert job_id
    done = _poll_regression(owner, job_id)
    text = json.dumps(done["reg-result"]["children"])
    assert "reg-coefficients" in text and "C(Genre)[T.Male]" in text

    intruder = make_client()
    sign_in(intruder, "bob@example.com")
    refused = _start_regression(intruder, mall.id)
    assert refused["reg-job"]["data"] is None
    assert "There is no dataset" in json.dumps(refused["reg-result"])
    peeked = _poll_regression(intruder, job_id)  # the owner's job id, guessed or stolen
    assert "There is no job" in json.dumps(peeked["reg-result"]) and "C(Genre)" not in json.dumps(peeked)
    schema = post_callback(intruder, [("analyze-schema", "data"), ("analyze-dataset-info", "children")],
                           [("analyze-dataset", "value", mall.id)], changed=["analyze-dataset.value"]).get_json()
    assert schema["response"]["analyze-schema"]["data"] is None and "Genre" not in json.dumps(schema)
    save = post_callback(
        intruder,
        [("clu-save-job", "data"), ("clu-save-params", "data"), ("clu-save-poll", "disabled"),
         ("clu-save-running", "style"), ("clu-save-status", "children"), ("clu-save-result", "children"),
         ("clu-save-progress", "value")],
        [("clu-save-run", "n_clicks", 1)],
        [("analyze-dataset", "value", mall.id), ("clu-params", "data", {"dataset_id": mall.id, "features": ["Age"], "k": 2}),
         ("clu-label-name", "value", "cluster")],
        changed=["clu-save-run.n_clicks"],
    ).get_json()["response"]
    assert "There is no dataset" in json.dumps(save) and app_storage.datasets.get(admin.principal(), mall.id).version == 1


def test_the_cancel_button_stops_a_long_fit(make_client, app_storage, admin, tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    path = tmp_path / "points.csv"
    path.write_text("a,b\n" + "\n".join(f"{x:.4f},{y:.4f}" for x, y in rng.normal(size=(150_000, 2))))
    principal = admin.principal()
    dataset = app_storage.datasets.create_from_file(principal, app_storage.workspaces.personal_workspace(principal).id,
                                                    path, "points.csv")
    owner = make_client()
    sign_in(owner, "ada@example.com")
    started = post_callback(
        owner,
        [("clu-job", "data"), ("clu-params", "data"), ("clu-poll", "disabled"), ("clu-running", "style"),
         ("clu-status", "children"), ("clu-result", "children"), ("clu-progress", "value")],
        [("clu-run", "n_clicks", 1)],
        [("analyze-dataset", "value", dataset.id), ("clu-features", "value", ["a", "b"]), ("clu-k", "value", None),
         ("clu-k-low", "value", 2), ("clu-k-high", "value", 10), ("clu-seed", "value", 0)],
        changed=["clu-run.n_clicks"],
    ).get_json()["response"]
    job_id = started["clu-job"]["data"]
    assert started["clu-running"]["style"] == {"display": "flex"} and started["clu-poll"]["disabled"] is False
    cancelled = post_callback(owner, [("clu-status", "children")], [("clu-cancel", "n_clicks", 1)],
                              [("clu-job", "data", job_id)], changed=["clu-cancel.n_clicks"]).get_json()["response"]
    assert cancelled["clu-status"]["children"] == "Cancelling…"
    for _ in range(400):
        body = post_callback(
            owner,
            [("clu-progress", "value"), ("clu-running", "style"), ("clu-status", "children"), ("clu-result", "children"),
             ("clu-job", "data"), ("clu-poll", "disabled"), ("clu-data", "data")],
            [("clu-poll", "n_intervals", 1)], [("clu-job", "data", job_id)], changed=["clu-poll.n_intervals"],
        ).get_json()["response"]
        if body["clu-poll"]["disabled"]:
            break
        time.sleep(0.05)
    assert "Cancelled." in json.dumps(body["clu-result"]) and body["clu-running"]["style"] == {"display": "none"}
    assert app_storage.jobs.get(principal, job_id)["status"] == "cancelled"


def test_reference_level_and_positive_class_chosen_after_a_fit(make_client, app_storage, admin, mall):
    owner = make_client()
    sign_in(owner, "ada@example.com")
    done = _poll_regression(owner, _start_regression(owner, mall.id)["reg-job"]["data"])
    kept = done["reg-data"]["data"]
    choices = post_callback(owner, [("reg-reference-area", "children"), ("reg-positive", "options"),
                                    ("reg-positive", "value"), ("reg-positive-box", "style")],
                            [("reg-data", "data", kept)], changed=["reg-data.data"]).get_json()["response"]
    area = json.dumps(choices["reg-reference-area"]["children"])
    assert "Reference level of Genre" in area and '"value": "Female"' in area
    assert choices["reg-positive-box"]["style"] == {"display": "none"}  # OLS: no positive class
    # Male as the reference: the coefficient is Female's difference now, the sign flipped.
    refit = _poll_regression(owner, _start_regression(owner, mall.id, references=[("Genre", "Male")],
                                                      kept=kept)["reg-job"]["data"])
    before = {c["term"]: c["estimate"] for c in kept["coefficients"]}
    after = {c["term"]: c["estimate"] for c in refit["reg-data"]["data"]["coefficients"]}
    assert "C(Genre)[T.Female]" in after and "C(Genre)[T.Male]" not in after
    assert after["C(Genre)[T.Female]"] == pytest.approx(-before["C(Genre)[T.Male]"], rel=1e-9)
    # A feature no longer in the model drops its reference level instead of failing the fit.
    alone = _poll_regression(owner, _start_regression(owner, mall.id, references=[("Genre", "Male")], kept=kept,
                                                      features=["Age"])["reg-job"]["data"])
    assert [c["term"] for c in alone["reg-data"]["data"]["coefficients"]] == ["Intercept", "Age"]

    # Logistic: the positive class is offered after a fit and used in the next.
    logistic = _poll_regression(owner, _start_regression(owner, mall.id, target="Genre",
                                                         features=["Age", SCORE])["reg-job"]["data"])
    kept = logistic["reg-data"]["data"]
    choices = post_callback(owner, [("reg-reference-area", "children"), ("reg-positive", "options"),
                                    ("reg-positive", "value"), ("reg-positive-box", "style")],
                            [("reg-data", "data", kept)], changed=["reg-data.data"]).get_json()["response"]
    assert choices["reg-positive"]["options"] == ["Female", "Male"] and choices["reg-positive"]["value"] == "Male"
    flipped = _poll_regression(owner, _start_regression(owner, mall.id, target="Genre", features=["Age", SCORE],
                                                        positive="Female", kept=kept)["reg-job"]["data"])
    first = {c["term"]: c["estimate"] for c in kept["coefficients"]}
    second = {c["term"]: c["estimate"] for c in flipped["reg-data"]["data"]["coefficients"]}
    assert flipped["reg-data"]["data"]["design"]["positive"] == "Female"
    assert second["Age"] == pytest.approx(-first["Age"], rel=1e-6)
