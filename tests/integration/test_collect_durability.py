"""An acknowledged event is never lost (issue 13, point 6): clients post events to a real
server (gunicorn, two workers), the server is killed with SIGKILL right after the last
202s, and the restarted server has every acknowledged event, once. The compactor runs
meanwhile (every second), so a kill may land in the middle of a compaction too."""
from __future__ import annotations

import threading

import requests

from tests.integration.server import api_token, free_port, kill_hard, start_server

CLIENTS = 8
POSTS_PER_CLIENT = 40


def test_every_acknowledged_event_survives_sigkill(tmp_path):
    data_dir, log, port = tmp_path / "data", tmp_path / "server.log", free_port()
    auth = {"Authorization": f"Bearer {api_token(data_dir)}"}
    settings = {"workers": 2, "collect_address_rate_limit": "off", "collect_site_rate_limit": "off"}
    server = start_server(data_dir, port, log, **settings)
    base = f"http://127.0.0.1:{port}"
    try:
        site = requests.post(f"{base}/api/v1/sites", headers=auth, json={"name": "Shop", "domain": "shop.example"},
                             timeout=30).json()
        acknowledged: list[str] = []
        lock = threading.Lock()

        def client(number: int):
            session = requests.Session()
            for i in range(POSTS_PER_CLIENT):
                events = [{"site": site["key"], "url": f"https://shop.example/c{number}/p{i}/e{j}"} for j in range(3)]
                answer = session.post(f"{base}/api/collect", json={"events": events}, timeout=30,
                                      headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"})
                if answer.status_code == 202:
                    with lock:
                        acknowledged.extend(f"/c{number}/p{i}/e{j}" for j in range(3))

        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    finally:
        kill_hard(server)  # SIGKILL to the whole process group, right after the last answers
    assert len(acknowledged) == CLIENTS * POSTS_PER_CLIENT * 3
    server = start_server(data_dir, port, log, **settings)
    try:
        paths = []
        for page in range(3):
            answer = requests.post(f"{base}/api/v1/query", headers=auth, timeout=60, json={
                "dataset_id": site["dataset_id"],
                "spec": {"type": "table", "columns": ["path"], "sort": "path", "page_size": 500, "page": page}})
            assert answer.status_code == 200, answer.text
            paths += [row[1] for row in answer.json()["rows"] if row[0] is not None]  # [present, path, total]
        assert sorted(paths) == sorted(acknowledged)  # every one, and none twice
    finally:
        kill_hard(server)
