"""Load test (issue 14): 50 people at once on the real server, with locust, headless,
against 127.0.0.1, in two configurations:

- ``one``: one process, the embedded default (``python app.py``: gunicorn with one
  web.front worker of 8 threads, SQLite metadata, the thread-pool job runner, no Redis);
- ``cluster``: 2 web processes (two ``python app.py`` on two ports, one worker each)
  + 2 job workers (``python app.py worker``), sharing one data dir, one secret key, a
  PostgreSQL (scripts/with-postgres.sh) and a Redis (scripts/with-redis.sh). Requests
  alternate between the two ports as a round-robin proxy would send them. Skipped, with
  the reason, when PostgreSQL's or Redis's server is not installed.

Data: the 10,000,000-row transactions table of bench/dashboard.py (generated with
DuckDB, the same rows every run; ``--rows`` for a quicker run), imported into a
workspace "Load" with 50 members, and the 12-widget dashboard of bench/dashboard.py with
two filters (Country: multi-select, InvoiceDate: date range).

What each simulated person does (bench/_load_users.py): signs in through the login
callback; opens the dashboard (the page, then Dash's page router, which draws the 12
widgets); changes a filter (the filter callback, then the 12 widget callbacks, 6 at a
time as a browser sends them); pages the dataset's grid (the grid's ``getRowsRequest``
callback, sometimes sorted); calls the REST API (a dashboard, a page of rows, a widget
query). 1-3 s between steps; weights 1 : 3 : 2 : 2.

Warm and cold: before the run, the 12 widgets are drawn once (through the same
callback) for each of the 12 filter sets people mostly pick (``FILTER_CHOICES``), so
"widget, warm filter set" is answered from the result cache; one filter change in five
picks a month of its own (24 months x 4 country choices), cold the first time it is
asked: "widget, other filter set".

Reported per configuration: requests/s, p50/p95/p99 per request kind, errors (with
their messages), and the peak memory of the app's processes (the sum of their resident
memory, sampled every 0.5 s; PostgreSQL and Redis are not counted), beside the targets:
0 errors; a filter change (its callback until the 12th widget is drawn) p95 < 1 s;
widget requests p95 < 300 ms warm. The locust client runs on the same machine and
takes CPU from the server (its own use is printed).

    python -m bench.load                                  # 10M rows, 3 minutes, both configurations
    python -m bench.load --rows 200000 --duration 30      # a quick run
    python -m bench.load --configs one                    # the one-process configuration only
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ROWS = 10_000_000
DEFAULT_DURATION = 180
USERS = 50
SPAWN_RATE = 10  # people started per second
PASSWORD = "load test password 123"
TARGET_FILTER_P95_MS = 1000
TARGET_WIDGET_P95_MS = 300
COUNTRY_CHOICES = [None, ["France"], ["Germany", "Spain"], ["United Kingdom"]]
PERIOD_CHOICES = [None, ["2023-01-01", "2023-06-30"], ["2024-07-01", "2024-09-30"]]
FILTER_CHOICES = [[c, p] for c in COUNTRY_CHOICES for p in PERIOD_CHOICES]
OTHER_PERIODS = [[f"{y}-{m:02d}-01", f"{y}-{m:02d}-28"] for y in (2023, 2024) for m in range(1, 13)]
CALLBACK = "/_dash-update-component"


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- set-up -------------------------------------------------------------------------------------


def prepare(database_url: str, data_dir: Path, source: Path, secret_key: str, users: int) -> dict:
    """Accounts, the dataset and the dashboard, made in this process before any server starts
    (the servers then migrate nothing: the schema is there)."""
    from bench.dashboard import WIDGETS
    from bench.dashboard_browser import LAYOUT
    from storage import Storage

    store = Storage(database_url, data_dir, secret_key=secret_key)
    try:
        store.migrate()
        admin = store.users.create_first_admin("load-0@example.com", PASSWORD, "Load 0")
        principal = admin.principal()
        workspace = store.workspaces.create(principal, "Load").id
        accounts = [("load-0@example.com", PASSWORD)]
        for i in range(1, users):
            email = f"load-{i}@example.com"
            store.users.create_user(principal, email, PASSWORD, f"Load {i}")
            store.workspaces.add_member(principal, workspace, email, "viewer")
            accounts.append((email, PASSWORD))
        started = time.perf_counter()
        dataset = store.datasets.create_from_file(principal, workspace, source, "transactions.parquet")
        imported = time.perf_counter() - started
        widgets = [{"id": f"w{i}", "layout": dict(zip("xywh", LAYOUT[i])), "spec": {**spec, "dataset_id": dataset.id}}
                   for i, (_, spec) in enumerate(WIDGETS)]
        board = store.dashboards.create(principal, workspace, {
            "name": "Transactions", "widgets": widgets,
            "filters": [{"id": "country", "column": "Country", "kind": "multi_select", "value": None},
                        {"id": "period", "column": "InvoiceDate", "kind": "date_range", "value": None}]})
        return {"accounts": accounts, "dataset_id": dataset.id, "dashboard_id": board["id"],
                "widget_ids": [w["id"] for w in widgets], "imported_s": imported}
    finally:
        store.dispose()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args: list[str], env: dict, log: Path, port: int | None) -> subprocess.Popen:
    """``python app.py <args>`` in a process group of its own; for a web process, once
    /api/health answers."""
    process = subprocess.Popen([sys.executable, "app.py", *args], cwd=ROOT, env=env, stdout=open(log, "ab"),
                               stderr=subprocess.STDOUT, start_new_session=True)
    if port is None:
        return process
    for _ in range(300):
        try:
            if requests.get(f"http://127.0.0.1:{port}/api/health", timeout=5).status_code == 200:
                return process
        except (requests.ConnectionError, requests.Timeout):
            pass
        if process.poll() is not None:
            break
        time.sleep(0.2)
    _stop(process)
    raise RuntimeError(f"the server did not start:\n{log.read_text()[-3000:]}")


def _stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


def _group_cpu_s(pgid: int) -> float:
    """User + system CPU seconds of a process group's live processes (and of the children
    they waited for)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == pgid:
                    total += sum(int(f) for f in fields[11:15])
            except (OSError, ValueError, IndexError):
                continue
    return total / os.sysconf("SC_CLK_TCK")


