"""GET /metrics (issue 14, point 4): Prometheus text that parses, counters that move with
what happened, route labels without ids, and only this machine or the metrics token."""
from __future__ import annotations

import dataclasses
import io
import time

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import bearer, sign_in


def scrape(client, **kwargs) -> dict[tuple, float]:
    """{(sample name, sorted labels): value} of one scrape."""
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_counters_move_with_requests_queries_jobs_and_ingest(client, ada, admin, make_client):
    before = scrape(client)
    for _ in range(3):
        assert client.get("/api/health").status_code == 200
    assert client.get("/api/v1/datasets/123456", headers=bearer(ada)).status_code == 404
    csv = "region,amount\n" + "".join(f"{r},{i}\n" for i, r in enumerate(["north", "south", "east"] * 40))
    created = client.post("/api/v1/datasets", data={"file": (io.BytesIO(csv.encode()), "sales.csv")},
                          headers=bearer(ada))
    assert created.status_code == 201
    spec = {"type": "bar", "x": "region", "y": "amount", "agg": "sum"}
    body = {"dataset_id": created.get_json()["id"], "spec": spec}
    first = client.post("/api/v1/query", json=body, headers=bearer(ada)).get_json()
    again = client.post("/api/v1/query", json=body, headers=bearer(ada)).get_json()
    assert (first["cached"], again["cached"]) == (False, True)
    browser = make_client()
    sign_in(browser, "ada@example.com")
    after = scrape(client)

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("datainsight_http_requests_total", route="/api/health", method="GET", status="200") == 3
    # The route's template, never the id that was asked for.
    assert moved("datainsight_http_requests_total", route="/api/v1/datasets/<dataset_id>", method="GET",
                 status="404") == 1
    assert not any("123456" in str(key) for key in after)
    assert moved("datainsight_http_request_duration_seconds_count", route="/api/health", method="GET") == 3
    assert moved("datainsight_widget_queries_total", widget="bar", cache="miss") == 1
    assert moved("datainsight_widget_queries_total", widget="bar", cache="hit") == 1
    assert moved("datainsight_widget_query_duration_seconds_count", widget="bar") == 1
    assert moved("datainsight_ingested_rows_total") == 120
    assert moved("datainsight_ingested_bytes_total") > 0
    assert value(after, "datainsight_active_sessions") >= 1
    # The upload started its profile as a background job: counted when it ends.
    deadline = time.monotonic() + 30
    while value(scrape(client), "datainsight_jobs_total", kind="profile", state="done") \
            == value(before, "datainsight_jobs_total", kind="profile", state="done"):
        assert time.monotonic() < deadline, "the profile job was never counted"
        time.sleep(0.1)
    assert value(scrape(client), "datainsight_job_duration_seconds_count", kind="profile") >= 1


def test_only_this_machine_may_scrape_without_a_token(client):
    assert client.get("/metrics").status_code == 200  # the test client's peer is 127.0.0.1
    elsewhere = client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert elsewhere.status_code == 403
    assert "DATAINSIGHT_METRICS_TOKEN" in elsewhere.get_json()["error"]["message"]
    # A forwarded-for header naming 127.0.0.1 does not make a remote peer local.
    forged = client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"},
                        headers={"X-Forwarded-For": "127.0.0.1"})
    assert forged.status_code == 403
    # A reverse proxy on this machine connects from 127.0.0.1 for anyone: what it forwards is refused.
    for header in ({"X-Forwarded-For": "203.0.113.9"}, {"Forwarded": "for=203.0.113.9"}, {"X-Real-IP": "203.0.113.9"}):
        assert client.get("/metrics", headers=header).status_code == 403


def test_with_a_metrics_token_only_that_token_may_scrape(settings):
    from app import create_app

    app = create_app(dataclasses.replace(settings, metrics_token="scrape-me-please"))
    try:
        client = app.server.test_client()
        remote = {"REMOTE_ADDR": "10.1.2.3"}
        missing = client.get("/metrics", environ_base=remote)
        assert missing.status_code == 401
        assert "DATAINSIGHT_METRICS_TOKEN" in missing.get_json()["error"]["message"]
        assert missing.headers["WWW-Authenticate"].startswith("Bearer")
        assert client.get("/metrics", headers=bearer("wrong"), environ_base=remote).status_code == 401
        assert client.get("/metrics", headers=bearer("scrape-me-please"), environ_base=remote).status_code == 200
        assert client.get("/metrics").status_code == 401  # the token is needed from this machine too
    finally:
        app.server.extensions["datainsight"]["storage"].dispose()


def test_queued_and_running_jobs_are_read_from_the_database(client, app_storage, admin):
    from storage.tables import jobs
    from storage.database import utcnow

    now = utcnow()
    with app_storage.engine.begin() as conn:
        for number, status in enumerate(["queued", "running", "running", "done"]):
            conn.execute(jobs.insert().values(
                id=f"job-{number}", kind="profile", user_id=admin.id, workspace_id=None, status=status, progress=0.0,
                message="", result_json=None, cancel_requested=False, worker="elsewhere:1", created_at=now,
                updated_at=now))
    samples = scrape(client)
    assert value(samples, "datainsight_jobs_in_queue", kind="profile", status="queued") == 1
    assert value(samples, "datainsight_jobs_in_queue", kind="profile", status="running") == 2


def test_the_grafana_dashboard_names_only_metrics_the_app_serves(client):
    """deploy/grafana-dashboard.json must not drift from the metric names."""
    import json
    import re
    from pathlib import Path

    served = {family.name for family in text_string_to_metric_families(client.get("/metrics").get_data(as_text=True))}
    dashboard = json.loads((Path(__file__).resolve().parents[2] / "deploy" / "grafana-dashboard.json").read_text())
    named = {name for panel in dashboard["panels"] for target in panel["targets"]
             for name in re.findall(r"datainsight_[a-z_]+", target["expr"])}
    assert len(named) >= 10
    for name in named:
        family = re.sub(r"_(bucket|count|sum|total)$", "", name)
        assert family in served, name


def test_a_trusted_proxy_on_this_machine_is_not_this_machine(settings):
    """nginx's plain proxy_pass adds no forwarding header: a peer named in
    DATAINSIGHT_TRUSTED_PROXIES speaks for others, so it may not scrape without the token."""
    from app import create_app

    app = create_app(dataclasses.replace(settings, trusted_proxies=("127.0.0.1/32",)))
    try:
        assert app.server.test_client().get("/metrics").status_code == 403
    finally:
        app.server.extensions["datainsight"]["storage"].dispose()
