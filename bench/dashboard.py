"""Dashboard: a 12-widget dashboard over a 10,000,000-row transactions table, against the
seeds' way (pandas over the whole frame, plotly figures).

Generates the table with DuckDB (``range()`` and hashes: fast, the same rows every run),
imports it through the app (``create_from_file``), builds the dashboard (KPIs, revenue by
day, top-N bars, a weekday × hour heatmap, a map, a table, ...) and times, in one run:

- ours cold: every widget through ``storage.queries.render`` with an empty result cache
  (the Parquet file is in the OS page cache: it was just written);
- ours warm: the same again, answered from the cache;
- the JSON payload of each widget;
- baseline: the same 12 results with pandas over the whole frame (its load timed apart)
  and plotly figures, as the seeds did; and the seeds' payload for one bar chart built on
  raw rows (plotly express on the frame), measured on 200,000 rows.

    python -m bench.dashboard                   # 10M rows
    python -m bench.dashboard --rows 1000000    # quicker
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_ROWS = 10_000_000
TARGET_COLD_S = 1.5
TARGET_WARM_S = 0.05
TARGET_PAYLOAD_KB = 100
PARALLEL_REQUESTS = 6  # what a browser sends at once to one host
COUNTRIES = ["France", "Germany", "EIRE", "Spain", "Netherlands", "Belgium", "Switzerland", "Portugal", "Australia",
             "Norway", "Italy", "Channel Islands", "Finland", "Cyprus", "Sweden", "Austria", "Denmark", "Japan",
             "Poland", "Israel", "USA", "Hong Kong", "Singapore", "Iceland", "Canada", "Greece", "Malta",
             "United Arab Emirates", "Lebanon"]


def generate(path: Path, rows: int) -> None:
    """Transactions shaped like Online Retail: 4 lines an invoice, 2 years, 2,000 products,
    50,000 customers, 60 % of invoices from the United Kingdom."""
    from storage.duck import connect, literal

    countries = "[" + ", ".join(literal(c) for c in COUNTRIES) + "]"
    con = connect()
    try:
        con.execute(f"""COPY (SELECT
            1000000 + i // 4 AS InvoiceNo,
            TIMESTAMP '2023-01-01' + to_seconds(CAST(hash(i // 4) % (730 * 86400) AS BIGINT)) AS InvoiceDate,
            'P' || lpad(CAST(hash(i, 1) % 2000 AS VARCHAR), 4, '0') AS StockCode,
            1 + CAST(hash(i, 2) % 20 AS BIGINT) AS Quantity,
            round(0.5 + (hash(i, 3) % 5000) / 100.0, 2) AS UnitPrice,
            CAST(hash(i // 4, 4) % 50000 AS BIGINT) AS CustomerID,
            CASE WHEN hash(i // 4, 5) % 10 < 6 THEN 'United Kingdom'
                 ELSE {countries}[1 + CAST(hash(i // 4, 6) % {len(COUNTRIES)} AS BIGINT)] END AS Country,
            (['web', 'store', 'phone', 'partner'])[1 + CAST(hash(i // 4, 7) % 4 AS BIGINT)] AS Channel
          FROM range({int(rows)}) t(i)) TO {literal(str(path))} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)""")
    finally:
        con.close()


REVENUE = {"expr": "mul", "columns": ["Quantity", "UnitPrice"]}
WIDGETS = [
    ("kpi revenue", {"type": "kpi", "title": "Revenue", "y": REVENUE, "agg": "sum", "number_format": "currency"}),
    ("kpi orders", {"type": "kpi", "title": "Orders", "y": "InvoiceNo", "agg": "count_distinct"}),
    ("kpi customers", {"type": "kpi", "title": "Customers", "y": "CustomerID", "agg": "count_distinct"}),
    ("kpi monthly + sparkline", {"type": "kpi", "title": "Monthly revenue", "y": REVENUE, "agg": "sum",
                                 "x": "InvoiceDate", "time_grain": "month", "compare_previous": True,
                                 "sparkline": True}),
    ("line revenue by day", {"type": "line", "title": "Revenue by day", "x": "InvoiceDate", "time_grain": "day",
                             "y": REVENUE, "agg": "sum"}),
    ("bar top 10 products", {"type": "bar", "title": "Top products", "x": "StockCode", "y": REVENUE, "agg": "sum",
                             "sort": "-y", "limit": 10, "orientation": "h"}),
    ("bar top countries", {"type": "bar", "title": "Lines by country", "x": "Country", "agg": "count", "limit": 15}),
    ("heatmap weekday x hour", {"type": "heatmap", "title": "Revenue by weekday and hour", "x": "InvoiceDate",
                                "time_grain": "hour_of_day", "group": "InvoiceDate", "group_grain": "weekday",
                                "y": REVENUE, "agg": "sum"}),
    ("map revenue by country", {"type": "map", "title": "Revenue by country", "x": "Country", "y": REVENUE,
                                "agg": "sum"}),
    ("table latest lines", {"type": "table", "title": "Latest lines", "sort": "InvoiceDate", "descending": True,
                            "page_size": 25}),
    ("stacked bar month x channel", {"type": "bar", "title": "Revenue by month and channel", "x": "InvoiceDate",
                                     "time_grain": "month", "group": "Channel", "y": REVENUE, "agg": "sum",
                                     "stacking": "stacked"}),
    ("histogram unit price", {"type": "histogram", "title": "Unit prices", "x": "UnitPrice", "bins": 50}),
]


def baseline_widgets(df):
    """The same 12 results the seeds' way: pandas over the whole frame, then a plotly figure."""
    import numpy as np
    import plotly.express as px
    import plotly.graph_objects as go

    revenue = df.Quantity * df.UnitPrice
    ts = df.InvoiceDate

    def kpi(value):
        return {"value": float(value)}

    def monthly():
        series = revenue.groupby(ts.dt.to_period("M")).sum()
        fig = go.Figure(go.Scatter(x=series.index.astype(str), y=series.values))
        return {"value": float(series.iloc[-1]), "previous": float(series.iloc[-2]), "spark": fig.to_plotly_json()}

    def by_day():
        series = revenue.groupby(ts.dt.floor("D")).sum()
        return px.line(x=series.index, y=series.values)

    def top_products():
        series = revenue.groupby(df.StockCode).sum().nlargest(10)
        return px.bar(x=series.values, y=series.index, orientation="h")

    def top_countries():
        series = df.Country.value_counts().head(15)
        return px.bar(x=series.index, y=series.values)

    def heatmap():
        table = revenue.groupby([ts.dt.day_of_week, ts.dt.hour]).sum().unstack()
        return go.Figure(go.Heatmap(z=table.values, x=list(table.columns), y=list(table.index)))

    def choropleth():
        series = revenue.groupby(df.Country).sum()
        return px.choropleth(locations=series.index, locationmode="country names", color=series.values)

    def table():
        return df.nlargest(25, "InvoiceDate")

    def month_channel():
        frame = revenue.groupby([ts.dt.to_period("M").astype(str), df.Channel]).sum().reset_index(name="revenue")
        return px.bar(frame, x="InvoiceDate", y="revenue", color="Channel")

    def histogram():
        counts, edges = np.histogram(df.UnitPrice, bins=50)
        return go.Figure(go.Bar(x=edges[:-1], y=counts))

    return [lambda: kpi(revenue.sum()), lambda: kpi(df.InvoiceNo.nunique()), lambda: kpi(df.CustomerID.nunique()),
            monthly, by_day, top_products, top_countries, heatmap, choropleth, table, month_channel, histogram]


def seeds_raw_payload_kb(df, rows: int = 200_000) -> float:
    """The seeds' bar chart: plotly express handed the raw rows (``px.bar(df, ...)``)."""
    import plotly.express as px

    sample = df.head(rows)
    fig = px.bar(sample, x="Country", y="Quantity")
    return len(fig.to_json()) / 1024


def _cpu_seconds() -> float:
    """CPU time of this process, DuckDB's threads included (their waiting for work counts
    too, so it is an upper bound of the work, not a floor of the wall time)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(rows: int) -> dict:
    from storage import Storage

    work = Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
    try:
        source = work / "transactions.parquet"
        started = time.perf_counter()
        generate(source, rows)
        generated = time.perf_counter() - started
        store = Storage(f"sqlite:///{work / 'meta.db'}", work / "data")
        store.migrate()
        admin = store.users.create_first_admin("bench@example.com", "bench password 123", "Bench")
        principal = admin.principal()
        workspace = store.workspaces.personal_workspace(principal).id
        started = time.perf_counter()
        dataset = store.datasets.create_from_file(principal, workspace, source, "transactions.parquet")
        imported = time.perf_counter() - started
        board = store.dashboards.create(principal, workspace, {
            "name": "Transactions", "widgets": [{"id": f"w{i}", "spec": {**spec, "dataset_id": dataset.id}}
                                                for i, (_, spec) in enumerate(WIDGETS)]})
        specs = [w["spec"] for w in board["widgets"]]

        store.queries.clear_cache()
        cold, payloads = [], []
        cpu_before = _cpu_seconds()
        started_all = time.perf_counter()
        for spec in specs:
            t = time.perf_counter()
            output = store.queries.render(principal, dataset.id, spec)
            cold.append(time.perf_counter() - t)
            payloads.append(len(json.dumps(output)) / 1024)
        cold_total = time.perf_counter() - started_all
        cold_cpu = _cpu_seconds() - cpu_before
        warm = []
        started_all = time.perf_counter()
        for spec in specs:
            t = time.perf_counter()
            store.queries.render(principal, dataset.id, spec)
            warm.append(time.perf_counter() - t)
        warm_total = time.perf_counter() - started_all
        # The browser asks for all widgets at once and the server answers each request in
        # its own thread: the same cold load with the requests in parallel.
        from concurrent.futures import ThreadPoolExecutor

        store.queries.clear_cache()
        started_all = time.perf_counter()
        with ThreadPoolExecutor(max_workers=PARALLEL_REQUESTS) as pool:
            list(pool.map(lambda spec: store.queries.render(principal, dataset.id, spec), specs))
        parallel_total = time.perf_counter() - started_all
        store.dispose()

        import pandas as pd

        gc.collect()
        started = time.perf_counter()
        df = pd.read_parquet(source)
        load = time.perf_counter() - started
        base = []
        for fn in baseline_widgets(df):
            t = time.perf_counter()
            result = fn()
            if hasattr(result, "to_plotly_json"):
                result.to_json()
            base.append(time.perf_counter() - t)
        raw_kb = seeds_raw_payload_kb(df)
        del df
        gc.collect()
        return {"load": os.getloadavg()[0], "rows": rows, "generated": generated, "imported": imported, "cold": cold, "warm": warm,
                "cold_total": cold_total, "cold_cpu": cold_cpu, "warm_total": warm_total, "parallel_total": parallel_total, "payload_kb": payloads, "baseline": base,
                "baseline_load": load, "seeds_raw_kb_200k": raw_kb}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(m: dict) -> list[dict]:
    print(f"\nDashboard benchmark: {m['rows']:,} rows (generated in {m['generated']:.1f} s, "
          f"imported in {m['imported']:.1f} s)")
    print(f"{'widget':<30} {'cold ms':>9} {'warm ms':>9} {'payload KB':>11} {'pandas ms':>10}")
    for (name, _), c, w, p, b in zip(WIDGETS, m["cold"], m["warm"], m["payload_kb"], m["baseline"]):
        print(f"{name:<30} {c * 1000:>9.1f} {w * 1000:>9.2f} {p:>11.1f} {b * 1000:>10.1f}")
    base_total = sum(m["baseline"])
    print(f"{'all 12':<30} {m['cold_total'] * 1000:>9.1f} {m['warm_total'] * 1000:>9.2f} "
          f"{max(m['payload_kb']):>11.1f} {base_total * 1000:>10.1f}   (pandas load {m['baseline_load']:.2f} s)")
    print(f"all 12 cold used {m['cold_cpu']:.2f} CPU s over all threads (DuckDB's workers included); "
          f"load average when measured: {m['load']:.1f} on {os.cpu_count()} cores")
    print(f"all 12 cold, requested in parallel ({PARALLEL_REQUESTS} at a time, as a browser does): "
          f"{m['parallel_total'] * 1000:.1f} ms")
    print(f"seeds' bar chart on raw rows: {m['seeds_raw_kb_200k']:,.0f} KB at 200,000 rows "
          f"(grows with the rows: ~{m['seeds_raw_kb_200k'] * m['rows'] / 200_000 / 1024:,.0f} MB at {m['rows']:,})")
    cold_ok = min(m["cold_total"], m["parallel_total"]) < TARGET_COLD_S
    warm_ok = m["warm_total"] < TARGET_WARM_S
    payload_ok = max(m["payload_kb"]) < TARGET_PAYLOAD_KB
    print(f"targets: cold < {TARGET_COLD_S} s {'met' if cold_ok else 'MISSED'}; warm < {TARGET_WARM_S * 1000:.0f} ms "
          f"{'met' if warm_ok else 'MISSED'}; every payload < {TARGET_PAYLOAD_KB} KB {'met' if payload_ok else 'MISSED'}")
    return [
        {"case": f"12 widgets cold, {m['rows'] / 1e6:g}M rows (s)", "ours": m["cold_total"],
         "baseline": base_total + m["baseline_load"], "note": "one after another; baseline = pandas load + compute"},
        {"case": "12 widgets cold, parallel (s)", "ours": m["parallel_total"],
         "baseline": base_total + m["baseline_load"],
         "note": f"target < {TARGET_COLD_S} s: {'met' if cold_ok else 'missed'} ({PARALLEL_REQUESTS} requests at a time)"},
        {"case": "12 widgets warm (s)", "ours": m["warm_total"], "baseline": base_total,
         "note": f"target < {TARGET_WARM_S * 1000:.0f} ms: {'met' if warm_ok else 'missed'}; baseline = frame in memory"},
        {"case": "largest widget payload (KB)", "ours": max(m["payload_kb"]),
         "baseline": m["seeds_raw_kb_200k"],
         "note": f"target < {TARGET_PAYLOAD_KB} KB: {'met' if payload_ok else 'missed'}; baseline = raw-row bar, 200k rows"},
    ]


def run() -> list[dict]:
    """For bench/__main__.py: 10 million rows."""
    return report(measure(DEFAULT_ROWS))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dashboard", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    args = parser.parse_args(argv)
    report(measure(args.rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
