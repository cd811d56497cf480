"""The front: what faces the network in `make run` (issue 18, point 1).

gunicorn's threaded worker hands a connection to a Python thread as soon as it is
accepted, and the thread then reads the request at the client's pace. Eight clients that
send ``Content-Length: 1000000`` and a byte now and then held all eight threads, and
``/api/health`` stopped answering. Here gunicorn still manages the processes (``--workers``,
restarts, signals), but each worker runs waitress: one event loop reads every request
whole (bodies past 512 KB spool to a temp file) and only then gives it to a thread. A slow
client costs a socket, not a thread.

On top of waitress's own limits (header size, body size, connections) the loop enforces
what waitress does not:

- a request must arrive in time: its headers within ``request_timeout`` seconds, and its
  body at no less than ``min_upload_kbps`` on average after that; otherwise 408;
- a request without a signed-in session cookie or a Bearer token may send at most
  ``anonymous_body_kb`` (413 before the body is read): the sign-in form, public links and
  Dash's own callbacks are small, and strangers get no room to fill the disk.

Each refusal is JSON in the API's error shape, and the access log keeps gunicorn's format.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone

from gunicorn.workers.base import Worker
from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask, ThreadedTaskDispatcher
from waitress.utilities import Error

log = logging.getLogger(__name__)

HEADER_LIMIT = 64 * 1024  # a browser's request headers are a few KB; cookies cap at ~8 KB each
MAINTENANCE_SECONDS = 1  # how often the loop looks for requests past their time
COLLECT_PATH = "/api/collect"  # api.collect: answered whole by its fast path


class FrontError(Error):
    """A refusal by the front, answered in the API's JSON error shape."""

    error_code = "bad_request"

    def to_response(self, ident=None):
        body = json.dumps({"error": {"code": self.error_code, "message": self.body}}).encode()
        return (f"{self.code} {self.reason}", [("Content-Type", "application/json"), ("Cache-Control", "no-store")],
                body)


class RequestTimeout(FrontError):
    code, reason, error_code = 408, "Request Timeout", "request_timeout"


class AnonymousBodyTooLarge(FrontError):
    code, reason, error_code = 413, "Content Too Large", "too_large"


class FrontLimits:
    """What the loop enforces, plus the predicate that tells a signed-in request."""

    def __init__(self, request_timeout: float, min_upload_kbps: int, anonymous_body_kb: int,
                 has_credentials: Callable[[dict], bool], collect_body_kb: int = 1024):
        self.request_timeout = request_timeout
        self.min_bytes_per_second = min_upload_kbps * 1024
        self.anonymous_body_bytes = anonymous_body_kb * 1024
        self.collect_body_bytes = max(self.anonymous_body_bytes, collect_body_kb * 1024)
        self.has_credentials = has_credentials

    def seconds_allowed(self, body_bytes: int) -> float:
        return self.request_timeout + body_bytes / self.min_bytes_per_second


class FrontRequestParser(HTTPRequestParser):
    """waitress's parser, timed from its first byte, refusing large anonymous bodies as
    soon as the headers are in."""

    limits: FrontLimits  # set on a subclass per server (see make_server)

    def __init__(self, adj):
        super().__init__(adj)
        self.started = time.monotonic()
        self._headers_checked = False

    def received(self, data):
        consumed = super().received(data)
        if self.headers_finished and not self._headers_checked and not self.error:
            self._headers_checked = True
            self._check_anonymous_body()
        return consumed

    def _check_anonymous_body(self) -> None:
        # Trackers post batches of events anonymously: their route has its own size (api.collect).
        collecting = getattr(self, "path", None) == COLLECT_PATH  # anonymous by design, whatever it sends
        limit = self.limits.collect_body_bytes if collecting else self.limits.anonymous_body_bytes
        announced = self.content_length if not self.chunked else limit + 1
        if announced > limit and (collecting or not self.limits.has_credentials(self.headers)):
            kb = limit // 1024
            self.error = AnonymousBodyTooLarge(
                f"A request without a signed-in session may send at most {kb} KB. Sign in, or send "
                f"an API token in the Authorization header, to send more.")
            self.completed = True

    def expired(self, now: float) -> bool:
        if self.completed:
            return False
        if not self.headers_finished:
            return now - self.started > self.limits.request_timeout
        body = max(self.content_length, self.body_bytes_received)
        return now - self.started > self.limits.seconds_allowed(body)


