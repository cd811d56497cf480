"""POST /api/collect: events from web pages (issue 13, point 2), public by design.

No session, no CSRF check, CORS open to every origin on this route only: the tracker on a
customer's site posts here (``navigator.sendBeacon`` sends ``text/plain``, so any content
type is read as JSON). What guards it instead: the site key (an unknown key is a 400), the
body size and event count (settings), and rate limits per client address (requests) and
per site (events), counted in the database (or Redis) so every process agrees; over a limit: 429
with ``Retry-After``. The answer is 202 only once the events are on disk.

Collection is the one route a busy site calls for every page view of every visitor, so it
skips Flask: ``CollectFastPath`` answers it straight from the WSGI call (a third of the
CPU a request cost went to Flask's request context and hooks, none of which it needs: no
session, no guard, no CSRF). It keeps what they gave every response: the request metrics,
``nosniff`` and ``no-store``. The Flask route stays, for the OpenAPI description and for an
app served without the fast path; both answer through ``collect_answer``.
"""
from __future__ import annotations

import json
import logging
import math
import threading
import time
from http import HTTPStatus

import flask
from werkzeug.wsgi import get_input_stream
from limits import parse
from limits.strategies import FixedWindowRateLimiter
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from api.openapi import Answer, operation
from storage.errors import DataInsightError, InvalidInput, RateLimited
from storage.metrics import metrics
from storage.rate_limits import counter_storage
from web.context import EXTENSION_KEY
from web.proxies import client_address, networks, request_client_address

log = logging.getLogger(__name__)
blueprint = flask.Blueprint("api_collect", __name__)
COLLECT_PATH = "/api/collect"
CORS_HEADERS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "POST, OPTIONS",
                "Access-Control-Allow-Headers": "Content-Type", "Access-Control-Max-Age": "86400"}
# What web.auth.security_headers gives every /api/ answer that goes through Flask.
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "SAMEORIGIN",
                    "Referrer-Policy": "same-origin", "Cache-Control": "no-store"}
_LIMITER_LOCK = threading.Lock()
NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl")


class EventsAccepted(Answer):
    accepted: int
    dropped: int


def _error(code: str, message: str, status: int = 400, headers: dict | None = None) -> tuple[int, dict, dict]:
    return status, {"error": {"code": code, "message": message}}, headers or {}


def _limiter(app: flask.Flask, storage):
    """The rate limiter of this app: in Redis when configured, else counted in this process
    and added to the metadata database once a second (one upsert a request cost more than
    collecting the event)."""
    extension = app.extensions.setdefault("datainsight_collect_limits", {})
    if "limiter" not in extension:
        with _LIMITER_LOCK:  # one per app: two would each count part of the hits
            if "limiter" not in extension:
                extension["limiter"] = FixedWindowRateLimiter(counter_storage(storage.engine, storage.redis_url,
                                                                              buffered=True))
    return extension["limiter"]


def _charge(limiter, rate: str | None, key: str, cost: int, what: str) -> None:
    """Count ``cost`` against ``key``'s limit, or RateLimited with the wait."""
    if not rate:
        return
    item = parse(rate)
    if limiter.hit(item, key, cost=cost):
        return
    stats = limiter.get_window_stats(item, key)
    retry_after = max(1, math.ceil(stats.reset_time - limiter.storage.clock()))
    raise RateLimited(f"Too many events: this server takes at most {item.amount} {what} a "
                      f"{item.GRANULARITY.name}. Try again in {retry_after} s.", retry_after=retry_after)


def _too_large(max_kb: int) -> InvalidInput:
    return InvalidInput(f"The request is larger than {max_kb} KB; send fewer events at a time")


def parse_events_body(raw: bytes, max_kb: int, content_type: str, allow_ndjson: bool = False):
    """A request body's JSON (any content type; NDJSON too where allowed), or InvalidInput
    naming the problem. ``raw``: at most the limit and one byte more, to tell."""
    if len(raw) > max_kb * 1024:
        raise _too_large(max_kb)
    if not raw.strip():
        raise InvalidInput("The request has no body: send one event or {\"events\": [...]} as JSON")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("The body is not UTF-8 text") from None
    try:
        if allow_ndjson and content_type.lower() in NDJSON_TYPES:
            events = []
            # Lines end at \n only: JSON strings may hold U+2028 and other line breaks.
            for number, line in enumerate(text.split("\n"), 1):
                if line.strip():
                    try:
                        events.append(json.loads(line))
                    except ValueError:
                        raise InvalidInput(f"Line {number} of the NDJSON body is not JSON") from None
            return {"events": events}
        try:
            return json.loads(text)
        except ValueError:
            raise InvalidInput("The body is not JSON: send one event or {\"events\": [...]}") from None
    except RecursionError:
        raise InvalidInput("The body is nested too deeply: an event is a flat object") from None


def read_events_body(max_kb: int, allow_ndjson: bool = False):
    """The Flask request's JSON (any content type), or InvalidInput naming the problem.
    Reads at most the limit (and one byte more, to tell), whatever the request announces."""
    limit = max_kb * 1024
    length = flask.request.content_length
    if length is not None and length > limit:
        raise _too_large(max_kb)
    # Read already (a JSON body's ids are checked before any route: api.ids), or read now.
    raw = getattr(flask.request, "_cached_data", None)
    if raw is None:
        raw = flask.request.stream.read(limit + 1)
    return parse_events_body(raw, max_kb, flask.request.mimetype or "", allow_ndjson)


