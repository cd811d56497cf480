"""Event collection (issue 13): what the real server (``python app.py``: gunicorn, web.front
workers) takes in, how soon an event shows in the stats, what an event costs on disk,
and the site reports over 10 million events, beside PostgreSQL INSERTs as the seeds did it.

Measured in one run, on this machine (the load clients share its CPUs with the server):

1. single events: 50 keep-alive clients (threads, each a raw HTTP/1.1 socket: the lightest
   client Python has, so the server gets as much of the CPU as it can) post one pageview
   each ``POST /api/collect`` for 15 s; 20 real browser User-Agents, 500 paths, some
   referrers; all from 127.0.0.1. Requests/s of 202 answers, p50/p95 latency, and the
   server's CPU per request (its process group's user+sys). Run with each server
   configuration (workers x threads, ``--configs``, default 1x8, 2x8 and 2x50), each on
   a data dir of its own, rate limits off (``collect_address_rate_limit`` and
   ``collect_site_rate_limit`` "off"); beside it, ``GET /api/health`` under the same 50
   clients: what the front and Flask cost alone.
2. batches: 4 clients posting ``{"events": [1,000 events]}`` for 10 s: events/s.
3. visibility, on each configuration's server after point 4's compaction: one event with
   a unique path, then ``GET stats/overview?period=day&filters=page==<path>`` every 50 ms
   until its pageviews is 1; 5 times; the max of all.
4. bytes per event: once the server's upkeep compacted the load's day partition (it
   compacts a partition once its newest file is 10 s old), the site's visible Parquet
   files' size / their events; and the same for the 10M generated events of point 5 (the
   realistic figure: the load repeats 20 User-Agents from one address).
5. ``overview`` and ``pages`` over 10,000,000 generated events: 30 compacted day
   partitions (one c-file a day and its session summary, written with the compactor's COPY
   and its session SQL
   ``storage.event_store.SESSION_SQL``): 100,000 people whose visitor ids change every
   day (as the collector's do), 1 to 8 events a session, 500 paths (a few much more
   viewed), 30 referrer hosts, 6 browsers, 5 OSes, 3 devices, 10 % custom events with
   props. Timed over HTTP (a restarted one-worker server with the upkeep off, so the
   dataset snapshot it would publish does not run beside; cold = the first request
   after the restart, warm = the second (the service's result cache), and "no cache" =
   the same period asked as a custom period, a cache miss on a warm engine) and
   in-process through ``SiteStatsService`` (a fresh service, then again, then with its
   result cache cleared). The files were just written: the OS file cache is warm in
   every case, "cold" is the process's.
6. baseline: the seeds' way, beside a throwaway PostgreSQL (scripts/with-postgres.sh, which
   runs it with fsync off: its commits are not durable, ours are fsynced; the baseline is
   the flattering one), two ways:
   - the issue's: the same collection done the seeds' way, end to end. The same requests
     from the same clients (50 single-event, 4 batch) to bench/_seed_collect.py under
     gunicorn with our best configuration's workers and threads: our parsing, checks and
     enrichment, then an INSERT per event through psycopg, committed after each event
     (an autocommit INSERT: the issue's "an INSERT per event", what the batch target of
     >= 10x is judged against), and, shown beside, in one transaction per request (all
     of a request or none, as ours: the stronger baseline).
   - the database's part alone: raw INSERTs of prepared rows, 50 threads each with an
     autocommit connection, one INSERT per event; and 4 threads of ``executemany`` of
     1,000 rows a transaction. No HTTP, no parsing, no enrichment: shown beside.

Then where the time of a single event goes, in this process: the User-Agent parse,
``CollectService.collect`` without its write, one inbox-file write (its fsyncs), the
group commit's ceiling with 50 writing threads, and a POST through the WSGI app (the
fast path: api.collect.CollectFastPath) with the test client.

Rows for bench/__main__.py: throughput as microseconds per event (ratio = the baseline's
/ ours = how many times faster we are); where there is no baseline, the issue's target is
in the baseline column (ratio > 1: the target is met).

    python -m bench.collect
    python -m bench.collect --seconds 5 --batch-seconds 4 --events 1000000 --configs 2x8
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
ADMIN_ENV = "DATAINSIGHT_TEST_POSTGRES_ADMIN_URL"
CLIENTS = 50
BATCH_CLIENTS = 4
BATCH = 1000
SECONDS = 15.0
BATCH_SECONDS = 10.0
EVENTS = 10_000_000
DAYS = 30
PEOPLE = 100_000
VISIBILITY_TRIALS = 5
CONFIGS = "1x8,2x8,2x50"
# The targets.
TARGET_SINGLE_RPS = 1500
TARGET_P95_MS = 50
TARGET_BATCH_EPS = 100_000
TARGET_VS_BASELINE = 10
TARGET_VISIBLE_S = 5
TARGET_BYTES = 50
TARGET_COLD_MS = 500
TARGET_WARM_MS = 50

USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
    "Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 "
    "Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.7; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 "
    "Edg/131.0.0.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 "
    "Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 "
    "Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 "
    "Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 "
    "Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 "
    "Chrome/122.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 "
    "OPR/115.0.0.0",
    "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile "
    "Safari/537.36",
]
REFERRER_HOSTS = [f"{name}.example" for name in (
    "google", "bing", "duckduckgo", "news", "reddit", "twitter", "facebook", "linkedin", "hn", "lobsters", "medium",
    "dev", "stackoverflow", "github", "producthunt", "yahoo", "ecosia", "qwant", "baidu", "yandex", "instagram",
    "pinterest", "tiktok", "youtube", "substack", "mastodon", "bsky", "slack", "teams", "mail")]
PATHS = [f"/p/{i}" for i in range(500)]


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- a minimal keep-alive HTTP/1.1 client ------------------------------------------------------


class _Conn:
    """One keep-alive socket; ``send`` writes a whole prepared request and reads the answer."""

    def __init__(self, port: int):
        self.port = port
        self.sock = None
        self.buf = b""

    def _open(self):
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def send(self, request: bytes) -> tuple[int, bytes]:
        if self.sock is None:
            self._open()
        try:
            return self._exchange(request)
        except OSError:
            self.close()
            raise

    def _exchange(self, request: bytes) -> tuple[int, bytes]:
        self.sock.sendall(request)
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        status = int(head[9:12])
        length, close = 0, False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        while len(rest) < length:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            rest += chunk
        body, self.buf = rest[:length], rest[length:]
        if close:
            self.close()
        return status, body

    def close(self):
        if self.sock is not None:
            self.sock.close()
        self.sock = None


def _post_bytes(port: int, body: bytes, agent: str) -> bytes:
    return (f"POST /api/collect HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: {agent}\r\n"
            f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


def _event(key: str, rng: random.Random, n: int) -> dict:
    path = PATHS[min(499, int(rng.random() ** 3 * 500))]
    event = {"site": key, "type": "pageview", "url": f"https://shop.example{path}"}
    if n % 3 == 0:
        event["referrer"] = f"https://{REFERRER_HOSTS[n % len(REFERRER_HOSTS)]}/"
    if n % 10 == 7:
        event.update(type="event", name="Signup", props={"plan": ["free", "pro", "team"][n % 3]})
    return event


def _single_requests(port: int, key: str) -> list[bytes]:
    rng = random.Random(1)
    return [_post_bytes(port, json.dumps(_event(key, rng, n)).encode(), USER_AGENTS[n % len(USER_AGENTS)])
            for n in range(2000)]


def _batch_requests(port: int, key: str) -> list[bytes]:
    rng = random.Random(2)
    out = []
    for b in range(8):
        body = json.dumps({"events": [_event(key, rng, n) for n in range(BATCH)]}).encode()
        out.append(_post_bytes(port, body, USER_AGENTS[b % len(USER_AGENTS)]))
    return out


def _group_cpu(pgid: int) -> float:
    """User + system CPU seconds of a process group's live processes (the server)."""
    from tests.integration.server import group_pids

    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in group_pids(pgid):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / tick


