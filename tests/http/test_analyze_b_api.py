"""POST /api/v1/analyze/{forecast,funnel,journeys,retention,rfm,clv,event_names}: the
contract fields, errors as JSON, background runs, the tabs' callbacks for the owner, and a
second user who reaches none of it through the API or a crafted callback post."""
import json
import time
from pathlib import Path

import pytest

from tests.conftest import bearer, post_callback, sign_in

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
STEPS = ["catalog", "product_view", "add_to_cart", "cart", "purchase"]
EVENTS = {"entity": "user_id", "event": "event", "time": "timestamp"}
RETAIL = {"customer": "CustomerID", "date": "InvoiceDate", "amount": "UnitPrice", "quantity": "Quantity"}


def _dataset(app_storage, admin, path, name):
    principal = admin.principal()
    workspace = app_storage.workspaces.personal_workspace(principal)
    return app_storage.datasets.create_from_file(principal, workspace.id, path, name)


@pytest.fixture
def revenue(app_storage, admin):
    return _dataset(app_storage, admin, FIXTURES / "online-retail-daily-revenue.csv", "revenue.csv")


@pytest.fixture
def clicks(app_storage, admin):
    return _dataset(app_storage, admin, FIXTURES / "events-ecom-journey" / "ecom-sample.csv", "ecom.csv")


@pytest.fixture
def retail(app_storage, admin):
    return _dataset(app_storage, admin, FIXTURES / "online-retail-20k.csv", "retail.csv")


def analyze(client, token, kind, body, query=""):
    return client.post(f"/api/v1/analyze/{kind}{query}", json=body, headers=bearer(token))


def wait_job(client, token, url):
    for _ in range(600):
        job = client.get(url, headers=bearer(token)).get_json()
        if job["status"] in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.05)
    raise AssertionError("the job did not finish")


def test_forecast_contract(client, ada, revenue):
    body = {"dataset_id": revenue.id, "date": "date", "value": "revenue", "agg": "sum", "grain": "day",
            "horizon": 30, "holdout": 30}
    response = analyze(client, ada, "forecast", body)
    assert response.status_code == 200, response.get_json()
    result = response.get_json()
    assert {"model", "holdout", "baseline", "forecast"} <= set(result)
    assert {"mape", "mae", "rmse"} <= set(result["holdout"])
    assert result["baseline"]["model"] == "seasonal_naive" and {"mape", "mae", "rmse"} <= set(result["baseline"])
    assert len(result["forecast"]) == 30 and set(result["forecast"][0]) == {"date", "value", "low", "high"}
    assert result["forecast"][0]["date"] == "2011-12-11"  # the next trading day after Friday 9 December
    assert result["holdout"]["mape"] < 26 < result["baseline"]["mape"]
    assert (result["dataset_id"], result["version"], result["kind"]) == (revenue.id, 1, "forecast")


def test_funnel_journeys_retention_contracts(client, ada, clicks):
    funnel = analyze(client, ada, "funnel", dict(EVENTS, dataset_id=clicks.id, steps=STEPS))
    assert funnel.status_code == 200, funnel.get_json()
    steps = funnel.get_json()["steps"]
    assert [s["entities"] for s in steps] == [40, 40, 36, 32, 15]
    assert set(steps[0]) >= {"name", "entities", "conversion", "drop_off"}
    retention = analyze(client, ada, "retention", dict(EVENTS, dataset_id=clicks.id, grain="month")).get_json()
    assert retention["cohorts"][0]["cohort"] == "2024-01-01" and retention["cohorts"][0]["active"][:3] == [4, 3, 2]
    journeys = analyze(client, ada, "journeys", dict(EVENTS, dataset_id=clicks.id, depth=3)).get_json()
    assert journeys["entities"] == 40 and journeys["links"] and journeys["paths"]
    names = analyze(client, ada, "event_names", {"dataset_id": clicks.id, "event": "event"}).get_json()
    assert {e["name"] for e in names["events"]} >= set(STEPS)


