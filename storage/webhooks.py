"""Posting JSON to a webhook URL without becoming a way into the server's network.

An alert's webhook is a URL an editor typed; the server then connects to it on its own.
So (issue 17, point 3):

- only ``http`` and ``https`` URLs, without user names or passwords in them;
- the host is resolved once and every address it resolves to must be public: loopback,
  private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local (169.254/16: the cloud
  metadata service), shared, multicast, reserved and unspecified ranges are refused,
  unless DATAINSIGHT_WEBHOOK_ALLOW_PRIVATE=true (a self-hosted Mattermost on the LAN);
- the connection goes to the address that was checked (not a second lookup, which a
  rebinding DNS server could answer differently), with the host name kept for TLS and
  the Host header;
- redirects are not followed: a 3xx is a failed delivery that names where it pointed;
- connecting and the whole answer are time-limited, and only the first 64 KB of the
  answer is read.
"""
from __future__ import annotations

import http.client
import ipaddress
import json
import socket
import ssl
import threading
from urllib.parse import urlsplit

from storage.errors import DataInsightError, InvalidInput

TIMEOUT = 10.0  # seconds for connecting, and for the whole answer
MAX_URL = 2000
MAX_ANSWER = 64 * 1024
USER_AGENT = "DataInsight-Webhook/1"


class WebhookError(DataInsightError):
    """A delivery that failed. ``permanent``: trying again cannot help (a refused address,
    a 4xx answer), so it is not retried."""

    code = "webhook_failed"
    status = 502

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


def _refused_reason(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address (such as the cloud metadata service)"
    if address.is_multicast or address.is_unspecified or address.is_reserved:
        return "a reserved address"
    if address.is_private or not address.is_global:
        return "a private network address"
    return None


def check_webhook_url(url, *, field: str = "url") -> tuple[str, str, int, str]:
    """(scheme, host, port, path with query) of a well-formed http(s) URL, or InvalidInput."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidInput("A webhook needs its URL, such as https://hooks.slack.com/services/...",
                           details={"field": field})
    url = url.strip()
    if len(url) > MAX_URL or any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise InvalidInput("The webhook URL is too long or holds spaces or control characters",
                           details={"field": field})
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise InvalidInput(f"A webhook URL must start with https:// or http://, not {parts.scheme or 'nothing'}:",
                           details={"field": field})
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("Put no user name or password in the webhook URL", details={"field": field})
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise InvalidInput("The webhook URL's port is not a number between 1 and 65535",
                           details={"field": field}) from None
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise InvalidInput("The webhook URL has no host name", details={"field": field})
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, host, port, path


def resolve_public(host: str, port: int, allow_private: bool) -> str:
    """The address to connect to: every address ``host`` resolves to must be allowed
    (one refused address refuses the host: a name that also points inside is not used)."""
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
        found = [literal]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise WebhookError(f"The webhook's host {host!r} could not be resolved "
                               f"({getattr(exc, 'strerror', None) or exc})",
                               permanent=getattr(exc, "errno", None) != socket.EAI_AGAIN) from None
        found = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    if not found:
        raise WebhookError(f"The webhook's host {host!r} has no address", permanent=True)
    if not allow_private:
        for address in found:
            reason = _refused_reason(address)
            if reason:
                raise WebhookError(
                    f"The webhook's host {host} is {reason} ({address}); webhooks may only reach public "
                    "addresses unless an administrator sets DATAINSIGHT_WEBHOOK_ALLOW_PRIVATE=true",
                    permanent=True)
    return str(found[0])


def check_destination(url, allow_private: bool, *, field: str = "url") -> None:
    """Refuse, when the alert is saved, a URL that could never be delivered to: malformed,
    or a host that resolves to a refused address. (A host that cannot be resolved now is
    accepted: it may be a temporary DNS failure; delivery checks again.)"""
    _scheme, host, port, _path = check_webhook_url(url, field=field)
    try:
        resolve_public(host, port, allow_private)
    except WebhookError as exc:
        if exc.permanent and "could not be resolved" not in exc.message:
            raise InvalidInput(exc.message, details={"field": field}) from None


def webhook_host(url: str) -> str:
    """What the history shows of a webhook: its host, not its path (Slack and Teams put
    the secret in the path)."""
    try:
        scheme, host, port, _path = check_webhook_url(url)
    except InvalidInput:
        return "webhook"
    default = 443 if scheme == "https" else 80
    return f"{scheme}://{host}" + (f":{port}" if port != default else "")


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _cut(connection) -> None:
    connection._cut = True
    if connection.sock is not None:
        try:
            connection.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _was_cut(connection) -> bool:
    return getattr(connection, "_cut", False)


def _failure(exc: Exception, where: str, timeout: float, cut: bool) -> WebhookError:
    if cut:
        return WebhookError(f"{where} took longer than {timeout * 2:g} s to answer")
    if isinstance(exc, ssl.SSLError):
        return WebhookError(f"The TLS connection to {where} failed ({exc.reason or exc})", permanent=True)
    if isinstance(exc, ConnectionRefusedError):
        return WebhookError(f"Nothing accepts connections at {where}")
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return WebhookError(f"{where} did not answer within {timeout:g} s")
    return WebhookError(f"The connection to {where} failed: {type(exc).__name__}: {exc}"[:400])


def post_json(url: str, body: dict, *, allow_private: bool = False, timeout: float = TIMEOUT) -> int:
    """POST ``body`` as JSON; returns the HTTP status (2xx), or WebhookError saying why not."""
    scheme, host, port, path = check_webhook_url(url)
    address = resolve_public(host, port, allow_private)
    payload = json.dumps(body, default=str).encode()
    kind = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    where = webhook_host(url)
    connection = kind(host, port, address, timeout)
    # The socket timeout bounds each read; a server that drips a byte at a time would pass
    # it forever, so a timer cuts the connection at the deadline for the whole exchange.
    deadline = threading.Timer(timeout * 2, _cut, (connection,))
    deadline.daemon = True
    deadline.start()
    try:
        connection.request("POST", path, body=payload, headers={
            "Content-Type": "application/json", "User-Agent": USER_AGENT, "Accept": "*/*"})
        answer = connection.getresponse()
        text = answer.read(MAX_ANSWER).decode("utf-8", "replace").strip()
        status = answer.status
        location = answer.getheader("Location")
    except (OSError, http.client.HTTPException) as exc:
        raise _failure(exc, where, timeout, _was_cut(connection)) from None
    finally:
        deadline.cancel()
        connection.close()
    if 200 <= status < 300:
        return status
    if 300 <= status < 400:
        raise WebhookError(f"{where} answered {status} and redirects to {location or 'nowhere'}; webhooks do not "
                           "follow redirects: use the final URL", permanent=True)
    excerpt = f": {text[:200]}" if text else ""
    # 408, 429 and 5xx may pass later; any other 4xx says the URL or the message is wrong.
    permanent = 400 <= status < 500 and status not in (408, 425, 429)
    raise WebhookError(f"{where} answered {status}{excerpt}", permanent=permanent)