def _files(folder: Path | None) -> set[str]:
    try:
        return set(os.listdir(folder)) if folder is not None else set()
    except FileNotFoundError:
        return set()


def _load(port: int, requests_: list[bytes], clients: int, seconds: float, per_request: int, pgid: int,
          folder: Path | None = None) -> dict:
    """``clients`` threads sending the prepared requests in turn for ``seconds``; with
    ``folder`` (today's partition), the inbox files written and the compactions done meanwhile
    (covered files stay 60 s, so none written during the run is gone by its end)."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    start_gate = threading.Barrier(clients + 1)
    stop = [0.0]

    def client(number: int):
        conn = _Conn(port)
        mine, codes = [], {}
        index = number * 37
        start_gate.wait()
        while time.perf_counter() < stop[0]:
            request = requests_[index % len(requests_)]
            index += 1
            started = time.perf_counter()
            try:
                status, _ = conn.send(request)
            except OSError:
                status = 0
            mine.append(time.perf_counter() - started)
            codes[status] = codes.get(status, 0) + 1
        conn.close()
        with lock:
            latencies.extend(mine)
            for code, count in codes.items():
                statuses[code] = statuses.get(code, 0) + count

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    files_before = _files(folder)
    cpu_server, cpu_client = _group_cpu(pgid), time.process_time()
    load_before = os.getloadavg()[0]
    stop[0] = time.perf_counter() + seconds
    began = time.perf_counter()
    start_gate.wait()
    for thread in threads:
        thread.join(seconds + 60)
    elapsed = time.perf_counter() - began
    cpu_server, cpu_client = _group_cpu(pgid) - cpu_server, time.process_time() - cpu_client
    accepted = statuses.get(202, 0)
    new = _files(folder) - files_before
    compacted_rows = 0
    if folder is not None:
        import pyarrow.parquet as pq

        for name in new:
            if name.startswith("c-"):
                try:
                    compacted_rows += pq.read_metadata(folder / name).num_rows
                except OSError:
                    pass
    return {"inbox_files": sum(1 for n in new if n.startswith("i-")),
            "compactions": sum(1 for n in new if n.startswith("c-")), "compacted_rows": compacted_rows,
            "requests": sum(statuses.values()), "accepted": accepted, "statuses": statuses, "seconds": elapsed,
            "rps": accepted / elapsed, "events_per_s": accepted * per_request / elapsed,
            "p50_ms": _pct(latencies, 0.50) * 1000, "p95_ms": _pct(latencies, 0.95) * 1000,
            "p99_ms": _pct(latencies, 0.99) * 1000, "server_cpu_s": cpu_server, "client_cpu_s": cpu_client,
            "load": (load_before, os.getloadavg()[0])}


# --- the server ---------------------------------------------------------------------------------


def _start(data_dir: Path, port: int, log: Path, workers: int, threads: int, **extra):
    from tests.integration.server import start_server

    return start_server(data_dir, port, log, workers=workers, threads=threads, collect_address_rate_limit="off",
                        collect_site_rate_limit="off", **extra)


def _stop(server) -> None:
    """SIGTERM to the server's group (a clean stop); SIGKILL if it lingers."""
    import signal

    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        from tests.integration.server import kill_hard

        kill_hard(server)
    except ProcessLookupError:
        pass


def _wait_compacted(data_dir: Path, site_id: int, timeout: float = 180.0) -> float:
    """Seconds until every day partition of the site is one compacted file (the server's
    upkeep does it); raises past ``timeout``."""
    from storage.event_store import EventStore

    store = EventStore(data_dir)
    began = time.perf_counter()
    while True:
        days = store.days(site_id)
        states = [store.visible(site_id, d) for d in days]
        if days and all(len(files) == 1 and not fresh for files, fresh in states):
            return time.perf_counter() - began
        if time.perf_counter() - began > timeout:
            raise RuntimeError(f"site {site_id} not compacted after {timeout:.0f}s: "
                               f"{[(d, len(f), fr) for d, (f, fr) in zip(days, states)]}")
        time.sleep(0.5)


def _stored(data_dir: Path, site_id: int) -> tuple[int, int, int]:
    """(bytes of the site's visible files and their session summaries, their events, how many files)."""
    import duckdb

    from storage.event_store import EventStore

    store = EventStore(data_dir)
    files = [f for d in store.days(site_id) for f in store.visible(site_id, d)[0]]
    if not files:
        return 0, 0, 0
    listed = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
    count = duckdb.connect().execute(f"SELECT count(*) FROM read_parquet([{listed}])").fetchone()[0]
    return store.stored_bytes(site_id), int(count), len(files)


def _visibility(base: str, auth: dict, key: str, site_id: int, trials: int) -> list[float]:
    seconds = []
    session = requests.Session()
    for trial in range(trials):
        path = f"/visible-{uuid.uuid4().hex[:12]}"
        began = time.perf_counter()
        answer = session.post(f"{base}/api/collect", data=json.dumps(
            {"site": key, "type": "pageview", "url": f"https://shop.example{path}"}),
            headers={"User-Agent": USER_AGENTS[trial], "Content-Type": "text/plain"}, timeout=30)
        if answer.status_code != 202:
            raise RuntimeError(f"collect answered {answer.status_code}: {answer.text[:300]}")
        while True:
            stats = session.get(f"{base}/api/v1/sites/{site_id}/stats/overview",
                                params={"period": "day", "filters": f"page=={path}"}, headers=auth, timeout=60)
            stats.raise_for_status()
            if stats.json()["pageviews"]["value"] == 1:
                break
            if time.perf_counter() - began > 60:
                raise RuntimeError(f"{path} not visible after 60 s")
            time.sleep(0.05)
        seconds.append(time.perf_counter() - began)
        time.sleep(0.5)
    return seconds


# --- 10M generated events -----------------------------------------------------------------------


