"""Share tokens and invitation codes stay out of the server's logs (issue 18, point 12).

A live server (gunicorn, as `make run` serves) is asked for a public dashboard, its
report download and an invitation page, with a Referer naming a public page as the
assets of that page send it; its log must show each route, never the secret."""
from __future__ import annotations

import requests

from tests.integration.server import free_port, kill_hard, start_server
from web.redact import redact

TOKEN = "Zq8s3cretShareT0ken_abcdefghijklmnop"
CODE = "inv1tat10nC0de-xyz987654321"


def test_the_redaction_rule():
    line = (f'127.0.0.1 - - "GET /public/dashboards/{TOKEN}?tab=2 HTTP/1.1" 200 5 '
            f'"http://h/public/exports/dashboards/{TOKEN}" "x" /invite?code={CODE}&next=%2Fpublic%2Fdashboards%2F{TOKEN}')
    cleaned = redact(line)
    assert TOKEN not in cleaned and CODE not in cleaned
    assert "/public/dashboards/[redacted]?tab=2" in cleaned
    assert "/public/exports/dashboards/[redacted]" in cleaned and "/invite?code=[redacted]&next=" in cleaned
    assert redact("GET /api/v1/datasets/12 HTTP/1.1") == "GET /api/v1/datasets/12 HTTP/1.1"  # nothing else moves


def test_the_access_log_keeps_routes_and_drops_secrets(tmp_path):
    port, log = free_port(), tmp_path / "server.log"
    server = start_server(tmp_path / "data", port, log)
    try:
        base = f"http://127.0.0.1:{port}"
        for path in (f"/public/dashboards/{TOKEN}", f"/public/exports/dashboards/{TOKEN}?format=pdf",
                     f"/invite?code={CODE}"):
            requests.get(base + path, timeout=10)
        requests.get(base + "/assets/50-app.css", headers={"Referer": f"{base}/public/dashboards/{TOKEN}"},
                     timeout=10)
        requests.post(base + "/_dash-update-component", json={}, timeout=10,
                      headers={"Origin": "http://evil.example", "Referer": f"{base}/invite?code={CODE}",
                               "Cookie": "session=x"})
    finally:
        kill_hard(server)
    text = log.read_text()
    assert "GET /public/dashboards/[redacted] HTTP/1.1" in text
    assert "GET /public/exports/dashboards/[redacted]?format=pdf HTTP/1.1" in text
    assert "GET /invite?code=[redacted] HTTP/1.1" in text
    assert f'"{base}/public/dashboards/[redacted]"' in text  # the Referer of the asset
    assert TOKEN not in text and CODE not in text
