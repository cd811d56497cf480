"""A local HTTP server (127.0.0.1, a free port) that keeps the JSON bodies posted to it,
or answers each with a chosen status (a queue of statuses, then 200)."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class WebhookServer:
    def __init__(self, statuses: list[int] | None = None, redirect_to: str | None = None, delay: float = 0):
        self.received: list[dict] = []
        self.paths: list[str] = []
        self.statuses = list(statuses or [])
        self.redirect_to = redirect_to
        self.delay = delay
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's hook name
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if owner.delay:
                    threading.Event().wait(owner.delay)
                with owner.lock:
                    status = owner.statuses.pop(0) if owner.statuses else 200
                    if status == 200:
                        owner.received.append(json.loads(body))
                        owner.paths.append(self.path)
                self.send_response(status)
                if owner.redirect_to and 300 <= status < 400:
                    self.send_header("Location", owner.redirect_to)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook/secret-part"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
