"""Dashboard in a real browser: the 12-widget dashboard of bench/dashboard.py over its
10,000,000-row transactions table, timed from navigation until every widget is drawn.

A real server (gunicorn, as ``make run`` starts it) on 127.0.0.1 with a fresh data dir;
the table is generated, uploaded in chunks and imported through the API like a person's
file; Chromium (Playwright) opens the dashboard twice: cold (nothing cached: every widget
query scans the table) and warm (the results come from the cache). Target from the issue:
fully drawn in under 2 s. The baseline is the same dashboard drawn the seeds' way is not
measurable in a browser (they sent raw rows); bench/dashboard.py compares the queries.

    python -m bench.dashboard_browser              # 10,000,000 rows
    python -m bench.dashboard_browser --rows 1000000
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.dashboard import DEFAULT_ROWS, WIDGETS, generate

ROOT = Path(__file__).resolve().parent.parent
TARGET_DRAWN_S = 2.0
CHUNK_BYTES = 32 * 1024 * 1024
CHROMIUM = "/usr/bin/chromium"
EMAIL, PASSWORD = "bench-browser@example.com", "bench browser password"
# Where each widget goes on the 12-column grid: four KPIs, then charts two by two.
LAYOUT = [(0, 0, 3, 3), (3, 0, 3, 3), (6, 0, 3, 3), (9, 0, 3, 3), (0, 3, 12, 5), (0, 8, 6, 6), (6, 8, 6, 6),
          (0, 14, 6, 6), (6, 14, 6, 6), (0, 20, 12, 7), (0, 27, 6, 6), (6, 27, 6, 6)]


def _upload(request, path: Path) -> str:
    size = path.stat().st_size
    upload = request.post("/api/v1/uploads", data={"filename": path.name, "size": size}).json()
    with open(path, "rb") as handle:
        offset = 0
        while offset < size:
            chunk = handle.read(CHUNK_BYTES)
            response = request.put(f"/api/v1/uploads/{upload['id']}?offset={offset}", data=chunk,
                                   headers={"Content-Type": "application/octet-stream"})
            assert response.ok, response.text()
            offset += len(chunk)
    return upload["id"]


def _import(request, path: Path) -> int:
    job = request.post(f"/api/v1/uploads/{_upload(request, path)}/import", data={"name": "transactions"}).json()
    while True:
        status = request.get(job["status_url"]).json()
        if status["status"] == "done":
            return status["result"]["id"]
        if status["status"] in ("failed", "cancelled"):
            raise RuntimeError(f"import failed: {status}")
        time.sleep(0.5)


def _drawn_seconds(page, url: str, count: int) -> float:
    started = time.perf_counter()
    page.goto(url)
    page.wait_for_function(
        "n => document.querySelectorAll('.widget-card').length === n"
        " && document.querySelectorAll('.widget-placeholder').length === 0"
        " && document.querySelectorAll('.widget-card .main-svg').length > 0"
        " && !document.querySelector('._dash-loading-callback')", arg=count, timeout=120_000)
    return time.perf_counter() - started


def measure(rows: int) -> dict:
    from playwright.sync_api import sync_playwright

    from tests.e2e.conftest import run_live_server

    work = Path(tempfile.mkdtemp(prefix="bench-dashboard-browser-"))
    try:
        source = work / "transactions.parquet"
        generate(source, rows)
        with run_live_server() as server:
            env = dict(os.environ, DATAINSIGHT_DATA_DIR=str(server.data_dir))
            subprocess.run([sys.executable, "app.py", "create-user", "--email", EMAIL, "--password", PASSWORD,
                            "--name", "Bench"], cwd=ROOT, env=env, check=True, capture_output=True)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
                    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync"])
                context = browser.new_context(base_url=server.url, viewport={"width": 1400, "height": 1000})
                page = context.new_page()
                page.goto("/login")
                page.fill("#public-login-email", EMAIL)
                page.fill("#public-login-password", PASSWORD)
                page.click("#public-login-submit")
                page.wait_for_url(lambda url: "/login" not in url)
                started = time.perf_counter()
                dataset_id = _import(context.request, source)
                imported = time.perf_counter() - started
                # A new version starts its profile in the background (issue 4); let it finish
                # so that the timing is of the dashboard, not of the two sharing 2 cores.
                while context.request.get(f"/api/v1/datasets/{dataset_id}/profile").json().get("status") == "running":
                    time.sleep(1)
                widgets = [{"id": f"w{i}", "layout": dict(zip("xywh", LAYOUT[i])),
                            "spec": {**spec, "dataset_id": dataset_id}} for i, (_, spec) in enumerate(WIDGETS)]
                board = context.request.post("/api/v1/dashboards", data={
                    "name": "Transactions", "widgets": widgets}).json()
                url = f"/dashboards/{board['id']}"
                cold = _drawn_seconds(page, url, len(widgets))
                warm = min(_drawn_seconds(page, url, len(widgets)) for _ in range(3))
                browser.close()
        return {"rows": rows, "imported": imported, "cold": cold, "warm": warm, "load": os.getloadavg()[0]}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(m: dict) -> list[dict]:
    print(f"\nDashboard in Chromium: 12 widgets over {m['rows']:,} rows (imported through the API in "
          f"{m['imported']:.1f} s; load average {m['load']:.1f})")
    for label, seconds in (("cold (no cached results)", m["cold"]), ("warm (cached results)", m["warm"])):
        verdict = "ok" if seconds < TARGET_DRAWN_S else "MISSED"
        print(f"  fully drawn after navigation, {label}: {seconds:.2f} s (target < {TARGET_DRAWN_S:.0f} s: {verdict})")
    return [{"case": "browser: 12 widgets drawn, warm", "ours": m["warm"], "baseline": TARGET_DRAWN_S,
             "note": f"cold {m['cold']:.2f} s; baseline column = the 2 s target"}]


def run() -> list[dict]:
    return report(measure(DEFAULT_ROWS))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    args = parser.parse_args(argv)
    report(measure(args.rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