def _group_rss_kb(pgid: int) -> int:
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) != pgid:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return total


class MemorySampler:
    """The summed resident memory of some process groups every 0.5 s; its peak, and each
    group's own peak."""

    def __init__(self, groups: dict[str, int]):
        self.groups = groups
        self.peak_total = 0
        self.peaks = {name: 0 for name in groups}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            total = 0
            for name, pgid in self.groups.items():
                kb = _group_rss_kb(pgid)
                self.peaks[name] = max(self.peaks[name], kb)
                total += kb
            self.peak_total = max(self.peak_total, total)
            self._stop.wait(0.5)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_exc):
        self._stop.set()
        self._thread.join()


def _signed_in(port: int, email: str) -> requests.Session:
    session = requests.Session()
    base = f"http://127.0.0.1:{port}"
    session.headers["Origin"] = base
    response = session.post(base + CALLBACK, json={
        "output": "..public-login-feedback.children...public-login-redirect.href..",
        "outputs": [{"id": "public-login-feedback", "property": "children"},
                    {"id": "public-login-redirect", "property": "href"}],
        "inputs": [{"id": "public-login-submit", "property": "n_clicks", "value": 1}],
        "state": [{"id": "public-login-email", "property": "value", "value": email},
                  {"id": "public-login-password", "property": "value", "value": PASSWORD},
                  {"id": "public-login-remember", "property": "value", "value": False},
                  {"id": "public-login-next", "property": "data", "value": "/"}],
        "changedPropIds": ["public-login-submit.n_clicks"]}, timeout=60)
    if response.status_code != 200 or "datainsight_session" not in session.cookies:
        raise RuntimeError(f"sign-in failed: {response.status_code} {response.text[:300]}")
    return session