class LoggedErrorTask(ErrorTask):
    """The front's refusals go to the error log: they never reach the app."""

    def execute(self):
        super().execute()
        error = self.request.error
        log.warning("refused a request from %s: %s %s", self.channel.addr[0], error.code, error.body)


class FrontChannel(HTTPChannel):
    parser_class = FrontRequestParser
    error_task_class = LoggedErrorTask

    def time_out_partial_request(self, now: float) -> None:
        """Answer 408 to a request that is still arriving past its time (loop thread)."""
        with self.requests_lock:
            request = self.request
            if request is None or self.requests or not request.expired(now):
                return
            request.error = RequestTimeout(
                f"The request did not arrive in time: its headers must come within "
                f"{request.limits.request_timeout:g} s and its body at "
                f"{request.limits.min_bytes_per_second // 1024} KB/s or faster.")
            request.completed = True
            self.request = None
            self.requests.append(request)
            self.server.add_task(self)


class FrontServer(TcpWSGIServer):
    channel_class = FrontChannel

    def maintenance(self, now):
        """waitress closes connections idle past ``channel_timeout``; a connection with a
        request still arriving is judged by that request's own time limit instead."""
        idle_cutoff = now - self.adj.channel_timeout
        monotonic = time.monotonic()
        for channel in list(self.active_channels.values()):
            if channel.request is not None:
                channel.time_out_partial_request(monotonic)
            elif not channel.requests and channel.last_activity < idle_cutoff:
                close_idle(channel)


def close_idle(channel) -> None:
    """End a keep-alive connection idle past its time, unless its client has just sent a
    request on it (loop thread).

    waitress marks the channel and closes it on a later turn of the loop. Under load, a
    turn waits for the GIL behind the request threads, and a client that reuses the
    connection meanwhile (it still looked open) has its request answered by a reset: the
    kernel resets a socket closed with unread bytes. In the load test's cluster run that
    was one widget in 20,000 failing with ConnectionResetError. Here the FIN goes out at
    once (the client's pool then sees the connection closed and opens another), and bytes
    already waiting are a request to read, not to reset.

    The descriptor itself is still closed by the loop (``will_close``): this runs while
    waitress's poll builds its list of descriptors, and closing one here let the same turn
    accept a new connection on the freed number and then close that one.
    """
    if channel.readable() and _bytes_waiting(channel.socket):
        return  # the loop reads the request on its next turn
    try:
        channel.socket.shutdown(socket.SHUT_WR)
    except OSError:  # already gone
        pass
    channel.will_close = True


