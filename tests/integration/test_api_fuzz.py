"""Schemathesis against the live server (issue 15, point 2): every operation of
/api/v1/openapi.json gets generated requests (a bounded number each), once with a write
token and once with a read token, with the path ids set to things that exist (a
dataset, a dashboard, a schedule, an alert, a workspace, an upload, a job), so the
bodies and queries reach the code behind the 404s. It fails on any 5xx, on any answer
that does not match its documented schema, and on any route missing from the document.

Left out of the write token's run, because they would end the run's own credentials:
revoking tokens, changing the password, signing out everywhere."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.integration.server import ROOT, api_token, free_port, kill_hard, server_env, start_server
from tests.smtp_server import SmtpServer

EXAMPLES = 12  # per operation and token: enough to find shape and type faults, quick enough for CI
SELF_HARM = ["/api/v1/tokens/{token_id}", "/api/v1/me/password", "/api/v1/me/sessions/revoke"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("fuzz")
    port = free_port()
    with SmtpServer() as smtp:
        settings = {"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "signup": "open",
                    "signup_domains": "example.com"}
        token = api_token(data_dir)
        process = start_server(data_dir, port, data_dir / "server.log", **settings)
        try:
            yield {"url": f"http://127.0.0.1:{port}", "token": token, "data_dir": data_dir}
        finally:
            kill_hard(process)


def _world(url: str, token: str) -> dict:
    """Things that exist, for the path parameters."""
    auth = {"Authorization": f"Bearer {token}"}
    csv = (ROOT / "tests" / "fixtures" / "vgsales.csv").read_bytes()
    dataset = requests.post(f"{url}/api/v1/datasets", headers=auth, files={"file": ("vgsales.csv", csv)}).json()
    board = requests.post(f"{url}/api/v1/dashboards", headers=auth, json={"name": "Fuzz", "widgets": [
        {"id": "k", "spec": {"type": "kpi", "dataset_id": dataset["id"], "y": "Global_Sales", "agg": "sum"}},
        {"id": "b", "spec": {"type": "bar", "dataset_id": dataset["id"], "x": "Genre", "y": "Global_Sales",
                             "agg": "sum"}}]}).json()
    schedule = requests.post(f"{url}/api/v1/dashboards/{board['id']}/schedules", headers=auth, json={
        "frequency": "daily", "time": "08:00", "recipients": ["ops@example.com"], "format": "html"}).json()
    alert = requests.post(f"{url}/api/v1/alerts", headers=auth, json={
        "dashboard_id": board["id"], "widget_id": "k", "condition": {"op": ">", "value": 1},
        "channels": [{"type": "email", "to": ["ops@example.com"]}]}).json()
    upload = requests.post(f"{url}/api/v1/uploads", headers=auth, json={"filename": "x.csv", "size": 10}).json()
    share = requests.post(f"{url}/api/v1/dashboards/{board['id']}/share", headers=auth).json()
    job = requests.post(f"{url}/api/v1/analyze/stats?async=1", headers=auth, json={"dataset_id": dataset["id"]})
    me = requests.get(f"{url}/api/v1/me", headers=auth).json()
    return {"dataset_id": dataset["id"], "dashboard_id": board["id"], "schedule_id": schedule["id"],
            "alert_id": alert["id"], "upload_id": upload["id"], "job_id": job.json()["job_id"],
            "workspace_id": board["workspace_id"], "user_id": me["user"]["id"], "widget_id": "b",
            "token": share["token"], "column": "Genre", "kind": "stats", "key": "online-retail"}


def _read_token(data_dir: Path) -> str:
    env = server_env(data_dir)
    return subprocess.run([sys.executable, "app.py", "create-token", "--email", "ops@example.com", "--scope",
                           "read"], cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout.strip()


def _fuzz(url: str, token: str, world: dict, tmp: Path, exclude: list[str]) -> tuple[int, str, dict]:
    config = tmp / "schemathesis.toml"
    config.write_text("[parameters]\n" + "".join(f'"path.{k}" = {json.dumps(v)}\n' for k, v in world.items()))
    report = tmp / "report.json"
    command = [str(Path(sys.executable).parent / "st"), "--config-file", str(config), "run",
               f"{url}/api/v1/openapi.json", "-H", f"Authorization: Bearer {token}", "-n", str(EXAMPLES),
               "--checks", "not_a_server_error,response_schema_conformance,status_code_conformance",
               "--phases", "examples,fuzzing", "--seed", "20261204", "--max-failures", "50", "--workers", "2",
               "--request-timeout", "60", "--report", "ndjson", "--report-ndjson-path", str(report),
               *[a for path in exclude for a in ("--exclude-path", path)]]
    done = subprocess.run(command, cwd=tmp, capture_output=True, text=True, timeout=900)
    return done.returncode, done.stdout + done.stderr, {}


@pytest.mark.timeout(1200)
def test_schemathesis_finds_nothing(server, tmp_path):
    url, token = server["url"], server["token"]
    spec = requests.get(f"{url}/api/v1/openapi.json").json()
    assert len([m for p in spec["paths"].values() for m in p]) >= 85
    world = _world(url, token)
    started = time.monotonic()
    (tmp_path / "write").mkdir()
    code, output, _ = _fuzz(url, token, world, tmp_path / "write", SELF_HARM)
    assert code == 0, output[-12000:]
    assert "passed" in output and " failure" not in output.split("SUMMARY")[-1], output[-6000:]
    print(output.split("SUMMARY")[-1])
    (tmp_path / "read").mkdir()
    code, output, _ = _fuzz(url, _read_token(server["data_dir"]), world, tmp_path / "read", [])
    assert code == 0, output[-12000:]
    print(f"schemathesis: {time.monotonic() - started:.0f} s for both tokens")
