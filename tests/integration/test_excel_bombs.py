"""Three Excel bombs uploaded at once to a running server (issue 18, point 3): each is
refused with a message that names the limit, and the server's peak memory stays under a
stated bound instead of the 2.2 GB one such file took."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests import bombs
from tests.integration.server import api_token, free_port, group_pids, kill_hard, start_server, status_kb

PEAK_BOUND_MB = 600  # the whole server process, app and Dash included (about 250 MB idle)


@pytest.fixture(scope="module")
def workbooks(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bombs")
    return {
        "inline.xlsx": bombs.inline_string_bomb(folder / "inline.xlsx"),
        "shared.xlsx": bombs.shared_strings_bomb(folder / "shared.xlsx"),
        "grid.xlsx": bombs.billion_cells_bomb(folder / "grid.xlsx"),
    }


def test_three_excel_bombs_at_once_are_refused_within_a_memory_bound(tmp_path, workbooks):
    data_dir, log, port = tmp_path / "data", tmp_path / "server.log", free_port()
    auth = {"Authorization": f"Bearer {api_token(data_dir)}"}
    server = start_server(data_dir, port, log)
    base = f"http://127.0.0.1:{port}"

    def send(item):
        name, path = item
        with open(path, "rb") as handle:
            return name, requests.post(f"{base}/api/v1/datasets", files={"file": (name, handle)}, headers=auth,
                                       timeout=120)

    try:
        pids = group_pids(server.pid)
        idle_mb = max(status_kb(pid, "VmRSS") for pid in pids) / 1024
        with ThreadPoolExecutor(3) as pool:
            answers = dict((name, response) for name, response in pool.map(send, workbooks.items()))
        peak_mb = max(status_kb(pid, "VmHWM") for pid in group_pids(server.pid)) / 1024
        for name, response in answers.items():
            assert response.status_code == 422, (name, response.text)
            assert name in response.json()["error"]["message"], response.text
        assert "more than" in answers["inline.xlsx"].json()["error"]["message"]
        assert "more than" in answers["shared.xlsx"].json()["error"]["message"]
        assert "100,000,000 cells" in answers["grid.xlsx"].json()["error"]["message"]
        assert peak_mb < PEAK_BOUND_MB, f"peak {peak_mb:.0f} MB (idle {idle_mb:.0f} MB)"
        assert requests.get(f"{base}/api/health", timeout=5).status_code == 200  # still serving
        assert requests.get(f"{base}/api/v1/datasets", headers=auth).json()["datasets"] == []
        leftovers = [p for sub in ("tmp", "uploads", "datasets") for p in (data_dir / sub).rglob("*") if p.is_file()]
        assert leftovers == []
        print(f"server memory: idle {idle_mb:.0f} MB, peak {peak_mb:.0f} MB")
    finally:
        if server.poll() is None:
            kill_hard(server)
