"""A dashboard with one widget of every registry type over vgsales.csv and a generated
500-row orders table (dates, countries, channels), for the report tests."""
from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

from analytics.widgets import REGISTRY

FIXTURES = Path(__file__).resolve().parent / "fixtures"
COUNTRIES = ["France", "Germany", "Japan", "Brazil", "United States", "Canada"]
CHANNELS = ["Web", "Store", "Phone"]


def write_orders(path: Path, rows: int = 500) -> Path:
    """Orders ORD-00001..ORD-00500, one a day from 2025-01-01, fixed seed."""
    rng = random.Random(7)
    start = dt.date(2025, 1, 1)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["order_id", "order_date", "country", "channel", "amount", "units"])
        for i in range(rows):
            writer.writerow([f"ORD-{i + 1:05d}", (start + dt.timedelta(days=i)).isoformat(), rng.choice(COUNTRIES),
                             rng.choice(CHANNELS), round(rng.uniform(5, 500), 2), rng.randint(1, 9)])
    return path


def every_widget_dashboard(storage, principal, workspace_id, tmp_dir: Path) -> dict:
    vg = storage.datasets.create_from_file(principal, workspace_id, FIXTURES / "vgsales.csv", "vgsales.csv")
    orders = storage.datasets.create_from_file(principal, workspace_id, write_orders(tmp_dir / "orders.csv"),
                                               "orders.csv")

    def w(wid, tab, left, top, width, height, **spec):  # noqa: PLR0913
        dataset = spec.pop("dataset", vg)
        if spec["type"] != "markdown":
            spec["dataset_id"] = dataset.id
        return {"id": wid, "tab": tab, "layout": {"x": left, "y": top, "w": width, "h": height}, "spec": spec}

    widgets = [
        w("kpi_sales", "main", 0, 0, 4, 2, type="kpi", title="Global sales", y="Global_Sales", agg="sum",
          number_format="decimal"),
        w("kpi_orders", "main", 4, 0, 4, 2, type="kpi", title="Order amount", dataset=orders, y="amount", agg="sum",
          x="order_date", time_grain="month", compare_previous=True, sparkline=True, number_format="currency"),
        w("notes", "main", 8, 0, 4, 2, type="markdown", title="Notes",
          text="## About\nSales of **video games** by genre and platform.\n\n- NA, EU, JP\n- Orders are generated"),
        w("bar", "main", 0, 2, 6, 4, type="bar", title="Sales by genre", x="Genre", y="Global_Sales", agg="sum"),
        w("line", "main", 6, 2, 6, 4, type="line", title="Amount by month", dataset=orders, x="order_date",
          time_grain="month", y="amount", agg="sum"),
        w("area", "main", 0, 6, 6, 4, type="area", title="Units by channel", dataset=orders, x="order_date",
          time_grain="month", y="units", agg="sum", group="channel"),
        w("pie", "main", 6, 6, 6, 4, type="pie", title="Sales by platform", x="Platform", y="Global_Sales", agg="sum"),
        w("scatter", "main", 0, 10, 6, 4, type="scatter", title="NA against EU", x="NA_Sales", y="EU_Sales"),
        w("histogram", "main", 6, 10, 6, 4, type="histogram", title="Order amounts", dataset=orders, x="amount"),
        w("box", "charts", 0, 0, 6, 4, type="box", title="Amount per channel", dataset=orders, y="amount", x="channel"),
        w("heatmap", "charts", 6, 0, 6, 4, type="heatmap", title="Genre by platform", x="Platform", group="Genre",
          y="Global_Sales", agg="sum", limit=8),
        w("map", "charts", 0, 4, 6, 4, type="map", title="Amount by country", dataset=orders, x="country",
          y="amount", agg="sum"),
        w("funnel", "charts", 6, 4, 6, 4, type="funnel", title="Orders by channel", dataset=orders, x="channel",
          agg="count"),
        w("sankey", "charts", 0, 8, 6, 4, type="sankey", title="Channel to country", dataset=orders, x="channel",
          group="country", agg="count"),
        w("treemap", "charts", 6, 8, 6, 4, type="treemap", title="Genres", x="Genre", y="Global_Sales", agg="sum"),
        w("table", "data", 0, 0, 12, 6, type="table", title="All orders", dataset=orders,
          columns=["order_id", "order_date", "country", "channel", "amount"], sort="order_id", page_size=25),
        w("pivot", "data", 0, 6, 12, 6, type="pivot", title="Sales pivot", rows=["Genre"], columns="Platform",
          values="Global_Sales", agg="sum"),
    ]
    # Analysis widgets run an Analyze computation rather than a query; the report takes
    # their output from the query engine like any other widget.
    assert {x["spec"]["type"] for x in widgets} == set(REGISTRY) - {"analysis"}, "every query widget type"
    board = storage.dashboards.create(principal, workspace_id, {
        "name": "Video game sales", "description": "Every widget type, for the report tests",
        "tabs": [{"id": "main", "title": "Overview"}, {"id": "charts", "title": "More charts"},
                 {"id": "data", "title": "Data"}],
        "widgets": widgets,
        "filters": [{"id": "genre", "column": "Genre", "kind": "multi_select", "value": None, "label": "Genre"}],
    })
    return {"board": board, "vg": vg, "orders": orders}
