"""A job worker's own ``GET /metrics`` (``python app.py worker --metrics-port``): the jobs
its Celery children ran (and the rows, bytes and mails those jobs recorded), plus the
database's gauges, in the same text and under the same names as the web's /metrics, so
one Prometheus job can scrape both.

The children write their figures to the multiprocess folder (storage.metrics) that
app.py sets before Celery forks them; this server runs in a daemon thread of Celery's
main process and adds them up at each scrape (storage.metrics.exposition). It is the
standard library's HTTP server, not Flask: one route, read-only, same access rule as the
web's (web.metrics_access).
"""
from __future__ import annotations

import json
import logging
import os
import socket
import threading
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from settings import Settings, SettingsError
from storage.database import make_engine
from storage.metrics import exposition, metrics
from web.metrics_access import names_a_forwarder, scrape_refusal
from web.proxies import is_trusted_proxy

log = logging.getLogger(__name__)

METRICS_PATH = "/metrics"
READ_TIMEOUT = 10  # seconds a socket read may wait: a stalled client holds a thread meanwhile
MAX_CONNECTIONS = 16  # connections served at once; more are closed at once (a scraper needs one)


class WorkerMetricsServer(ThreadingHTTPServer):
    daemon_threads = True  # a scrape in progress never holds the worker's exit

    def __init__(self, address: tuple[str, int], engine, settings: Settings):
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.engine = engine
        self.metrics_token = settings.metrics_token
        self.trusted_proxies = settings.trusted_proxies
        # A client sending a byte every few seconds keeps its thread past READ_TIMEOUT:
        # the threads are bounded instead, so such clients cannot pile up in the worker.
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__(address, MetricsHandler)

    def process_request(self, request, client_address):
        if not self.slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


class MetricsHandler(BaseHTTPRequestHandler):
    server: WorkerMetricsServer
    timeout = READ_TIMEOUT
    server_version = "DataInsight-worker"

    def do_GET(self):
        if self._has_body():
            return self._send_error(405, "method_not_allowed", "GET /metrics takes no request body",
                                    {"Allow": "GET"})
        if urlsplit(self.path).path != METRICS_PATH:
            return self._send_error(404, "not_found", f"A job worker serves only GET {METRICS_PATH}")
        refusal = scrape_refusal(self.server.metrics_token, self.headers.get("Authorization", ""),
                                 self.client_address[0], forwarded=self._forwarded())
        if refusal is not None:
            return self._send_json(refusal.status, refusal.body(), refusal.headers())
        try:
            body, content_type = exposition(self.server.engine)
        except Exception:  # noqa: BLE001 - the database gauges failed: say so, keep serving
            log.exception("worker metrics could not be collected")
            return self._send_error(503, "unavailable", "The metrics could not be collected (the metadata "
                                    "database may be unreachable); the worker's log has the details")
        self._send(200, body, content_type, {"Cache-Control": "no-store"})

    def __getattr__(self, name: str):
        # BaseHTTPRequestHandler answers 501 to a method without a do_<METHOD>: this server
        # only reads, so every method but GET (HEAD, POST, made-up ones) is 405 alike.
        if name.startswith("do_"):
            return self._refuse_method
        raise AttributeError(name)

    def _refuse_method(self):
        self._send_error(405, "method_not_allowed", f"A job worker's metrics answer only GET, not {self.command}",
                         {"Allow": "GET"})

    def _has_body(self) -> bool:
        length = (self.headers.get("Content-Length") or "0").strip()
        return length != "0" or self.headers.get("Transfer-Encoding") is not None

    def _forwarded(self) -> bool:
        return names_a_forwarder(self.headers) or is_trusted_proxy(self.client_address[0], self.server.trusted_proxies)

    def _send_error(self, status: int, code: str, message: str, headers: dict | None = None):
        self._send_json(status, {"error": {"code": code, "message": message}}, headers or {})

    def _send_json(self, status: int, payload: dict, headers: dict):
        self._send(status, json.dumps(payload).encode(), "application/json", headers)

    def _send(self, status: int, body: bytes, content_type: str, headers: dict):
        self.close_connection = True  # one request per connection: nothing is left unread
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 - BaseHTTPRequestHandler's signature
        log.debug("worker metrics %s: " + format, self.address_string(), *args)


def serve_worker_metrics(settings: Settings, host: str, port: int) -> WorkerMetricsServer:
    """Starts the server in a daemon thread; a clear SettingsError when it cannot listen."""
    engine = make_engine(settings.database_url)
    # Celery forks its children after this (and again when one dies): a child must not use
    # or close the pooled connections of this process's engine.
    os.register_at_fork(after_in_child=partial(engine.dispose, close=False))
    try:
        server = WorkerMetricsServer((host, port), engine, settings)
    except OSError as exc:
        engine.dispose()
        raise SettingsError(f"The worker's metrics cannot listen on {host}:{port} (--metrics-host/--metrics-port, "
                            f"DATAINSIGHT_WORKER_METRICS_HOST/_PORT): {exc.strerror or exc}") from None
    # A child keeps a copy of the listening socket: if the main process died, the port would
    # stay taken (and accept connections nobody answers) until the last child ended.
    os.register_at_fork(after_in_child=server.socket.close)
    # The metrics' files are made now, before the thread starts: a fork while the thread
    # held prometheus_client's lock to make them would leave a child a lock never released.
    metrics()
    threading.Thread(target=server.serve_forever, name="worker-metrics", daemon=True).start()
    return server


def stop_worker_metrics(server: WorkerMetricsServer) -> None:
    server.shutdown()
    server.server_close()
    server.engine.dispose()