def test_rfm_and_clv_contracts(client, ada, retail):
    rfm = analyze(client, ada, "rfm", dict(RETAIL, dataset_id=retail.id))
    assert rfm.status_code == 200, rfm.get_json()
    result = rfm.get_json()
    assert set(result["segments"][0]) >= {"name", "customers", "share"}
    assert sum(s["customers"] for s in result["segments"]) == result["customers"] > 0
    assert sum(s["share"] for s in result["segments"]) == pytest.approx(1.0)
    clv = analyze(client, ada, "clv", dict(RETAIL, dataset_id=retail.id, order="InvoiceNo")).get_json()
    assert clv["customers"] > 0 and clv["historic"]["total"] > 0 and "average order value" in clv["method"]
    modelled = analyze(client, ada, "clv", dict(RETAIL, dataset_id=retail.id, order="InvoiceNo", model="bgnbd"))
    assert modelled.status_code == 200, modelled.get_json()
    modelled = modelled.get_json()
    assert modelled["model"] == "bgnbd" and set(modelled["model_parameters"]["bgnbd"]) == {"r", "alpha", "a", "b"}
    assert modelled["historic"] == clv["historic"] and modelled["predicted"]["total"] > 0


def test_errors_are_json(client, ada, revenue, clicks):
    short = analyze(client, ada, "forecast", {"dataset_id": revenue.id, "date": "date", "value": "revenue",
                                              "grain": "month"})
    assert short.status_code == 422 and short.get_json()["error"]["code"] == "analysis_failed"
    assert "The series has 13 months" in short.get_json()["error"]["message"]
    assert "needs at least 50" in short.get_json()["error"]["message"]  # a month's holdout: 12
    typo = analyze(client, ada, "funnel", dict(EVENTS, dataset_id=clicks.id, steps=["catalog", "purchse"]))
    assert typo.status_code == 400 and "There is no event 'purchse'" in typo.get_json()["error"]["message"]
    bad_date = analyze(client, ada, "rfm", {"dataset_id": clicks.id, "customer": "user_id", "date": "platform",
                                            "amount": "timestamp"})
    assert bad_date.status_code == 400 and "amount column 'timestamp'" in bad_date.get_json()["error"]["message"]


def test_forecast_runs_as_a_job(client, ada, revenue):
    response = analyze(client, ada, "forecast", {"dataset_id": revenue.id, "date": "date", "value": "revenue",
                                                 "holdout": 30, "horizon": 7}, "?async=1")
    assert response.status_code == 202
    job = wait_job(client, ada, response.get_json()["status_url"])
    assert job["status"] == "done" and job["kind"] == "analyze:forecast" and len(job["result"]["forecast"]) == 7


@pytest.fixture
def economics(app_storage, admin):
    return _dataset(app_storage, admin, FIXTURES / "timeseries" / "economics.csv", "economics.csv")


def test_forecast_without_a_grain_uses_the_datas_own_and_says_so(client, ada, economics):
    body = {"dataset_id": economics.id, "date": "date", "value": "unemploy", "folds": 1}
    response = analyze(client, ada, "forecast", body)
    assert response.status_code == 200, response.get_json()
    result = response.get_json()
    assert result["grain"] == "month" and result["season"] == 12
    assert result["grain_detected"]["spacing"] == "monthly" and result["grain_detected"]["grain"] == "month"
    assert result["holdout"]["periods"] == 12 and len(result["forecast"]) == 12
    assert result["forecast"][0]["date"] == "2007-04-01"
    assert result["verdict"]["outcome"] in ("better", "no_better", "worse", "naive_chosen")
    assert result["verdict"]["headline"] and result["verdict"]["metric"] == "mape"
    auto = analyze(client, ada, "forecast", dict(body, grain="auto")).get_json()
    assert auto["grain"] == "month" and auto["holdout"] == result["holdout"]


