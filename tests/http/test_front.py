"""The front's pieces without a server (web.front; the live server is in
tests/integration/test_slow_clients.py): which requests count as signed in for the body
limit, when a request is late, the access-log line and the JSON refusals."""
from __future__ import annotations

import json
import socket
import time

import pytest

from waitress.adjustments import Adjustments

from tests.conftest import sign_in
from web.auth import REMEMBER_COOKIE, SESSION_COOKIE, credentials_checker
from web.front import (AccessLog, AnonymousBodyTooLarge, FrontLimits, FrontRequestParser, RequestTimeout,
                       make_servers)


def test_only_cookies_this_app_signed_and_bearer_tokens_count_as_credentials(app, client, admin):
    has_credentials = credentials_checker(app.server)
    sign_in(client, "ada@example.com", remember=True)
    session = client.get_cookie(SESSION_COOKIE).value
    remember = client.get_cookie(REMEMBER_COOKIE).value
    assert has_credentials({"COOKIE": f"{SESSION_COOKIE}={session}"})
    assert has_credentials({"COOKIE": f"theme=dark; {REMEMBER_COOKIE}={remember}"})
    assert has_credentials({"AUTHORIZATION": "Bearer dit_anything"})
    forged_session = session[:-4] + ("AAAA" if not session.endswith("AAAA") else "BBBB")
    forged_remember = remember.split("|")[0] + "|" + "0" * 128
    for headers in ({}, {"COOKIE": f"{SESSION_COOKIE}={forged_session}"},
                    {"COOKIE": f"{REMEMBER_COOKIE}={forged_remember}"}, {"COOKIE": "other=1"},
                    {"AUTHORIZATION": "Basic YWRhOnB3"}, {"AUTHORIZATION": "Bearer not-ours"}):
        assert not has_credentials(headers), headers
    # A genuine session cookie with nobody signed in (a signed-out browser's) is anonymous.
    signed_out = app.server.session_interface.get_signing_serializer(app.server).dumps({"next": "/"})
    assert not has_credentials({"COOKIE": f"{SESSION_COOKIE}={signed_out}"})


def _parser(signed_in: bool, timeout=30, kbps=32, anonymous_kb=256):
    limits = FrontLimits(timeout, kbps, anonymous_kb, lambda headers: signed_in)
    cls = type("Parser", (FrontRequestParser,), {"limits": limits})
    return cls(Adjustments())


