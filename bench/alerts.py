"""Alerts (issue 17): what checking costs on top of reading the numbers.

200 on-refresh alerts on 4 KPI widgets (of 4 dashboards) over a generated 1,000,000-row
sales table, each with a webhook to a local HTTP server. Two scheduler rounds after a new
version of the table:

- ``check 200 alerts, none fires``: the round that reads every widget and records 200
  checks, beside the baseline of reading the same 200 widget values directly
  (QueryService.render_widget, as the checks do) with nothing recorded;
- ``check 200 alerts, all fire``: the round where every alert crosses its line and posts
  its webhook, beside the baseline of those reads plus 200 bare POSTs to the same server.

The ratio (baseline / ours) is what claims, state changes, history rows and delivery
records cost; 1.0 would be free.

    python -m bench.alerts
"""
from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

ROWS = 1_000_000
ALERTS = 200
KPIS = [("revenue", "sum"), ("revenue", "mean"), ("quantity", "sum"), ("quantity", "max")]


def _generate(path: Path, rows: int) -> None:
    import duckdb

    duckdb.sql(f"""COPY (SELECT DATE '2024-01-01' + CAST(i % 700 AS INTEGER) AS day,
                               ['North', 'South', 'East', 'West'][1 + i % 4] AS region,
                               round(10 + (i * 7919 % 1000) / 10.0, 2) AS revenue,
                               1 + i % 9 AS quantity
                        FROM range({rows}) t(i)) TO '{path}' (FORMAT parquet)""")


def measure(rows: int = ROWS) -> list[dict]:
    from bench.report import _stop_background_jobs
    from storage import Storage
    from storage.webhooks import post_json
    from tests.webhook_server import WebhookServer

    work = Path(tempfile.mkdtemp(prefix="bench-alerts-"))
    try:
        source, more = work / "sales.parquet", work / "more.parquet"
        _generate(source, rows)
        _generate(more, 10)
        store = Storage(f"sqlite:///{work / 'meta.db'}", work / "data")
        store.migrate()
        ada = store.users.create_first_admin("bench@example.com", "bench password 123", "Bench").principal()
        workspace = store.workspaces.personal_workspace(ada).id
        dataset = store.datasets.create_from_file(ada, workspace, source, "sales.parquet")
        _stop_background_jobs(store, ada)  # the automatic profile would compete for the CPU
        # 4 dashboards (at most 50 alerts each) with the same 4 KPIs.
        boards = [store.dashboards.create(ada, workspace, {"name": f"Bench {b}", "widgets": [
            {"id": f"k{i}", "spec": {"type": "kpi", "dataset_id": dataset.id, "y": y, "agg": agg}}
            for i, (y, agg) in enumerate(KPIS)]})["id"] for b in range(4)]
        with WebhookServer() as hook:
            store.alerts.allow_private = True
            for n in range(ALERTS):
                store.alerts.create(ada, {"dashboard_id": boards[n % 4], "widget_id": f"k{n // 4 % len(KPIS)}",
                                          "condition": {"op": "<", "value": -1},
                                          "channels": [{"type": "webhook", "url": hook.url}]})

            def read_all():
                for n in range(ALERTS):
                    store.queries.render_widget(ada, boards[n % 4], f"k{n // 4 % len(KPIS)}")

            store.datasets.add_version(ada, dataset.id, more, "more.parquet", mode="append")
            _stop_background_jobs(store, ada)
            read_all()  # the new version's queries cached, for the checks and the baseline alike
            started = time.perf_counter()
            read_all()
            baseline_quiet = time.perf_counter() - started
            started = time.perf_counter()
            checked = store.alerts.tick()
            quiet = time.perf_counter() - started
            assert len(checked) == ALERTS and not hook.received

            # Every alert's line moves above its value: the next version fires them all.
            from sqlalchemy import update

            from storage.tables import alerts

            with store.engine.begin() as conn:
                conn.execute(update(alerts).values(threshold=1e12))
            store.datasets.add_version(ada, dataset.id, more, "more.parquet", mode="append")
            _stop_background_jobs(store, ada)
            read_all()
            body = {"alert": {"id": 0}, "value": 1.0}
            started = time.perf_counter()
            read_all()
            for _ in range(ALERTS):
                post_json(hook.url, body, allow_private=True)
            baseline_firing = time.perf_counter() - started
            hook.received.clear()
            started = time.perf_counter()
            store.alerts.tick()
            firing = time.perf_counter() - started
            assert len(hook.received) == ALERTS, len(hook.received)
        store.dispose()
        return [
            {"case": f"check {ALERTS} alerts, none fires", "ours": quiet, "baseline": baseline_quiet,
             "note": f"s per round; baseline: {ALERTS} widget reads; {quiet / ALERTS * 1000:.1f} ms per check"},
            {"case": f"check {ALERTS} alerts, all fire", "ours": firing, "baseline": baseline_firing,
             "note": f"s per round; baseline: reads + {ALERTS} bare webhook POSTs"},
        ]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run() -> list[dict]:
    return measure()


if __name__ == "__main__":
    for row in measure(int(sys.argv[1]) if len(sys.argv) > 1 else ROWS):
        print(f"{row['case']:<34} ours {row['ours']:.3f} s  baseline {row['baseline']:.3f} s  "
              f"ratio {row['baseline'] / row['ours']:.2f}x  {row['note']}")
