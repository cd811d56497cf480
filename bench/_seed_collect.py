"""The baseline server of bench/collect.py: the same collection done the way the seeds did
it, an INSERT per event into PostgreSQL.

A WSGI app run by gunicorn (``gthread`` workers, as many workers and threads as the
server it is compared with) that answers ``POST /api/collect`` with exactly our parsing,
checks and enrichment (``api.collect.parse_events_body``, ``storage.collect.CollectService``:
the same site look-up, User-Agent parse, visitor hash, URL and referrer fields), and
stores each event with its own ``INSERT`` through psycopg, one connection per thread,
committed (SEED_COMMIT) after each event ("event": an autocommit INSERT, as an endpoint
that saves each event it is given does) or once per request ("request": all of a request
is kept, or none, as ours). Only the store
differs, so the ratio measures what storing an event costs the two ways. It is the
flattering baseline: our enrichment is faster than the seeds' was, and the PostgreSQL of
scripts/with-postgres.sh runs with fsync off.

Settings, from the environment: SEED_COMMIT, SEED_PG_DSN (the events' database), SEED_DATABASE_URL
and SEED_DATA_DIR (the metadata holding the site whose key the requests carry).
"""
from __future__ import annotations

import json
import os
import threading

import psycopg

from api.collect import parse_events_body
from storage.collect import CollectService
from storage.errors import DataInsightError
from storage.event_store import EVENT_COLUMNS

MAX_KB = 1024
TABLE = ("CREATE TABLE IF NOT EXISTS events (site_id bigint NOT NULL, ts timestamp NOT NULL, type text, name text, "
         "url text, hostname text, path text, title text, referrer text, referrer_host text, utm_source text, "
         "utm_medium text, utm_campaign text, utm_content text, utm_term text, visitor_id bigint, session_id bigint, "
         "user_id text, browser text, browser_version text, os text, device text, props text)")
INSERT = (f"INSERT INTO events (site_id, {', '.join(EVENT_COLUMNS)}) "
          f"VALUES ({', '.join(['%s'] * (len(EVENT_COLUMNS) + 1))})")


class InsertPerEvent:
    """The event store's ``append_many``, the seeds' way."""

    def __init__(self, dsn: str, commit: str):
        self.dsn = dsn
        self.commit = commit  # "event": each INSERT its own transaction; "request": one a request
        self.local = threading.local()

    def _connection(self) -> psycopg.Connection:
        con = getattr(self.local, "con", None)
        if con is None or con.closed:
            con = self.local.con = psycopg.connect(self.dsn, autocommit=True)
        return con

    def append_many(self, items) -> None:
        con = self._connection()
        if self.commit == "event":
            for site_id, rows in items:
                for row in rows:
                    con.execute(INSERT, (site_id, *row))
            return
        with con.transaction(), con.cursor() as cur:
            for site_id, rows in items:
                for row in rows:
                    cur.execute(INSERT, (site_id, *row))


def _service() -> CollectService:
    from storage import Storage

    storage = Storage(os.environ["SEED_DATABASE_URL"], os.environ["SEED_DATA_DIR"])
    return CollectService(storage.sites, InsertPerEvent(os.environ["SEED_PG_DSN"], os.environ["SEED_COMMIT"]))


_collector: list[CollectService] = []  # made in each worker, after gunicorn's fork
_made = threading.Lock()


def app(environ, start_response):
    with _made:
        if not _collector:
            _collector.append(_service())
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        payload = parse_events_body(environ["wsgi.input"].read(min(length, MAX_KB * 1024 + 1)), MAX_KB,
                                    environ.get("CONTENT_TYPE") or "")
        result = _collector[0].collect(payload, environ.get("REMOTE_ADDR") or "", environ.get("HTTP_USER_AGENT") or "")
        status, body = "202 Accepted", result
    except DataInsightError as exc:
        status, body = "400 Bad Request", {"error": exc.message}
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def create_table(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute(TABLE)