def callback_keys(session: requests.Session, port: int) -> dict:
    """Dash's keys of the callbacks the people post to, read from /_dash-dependencies as
    the browser does (allow_duplicate adds a hash to some)."""
    deps = session.get(f"http://127.0.0.1:{port}/_dash-dependencies", timeout=60).json()

    def inputs(dep) -> str:
        return json.dumps([i["id"] for i in dep["inputs"]]) + json.dumps([i["property"] for i in dep["inputs"]])

    def find(test) -> str:
        found = [d["output"] for d in deps if test(d)]
        if len(found) != 1:
            raise RuntimeError(f"expected one callback, found {found}")
        return found[0]

    return {
        "draw_widget": find(lambda d: d["output"].split("@")[0] == '{"index":["MATCH"],"type":"dash-widget-body"}'
                            ".children" and "dash-state" in inputs(d)),
        "set_filters": find(lambda d: d["output"].startswith("dash-state.data") and "dash-filter-select" in inputs(d)
                            and "public-" not in d["output"]),
        "grid_rows": find(lambda d: "dataset-grid" in inputs(d) and "getRowsRequest" in inputs(d)),
    }


def warm_up(port: int, config: dict, session: requests.Session) -> float:
    """Each widget drawn once for each of FILTER_CHOICES, through the widget callback."""
    started = time.perf_counter()
    cookies = session.cookies.get_dict()
    base = f"http://127.0.0.1:{port}"

    def draw(job):
        (countries, period), widget_id = job
        filters = {"country": countries, "period": period}
        response = requests.post(base + CALLBACK, cookies=cookies, headers={"Origin": base}, timeout=300, json={
            "output": config["keys"]["draw_widget"],
            "outputs": {"id": {"index": widget_id, "type": "dash-widget-body"}, "property": "children"},
            "inputs": [{"id": "dash-state", "property": "data", "value": {"filters": filters, "cross": []}}],
            "state": [{"id": "dash-id", "property": "data", "value": config["dashboard_id"]}],
            "changedPropIds": ["dash-state.data"]})
        if response.status_code != 200 or "widget-error" in response.text:
            raise RuntimeError(f"warm-up: {response.status_code} {response.text[:300]}")

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(draw, [(f, w) for f in FILTER_CHOICES for w in config["widget_ids"]]))
    return time.perf_counter() - started


# --- locust -------------------------------------------------------------------------------------


