"""/metrics on the real server with two worker processes (issue 14, point 4): a scrape of
either worker adds up what both answered (prometheus_client's multiprocess mode)."""
from __future__ import annotations

import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.server import free_port, kill_hard, start_server


def health_count(base: str) -> float:
    text = requests.get(f"{base}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "datainsight_http_requests_total" and sample.labels == {
                    "route": "/api/health", "method": "GET", "status": "200"}:
                return sample.value
    return 0.0


def test_a_scrape_adds_up_every_worker(tmp_path):
    port = free_port()
    server = start_server(tmp_path / "data", port, tmp_path / "server.log", workers=2)
    base = f"http://127.0.0.1:{port}"
    try:
        before = health_count(base)
        for _ in range(40):  # new connections: the two workers share them out
            assert requests.get(f"{base}/api/health", timeout=10).status_code == 200
        for _ in range(4):  # whichever worker answers the scrape, it counts both
            assert health_count(base) - before == 40
        workers = {line.split("pid: ")[1].rstrip(")") for line in (tmp_path / "server.log").read_text().splitlines()
                   if "Booting worker with pid" in line}
        assert len(workers) == 2
    finally:
        kill_hard(server)