def _generate(data_dir: Path, site_id: int, events: int, days: int, tmp: Path) -> dict:
    """``events`` events over the ``days`` full days before today, one compacted file a day."""
    import duckdb

    from storage.event_store import SESSION_SQL, EventStore, summary_path, write_summary

    store = EventStore(data_dir)
    today = dt.datetime.now(dt.timezone.utc).date()
    per_day = events // days
    sessions = int(per_day / 4.5) + 1  # 1 to 8 events a session: 4.5 on average
    con = duckdb.connect(config={"threads": 2, "temp_directory": str(tmp)})
    total = 0
    began = time.perf_counter()
    lists = {
        "hosts": "[" + ", ".join(f"'{h}'" for h in REFERRER_HOSTS) + "]",
        "names": "['Signup', 'Download', 'Purchase', 'Outbound Link: Click', 'Play Video']",
    }
    for n in range(days):
        day = (today - dt.timedelta(days=days - n)).isoformat()
        source = f"""(
          WITH s AS (
            SELECT k, hash(k, {n}, 1) % {PEOPLE} AS person, 1 + hash(k, {n}, 2) % 8 AS len,
                   TIMESTAMP '{day}' + to_microseconds((hash(k, {n}, 3) % 84000000000)::BIGINT) AS start,
                   15 + hash(k, {n}, 4) % 150 AS gap, hash(k, {n}, 5) % 100 AS src
            FROM range({sessions}) t(k)),
          e AS (SELECT s.*, j, hash(k, {n}, j, 6) AS h FROM s, range(8) r(j) WHERE j < len),
          f AS (SELECT *, (floor(pow((h % 1000000) / 1e6, 3) * 500))::INT AS pn,
                       CASE WHEN j > 0 AND h % 10 = 0 THEN 'event' ELSE 'pageview' END AS kind,
                       person % 7 AS dev
                FROM e)
          SELECT start + to_microseconds((j * gap * 1000000 + h % 1000000)::BIGINT) AS ts,
                 kind AS type,
                 CASE WHEN kind = 'event' THEN {lists['names']}[1 + ((h >> 8) % 5)::INT] ELSE 'pageview' END AS name,
                 'https://shop.example/p/' || pn
                   || CASE WHEN j = 0 AND src >= 90 THEN '?utm_source=newsletter&utm_medium=email&utm_campaign=winter'
                           ELSE '' END AS url,
                 'shop.example' AS hostname, '/p/' || pn AS path, 'Page ' || pn AS title,
                 CASE WHEN j > 0 THEN 'https://shop.example/' WHEN src < 40 OR src >= 90 THEN ''
                      ELSE 'https://' || {lists['hosts']}[1 + (src % 30)::INT] || '/' END AS referrer,
                 CASE WHEN j = 0 AND src >= 40 AND src < 90 THEN {lists['hosts']}[1 + (src % 30)::INT]
                      ELSE '' END AS referrer_host,
                 CASE WHEN j = 0 AND src >= 90 THEN 'newsletter' ELSE '' END AS utm_source,
                 CASE WHEN j = 0 AND src >= 90 THEN 'email' ELSE '' END AS utm_medium,
                 CASE WHEN j = 0 AND src >= 90 THEN 'winter' ELSE '' END AS utm_campaign,
                 '' AS utm_content, '' AS utm_term,
                 (hash(person, '{day}') >> 1)::BIGINT AS visitor_id,
                 CAST(NULL AS VARCHAR) AS user_id,
                 CASE WHEN person % 100 < 55 THEN 'Chrome' WHEN person % 100 < 75 THEN 'Safari'
                      WHEN person % 100 < 85 THEN 'Firefox' WHEN person % 100 < 93 THEN 'Edge'
                      WHEN person % 100 < 97 THEN 'Samsung Internet' ELSE 'Opera' END AS browser,
                 ['131.0', '130.0', '18.1', '133.0'][1 + (person % 4)::INT] AS browser_version,
                 CASE WHEN dev < 4 THEN ['Windows', 'macOS', 'Linux', 'Windows'][1 + (person % 4)::INT]
                      WHEN dev < 6 THEN ['Android', 'iOS'][1 + (person % 2)::INT]
                      ELSE ['iOS', 'Android'][1 + (person % 2)::INT] END AS os,
                 CASE WHEN dev < 4 THEN 'desktop' WHEN dev < 6 THEN 'mobile' ELSE 'tablet' END AS device,
                 CASE WHEN kind = 'event' THEN '{{"plan":"' || ['free', 'pro', 'team'][1 + ((h >> 16) % 3)::INT]
                      || '","amount":' || ((h >> 20) % 100) || '}}' ELSE '{{}}' END AS props
          FROM f LIMIT {per_day})"""
        folder = store.day_dir(site_id, day)
        folder.mkdir(parents=True, exist_ok=True)
        name = f"c-{time.time_ns()}-{uuid.uuid4().hex[:12]}.parquet"
        tmp_file = folder / f".tmp-{name}"
        con.execute(f"COPY ({SESSION_SQL.format(source=source)} ORDER BY ts) TO '{tmp_file}' "
                    "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880, KV_METADATA {covers: '[]'})")
        summary = summary_path(folder / name)  # the compactor writes each day's sessions beside it
        write_summary(con, tmp_file, folder / f".tmp-{summary.name}")
        os.rename(folder / f".tmp-{summary.name}", summary)
        os.rename(tmp_file, folder / name)
        total += per_day
    con.close()
    return {"seconds": time.perf_counter() - began, "events": total}


def _time_http_stats(base: str, auth: dict, site_id: int) -> dict:
    session = requests.Session()
    today = dt.datetime.now(dt.timezone.utc).date()
    custom = {"period": "custom", "from": (today - dt.timedelta(days=30)).isoformat(),
              "to": (today - dt.timedelta(days=1)).isoformat()}
    out, answers = {}, {}
    for report in ("overview", "pages"):
        for label, params in (("cold", {"period": "30d"}), ("warm", {"period": "30d"}), ("no cache", custom)):
            began = time.perf_counter()
            answer = session.get(f"{base}/api/v1/sites/{site_id}/stats/{report}", params=params, headers=auth,
                                 timeout=300)
            out[f"{report} {label}"] = time.perf_counter() - began
            answer.raise_for_status()
            answers[report] = answer.json()
    return {"seconds": out, "overview": answers["overview"], "pages": answers["pages"]}


def _time_in_process(database_url: str, data_dir: Path, site_id: int, email: str) -> dict:
    from storage import Storage

    store = Storage(database_url, data_dir)
    try:
        principal = store.users.get_by_email(email).principal()
        out = {}
        for report in ("overview", "pages"):
            for label in ("cold", "warm", "no cache"):
                if label == "no cache":
                    store.site_stats._cache.clear()
                began = time.perf_counter()
                store.site_stats.report(principal, site_id, report, {"period": "30d"})
                out[f"{report} {label}"] = time.perf_counter() - began
        return out
    finally:
        store.dispose()


# --- where a single event's time goes, in this process ------------------------------------------


