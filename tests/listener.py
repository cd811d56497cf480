"""A TCP listener on 127.0.0.1 (a free port) that records every connection made to it and
what was sent first: the witness that a renderer fetched a URL it was handed. It answers
nothing useful and stops by itself when the ``with`` block ends."""
from __future__ import annotations

import socket
import threading


class Listener:
    def __init__(self):
        self.connections: list[bytes] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fetch-listener", daemon=True)

    def __enter__(self) -> "Listener":
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _addr = self._sock.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(1)
                try:
                    first = conn.recv(4096)
                except OSError:
                    first = b""
                self.connections.append(first)
                try:  # a tiny valid answer, so a client that did connect does not hang
                    conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: image/png\r\nContent-Length: 0\r\n\r\n")
                except OSError:
                    pass

    def requests(self) -> list[str]:
        """The first line of every request received (``GET /x HTTP/1.1``)."""
        return [c.split(b"\r\n", 1)[0].decode("latin-1") for c in self.connections]
