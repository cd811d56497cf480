"""Slow clients against the real server (issue 18, point 1).

Before the front (web.front), eight sockets that announced a 1 MB body to
``/_dash-update-component`` and then sent a byte now and then held all eight gunicorn
threads, and ``/api/health`` stopped answering; a signed-in user did the same with slow
``PUT /api/v1/uploads/{id}``. Now requests are read whole on an event loop before a thread
takes them, anonymous bodies are small, and a request that arrives too slowly gets a 408.
"""
from __future__ import annotations

import socket
import time

import pytest
import requests

from tests.integration.server import api_token, free_port, kill_hard, start_server

SLOW_CLIENTS = 12  # more than the server's 8 threads


def _open(port: int, head: str, first_body: bytes = b"", end_headers: bool = True) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(head.encode() + (b"\r\n\r\n" if end_headers else b"\r\n") + first_body)
    return sock


def _answer(sock: socket.socket, timeout: float) -> str:
    """What the server sends until it closes the connection (its refusals do)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except TimeoutError:
        pass
    return data.decode("latin-1")


def _timed_get(url: str, **kwargs) -> tuple[int, float]:
    started = time.monotonic()
    response = requests.get(url, timeout=10, **kwargs)
    return response.status_code, time.monotonic() - started


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server with a short request time limit, so the test sees 408s quickly."""
    folder = tmp_path_factory.mktemp("slow")
    data_dir, port = folder / "data", free_port()
    token = api_token(data_dir)
    process = start_server(data_dir, port, folder / "server.log", request_timeout=4, min_upload_kbps=1000)
    try:
        yield f"http://127.0.0.1:{port}", port, token
    finally:
        kill_hard(process)


def test_slow_clients_do_not_stop_health_from_answering(server):
    base, port, token = server
    auth = {"Authorization": f"Bearer {token}"}
    upload = requests.post(f"{base}/api/v1/uploads", json={"filename": "slow.csv", "size": 1_000_000},
                           headers=auth, timeout=10).json()
    callback_head = ("POST /_dash-update-component HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Content-Length: {length}")
    # Anonymous sockets announcing 1 MB: refused at once, before any body is read.
    refused = [_open(port, callback_head.format(length=1_000_000), b"{") for _ in range(SLOW_CLIENTS)]
    # Anonymous sockets under the anonymous limit, and a signed-in user's uploads, dribbling.
    dribbling = [_open(port, callback_head.format(length=200_000), b"{") for _ in range(SLOW_CLIENTS)]
    dribbling += [_open(port, f"PUT /api/v1/uploads/{upload['id']}?offset=0 HTTP/1.1\r\nHost: x\r\n"
                              f"Authorization: Bearer {token}\r\nContent-Length: 1000000", b"a,b\n")
                  for _ in range(SLOW_CLIENTS)]
    try:
        for sock in refused:
            answer = _answer(sock, 5)
            assert answer.startswith("HTTP/1.1 413"), answer
            assert "at most 256 KB" in answer
        slowest = 0.0
        for _ in range(3):  # the time limit is 4 s: these stay connected and unanswered meanwhile
            for sock in dribbling:
                sock.sendall(b"1")
            status, seconds = _timed_get(f"{base}/api/health")
            assert status == 200
            slowest = max(slowest, seconds)
            status, seconds = _timed_get(f"{base}/api/v1/datasets", headers=auth)
            assert status == 200
            slowest = max(slowest, seconds)
            time.sleep(0.5)
        assert slowest < 1.0, f"the server took {slowest:.2f} s to answer with slow clients connected"
        # Past the time limit every dribbling request gets a 408 and its connection closes.
        for number, sock in enumerate(dribbling):
            answer = _answer(sock, 15)
            assert answer.startswith("HTTP/1.1 408"), (number, answer[:200])
            assert "did not arrive in time" in answer
        # The upload received nothing: a request only reaches the app once it is whole.
        status = requests.get(f"{base}/api/v1/uploads/{upload['id']}", headers=auth, timeout=10).json()
        assert status["offset"] == 0, status
    finally:
        for sock in refused + dribbling:
            sock.close()


def test_headers_that_never_end_get_a_408(server):
    base, port, _token = server
    sockets = [_open(port, "GET /api/health HTTP/1.1\r\nHost: x\r\nX-Slow: 1", end_headers=False)
               for _ in range(SLOW_CLIENTS)]
    try:
        started = time.monotonic()
        for sock in sockets:
            answer = _answer(sock, 15)
            # HTTP/1.0: the request line's version is not known until the headers end
            assert answer.startswith("HTTP/1.0 408 Request Timeout"), answer[:200]
            assert '"code": "request_timeout"' in answer
        assert time.monotonic() - started < 8  # 4 s allowed, checked every second
        assert _timed_get(f"{base}/api/health")[0] == 200
    finally:
        for sock in sockets:
            sock.close()


def test_bodies_and_headers_are_bounded_before_the_app_reads_them(server):
    base, port, token = server
    # A signed-in request may send more than the anonymous limit: a 300 KB CSV imports.
    csv = "region,amount\n" + "".join(f"north,{i}\n" for i in range(30_000))
    assert len(csv) > 256 * 1024
    created = requests.post(f"{base}/api/v1/datasets", files={"file": ("big.csv", csv)},
                            headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert created.status_code in (201, 202), created.text
    # The same body without credentials, or with a forged session cookie, is refused unread.
    for headers in ({}, {"Cookie": "datainsight_session=eyJfdXNlcl9pZCI6IjEifQ.forged.signature"}):
        refused = requests.post(f"{base}/api/v1/datasets", files={"file": ("big.csv", csv)}, headers=headers,
                                timeout=10)
        assert refused.status_code == 413, refused.text
        assert refused.json()["error"]["code"] == "too_large"
    # Headers past 64 KB: 431.
    huge = requests.get(f"{base}/api/health", headers={"X-Padding": "x" * 70_000}, timeout=10)
    assert huge.status_code == 431
    # A chunked anonymous body has no length to check: refused as well.
    chunked = requests.post(f"{base}/login", data=iter([b"email=a", b"&password=b"]), timeout=10)
    assert chunked.status_code == 413
    assert _timed_get(f"{base}/api/health")[0] == 200