def _breakdown(work: Path) -> dict:
    from analytics import user_agents
    from app import create_app
    from settings import Settings
    from storage.event_store import EVENT_SCHEMA

    out = {}
    # The User-Agent parse: cached (20 strings, as the load) and cold (unique strings).
    for agent in USER_AGENTS:
        user_agents.parse(agent)
    began = time.process_time()
    for i in range(200_000):
        user_agents.parse(USER_AGENTS[i % 20])
    out["ua_cached_us"] = (time.process_time() - began) / 200_000 * 1e6
    unique = [a.replace("Chrome/131.0.0.0", f"Chrome/131.0.{i}.0") for i, a in enumerate(USER_AGENTS * 50)]
    began = time.process_time()
    for agent in unique:
        user_agents.parse(agent)
    out["ua_cold_us"] = (time.process_time() - began) / len(unique) * 1e6

    data_dir = work / "breakdown"
    settings = Settings.from_env({
        "DATAINSIGHT_DATA_DIR": str(data_dir), "DATAINSIGHT_SCHEDULER": "false", "DATAINSIGHT_EVENTS_UPKEEP": "false",
        "DATAINSIGHT_COLLECT_ADDRESS_RATE_LIMIT": "off", "DATAINSIGHT_COLLECT_SITE_RATE_LIMIT": "off",
        "DATAINSIGHT_LOG_LEVEL": "WARNING"})
    dash_app = create_app(settings)
    flask_app = dash_app.server
    from web.context import EXTENSION_KEY

    storage = flask_app.extensions[EXTENSION_KEY]["storage"]
    admin = storage.users.create_first_admin("bench@example.com", "a long benchmark password", "Bench").principal()
    workspace = storage.workspaces.personal_workspace(admin).id
    site = storage.sites.create(admin, workspace, {"name": "Breakdown", "domain": "shop.example"})
    key = site["key"]
    rng = random.Random(3)
    bodies = [json.dumps(_event(key, rng, n)) for n in range(500)]

    # collect() with its write left out: checking, the site and salt look-ups, enrichment, the Arrow table.
    real_append_many = storage.events.append_many
    storage.events.append_many = lambda parts: None
    n = 3000
    began_wall, began = time.perf_counter(), time.process_time()
    for i in range(n):
        storage.collect.collect(json.loads(bodies[i % 500]), "127.0.0.1", USER_AGENTS[i % 20])
    out["collect_no_write_us"] = (time.process_time() - began) / n * 1e6
    # The same through the test client (the fast path before Flask: body reading, JSON answer; no
    # waitress, no socket).
    client = flask_app.test_client()
    began = time.process_time()
    for i in range(n):
        answer = client.post("/api/collect", data=bodies[i % 500], headers={"User-Agent": USER_AGENTS[i % 20],
                                                                            "Content-Type": "text/plain"})
        assert answer.status_code == 202, answer.data[:300]
    out["flask_no_write_us"] = (time.process_time() - began) / n * 1e6
    # A batch of 1,000: the JSON parse, then collect() without its write.
    batch_body = json.dumps({"events": [_event(key, rng, n) for n in range(BATCH)]})
    began = time.process_time()
    for _ in range(20):
        payload = json.loads(batch_body)
    out["batch_json_ms"] = (time.process_time() - began) / 20 * 1000
    captured = []
    storage.events.append_many = lambda parts: captured.append(parts)
    began = time.process_time()
    for _ in range(20):
        storage.collect.collect(json.loads(batch_body), "127.0.0.1", USER_AGENTS[0])
    out["batch_collect_no_write_ms"] = (time.process_time() - began) / 20 * 1000 - out["batch_json_ms"]
    storage.events.append_many = real_append_many
    began_wall, began = time.perf_counter(), time.process_time()
    for _ in range(20):
        storage.events.append_many(captured[0])
    out["batch_append_wall_ms"] = (time.perf_counter() - began_wall) / 20 * 1000
    out["batch_append_cpu_ms"] = (time.process_time() - began) / 20 * 1000

    # One inbox file per append, one after another: pq.write_table, fsync, rename, the folder's fsync.
    import pyarrow as pa

    row = pa.Table.from_pylist([{"ts": dt.datetime.now(), "type": "pageview", "name": "pageview",
                                 "url": "https://shop.example/p/1", "hostname": "shop.example", "path": "/p/1",
                                 "title": "", "referrer": "", "referrer_host": "", "utm_source": "",
                                 "utm_medium": "", "utm_campaign": "", "utm_content": "", "utm_term": "",
                                 "visitor_id": 1, "session_id": None, "user_id": None, "browser": "Chrome",
                                 "browser_version": "131.0", "os": "Windows", "device": "desktop", "props": "{}"}],
                               schema=EVENT_SCHEMA)
    n = 200
    began_wall, began = time.perf_counter(), time.process_time()
    for _ in range(n):
        storage.events.append(site["id"], row)
    out["append_wall_ms"] = (time.perf_counter() - began_wall) / n * 1000
    out["append_cpu_ms"] = (time.process_time() - began) / n * 1000
    # The same file write without its fsyncs (pq.write_table of one row, rename).
    import pyarrow.parquet as pq

    folder = work / "nofsync"
    folder.mkdir()
    began = time.perf_counter()
    for i in range(n):
        pq.write_table(row, folder / f".t{i}", compression="none")
        os.rename(folder / f".t{i}", folder / f"i{i}.parquet")
    out["write_no_fsync_ms"] = (time.perf_counter() - began) / n * 1000
    # The group commit's ceiling: 50 threads appending one row each, over and over, for 3 s.
    done = [0]
    lock = threading.Lock()
    stop = time.perf_counter() + 3.0

    def writer():
        mine = 0
        while time.perf_counter() < stop:
            storage.events.append(site["id"], row)
            mine += 1
        with lock:
            done[0] += mine

    files_before = len(os.listdir(storage.events.day_dir(site["id"], dt.datetime.now(dt.timezone.utc)
                                                         .strftime("%Y-%m-%d"))))
    began = time.perf_counter()
    threads = [threading.Thread(target=writer) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    files = len(os.listdir(storage.events.day_dir(site["id"], dt.datetime.now(dt.timezone.utc)
                                                  .strftime("%Y-%m-%d")))) - files_before
    out["group_appends_per_s"] = done[0] / elapsed
    out["group_rows_per_file"] = done[0] / max(1, files)
    # A POST with the write, sequentially (each request its own group commit).
    began_wall, began = time.perf_counter(), time.process_time()
    n = 300
    for i in range(n):
        client.post("/api/collect", data=bodies[i % 500], headers={"User-Agent": USER_AGENTS[i % 20],
                                                                   "Content-Type": "text/plain"})
    out["flask_with_write_wall_ms"] = (time.perf_counter() - began_wall) / n * 1000
    if storage.event_upkeep is not None:
        storage.event_upkeep.stop()
    return out


# --- the PostgreSQL baseline -------------------------------------------------------------------


def _pg_rows(n: int) -> list[tuple]:
    """Rows as the collector stores them (the columns of EVENT_SCHEMA), ts filled in per INSERT."""
    rng = random.Random(4)
    rows = []
    for i in range(n):
        path = PATHS[min(499, int(rng.random() ** 3 * 500))]
        kind = "event" if i % 10 == 7 else "pageview"
        host = REFERRER_HOSTS[i % 30] if i % 3 == 0 else ""
        rows.append((kind, "Signup" if kind == "event" else "pageview", f"https://shop.example{path}", "shop.example",
                     path, "", f"https://{host}/" if host else "", host, "", "", "", "", "",
                     rng.getrandbits(63), None, None, ["Chrome", "Safari", "Firefox", "Edge"][i % 4],
                     "131.0", ["Windows", "macOS", "iOS", "Android"][i % 4], ["desktop", "mobile"][i % 2],
                     '{"plan":"pro"}' if kind == "event" else "{}"))
    return rows


PG_COLUMNS = ("ts", "type", "name", "url", "hostname", "path", "title", "referrer", "referrer_host", "utm_source",
              "utm_medium", "utm_campaign", "utm_content", "utm_term", "visitor_id", "session_id", "user_id",
              "browser", "browser_version", "os", "device", "props")
PG_TABLE = ("CREATE TABLE events (ts timestamp NOT NULL, type text, name text, url text, hostname text, path text, "
            "title text, referrer text, referrer_host text, utm_source text, utm_medium text, utm_campaign text, "
            "utm_content text, utm_term text, visitor_id bigint, session_id bigint, user_id text, browser text, "
            "browser_version text, os text, device text, props text)")


def _baseline_here(seconds: float, batch_seconds: float, site: dict | None = None) -> dict:
    from urllib.parse import urlparse

    import psycopg

    url = urlparse(os.environ[ADMIN_ENV].replace("postgresql+psycopg://", "postgresql://"))
    admin = {"host": url.hostname, "port": url.port or 5432, "user": url.username, "password": url.password}
    database = f"bench_collect_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dbname="postgres", autocommit=True, **admin) as con:
        con.execute(f'CREATE DATABASE "{database}"')
        version = con.execute("SHOW server_version").fetchone()[0]
        fsync = con.execute("SHOW fsync").fetchone()[0]
        sync_commit = con.execute("SHOW synchronous_commit").fetchone()[0]
    try:
        with psycopg.connect(dbname=database, autocommit=True, **admin) as con:
            con.execute(PG_TABLE)
        rows = _pg_rows(5000)
        insert = f"INSERT INTO events ({', '.join(PG_COLUMNS)}) VALUES ({', '.join(['%s'] * len(PG_COLUMNS))})"

        def run(clients: int, duration: float, batch: int) -> dict:
            latencies, lock, count = [], threading.Lock(), [0]
            gate = threading.Barrier(clients + 1)
            stop = [0.0]

            def client(number: int):
                mine, done = [], 0
                with psycopg.connect(dbname=database, autocommit=True, **admin) as con:
                    gate.wait()
                    index = number * 101
                    while time.perf_counter() < stop[0]:
                        started = time.perf_counter()
                        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
                        if batch == 1:
                            con.execute(insert, (now, *rows[index % len(rows)]))
                        else:
                            with con.transaction(), con.cursor() as cur:
                                cur.executemany(insert, [(now, *rows[(index + j) % len(rows)]) for j in range(batch)])
                        index += batch
                        mine.append(time.perf_counter() - started)
                        done += batch
                with lock:
                    latencies.extend(mine)
                    count[0] += done

            threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
            for thread in threads:
                thread.start()
            stop[0] = time.perf_counter() + duration
            began = time.perf_counter()
            gate.wait()
            for thread in threads:
                thread.join(duration + 60)
            elapsed = time.perf_counter() - began
            return {"events": count[0], "seconds": elapsed, "events_per_s": count[0] / elapsed,
                    "p50_ms": _pct(latencies, 0.5) * 1000, "p95_ms": _pct(latencies, 0.95) * 1000}

        single = run(CLIENTS, seconds, 1)
        batches = run(BATCH_CLIENTS, batch_seconds, BATCH)
        with psycopg.connect(dbname=database, autocommit=True, **admin) as con:
            con.execute("VACUUM ANALYZE events")
            count = con.execute("SELECT count(*) FROM events").fetchone()[0]
            size = con.execute("SELECT pg_total_relation_size('events')").fetchone()[0]
            con.execute("DROP TABLE events")
        seeds = _seeds_way(site, {"dbname": database, **admin}, seconds, batch_seconds) if site else None
        return {"single": single, "batch": batches, "rows": count, "bytes": size, "seeds": seeds,
                "server": f"PostgreSQL {version}, fsync={fsync}, synchronous_commit={sync_commit}"}
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **admin) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _seeds_way(site: dict, pg: dict, seconds: float, batch_seconds: float) -> dict:
    """The whole collection the seeds' way (bench/_seed_collect.py: our HTTP parsing and
    enrichment, an INSERT per event) under the same clients as ours, on gunicorn with as
    many workers and threads as our best configuration: committed after each event
    ("event"), and once a request ("request")."""
    from bench._seed_collect import create_table
    from tests.integration.server import free_port

    dsn = " ".join(f"{k}={v}" for k, v in pg.items() if v is not None)
    create_table(dsn)
    workers, threads = site["workers"], site["threads"]
    out = {"config": f"{workers}x{threads}"}
    for commit in ("event", "request"):
        port = free_port()
        env = {**os.environ, "SEED_PG_DSN": dsn, "SEED_DATABASE_URL": site["database_url"],
               "SEED_DATA_DIR": site["data_dir"], "SEED_COMMIT": commit}
        log = open(Path(site["data_dir"]) / "seeds-server.log", "ab")
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--threads", str(threads), "--worker-class",
             "gthread", "--bind", f"127.0.0.1:{port}", "--backlog", "2048", "--keep-alive", "30",
             "--worker-connections", "1000", "bench._seed_collect:app"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            probe = _single_requests(port, site["key"])[0]
            for _ in range(200):
                try:
                    conn = _Conn(port)
                    status, body = conn.send(probe)
                    conn.close()
                    if status != 202:
                        raise RuntimeError(f"the seeds' server answered {status}: {body[:300]!r}")
                    break
                except OSError:
                    time.sleep(0.1)
            singles, batches = _single_requests(port, site["key"]), _batch_requests(port, site["key"])
            _load(port, singles, CLIENTS, 2.0, 1, server.pid)  # warm-up, as ours
            _log(f"collect: the seeds' way, a commit per {commit} ({workers}x{threads}): single events for "
                 f"{seconds:g}s ...")
            single = _load(port, singles, CLIENTS, seconds, 1, server.pid)
            _log(f"collect:   {single['rps']:,.0f} req/s, p95 {single['p95_ms']:.1f} ms, statuses {single['statuses']}")
            _log(f"collect: the seeds' way, a commit per {commit}: batches of {BATCH} for {batch_seconds:g}s ...")
            batch = _load(port, batches, BATCH_CLIENTS, batch_seconds, BATCH, server.pid)
            _log(f"collect:   {batch['events_per_s']:,.0f} events/s, statuses {batch['statuses']}")
            out[commit] = {"single": single, "batch": batch}
        finally:
            _stop(server)
            log.close()
    return out