def run_locust(config: dict, work: Path, users: int, duration: int) -> dict:
    config_path = work / "locust-config.json"
    config_path.write_text(json.dumps(config))
    prefix = work / "locust"
    env = dict(os.environ, DATAINSIGHT_LOAD_CONFIG=str(config_path))
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "_load_users.py"), "--headless",
         "-u", str(users), "-r", str(min(users, SPAWN_RATE)), "-t", f"{duration}s", "--stop-timeout", "30",
         "--csv", str(prefix), "--csv-full-history", "--only-summary", "--loglevel", "WARNING",
         "-H", f"http://127.0.0.1:{config['ports'][0]}"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    stats_file = Path(f"{prefix}_stats.csv")
    if not stats_file.exists():
        raise RuntimeError(f"locust failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    kinds = {}
    with open(stats_file, newline="") as handle:
        for row in csv.DictReader(handle):
            kinds[row["Name"]] = {
                "type": row["Type"], "count": int(row["Request Count"]), "failures": int(row["Failure Count"]),
                "rps": float(row["Requests/s"]), "p50": float(row["50%"] or 0), "p95": float(row["95%"] or 0),
                "p99": float(row["99%"] or 0), "avg": float(row["Average Response Time"] or 0)}
    failures = []
    failures_file = Path(f"{prefix}_failures.csv")
    if failures_file.exists():
        with open(failures_file, newline="") as handle:
            failures = [{"name": r["Name"], "error": r["Error"][:300], "count": int(r["Occurrences"])}
                        for r in csv.DictReader(handle)]
    return {"kinds": kinds, "failures": failures, "locust_wall_s": wall,
            "locust_cpu_s": _children_cpu()}


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --- one configuration --------------------------------------------------------------------------


def measure_config(name: str, source: Path, rows: int, users: int, duration: int, warm: bool, work: Path,
                   database_url: str | None = None, redis_url: str | None = None,
                   max_connections: int | None = None) -> dict:
    data_dir = work / "data"
    secret_key = secrets.token_hex(32)
    database_url = database_url or f"sqlite:///{data_dir / 'datainsight.db'}"
    _log(f"[{name}] accounts, dataset ({rows:,} rows) and dashboard")
    setup = prepare(database_url, data_dir, source, secret_key, users)
    web_count, worker_count = (2, 2) if redis_url else (1, 0)
    # A browser keeps up to 6 connections open to a host; so does each simulated person
    # (bench/_load_users.py). With the default 200 a process stops accepting at about 33
    # people and the rest wait in the listen queue until an idle connection times out.
    env = {**os.environ, "DATAINSIGHT_MAX_CONNECTIONS": str(max_connections or 6 * users + 50),
           "DATAINSIGHT_DATA_DIR": str(data_dir), "DATAINSIGHT_DATABASE_URL": database_url,
           "DATAINSIGHT_SECRET_KEY": secret_key, "DATAINSIGHT_HOST": "127.0.0.1", "DATAINSIGHT_LOG_LEVEL": "WARNING"}
    for variable in ("DATAINSIGHT_REDIS_URL", "PROMETHEUS_MULTIPROC_DIR"):
        env.pop(variable, None)
    if redis_url:
        env["DATAINSIGHT_REDIS_URL"] = redis_url
    processes: dict[str, subprocess.Popen] = {}
    try:
        ports = []
        for i in range(web_count):
            port = _free_port()
            processes[f"web {i + 1}"] = _start([], {**env, "DATAINSIGHT_PORT": str(port)}, work / f"web{i + 1}.log",
                                               port)
            ports.append(port)
        for i in range(worker_count):
            processes[f"worker {i + 1}"] = _start(["worker"], env, work / f"worker{i + 1}.log", None)
        session = _signed_in(ports[0], setup["accounts"][0][0])
        config = {**setup, "ports": ports, "keys": callback_keys(session, ports[0]),
                  "filter_choices": FILTER_CHOICES, "other_periods": OTHER_PERIODS,
                  "country_choices": COUNTRY_CHOICES}
        warm_s = None
        if warm:
            _log(f"[{name}] warming the result cache: 12 widgets x {len(FILTER_CHOICES)} filter sets")
            warm_s = warm_up(ports[0], config, session)
        _log(f"[{name}] locust: {users} people for {duration} s against port(s) {ports}")
        groups = {label: p.pid for label, p in processes.items()}
        cpu_before = _children_cpu()
        server_cpu = {label: _group_cpu_s(pgid) for label, pgid in groups.items()}
        with MemorySampler(groups) as memory:
            result = run_locust(config, work, users, duration)
        result["server_cpu_s"] = {label: _group_cpu_s(pgid) - server_cpu[label] for label, pgid in groups.items()}
        result["locust_cpu_s"] -= cpu_before
        for label, process in processes.items():
            if process.poll() is not None:
                result["failures"].append({"name": label, "error": f"exited with {process.returncode}", "count": 1})
        return {"name": name, "rows": rows, "users": users, "duration": duration, "web": web_count,
                "workers": worker_count, "database": database_url.split(":")[0], "redis": bool(redis_url),
                "imported_s": setup["imported_s"], "warm_s": warm_s, **result,
                "peak_rss_mb": memory.peak_total / 1024,
                "peak_rss_mb_by_process": {k: v / 1024 for k, v in memory.peaks.items()},
                "load": os.getloadavg()[0], "max_connections": int(env["DATAINSIGHT_MAX_CONNECTIONS"])}
    finally:
        for process in processes.values():
            _stop(process)


def measure_cluster(source: Path, rows: int, users: int, duration: int, warm: bool, work: Path,
                    max_connections: int | None = None) -> dict:
    """The cluster configuration beside throwaway PostgreSQL and Redis servers (this module
    again, as a child of scripts/with-redis.sh scripts/with-postgres.sh); {"skipped": why}
    when they cannot run."""
    missing = []
    if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        missing.append("PostgreSQL's server (Debian package postgresql)")
    if shutil.which("redis-server") is None:
        missing.append("redis-server (Debian package redis-server)")
    if missing:
        return {"name": "cluster", "skipped": f"{' and '.join(missing)} not installed: "
                                             "run scripts/install-system-deps.sh test"}
    out = work / "cluster.json"
    proc = subprocess.run(
        [str(ROOT / "scripts" / "with-redis.sh"), str(ROOT / "scripts" / "with-postgres.sh"), sys.executable, "-m",
         "bench.load", "--child", "cluster", "--source", str(source), "--rows", str(rows), "--users", str(users),
         "--duration", str(duration), "--results", str(out), "--work", str(work)]
        + ([] if warm else ["--no-warm-up"]) + (["--max-connections", str(max_connections)] if max_connections else []),
        cwd=ROOT, stdout=sys.stderr, stderr=sys.stderr, check=False)
    if proc.returncode != 0 or not out.exists():
        return {"name": "cluster", "skipped": f"the cluster run failed ({proc.returncode}); see above"}
    return json.loads(out.read_text())


def measure(rows: int = DEFAULT_ROWS, duration: int = DEFAULT_DURATION, users: int = USERS,
            configs: tuple[str, ...] = ("one", "cluster"), warm: bool = True, keep: bool = False,
            max_connections: int | None = None) -> list[dict]:
    from bench.dashboard import generate

    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    try:
        source = work / "transactions.parquet"
        started = time.perf_counter()
        generate(source, rows)
        _log(f"generated {rows:,} rows in {time.perf_counter() - started:.1f} s")
        results = []
        for name in configs:
            folder = work / name
            folder.mkdir()
            if name == "one":
                results.append(measure_config("one", source, rows, users, duration, warm, folder,
                                              max_connections=max_connections))
            else:
                results.append(measure_cluster(source, rows, users, duration, warm, folder, max_connections))
        return results
    finally:
        if keep:
            _log(f"kept {work} (servers' logs, locust's CSV files)")
        else:
            shutil.rmtree(work, ignore_errors=True)


# --- the report ---------------------------------------------------------------------------------


WIDGET_KINDS = ("widget, warm filter set", "widget, other filter set")
FILTER_KIND = "filter change (12 widgets)"


NOT_REQUESTS = ("FLOW", "RESENT")  # locust rows that are not HTTP requests of their own (bench/_load_users.py)


def _requests(m: dict) -> list[dict]:
    return [k for name, k in m["kinds"].items() if name != "Aggregated" and k["type"] not in NOT_REQUESTS]


def _errors(m: dict) -> int:
    return sum(k["failures"] for k in _requests(m)) \
        + sum(f["count"] for f in m["failures"] if f["name"].startswith(("web", "worker")))


def _resent(m: dict) -> int:
    return sum(k["count"] for name, k in m["kinds"].items() if k["type"] == "RESENT")


def report(results: list[dict]) -> list[dict]:
    rows = []
    for m in results:
        label = {"one": "one process (SQLite, no Redis)",
                 "cluster": "2 web + 2 workers (PostgreSQL, Redis)"}.get(m["name"], m["name"])
        if m.get("skipped"):
            print(f"\nLoad test, {label}: SKIPPED: {m['skipped']}")
            continue
        http = _requests(m)
        total = {"count": sum(k["count"] for k in http), "failures": sum(k["failures"] for k in http),
                 "rps": sum(k["rps"] for k in http)}
        print(f"\nLoad test, {label}: {m['users']} people for {m['duration']} s, {m['rows']:,} rows "
              f"(imported in {m['imported_s']:.1f} s"
              + (f"; cache warmed in {m['warm_s']:.1f} s" if m.get("warm_s") is not None else "; no warm-up")
              + f"); DATAINSIGHT_MAX_CONNECTIONS={m['max_connections']}; load average at the end "
              f"{m['load']:.1f} on {os.cpu_count()} cores")
        print(f"{'request kind':<48} {'count':>7} {'errors':>6} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} "
              f"{'p99 ms':>7}")
        for name, k in sorted(m["kinds"].items()):
            if name != "Aggregated":
                print(f"{name:<48} {k['count']:>7} {k['failures']:>6} {k['rps']:>7.1f} {k['p50']:>7.0f} "
                      f"{k['p95']:>7.0f} {k['p99']:>7.0f}")
        print(f"{'all HTTP requests (flows not counted)':<48} {total['count']:>7} {total['failures']:>6} "
              f"{total['rps']:>7.1f}")
        errors = _errors(m)
        print(f"requests sent again because their kept-alive connection closed before an answer, as a browser "
              f"does: {_resent(m)}")
        for failure in m["failures"][:10]:
            print(f"  error x{failure['count']}: {failure['name']}: {failure['error']}")
        peaks = ", ".join(f"{k} {v:.0f}" for k, v in m["peak_rss_mb_by_process"].items())
        print(f"peak memory of the app's processes: {m['peak_rss_mb']:.0f} MiB together ({peaks} MiB); "
              f"locust itself used {m['locust_cpu_s']:.0f} CPU s")
        cpu = m.get("server_cpu_s", {})
        if cpu and total["count"]:
            spent = ", ".join(f"{k} {v:.0f}" for k, v in cpu.items())
            print(f"CPU of the app's processes during the run: {sum(cpu.values()):.0f} s ({spent} s): "
                  f"{sum(cpu.values()) / total['count'] * 1000:.1f} ms per HTTP request, "
                  f"{sum(cpu.values()) / m['duration'] / m['users'] * 1000:.0f} ms per person per second")
        filt = m["kinds"].get(FILTER_KIND, {}).get("p95", float("nan"))
        warm = m["kinds"].get(WIDGET_KINDS[0], {}).get("p95", float("nan"))
        other = m["kinds"].get(WIDGET_KINDS[1], {}).get("p95", float("nan"))
        filt_warm = m["kinds"].get(FILTER_KIND + ", warm filter set", {}).get("p95", float("nan"))
        print(f"targets: 0 errors: {errors} {'met' if errors == 0 else 'MISSED'}; "
              f"filter change p95 < {TARGET_FILTER_P95_MS} ms: {filt:.0f} ms "
              f"{'met' if filt < TARGET_FILTER_P95_MS else 'MISSED'} (warm filter sets: {filt_warm:.0f} ms); "
              f"widget p95 < {TARGET_WIDGET_P95_MS} ms warm: {warm:.0f} ms "
              f"{'met' if warm < TARGET_WIDGET_P95_MS else 'MISSED'} (other filter sets: {other:.0f} ms)")
        short = "1 proc" if m["name"] == "one" else "2+2"
        rows += [
            {"case": f"load {short}: filter change p95 (s)", "ours": max(filt, 1) / 1000,
             "baseline": TARGET_FILTER_P95_MS / 1000,
             "note": f"baseline column = target; {total.get('rps', 0):.0f} req/s, {errors} errors, "
                     f"{_resent(m)} resent"},
            {"case": f"load {short}: widget p95 warm (s)", "ours": max(warm, 1) / 1000,
             "baseline": TARGET_WIDGET_P95_MS / 1000,
             "note": f"baseline column = target; peak RSS {m['peak_rss_mb']:.0f} MiB"},
        ]
    return rows


def run() -> list[dict]:
    """For bench/__main__.py: 10 million rows, 3 minutes, both configurations."""
    return report(measure())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    parser.add_argument("--duration", type=int, default=DEFAULT_DURATION, help="seconds of load (default 180)")
    parser.add_argument("--users", type=int, default=USERS)
    parser.add_argument("--configs", default="one,cluster", help="one, cluster or both (comma-separated)")
    parser.add_argument("--warm-up", action=argparse.BooleanOptionalAction, default=True,
                        help="draw the widgets for the usual filter sets before the run (default on)")
    parser.add_argument("--max-connections", type=int,
                        help="DATAINSIGHT_MAX_CONNECTIONS of each web process (default 6 per person + 50)")
    parser.add_argument("--json", help="also write the measurements to this file")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (servers' logs, locust's CSVs)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    parser.add_argument("--results", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child == "cluster":  # beside scripts/with-redis.sh and scripts/with-postgres.sh
        result = measure_config("cluster", Path(args.source), args.rows, args.users, args.duration, args.warm_up,
                                Path(args.work), database_url=os.environ["DATAINSIGHT_TEST_DATABASE_URL"],
                                redis_url=os.environ["DATAINSIGHT_TEST_REDIS_URL"],
                                max_connections=args.max_connections)
        Path(args.results).write_text(json.dumps(result))
        return 0
    configs = tuple(c.strip() for c in args.configs.split(",") if c.strip())
    unknown = set(configs) - {"one", "cluster"}
    if unknown:
        parser.error(f"unknown configuration(s): {', '.join(sorted(unknown))}")
    results = measure(args.rows, args.duration, args.users, configs, args.warm_up, args.keep, args.max_connections)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