def test_forcing_day_on_monthly_data_is_refused_with_the_grain_to_choose(client, ada, economics):
    response = analyze(client, ada, "forecast", {"dataset_id": economics.id, "date": "date", "value": "unemploy",
                                                 "grain": "day"})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "analysis_failed"
    assert error["message"].startswith("14,042 of 14,520 days have no data: this series looks monthly; choose Month.")
    assert error["details"]["grain_suggested"] == "month"


def test_time_grain_answers_the_spacing(client, ada, bob, economics, revenue):
    response = analyze(client, ada, "time_grain", {"dataset_id": economics.id, "date": "date"})
    assert response.status_code == 200, response.get_json()
    detection = response.get_json()
    assert (detection["grain"], detection["spacing"], detection["times"]) == ("month", "monthly", 478)
    assert detection["description"].startswith("The data is monthly: 478 distinct times")
    assert analyze(client, ada, "time_grain", {"dataset_id": revenue.id, "date": "date"}).get_json()["grain"] == "day"
    missing = analyze(client, ada, "time_grain", {"dataset_id": economics.id})
    assert missing.status_code == 400 and "Choose a date column" in missing.get_json()["error"]["message"]
    assert analyze(client, bob, "time_grain", {"dataset_id": economics.id, "date": "date"}).status_code == 404


def test_second_user_gets_404(client, bob, revenue, clicks, retail):
    requests = [
        ("forecast", {"dataset_id": revenue.id, "date": "date", "value": "revenue"}),
        ("time_grain", {"dataset_id": revenue.id, "date": "date"}),
        ("funnel", dict(EVENTS, dataset_id=clicks.id, steps=STEPS)),
        ("journeys", dict(EVENTS, dataset_id=clicks.id)),
        ("retention", dict(EVENTS, dataset_id=clicks.id)),
        ("event_names", {"dataset_id": clicks.id, "event": "event"}),
        ("rfm", dict(RETAIL, dataset_id=retail.id)),
        ("clv", dict(RETAIL, dataset_id=retail.id)),
    ]
    for kind, body in requests:
        response = analyze(client, bob, kind, body)
        assert response.status_code == 404, kind
        assert "purchase" not in response.get_data(as_text=True)
        assert analyze(client, bob, kind, body, "?async=1").status_code == 404, kind


# --- the tabs' callbacks ---------------------------------------------------------------------------------

JOB_OUTPUTS = ["job", "params", "poll", "running", "status", "result", "progress"]
JOB_PROPS = ["data", "data", "disabled", "style", "children", "children", "value"]