def baseline(seconds: float, batch_seconds: float, site: dict | None = None) -> dict:
    """The PostgreSQL baseline, beside a throwaway server of its own unless one is given;
    {"skipped": why} when it cannot run. ``site``: the key, data dir and metadata URL of
    a site the seeds' way server collects for, and our best configuration's workers and
    threads."""
    if os.environ.get(ADMIN_ENV):
        return _baseline_here(seconds, batch_seconds, site)
    script = ROOT / "scripts" / "with-postgres.sh"
    with tempfile.NamedTemporaryFile(prefix="bench-collect-", suffix=".json", delete=False) as handle:
        out = Path(handle.name)
    try:
        proc = subprocess.run([str(script), sys.executable, "-m", "bench.collect", "--child", "baseline",
                               "--seconds", str(seconds), "--batch-seconds", str(batch_seconds),
                               "--results", str(out), "--site", json.dumps(site)], cwd=ROOT, stdout=sys.stderr, stderr=sys.stderr, check=False)
        if proc.returncode != 0 or not out.read_text().strip():
            return {"skipped": f"scripts/with-postgres.sh failed ({proc.returncode}); PostgreSQL's server comes "
                               "with scripts/install-system-deps.sh test"}
        return json.loads(out.read_text())
    finally:
        out.unlink(missing_ok=True)


