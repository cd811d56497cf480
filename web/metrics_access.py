"""Who may read ``/metrics``: one rule for the web's route (web.metrics) and for a job
worker's own server (web.worker_metrics), which has no Flask request, so the rule takes
plain values.

With ``DATAINSIGHT_METRICS_TOKEN`` set, a request bearing that token (``Authorization:
Bearer ...``), from anywhere; without it, only a peer on this machine (the socket's own
address: ``X-Forwarded-For`` cannot fake it), and never a request a proxy forwarded.
"""
from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass

# A reverse proxy on this machine connects from 127.0.0.1 on behalf of anyone: a request
# that says it was forwarded is not this machine's own.
FORWARDING_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")

TOKEN_NEEDED = "Send the metrics token (DATAINSIGHT_METRICS_TOKEN) as 'Authorization: Bearer <token>'"
LOCAL_ONLY = ("Metrics are served only to this machine unless DATAINSIGHT_METRICS_TOKEN is set (and never "
              "through a proxy); set it to scrape from elsewhere")


@dataclass(frozen=True)
class Refusal:
    status: int  # 401: the token is missing or wrong; 403: not this machine
    code: str
    message: str

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message}}

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="datainsight"'} if self.status == 401 else {}


def scrape_refusal(token: str | None, authorization: str, peer: str, forwarded: bool) -> Refusal | None:
    """Why this request may not read the metrics, or None when it may. ``forwarded``: it
    came through a proxy (a forwarding header, or a peer named in DATAINSIGHT_TRUSTED_PROXIES)."""
    if token:
        if bearer_matches(authorization, token):
            return None
        return Refusal(401, "unauthenticated", TOKEN_NEEDED)
    if is_loopback(peer) and not forwarded:
        return None
    return Refusal(403, "forbidden", LOCAL_ONLY)


def bearer_matches(authorization: str, token: str) -> bool:
    scheme, _, presented = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode())


def is_loopback(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
        return (getattr(ip, "ipv4_mapped", None) or ip).is_loopback  # ::ffff:127.0.0.1 on a dual-stack socket
    except ValueError:
        return False


def names_a_forwarder(headers) -> bool:
    """Whether any forwarding header is set (``headers``: anything with ``.get``)."""
    return any(headers.get(name) for name in FORWARDING_HEADERS)