def _start(client, prefix, dataset_id, states):
    response = post_callback(
        client, [(f"{prefix}-{o}", p) for o, p in zip(JOB_OUTPUTS, JOB_PROPS)], [(f"{prefix}-run", "n_clicks", 1)],
        [("analyze-dataset", "value", dataset_id), *states], changed=[f"{prefix}-run.n_clicks"],
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_json()["response"]


def _poll(client, prefix, job_id):
    for _ in range(400):
        body = post_callback(
            client,
            [(f"{prefix}-progress", "value"), (f"{prefix}-running", "style"), (f"{prefix}-status", "children"),
             (f"{prefix}-result", "children"), (f"{prefix}-job", "data"), (f"{prefix}-poll", "disabled"),
             (f"{prefix}-data", "data")],
            [(f"{prefix}-poll", "n_intervals", 1)], [(f"{prefix}-job", "data", job_id)],
            changed=[f"{prefix}-poll.n_intervals"],
        ).get_json()["response"]
        if body.get(f"{prefix}-poll", {}).get("disabled"):
            return body
        time.sleep(0.05)
    raise AssertionError("the job did not finish")


FUNNEL_STATES = [("fj-entity", "value", "user_id"), ("fj-event", "value", "event"), ("fj-time", "value", "timestamp"),
                 ("fun-steps", "value", STEPS), ("fun-window", "value", None)]
RFM_STATES = [("seg-customer", "value", "CustomerID"), ("seg-date", "value", "InvoiceDate"),
              ("seg-amount", "value", "UnitPrice"), ("seg-quantity", "value", "Quantity"), ("seg-order", "value", None),
              ("seg-months", "value", 12), ("seg-lapse", "value", 180)]
FORECAST_STATES = [("ts-date", "value", "date"), ("ts-value", "value", "revenue"), ("ts-multiply", "value", None),
                   ("ts-agg", "value", "sum"),
                   ("ts-grain", "value", "auto"), ("ts-horizon", "value", 30), ("ts-holdout", "value", 30),
                   ("ts-gaps", "value", "auto"), ("ts-season", "value", None)]


def test_callbacks_run_for_the_owner_and_refuse_a_crafted_post(make_client, second_user, clicks, retail, revenue):
    owner = make_client()
    sign_in(owner, "ada@example.com")
    started = _start(owner, "fun", clicks.id, FUNNEL_STATES)
    job_id = started["fun-job"]["data"]
    assert job_id
    done = json.dumps(_poll(owner, "fun", job_id)["fun-result"]["children"])
    assert "fun-table" in done and "add_to_cart" in done
    rfm_job = _start(owner, "rfm", retail.id, RFM_STATES)["rfm-job"]["data"]
    assert "rfm-segments" in json.dumps(_poll(owner, "rfm", rfm_job)["rfm-result"])
    options = post_callback(owner, [("fun-steps", "options"), ("jr-start", "options"), ("ret-start", "options"),
                                    ("ret-return", "options")],
                            [("fj-event", "value", "event")], [("analyze-dataset", "value", clicks.id)],
                            changed=["fj-event.value"]).get_json()["response"]
    assert "purchase" in json.dumps(options["fun-steps"])

    intruder = make_client()
    sign_in(intruder, "bob@example.com")
    for prefix, dataset, states in (("fun", clicks, FUNNEL_STATES), ("rfm", retail, RFM_STATES),
                                    ("ts", revenue, FORECAST_STATES)):
        refused = _start(intruder, prefix, dataset.id, states)
        assert refused[f"{prefix}-job"]["data"] is None
        assert "There is no dataset" in json.dumps(refused[f"{prefix}-result"])
    peeked = _poll(intruder, "fun", job_id)  # the owner's job id, guessed or stolen
    assert "There is no job" in json.dumps(peeked["fun-result"]) and "add_to_cart" not in json.dumps(peeked)
    names = post_callback(intruder, [("fun-steps", "options"), ("jr-start", "options"), ("ret-start", "options"),
                                     ("ret-return", "options")],
                          [("fj-event", "value", "event")], [("analyze-dataset", "value", clicks.id)],
                          changed=["fj-event.value"]).get_json()["response"]
    assert "purchase" not in json.dumps(names)


def _grain_hint(client, dataset_id, date="date"):
    return post_callback(client, [("ts-grain", "options"), ("ts-grain-note", "children")],
                         [("ts-date", "value", date)], [("analyze-dataset", "value", dataset_id)],
                         changed=["ts-date.value"]).get_json()["response"]


def test_the_grain_hint_for_the_owner_and_not_for_a_crafted_post(make_client, second_user, revenue):
    owner = make_client()
    sign_in(owner, "ada@example.com")
    shown = _grain_hint(owner, revenue.id)
    assert shown["ts-grain"]["options"][0] == {"label": "Auto: Day", "value": "auto"}
    assert "The data is daily: Automatic uses Day." in json.dumps(shown["ts-grain-note"])
    assert "305 distinct times" in json.dumps(shown["ts-grain-note"])  # the whole sentence, as its tooltip
    unknown = _grain_hint(owner, revenue.id, "no such column")
    assert "There is no column" in json.dumps(unknown["ts-grain-note"])

    intruder = make_client()
    sign_in(intruder, "bob@example.com")
    refused = _grain_hint(intruder, revenue.id)
    assert refused["ts-grain"]["options"][0] == {"label": "Automatic", "value": "auto"}
    assert "There is no dataset" in json.dumps(refused["ts-grain-note"])
    assert "305" not in json.dumps(refused)