# --- the whole benchmark ------------------------------------------------------------------------


def measure(seconds: float = SECONDS, batch_seconds: float = BATCH_SECONDS, events: int = EVENTS,
            configs: str = CONFIGS) -> dict:
    from storage.event_store import EventStore
    from tests.integration.server import api_token, free_port, server_env

    pairs = [tuple(int(x) for x in c.split("x")) for c in configs.split(",") if c]
    work = Path(tempfile.mkdtemp(prefix="datainsight-bench-collect-"))
    log = work / "server.log"
    email = "ops@example.com"
    results: dict = {"configs": {}, "cpus": os.cpu_count()}
    first: dict = {}
    collected_for: dict = {}  # config -> its load site, for the seeds' way server
    try:
        # Each configuration gets a data dir of its own: its day partition starts empty (the
        # upkeep's compactions rewrite the whole day, so a fuller one costs more).
        for workers, threads in pairs:
            name = f"{workers}x{threads}"
            data_dir = work / f"data-{name}"
            auth = {"Authorization": f"Bearer {api_token(data_dir, email)}"}
            results["database"] = server_env(data_dir)["DATAINSIGHT_DATABASE_URL"].split(":")[0]
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            server = _start(data_dir, port, log, workers, threads)
            try:
                sites = {}
                for site_name in ("load", "big"):
                    answer = requests.post(f"{base}/api/v1/sites", headers=auth, timeout=30,
                                           json={"name": site_name, "domain": "shop.example"})
                    answer.raise_for_status()
                    sites[site_name] = answer.json()
                if not first:
                    first.update(data_dir=data_dir, auth=auth, big=sites["big"]["id"], threads=threads)
                load_id, key = sites["load"]["id"], sites["load"]["key"]
                singles, batches = _single_requests(port, key), _batch_requests(port, key)
                today = EventStore(data_dir).day_dir(load_id, dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d"))
                _load(port, singles, CLIENTS, 2.0, 1, server.pid)  # warm-up: connections, caches, workers' imports
                _log(f"collect: {name} (workers x threads): single events for {seconds:g}s ...")
                single = _load(port, singles, CLIENTS, seconds, 1, server.pid, today)
                _log(f"collect:   {single['rps']:,.0f} req/s, p50 {single['p50_ms']:.1f} ms, "
                     f"p95 {single['p95_ms']:.1f} ms, statuses {single['statuses']}")
                _log(f"collect: {name}: batches of {BATCH} for {batch_seconds:g}s ...")
                batch = _load(port, batches, BATCH_CLIENTS, batch_seconds, BATCH, server.pid, today)
                _log(f"collect:   {batch['events_per_s']:,.0f} events/s, statuses {batch['statuses']}")
                # The server's upkeep compacts the load's partition (once its newest file is
                # 10 s old), then visibility, on the same running server.
                _log(f"collect: {name}: waiting for the upkeep to compact the load's partition ...")
                compaction_wait = _wait_compacted(data_dir, load_id)
                stored = _stored(data_dir, load_id)
                _log(f"collect:   compacted {compaction_wait:.1f}s after the load: {stored}")
                visible = _visibility(base, auth, key, load_id, VISIBILITY_TRIALS)
                _log(f"collect:   visible after {', '.join(f'{s:.2f}' for s in visible)} s")
                # The front and Flask alone: GET /api/health, the same 50 clients, 5 s.
                health_request = f"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
                health = _load(port, [health_request], CLIENTS, 5.0, 1, server.pid)
                health["rps"] = health["statuses"].get(200, 0) / health["seconds"]
                _log(f"collect:   GET /api/health: {health['rps']:,.0f} req/s, "
                     f"{health['server_cpu_s'] / max(1, health['requests']) * 1000:.2f} ms server CPU each")
                results["configs"][name] = {"single": single, "batch": batch, "compaction_wait_s": compaction_wait,
                                            "load_stored": stored, "visible_s": visible, "health": health}
                collected_for[name] = {"key": key, "data_dir": str(data_dir), "workers": workers, "threads": threads,
                                       "database_url": server_env(data_dir)["DATAINSIGHT_DATABASE_URL"]}
            finally:
                _stop(server)
        best = max(results["configs"], key=lambda c: results["configs"][c]["single"]["rps"])
        results["best"] = best
        results.update({k: results["configs"][best][k] for k in ("compaction_wait_s", "load_stored")})
        results["visible_s"] = [s for c in results["configs"].values() for s in c["visible_s"]]

        data_dir, auth = first["data_dir"], first["auth"]
        _log(f"collect: generating {events:,} events over {DAYS} days ...")
        tmp = work / "tmp"
        tmp.mkdir()
        results["generated"] = _generate(data_dir, first["big"], events, DAYS, tmp)
        results["big_stored"] = _stored(data_dir, first["big"])
        _log(f"collect: generated in {results['generated']['seconds']:.1f}s: {results['big_stored']}")
        port = free_port()
        server = _start(data_dir, port, log, 1, first["threads"], events_upkeep="false")
        try:
            http = _time_http_stats(f"http://127.0.0.1:{port}", auth, first["big"])
        finally:
            _stop(server)
        results["http_stats"] = http["seconds"]
        overview = http["overview"]
        results["overview_check"] = {k: overview[k]["value"] for k in ("visitors", "visits", "pageviews",
                                                                          "bounce_rate", "visit_duration")}
        results["pages_top"] = [(p["path"], p["pageviews"]) for p in http["pages"]["pages"][:3]]
        database_url = server_env(data_dir)["DATAINSIGHT_DATABASE_URL"]
        results["inprocess_stats"] = _time_in_process(database_url, data_dir, first["big"], email)
        _log("collect: where a single event's time goes, in this process ...")
        results["breakdown"] = _breakdown(work)
        _log("collect: the PostgreSQL baseline ...")
        results["baseline"] = baseline(seconds, batch_seconds, collected_for[best])
        return results
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def report(r: dict) -> list[dict]:
    """Print the details and the table of targets; return the rows for bench/__main__.py."""
    base = r["baseline"]
    skipped = base.get("skipped")
    print(f"\nEvent collection on {r['cpus']} CPUs (the load clients run on the same CPUs), metadata in "
          f"{r['database']}, rate limits off")
    print(f"{'server':<12} {'case':<24} {'events/s':>10} {'req/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
          f"{'srv CPU ms/req':>14} {'client CPU ms/req':>17}  statuses")
    for name, c in r["configs"].items():
        for label, m in (("single, 50 clients", c["single"]), (f"batches of {BATCH}, 4 clients", c["batch"])):
            reqs = max(1, m["requests"])
            print(f"{name:<12} {label:<24} {m['events_per_s']:>10,.0f} {m['rps']:>8,.0f} {m['p50_ms']:>7.1f} "
                  f"{m['p95_ms']:>7.1f} {m['p99_ms']:>7.1f} {m['server_cpu_s'] / reqs * 1000:>14.2f} "
                  f"{m['client_cpu_s'] / reqs * 1000:>17.2f}  {m['statuses']}")
    for name, c in r["configs"].items():
        h = c["health"]
        print(f"{name:<12} {'GET /api/health, 50 cl.':<24} {'':>10} {h['rps']:>8,.0f} {h['p50_ms']:>7.1f} "
              f"{h['p95_ms']:>7.1f} {h['p99_ms']:>7.1f} {h['server_cpu_s'] / max(1, h['requests']) * 1000:>14.2f} "
              f"{h['client_cpu_s'] / max(1, h['requests']) * 1000:>17.2f}  {h['statuses']}")
    print("load average (1 min) before -> after each run: " + "; ".join(
        f"{name} single {c['single']['load'][0]:.1f}->{c['single']['load'][1]:.1f}, batches "
        f"{c['batch']['load'][0]:.1f}->{c['batch']['load'][1]:.1f}" for name, c in r["configs"].items()))
    print(f"(workers x threads; best for single events: {r['best']}; server CPU = the gunicorn group's user+sys "
          "over the run; CPU ms/req for batches is per request of 1,000 events)")
    b = r["breakdown"]
    print(f"\nWhere a single event's time goes (this process, one thread): User-Agent parse {b['ua_cached_us']:.1f} µs "
          f"cached / {b['ua_cold_us']:.0f} µs for a new string; CollectService.collect without the write "
          f"{b['collect_no_write_us']:.0f} µs CPU; the same POST through the WSGI app's test client (no socket, no waitress) "
          f"{b['flask_no_write_us']:.0f} µs CPU; one inbox file alone (write, fsync, rename, folder fsync) "
          f"{b['append_wall_ms']:.2f} ms wall, {b['append_cpu_ms']:.2f} ms CPU (without fsyncs "
          f"{b['write_no_fsync_ms']:.2f} ms); 50 threads appending: {b['group_appends_per_s']:,.0f} appends/s "
          f"({b['group_rows_per_file']:.1f} rows a file: the group commit); a POST through Flask with its write, one "
          f"after another: {b['flask_with_write_wall_ms']:.2f} ms wall")
    print(f"A batch of {BATCH} (same thread): JSON parse {b['batch_json_ms']:.1f} ms, collect() without the write "
          f"{b['batch_collect_no_write_ms']:.1f} ms CPU, its inbox file {b['batch_append_wall_ms']:.1f} ms wall / "
          f"{b['batch_append_cpu_ms']:.1f} ms CPU")
    for name, c in r["configs"].items():
        for label, m in (("single", c["single"]), ("batches", c["batch"])):
            print(f"{name} {label}: {m['inbox_files']:,} inbox files written ({m['accepted'] * (1 if label == 'single' else BATCH) / max(1, m['inbox_files']):.1f} "
                  f"events a file), {m['compactions']} compactions of today's partition meanwhile, rewriting "
                  f"{m['compacted_rows']:,} events")
    load_bytes, load_events, load_files = r["load_stored"]
    big_bytes, big_events, big_files = r["big_stored"]
    print()
    for name, c in r["configs"].items():
        b_, e_, f_ = c["load_stored"]
        print(f"{name}: the upkeep had compacted the load's partition {c['compaction_wait_s']:.1f}s after the load "
              f"ended: {e_:,} events in {f_} file(s), {b_:,} bytes = {b_ / max(1, e_):.2f} bytes/event; one event "
              f"visible in overview after " + ", ".join(f"{s:.2f}" for s in c["visible_s"]) + " s")
    print("(the load's events repeat 2,000 prepared requests with 20 User-Agents from one address, so 20 "
          "visitors: they compress far better than real traffic; the generated events below are the realistic "
          "figure)")
    print(f"Generated: {big_events:,} events in {big_files} compacted files ({r['generated']['seconds']:.1f}s), "
          f"{big_bytes:,} bytes = {big_bytes / max(1, big_events):.1f} bytes/event")
    print(f"\nStats over {big_events:,} events, period 30d (OS file cache warm in every case; cold = the process's "
          "first request; warm = the second, from the service's result cache; no cache = a cache miss on a warm "
          "engine):")
    print(f"{'report':<10} {'how':<12} {'HTTP ms':>9} {'in-process ms':>14}")
    for report_name in ("overview", "pages"):
        for label in ("cold", "warm", "no cache"):
            print(f"{report_name:<10} {label:<12} {r['http_stats'][f'{report_name} {label}'] * 1000:>9.1f} "
                  f"{r['inprocess_stats'][f'{report_name} {label}'] * 1000:>14.1f}")
    print(f"overview says: {r['overview_check']}; top pages {r['pages_top']}")
    if skipped:
        print(f"\nBaseline SKIPPED: {skipped}")
    else:
        print(f"\nBaseline ({base['server']}; raw INSERTs from Python, no HTTP, no parsing): one INSERT per event, "
              f"50 connections: {base['single']['events_per_s']:,.0f} events/s, p50 {base['single']['p50_ms']:.1f} ms, "
              f"p95 {base['single']['p95_ms']:.1f} ms; executemany of {BATCH} rows a transaction, 4 connections: "
              f"{base['batch']['events_per_s']:,.0f} events/s; table {base['bytes']:,} bytes for {base['rows']:,} "
              f"rows = {base['bytes'] / max(1, base['rows']):.0f} bytes/row")
        seeds = base.get("seeds")
        if seeds:
            print(f"The seeds' way, end to end (bench/_seed_collect.py: the same HTTP requests and clients, our "
                  f"parsing and enrichment, an INSERT per event; gunicorn gthread {seeds['config']}):")
            for commit, label in (("event", "a commit per event"), ("request", "a transaction per request")):
                m = seeds[commit]
                print(f"  {label:<26} single events, 50 clients: {m['single']['rps']:>7,.0f} events/s, p50 "
                      f"{m['single']['p50_ms']:.1f} ms, p95 {m['single']['p95_ms']:.1f} ms; batches of {BATCH}, "
                      f"4 clients: {m['batch']['events_per_s']:>7,.0f} events/s, p95 {m['batch']['p95_ms']:.0f} ms")

    best = r["configs"][r["best"]]
    single, batch = best["single"], max((c["batch"] for c in r["configs"].values()),
                                        key=lambda m: m["events_per_s"])
    vis = max(r["visible_s"])
    http = r["http_stats"]
    pg_single = None if skipped else base["single"]["events_per_s"]
    pg_batch = None if skipped else base["batch"]["events_per_s"]
    seeds = None if skipped else base.get("seeds")
    # The baseline: these batches stored with an INSERT and a commit per event; a
    # transaction per request (the same all-or-nothing as ours) is shown beside.
    seeds_batch = (seeds["event"]["batch"]["events_per_s"] or None) if seeds else None
    seeds_txn = (seeds["request"]["batch"]["events_per_s"] or 1e-9) if seeds else None
    print("\nTargets (issue 13):")
    lines = [
        ("single events/s", f"{single['rps']:,.0f}", f">= {TARGET_SINGLE_RPS:,}", single["rps"] >= TARGET_SINGLE_RPS),
        ("single p95 latency", f"{single['p95_ms']:.1f} ms", f"< {TARGET_P95_MS} ms", single["p95_ms"] < TARGET_P95_MS),
        ("batch events/s", f"{batch['events_per_s']:,.0f}", f">= {TARGET_BATCH_EPS:,}",
         batch["events_per_s"] >= TARGET_BATCH_EPS),
    ]
    if seeds_batch:
        lines.append(("batch vs seeds' way, commit/event", f"{batch['events_per_s'] / seeds_batch:.1f}x",
                      f">= {TARGET_VS_BASELINE}x", batch["events_per_s"] / seeds_batch >= TARGET_VS_BASELINE))
        lines.append(("batch vs seeds' way, txn/request", f"{batch['events_per_s'] / seeds_txn:.1f}x",
                      "(no target)", True))
    if pg_single:  # stricter: the database's part only, 50 connections inserting at once
        lines.append(("batch vs PG INSERTs alone, 50 conn.", f"{batch['events_per_s'] / pg_single:.1f}x",
                      "(no target)", True))
    if pg_batch:  # not the baseline: PostgreSQL's own batching, for comparison
        lines.append(("batch vs PG executemany", f"{batch['events_per_s'] / pg_batch:.1f}x", "(no target)", True))
    lines += [
        (f"visible in overview (max of {len(r['visible_s'])})", f"{vis:.2f} s", f"< {TARGET_VISIBLE_S} s", vis < TARGET_VISIBLE_S),
        ("bytes/event, load (compacted)", f"{load_bytes / max(1, load_events):.1f}", f"< {TARGET_BYTES}",
         load_bytes / max(1, load_events) < TARGET_BYTES),
        ("bytes/event, 10M generated", f"{big_bytes / max(1, big_events):.1f}", f"< {TARGET_BYTES}",
         big_bytes / max(1, big_events) < TARGET_BYTES),
        ("overview 10M cold, HTTP", f"{http['overview cold'] * 1000:.0f} ms", f"< {TARGET_COLD_MS} ms",
         http["overview cold"] * 1000 < TARGET_COLD_MS),
        ("overview 10M warm, HTTP", f"{http['overview warm'] * 1000:.1f} ms", f"< {TARGET_WARM_MS} ms",
         http["overview warm"] * 1000 < TARGET_WARM_MS),
        ("overview 10M no cache, HTTP", f"{http['overview no cache'] * 1000:.0f} ms", f"(< {TARGET_WARM_MS} ms?)",
         http["overview no cache"] * 1000 < TARGET_WARM_MS),
    ]
    for name, value, target, ok in lines:
        print(f"  {name:<32} {value:>12}  target {target:<12} {_verdict(ok)}")
    print()

    def us(rate: float) -> float:
        return 1e6 / rate if rate else float("inf")

    rows = [
        {"case": "single event, µs/event (50 cl.)", "ours": us(single["rps"]),
         "baseline": us(pg_single) if pg_single else 1e6 / TARGET_SINGLE_RPS,
         "note": f"{single['rps']:,.0f}/s p95 {single['p95_ms']:.0f} ms ({r['best']}); target >= {TARGET_SINGLE_RPS:,}/s "
                 f"p95 < {TARGET_P95_MS} ms: {_verdict(single['rps'] >= TARGET_SINGLE_RPS and single['p95_ms'] < TARGET_P95_MS)}; "
                 + ("baseline = PG INSERT per event, raw, no HTTP, fsync off" if pg_single else
                    f"baseline skipped ({skipped}): the target instead")},
        {"case": f"batch of {BATCH}, µs/event", "ours": us(batch["events_per_s"]),
         "baseline": us(pg_batch) if pg_batch else 1e6 / TARGET_BATCH_EPS,
         "note": f"{batch['events_per_s']:,.0f} events/s; target >= {TARGET_BATCH_EPS:,}/s and >= {TARGET_VS_BASELINE}x "
                 f"the seeds' way: {_verdict(batch['events_per_s'] >= TARGET_BATCH_EPS and bool(seeds_batch) and batch['events_per_s'] >= TARGET_VS_BASELINE * seeds_batch)}"
                 + (f" ({batch['events_per_s'] / seeds_batch:.1f}x the seeds' way e2e, a commit per event; "
                    f"{batch['events_per_s'] / seeds_txn:.1f}x with a transaction per request"
                    if seeds_batch else " (")
                 + (f", {batch['events_per_s'] / pg_single:.1f}x PG INSERTs alone); " if pg_single else "); ")
                 + ("baseline here = PG executemany 1,000/txn (stricter than the issue's), no HTTP, fsync off"
                    if pg_batch else "baseline: the target")},
        {"case": "event visible in overview, s", "ours": vis, "baseline": TARGET_VISIBLE_S,
         "note": f"max of {len(r['visible_s'])} (every config); baseline = the target {TARGET_VISIBLE_S} s: {_verdict(vis < TARGET_VISIBLE_S)}"},
        {"case": "bytes/event, 10M compacted", "ours": big_bytes / max(1, big_events),
         "baseline": base["bytes"] / max(1, base["rows"]) if not skipped else TARGET_BYTES,
         "note": f"target < {TARGET_BYTES}: {_verdict(big_bytes / max(1, big_events) < TARGET_BYTES)}; load's own "
                 f"{load_bytes / max(1, load_events):.1f}; " + ("baseline = PG table bytes/row" if not skipped
                                                                else "baseline: the target")},
        {"case": "overview 10M cold (HTTP), ms", "ours": http["overview cold"] * 1000, "baseline": TARGET_COLD_MS,
         "note": f"baseline = the target: {_verdict(http['overview cold'] * 1000 < TARGET_COLD_MS)}; in-process "
                 f"{r['inprocess_stats']['overview cold'] * 1000:.0f} ms; OS cache warm"},
        {"case": "overview 10M warm (HTTP), ms", "ours": http["overview warm"] * 1000, "baseline": TARGET_WARM_MS,
         "note": f"result cache; baseline = the target: {_verdict(http['overview warm'] * 1000 < TARGET_WARM_MS)}; "
                 f"not cached {http['overview no cache'] * 1000:.0f} ms"},
        {"case": "pages 10M cold (HTTP), ms", "ours": http["pages cold"] * 1000, "baseline": TARGET_COLD_MS,
         "note": f"no target of its own: overview's; not cached {http['pages no cache'] * 1000:.0f} ms, "
                 f"warm {http['pages warm'] * 1000:.1f} ms"},
    ]
    return rows


def run() -> list[dict]:
    return report(measure())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.collect", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=SECONDS, help="seconds of single-event load")
    parser.add_argument("--batch-seconds", type=float, default=BATCH_SECONDS, help="seconds of batch load")
    parser.add_argument("--events", type=int, default=EVENTS, help="generated events for the stats")
    parser.add_argument("--configs", default=CONFIGS, help="server configurations, workers x threads: 1x8,2x8")
    parser.add_argument("--child", choices=("baseline",), help=argparse.SUPPRESS)
    parser.add_argument("--results", help=argparse.SUPPRESS)
    parser.add_argument("--site", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        site = json.loads(args.site) if args.site else None
        Path(args.results).write_text(json.dumps(_baseline_here(args.seconds, args.batch_seconds, site)))
        return 0
    rows = report(measure(args.seconds, args.batch_seconds, args.events, args.configs))
    for row in rows:
        print(f"{row['case']:<34} ours {row['ours']:>10.3f}  baseline {row['baseline']:>10.3f}  "
              f"ratio {row['baseline'] / max(row['ours'], 1e-12):>6.2f}x  {row['note']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