def test_a_large_anonymous_body_is_refused_when_its_headers_arrive():
    head = b"POST /_dash-update-component HTTP/1.1\r\nHost: x\r\nContent-Length: 300000\r\n\r\n{"
    anonymous = _parser(signed_in=False)
    anonymous.received(head)
    assert anonymous.completed and isinstance(anonymous.error, AnonymousBodyTooLarge)
    status, headers, body = anonymous.error.to_response()
    assert status == "413 Content Too Large" and ("Content-Type", "application/json") in headers
    assert json.loads(body)["error"] == {"code": "too_large", "message": anonymous.error.body}
    assert "256 KB" in anonymous.error.body
    signed_in = _parser(signed_in=True)
    signed_in.received(head)
    assert not signed_in.completed and signed_in.error is None
    small = _parser(signed_in=False)
    small.received(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab")
    assert small.error is None and not small.completed


def test_a_request_is_late_by_its_headers_time_and_its_body_rate():
    parser = _parser(signed_in=True, timeout=10, kbps=100)
    parser.received(b"PUT /api/v1/uploads/x HTTP/1.1\r\nHost: x\r\nContent-Length: 1024000\r\n\r\n")
    start = parser.started
    assert not parser.expired(start + 19)  # 10 s + 1,000 KB at 100 KB/s
    assert parser.expired(start + 21)
    waiting = _parser(signed_in=True, timeout=10)
    waiting.received(b"GET / HTTP/1.1\r\nHost: x\r\n")
    assert not waiting.expired(waiting.started + 9) and waiting.expired(waiting.started + 11)
    status, _headers, body = RequestTimeout("late").to_response()
    assert status == "408 Request Timeout" and json.loads(body)["error"]["code"] == "request_timeout"


def test_the_access_log_line_has_gunicorns_format():
    lines = []

    def app(environ, start_response):
        start_response("201 CREATED", [("Content-Type", "text/plain")])
        return [b"hello", b"!"]

    logged = AccessLog(app, lines.append)
    environ = {"REQUEST_METHOD": "POST", "REQUEST_URI": "/api/v1/datasets?x=1", "SERVER_PROTOCOL": "HTTP/1.1",
               "REMOTE_ADDR": "10.1.2.3", "HTTP_USER_AGENT": "curl/8", "HTTP_REFERER": "http://h/a"}
    body = b"".join(logged(environ, lambda status, headers, exc_info=None: None))
    assert body == b"hello!"
    assert len(lines) == 1
    prefix, when_and_rest = lines[0].split(" [", 1)
    assert prefix == "10.1.2.3 - -"
    assert when_and_rest.split("] ", 1)[1] == '"POST /api/v1/datasets?x=1 HTTP/1.1" 201 6 "http://h/a" "curl/8"'


@pytest.mark.parametrize("status, logged_line", [("202 Accepted", None), ("204 No Content", None),
                                                 ("400 Bad Request", '"POST /api/collect HTTP/1.1" 400 2 "-" "-"')])
def test_accepted_events_are_not_logged_and_refusals_without_the_visitor(status, logged_line):
    """Collection keeps no visitor's address (docs/events.md): not in the access log either."""
    lines = []

    def app(environ, start_response):
        start_response(status, [("Content-Type", "application/json")])
        return [b"{}"]

    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/api/collect", "REQUEST_URI": "/api/collect",
               "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "198.51.100.7", "HTTP_USER_AGENT": "Firefox/133"}
    body = b"".join(AccessLog(app, lines.append)(environ, lambda s, h, exc_info=None: None))
    assert body == b"{}"
    if logged_line is None:
        assert lines == []
    else:
        [line] = lines
        assert line.startswith("- - - [") and line.split("] ", 1)[1] == logged_line and "198.51.100.7" not in line


def _pump_until(loop_map, done, seconds=5.0):
    """Turn the front's loop (in this thread) until ``done()`` or the time is up."""
    from waitress import wasyncore
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        wasyncore.loop(timeout=0.02, map=loop_map, use_poll=True, count=1)
    return done()


def _read_response(conn: socket.socket) -> bytes:
    conn.settimeout(0.02)
    try:
        return conn.recv(65536)
    except TimeoutError:
        return b""


REQUEST = b"GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


@pytest.fixture
def front():
    """A front server on 127.0.0.1 whose loop the test turns itself: (loop map, server,
    address). Its app answers "ok"."""
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]

    listener = socket.create_server(("127.0.0.1", 0))
    limits = FrontLimits(30, 32, 256, lambda headers: True)
    loop_map, dispatcher, [server] = make_servers(app, [listener], limits, threads=1, max_body_bytes=1024,
                                                  max_connections=8)
    yield loop_map, server, listener.getsockname()
    server.close()
    dispatcher.shutdown(timeout=1)
    listener.close()


def _answered(loop_map, conn: socket.socket) -> bytes:
    """Turn the loop until ``conn`` has its answer; the bytes received."""
    answers = []
    assert _pump_until(loop_map, lambda: answers.append(_read_response(conn)) or b"ok" in b"".join(answers))
    return b"".join(answers)


def test_an_idle_connection_closes_at_once_unless_its_client_has_just_sent_a_request(front):
    """Closing an idle keep-alive connection on a later turn of the loop reset the request
    of a client that reused it meanwhile (the load test's ConnectionResetError)."""
    loop_map, server, address = front
    client = socket.create_connection(address)
    client.sendall(REQUEST)
    assert b" 200 OK" in _answered(loop_map, client)
    client.sendall(REQUEST)  # reused just as the server finds it idle: not yet read by the loop
    server.maintenance(time.time() + 60)  # the maintenance as it runs 60 s later
    assert b" 200 OK" in _answered(loop_map, client)
    [channel] = server.active_channels.values()
    channel.last_activity -= 120
    server.maintenance(time.time())  # idle with nothing waiting: the FIN goes out now
    client.settimeout(1)
    assert client.recv(16) == b""  # seen before the loop turns (a client's pool opens another)
    assert _pump_until(loop_map, lambda: server.active_channels == {})  # the loop closes it
    client.close()


def test_a_connection_accepted_in_the_turn_that_ends_an_idle_one_is_answered(front):
    """The idle close runs while waitress's poll lists its descriptors; a descriptor closed
    there was freed for the connection accepted in the same turn, which the turn then
    closed as the old one (its request got no answer)."""
    loop_map, server, address = front
    idle = socket.create_connection(address)
    idle.sendall(REQUEST)
    _answered(loop_map, idle)
    [channel] = server.active_channels.values()
    channel.last_activity -= 120
    server.next_channel_cleanup = 0  # the next turn's poll runs the maintenance
    fresh = socket.create_connection(address)  # waiting to be accepted in that turn
    fresh.sendall(REQUEST)
    assert b" 200 OK" in _answered(loop_map, fresh)
    idle.settimeout(1)
    assert idle.recv(16) == b""
    idle.close()
    fresh.close()
