"""A job worker's own GET /metrics (web.worker_metrics), in this process without Celery:
the same text and names as the web's, only GET /metrics, and the web's access rule (the
metrics token, else this machine only, never through a proxy). tests/cluster/
test_worker_metrics.py scrapes a real worker after a job."""
from __future__ import annotations

import dataclasses
import socket

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from settings import Settings, SettingsError
from storage.metrics import metrics
from tests.integration.server import free_port
from web.metrics_access import scrape_refusal
from web.worker_metrics import serve_worker_metrics, stop_worker_metrics


@pytest.fixture
def start(storage, settings):
    """start(**settings) -> the base URL of a worker metrics server on a free port."""
    servers = []

    def _start(**overrides) -> str:
        server = serve_worker_metrics(dataclasses.replace(settings, **overrides), "127.0.0.1", free_port())
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield _start
    for server in servers:
        stop_worker_metrics(server)


def samples_of(text: str) -> dict[tuple, float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_serves_the_process_metrics_and_the_database_gauges(start):
    base = start()
    job = (("kind", "profile"), ("state", "done"))
    before = samples_of(requests.get(f"{base}/metrics", timeout=10).text).get(("datainsight_jobs_total", job), 0.0)
    metrics().jobs.labels("profile", "done").inc()
    metrics().job_duration.labels("profile").observe(0.3)
    answer = requests.get(f"{base}/metrics", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/plain")
    assert answer.headers["Cache-Control"] == "no-store"
    samples = samples_of(answer.text)
    assert samples[("datainsight_jobs_total", job)] == before + 1
    assert samples[("datainsight_job_duration_seconds_count", (("kind", "profile"),))] >= 1
    assert samples[("datainsight_active_sessions", ())] == 0  # DatabaseCollector answered
    families = {family.name for family in text_string_to_metric_families(answer.text)}
    assert {"datainsight_jobs", "datainsight_ingested_rows", "datainsight_scheduled_sends",
            "datainsight_jobs_in_queue"} <= families  # the web's names, so one scrape job reads both


def test_only_get_metrics_without_a_body(start):
    base = start()
    other = requests.get(f"{base}/other", timeout=10)
    assert other.status_code == 404
    assert "/metrics" in other.json()["error"]["message"]
    assert requests.get(f"{base}/metrics/", timeout=10).status_code == 404
    assert requests.get(f"{base}/metrics?debug=1", timeout=10).status_code == 200
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS", "BREW"):
        refused = requests.request(method, f"{base}/metrics", timeout=10)
        assert refused.status_code == 405, method
        assert refused.headers["Allow"] == "GET"
        assert method in refused.json()["error"]["message"]
    head = requests.head(f"{base}/metrics", timeout=10)
    assert (head.status_code, head.content) == (405, b"")
    with_body = requests.get(f"{base}/metrics", data=b"x" * 10, timeout=10)
    assert with_body.status_code == 405
    assert "no request body" in with_body.json()["error"]["message"]


def test_with_a_metrics_token_only_that_token_may_scrape(start):
    base = start(metrics_token="scrape-me-please")
    missing = requests.get(f"{base}/metrics", timeout=10)
    assert missing.status_code == 401
    assert "DATAINSIGHT_METRICS_TOKEN" in missing.json()["error"]["message"]
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = requests.get(f"{base}/metrics", headers={"Authorization": "Bearer wrong"}, timeout=10)
    assert wrong.status_code == 401
    right = requests.get(f"{base}/metrics", headers={"Authorization": "Bearer scrape-me-please"}, timeout=10)
    assert right.status_code == 200
    assert ("datainsight_active_sessions", ()) in samples_of(right.text)


def test_without_a_token_what_a_proxy_forwards_is_refused(start):
    base = start()
    for header in ({"X-Forwarded-For": "127.0.0.1"}, {"Forwarded": "for=203.0.113.9"}, {"X-Real-IP": "203.0.113.9"}):
        refused = requests.get(f"{base}/metrics", headers=header, timeout=10)
        assert refused.status_code == 403, header
        assert "DATAINSIGHT_METRICS_TOKEN" in refused.json()["error"]["message"]
    proxied = start(trusted_proxies=("127.0.0.1/32",))  # a proxy on this machine speaks for others
    assert requests.get(f"{proxied}/metrics", timeout=10).status_code == 403


@pytest.mark.parametrize("peer,allowed", [("127.0.0.1", True), ("::1", True), ("10.1.2.3", False),
                                          ("", False), ("not an address", False)])
def test_without_a_token_only_this_machine(peer, allowed):
    refusal = scrape_refusal(None, "", peer, forwarded=False)
    assert (refusal is None) == allowed
    if not allowed:
        assert refusal.status == 403


def test_a_port_it_cannot_listen_on_is_a_clear_error(settings, storage):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(SettingsError, match=r"cannot listen on 127\.0\.0\.1:\d+ .*DATAINSIGHT_WORKER_METRICS"):
            serve_worker_metrics(settings, "127.0.0.1", taken.getsockname()[1])


@pytest.mark.parametrize("raw,fragment", [("0", "got 0"), ("65536", "got 65536"), ("nine", "got 'nine'")])
def test_the_port_setting_is_checked(tmp_path, raw, fragment):
    with pytest.raises(SettingsError, match=f"DATAINSIGHT_WORKER_METRICS_PORT must be a port number .*{fragment}"):
        Settings.from_env({"DATAINSIGHT_DATA_DIR": str(tmp_path), "DATAINSIGHT_WORKER_METRICS_PORT": raw})


def test_the_worker_metrics_are_off_by_default_and_local(tmp_path):
    default = Settings.from_env({"DATAINSIGHT_DATA_DIR": str(tmp_path)})
    assert (default.worker_metrics_port, default.worker_metrics_host) == (None, "127.0.0.1")
    set_ = Settings.from_env({"DATAINSIGHT_DATA_DIR": str(tmp_path), "DATAINSIGHT_WORKER_METRICS_PORT": "9108",
                              "DATAINSIGHT_WORKER_METRICS_HOST": "0.0.0.0"})
    assert (set_.worker_metrics_port, set_.worker_metrics_host) == (9108, "0.0.0.0")


def test_stalled_connections_are_bounded_and_a_scrape_gets_through_after(start):
    """Clients that open a connection and send nothing hold a thread each (a read waits
    READ_TIMEOUT, a trickle longer): past MAX_CONNECTIONS the server closes new ones at
    once instead of starting threads without end."""
    from web.worker_metrics import MAX_CONNECTIONS

    base = start()
    port = int(base.rsplit(":", 1)[1])
    idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(MAX_CONNECTIONS)]
    try:
        extra = socket.create_connection(("127.0.0.1", port), timeout=5)
        try:
            try:
                extra.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                answer = extra.recv(100)
            except (ConnectionResetError, BrokenPipeError):
                answer = b""  # closed with our request unread: a reset
            assert answer == b""  # closed without an answer
        finally:
            extra.close()
    finally:
        for conn in idle:
            conn.close()
    for _ in range(50):  # the idle connections' threads end once their sockets close
        try:
            if requests.get(f"{base}/metrics", timeout=5).status_code == 200:
                break
        except requests.ConnectionError:
            pass
    else:
        raise AssertionError("the server did not answer after the stalled clients left")


def test_a_local_peer_on_a_dual_stack_socket_is_local():
    from web.metrics_access import is_loopback

    assert is_loopback("::ffff:127.0.0.1") and is_loopback("::1") and is_loopback("127.0.0.1")
    assert not is_loopback("::ffff:10.0.0.1") and not is_loopback("")