def _bytes_waiting(sock) -> bool:
    try:
        return bool(sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:  # reset or gone already: closing is all that is left
        return False


def make_servers(app, sockets, limits: FrontLimits, *, threads: int, max_body_bytes: int,
                 max_connections: int) -> tuple[dict, ThreadedTaskDispatcher, list[FrontServer]]:
    """waitress servers on already bound ``sockets``, sharing one loop map and one pool."""
    adj = Adjustments(
        threads=threads,
        connection_limit=max_connections,
        channel_timeout=limits.request_timeout,
        cleanup_interval=MAINTENANCE_SECONDS,
        max_request_header_size=HEADER_LIMIT,
        max_request_body_size=max_body_bytes,
        # web.proxies decides which peers' X-Forwarded-* to believe (DATAINSIGHT_TRUSTED_PROXIES).
        clear_untrusted_proxy_headers=False,
        ident="DataInsight",
        asyncore_use_poll=True,
    )
    parser = type("BoundFrontRequestParser", (FrontRequestParser,), {"limits": limits})
    channel = type("BoundFrontChannel", (FrontChannel,), {"parser_class": parser})
    server_class = type("BoundFrontServer", (FrontServer,), {"channel_class": channel})
    loop_map: dict = {}
    dispatcher = ThreadedTaskDispatcher()
    dispatcher.set_thread_count(threads)
    servers = [server_class(app, map=loop_map, _sock=sock, dispatcher=dispatcher, adj=adj, bind_socket=False,
                            sockinfo=(sock.family, sock.type, sock.proto, sock.getsockname()))
               for sock in sockets]
    return loop_map, dispatcher, servers


class AccessLog:
    """WSGI middleware writing gunicorn's default access-log line once a response is sent:
    ``%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"``."""

    def __init__(self, app, write: Callable[[str], None]):
        self.app = app
        self.write = write

    def __call__(self, environ, start_response):
        state = {"status": "-", "sent": 0}

        def logging_start_response(status, headers, exc_info=None):
            state["status"] = status.split(" ", 1)[0]
            return start_response(status, headers, exc_info)

        if environ.get("PATH_INFO") == COLLECT_PATH and environ.get("REQUEST_METHOD") in ("POST", "OPTIONS"):
            return self._collect(environ, logging_start_response, state)
        return self._logged(environ, logging_start_response, state)

    def _collect(self, environ, start_response, state):
        """Collection (api.collect answers it whole, at once): an accepted event is not
        logged, since a line per page view of every visitor would keep the visitors'
        addresses that the events themselves never store; a refusal is, without them."""
        body = self.app(environ, start_response)
        if state["status"] not in ("202", "204"):
            anonymous = {**environ, "REMOTE_ADDR": "-", "HTTP_USER_AGENT": "-", "HTTP_REFERER": "-"}
            sent = sum(len(chunk) for chunk in body) if isinstance(body, list) else 0
            self.write(self.line(anonymous, state["status"], sent))
        return body

    def _logged(self, environ, start_response, state):
        body = self.app(environ, start_response)
        try:
            for chunk in body:
                state["sent"] += len(chunk)
                yield chunk
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
            self.write(self.line(environ, state["status"], state["sent"]))

    @staticmethod
    def line(environ, status: str, sent: int) -> str:
        when = datetime.now(timezone.utc).strftime("[%d/%b/%Y:%H:%M:%S %z]")
        request_line = f"{environ.get('REQUEST_METHOD', '-')} {environ.get('REQUEST_URI', '-')} " \
                       f"{environ.get('SERVER_PROTOCOL', '-')}"
        return (f'{environ.get("REMOTE_ADDR", "-")} - - {when} "{request_line}" {status} {sent or "-"} '
                f'"{environ.get("HTTP_REFERER", "-")}" "{environ.get("HTTP_USER_AGENT", "-")}"')


class FrontWorker(Worker):
    """A gunicorn worker serving its app through the front (``worker_class``)."""

    def run(self):
        settings = getattr(self.app, "settings", None)
        if settings is None:  # started as `gunicorn -k web.front.FrontWorker app:server`
            from settings import Settings
            settings = Settings.from_env()
        from web.auth import credentials_checker

        limits = FrontLimits(settings.request_timeout, settings.min_upload_kbps, settings.anonymous_body_kb,
                             credentials_checker(self.wsgi), settings.collect_max_body_kb)
        app = self.wsgi
        if self.cfg.accesslog:
            app = AccessLog(app, self.log.access_log.info)
        # The largest legitimate body: a whole file posted to /api/v1/datasets.
        max_body = (settings.max_upload_mb + 1) * 1024 * 1024 + 1
        loop_map, dispatcher, servers = make_servers(
            app, [s.sock for s in self.sockets], limits, threads=settings.threads, max_body_bytes=max_body,
            max_connections=settings.max_connections)
        stopping = threading.Event()

        def serve():
            while not stopping.is_set():
                wasyncore.loop(timeout=MAINTENANCE_SECONDS, map=loop_map, use_poll=True, count=1)

        loop = threading.Thread(target=serve, name="front-loop", daemon=True)
        loop.start()
        try:
            while self.alive and loop.is_alive():
                self.notify()  # the arbiter's heartbeat; requests run on the pool's threads
                if self.ppid != os.getppid():
                    self.log.info("Parent changed, shutting down: %s", self)
                    break
                time.sleep(1)
        finally:
            for server in servers:  # no new connections; requests in progress may finish
                server.accepting = False
            deadline = time.monotonic() + self.cfg.graceful_timeout
            while (dispatcher.queue or dispatcher.active_count) and time.monotonic() < deadline:
                time.sleep(0.1)
            stopping.set()
            loop.join(timeout=5)
            dispatcher.shutdown(timeout=1)