def collect_answer(app: flask.Flask, read_body, content_length: int | None, content_type: str, address: str,
                   agent: str) -> tuple[int, dict, dict]:
    """(status, JSON payload, extra headers) of one POST /api/collect. ``read_body(n)``
    reads at most n bytes of the body; it is not called when the announced length is
    over the limit."""
    extension = app.extensions[EXTENSION_KEY]
    settings, storage = extension["settings"], extension["storage"]
    limiter = _limiter(app, storage)

    def admit(counts: dict) -> None:  # each site pays for its own events, once the request is known good
        for site, events in counts.items():
            _charge(limiter, settings.collect_site_rate_limit, f"collect-site:{site.id}", events,
                    "events for one site")

    max_kb = settings.collect_max_body_kb
    try:
        _charge(limiter, settings.collect_address_rate_limit, f"collect-ip:{address}", 1, "requests from one address")
        if content_length is not None and content_length > max_kb * 1024:
            raise _too_large(max_kb)
        payload = parse_events_body(read_body(max_kb * 1024 + 1), max_kb, content_type)
        result = storage.collect.collect(payload, address, agent, admit=admit, limit=settings.collect_max_events)
    except RateLimited as exc:
        return _error(exc.code, exc.message, 429, {"Retry-After": str(exc.retry_after)})
    except DataInsightError as exc:
        return _error(exc.code, exc.message, exc.status)
    except (TimeoutError, OSError, SQLAlchemyError, RedisError):  # nothing was acknowledged
        log.exception("collecting events failed")
        return _error("unavailable", "The events could not be stored just now; nothing of this request was kept. "
                                     "Send it again.", 503, {"Retry-After": "5"})
    return 202, result, {}


class CollectFastPath:
    """WSGI middleware: POST and OPTIONS /api/collect answered without Flask (see the
    module's note); every other request goes on to the app."""

    def __init__(self, wsgi_app, app: flask.Flask):
        self.wsgi_app = wsgi_app
        self.app = app

    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD")
        if environ.get("PATH_INFO") != COLLECT_PATH or method not in ("POST", "OPTIONS"):
            return self.wsgi_app(environ, start_response)
        started = time.perf_counter()
        if method == "OPTIONS":
            status, body, extra = 204, b"", {}
        else:
            try:
                status, payload, extra = self._post(environ)
            except Exception:  # what Flask's error handler did for the route: a JSON 500, logged
                log.exception("POST /api/collect failed")
                status, payload, extra = _error("internal_error", "Something went wrong on the server; nothing of "
                                                "this request was kept. Send it again.", 500)
            body = json.dumps(payload).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                   *CORS_HEADERS.items(), *SECURITY_HEADERS.items(), *extra.items()]
        start_response(f"{status} {HTTPStatus(status).phrase}", headers)
        figures = metrics()
        figures.http_requests.labels(COLLECT_PATH, method, str(status)).inc()
        figures.http_duration.labels(COLLECT_PATH, method).observe(time.perf_counter() - started)
        return [body]

    def _post(self, environ) -> tuple[int, dict, dict]:
        settings = self.app.extensions[EXTENSION_KEY]["settings"]
        try:
            length = int(environ["CONTENT_LENGTH"]) if environ.get("CONTENT_LENGTH") else None
        except ValueError:
            return _error("bad_request", "The Content-Length header is not a number")
        address = client_address(environ.get("REMOTE_ADDR"), environ.get("HTTP_X_FORWARDED_FOR"),
                                 networks(tuple(settings.trusted_proxies))) or ""
        stream = get_input_stream(environ)
        content_type = (environ.get("CONTENT_TYPE") or "").split(";", 1)[0].strip()
        return collect_answer(self.app, stream.read, length, content_type, address, environ.get("HTTP_USER_AGENT", ""))


def install_fast_path(server: flask.Flask) -> None:
    server.wsgi_app = CollectFastPath(server.wsgi_app, server)


@blueprint.route(COLLECT_PATH, methods=["POST", "OPTIONS"])
@operation("Send events from a web page (public: the site's key is in each event). One event or "
           "{\"events\": [...]}, as JSON in any content type (sendBeacon sends text/plain)", "Sites",
           raw_body="text/plain", status=202, answer=EventsAccepted, public=True)
def collect():
    """Reached only without the fast path (an app whose wsgi_app was not wrapped)."""
    if flask.request.method == "OPTIONS":
        response = flask.make_response("", 204)
        response.headers.update(CORS_HEADERS)
        return response
    raw = getattr(flask.request, "_cached_data", None)
    status, payload, extra = collect_answer(
        flask.current_app, (lambda n: raw[:n]) if raw is not None else flask.request.stream.read,
        flask.request.content_length, flask.request.mimetype or "", request_client_address() or "",
        flask.request.headers.get("User-Agent", ""))
    response = flask.jsonify(payload)
    response.status_code = status
    response.headers.update(CORS_HEADERS)
    response.headers.update(extra)
    return response
