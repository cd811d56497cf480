"""Dashboards proposed for a dataset: templates for shapes we recognise by their columns
(video game sales, music preferences, retail transactions) and, for anything else, a
proposal built from a column summary (KPIs, trend over time, top categories,
distributions, a correlation).

Pure: a dataset name, its schema and a small summary in, a dashboard payload out
({"name", "description", "tabs", "widgets", "filters"}); storage checks and saves it.
"""
from __future__ import annotations

import datetime as dt
import re

NUMERIC = ("integer", "float", "decimal")
TEMPORAL = ("date", "timestamp")
CATEGORY = ("categorical", "text", "boolean")
GRID_COLUMNS = 12


class _Grid:
    """Places widgets left to right in rows of a 12-column grid."""

    def __init__(self, dataset_id):
        self.dataset_id = dataset_id
        self.widgets: list[dict] = []
        self.x = self.y = self.row_height = 0

    def add(self, spec: dict, w: int, h: int) -> None:
        if self.x + w > GRID_COLUMNS:
            self.x, self.y, self.row_height = 0, self.y + self.row_height, 0
        spec = dict(spec)
        if spec.get("type") != "markdown":
            spec["dataset_id"] = self.dataset_id
        self.widgets.append({"id": f"w{len(self.widgets) + 1}", "spec": spec,
                             "layout": {"x": self.x, "y": self.y, "w": w, "h": h}, "tab": "main"})
        self.x += w
        self.row_height = max(self.row_height, h)


def _finder(schema: list[dict]):
    by_lower = {c["name"].lower(): c["name"] for c in schema}

    def find(*names):
        for name in names:
            if name.lower() in by_lower:
                return by_lower[name.lower()]
        return None

    return find


def _types(schema):
    return {c["name"]: c["type"] for c in schema}


def propose(name: str, schema: list[dict], summary: dict | None, dataset_id) -> dict:
    """The fullest dashboard we can propose for this dataset."""
    for template in (video_game_sales, retail_transactions, music_preferences):
        payload = template(name, schema, summary or {}, dataset_id)
        if payload is not None:
            return payload
    return profile_based(name, schema, summary or {}, dataset_id)


# --- templates ----------------------------------------------------------------------------


def video_game_sales(name, schema, summary, dataset_id) -> dict | None:
    find = _finder(schema)
    types = _types(schema)
    platform, genre, publisher, sales = find("Platform"), find("Genre"), find("Publisher"), find("Global_Sales")
    if not (platform and genre and publisher and sales) or types[sales] not in NUMERIC:
        return None
    year, title = find("Year"), find("Name")
    regions = [(find(c), label) for c, label in (("NA_Sales", "North America"), ("EU_Sales", "Europe"),
                                                  ("JP_Sales", "Japan"), ("Other_Sales", "Other regions"))]
    regions = [(c, label) for c, label in regions if c and types[c] in NUMERIC]
    g = _Grid(dataset_id)
    g.add({"type": "kpi", "title": "Global sales (M units)", "y": sales, "agg": "sum", "number_format": "decimal"}, 3, 2)
    for column, label in regions[:3]:
        g.add({"type": "kpi", "title": f"{label} (M units)", "y": column, "agg": "sum", "number_format": "decimal"}, 3, 2)
    if year and types[year] in NUMERIC:
        g.add({"type": "line", "title": "Global sales by year", "x": year, "y": sales, "agg": "sum"}, 12, 4)
    g.add({"type": "bar", "title": "Sales by genre", "x": genre, "y": sales, "agg": "sum", "sort": "-y", "limit": 12},
          6, 4)
    g.add({"type": "bar", "title": "Top platforms", "x": platform, "y": sales, "agg": "sum", "sort": "-y", "limit": 15},
          6, 4)
    g.add({"type": "bar", "title": "Top publishers", "x": publisher, "y": sales, "agg": "sum", "sort": "-y",
           "limit": 10, "orientation": "h"}, 6, 5)
    g.add({"type": "heatmap", "title": "Genre by platform", "x": platform, "group": genre, "y": sales, "agg": "sum",
           "limit": 12}, 6, 5)
    if regions:
        g.add({"type": "pivot", "title": "Sales by genre and region", "rows": [genre], "values": regions[0][0],
               "agg": "sum"} if len(regions) == 1 else
              {"type": "bar", "title": f"{regions[0][1]} sales by genre", "x": genre, "y": regions[0][0],
               "agg": "sum", "group": platform, "stacking": "stacked", "limit": 12}, 6, 5)
    columns = [c for c in (title, platform, year, genre, publisher, sales) if c]
    g.add({"type": "table", "title": "Best-selling games", "columns": columns, "sort": sales, "descending": True,
           "page_size": 10}, 6, 5)
    filters = [{"id": "platform", "column": platform, "kind": "multi_select", "value": None},
               {"id": "genre", "column": genre, "kind": "multi_select", "value": None}]
    if year and types[year] in NUMERIC:
        filters.append({"id": "year", "column": year, "kind": "numeric_range", "value": None})
    return {"name": f"{name}: video game sales", "description": "Sales by region, platform, genre, publisher and year",
            "tabs": [{"id": "main", "title": "Overview"}], "widgets": g.widgets, "filters": filters}


def music_preferences(name, schema, summary, dataset_id) -> dict | None:
    find = _finder(schema)
    types = _types(schema)
    age, gender, genre = find("age"), find("gender"), find("genre")
    if not (age and gender and genre) or types[age] not in NUMERIC:
        return None
    g = _Grid(dataset_id)
    g.add({"type": "kpi", "title": "People", "agg": "count", "number_format": "integer"}, 4, 2)
    g.add({"type": "kpi", "title": "Average age", "y": age, "agg": "mean", "number_format": "decimal"}, 4, 2)
    g.add({"type": "kpi", "title": "Genres", "y": genre, "agg": "count_distinct", "number_format": "integer"}, 4, 2)
    g.add({"type": "bar", "title": "Genre by gender", "x": genre, "agg": "count", "group": gender,
           "stacking": "grouped"}, 6, 4)
    g.add({"type": "heatmap", "title": "Genre by age", "x": genre, "group": age, "agg": "count"}, 6, 4)
    g.add({"type": "pie", "title": "Genres", "x": genre, "agg": "count", "donut": True}, 6, 4)
    g.add({"type": "box", "title": "Age by genre", "y": age, "x": genre}, 6, 4)
    return {"name": f"{name}: music preferences", "description": "Genre by gender and age",
            "tabs": [{"id": "main", "title": "Overview"}], "widgets": g.widgets,
            "filters": [{"id": "gender", "column": gender, "kind": "multi_select", "value": None},
                        {"id": "age", "column": age, "kind": "numeric_range", "value": None}]}


def retail_transactions(name, schema, summary, dataset_id) -> dict | None:
    find = _finder(schema)
    types = _types(schema)
    quantity, price = find("Quantity", "Qty"), find("UnitPrice", "Unit_Price", "Price")
    date = find("InvoiceDate", "OrderDate", "Date", "TransactionDate")
    if not (quantity and price and date) or types[quantity] not in NUMERIC or types[price] not in NUMERIC \
            or types[date] not in TEMPORAL:
        return None
    invoice, customer = find("InvoiceNo", "Invoice", "OrderID", "OrderNo"), find("CustomerID", "Customer ID", "Customer")
    country, product = find("Country"), find("Description", "Product", "StockCode")
    revenue = {"expr": "mul", "columns": [quantity, price]}
    g = _Grid(dataset_id)
    g.add({"type": "kpi", "title": "Revenue", "y": revenue, "agg": "sum", "number_format": "currency"}, 3, 2)
    if invoice:
        g.add({"type": "kpi", "title": "Orders", "y": invoice, "agg": "count_distinct", "number_format": "integer"}, 3, 2)
        g.add({"type": "kpi", "title": "Average order value", "y": revenue, "agg": "sum", "per": invoice,
               "number_format": "currency"}, 3, 2)
    if customer:
        g.add({"type": "kpi", "title": "Customers", "y": customer, "agg": "count_distinct", "number_format": "integer"},
              3, 2)
    g.add({"type": "kpi", "title": "Monthly revenue", "y": revenue, "agg": "sum", "x": date, "time_grain": "month",
           "compare_previous": True, "sparkline": True, "number_format": "currency"}, 4, 3)
    g.add({"type": "line", "title": "Revenue by month", "x": date, "time_grain": "month", "y": revenue, "agg": "sum",
           "number_format": "currency"}, 8, 3)
    g.add({"type": "heatmap", "title": "Revenue by weekday and hour", "x": date, "time_grain": "hour_of_day",
           "group": date, "group_grain": "weekday", "y": revenue, "agg": "sum"}, 6, 4)
    if product:
        g.add({"type": "bar", "title": "Top products", "x": product, "y": revenue, "agg": "sum", "sort": "-y",
               "limit": 10, "orientation": "h", "number_format": "currency"}, 6, 4)
    if customer:
        g.add({"type": "bar", "title": "Top customers", "x": customer, "y": revenue, "agg": "sum", "sort": "-y",
               "limit": 10, "number_format": "currency",
               "filters": [{"column": customer, "op": "is not null"}]}, 6, 4)
    if country:
        g.add({"type": "map", "title": "Revenue by country", "x": country, "y": revenue, "agg": "sum",
               "location_mode": "country names"}, 6, 4)
    filters = [{"id": "date", "column": date, "kind": "date_range", "value": None}]
    if country:
        filters.append({"id": "country", "column": country, "kind": "multi_select", "value": None})
    return {"name": f"{name}: retail", "description": "Revenue, orders, customers, products and countries",
            "tabs": [{"id": "main", "title": "Overview"}], "widgets": g.widgets, "filters": filters}


# --- anything else ---------------------------------------------------------------------------


def _is_identifier(column: str, ctype: str, info: dict, rows: int) -> bool:
    """An id-like column (CustomerID, row numbers): summing or charting it means nothing."""
    lowered = column.lower()
    if lowered == "id" or lowered.endswith("_id") or lowered.endswith("id") and column[-2:] == "ID":
        return True
    return ctype == "integer" and rows > 20 and (info.get("distinct") or 0) >= 0.95 * rows


def _span_days(info: dict) -> float | None:
    lo, hi = info.get("min"), info.get("max")
    if isinstance(lo, dt.date) and isinstance(hi, dt.date):
        return (hi - lo).total_seconds() / 86400 if isinstance(lo, dt.datetime) else (hi - lo).days
    return None


def _grain_for(days: float | None) -> str:
    if days is None or days > 3 * 365:
        return "month" if days is None or days <= 30 * 365 else "year"
    if days > 120:
        return "week" if days <= 365 else "month"
    return "day" if days > 3 else "hour"


# Words in a column name that say its values add up (a total of sales means something); other
# measures (age, score, price, rating, temperature) are averaged: a sum of ages is no answer.
ADDITIVE_WORDS = ("sales", "revenue", "amount", "quantity", "qty", "count", "total", "cost", "profit", "units",
                  "volume", "spend", "paid", "income", "turnover", "orders", "visits", "clicks", "views", "sold",
                  "duration", "minutes", "hours", "seconds", "weight", "distance")
NON_ADDITIVE_WORDS = ("score", "rate", "ratio", "percent", "pct", "price", "age", "rating", "avg", "average", "mean",
                      "temperature", "temp", "index", "year", "lat", "lon")


def measure_agg(column: str) -> str:
    """sum for a measure whose name says it adds up, mean otherwise (and for names that say
    both, like "Spending Score": a score is not summed)."""
    words = re.findall(r"[a-z]+", column.lower())
    if any(w.startswith(NON_ADDITIVE_WORDS) for w in words):
        return "mean"
    return "sum" if any(w.startswith(ADDITIVE_WORDS) for w in words) else "mean"


def _measure_title(measure: str) -> str:
    return f"{'Total' if measure_agg(measure) == 'sum' else 'Average'} {measure}"


def profile_based(name, schema, summary, dataset_id) -> dict:
    columns = summary.get("columns") or {}
    rows = summary.get("rows") or 0
    measures, categories, dates = [], [], []
    for column in schema:
        cname, ctype = column["name"], column["type"]
        info = columns.get(cname, {})
        if ctype in NUMERIC and not _is_identifier(cname, ctype, info, rows):
            measures.append(cname)
        elif ctype in TEMPORAL:
            dates.append(cname)
        if ctype in CATEGORY + ("integer",) and 2 <= (info.get("distinct") or 0) <= 50:
            if ctype != "integer" or cname not in measures:
                categories.append(cname)
    g = _Grid(dataset_id)
    g.add({"type": "kpi", "title": "Rows", "agg": "count", "number_format": "integer"}, 3, 2)
    for measure in measures[:3]:
        g.add({"type": "kpi", "title": _measure_title(measure), "y": measure, "agg": measure_agg(measure),
               "number_format": "decimal" if measure_agg(measure) == "mean" else "auto"}, 3, 2)
    if dates:
        date = dates[0]
        grain = _grain_for(_span_days(columns.get(date, {})))
        spec = {"type": "line", "title": f"Rows by {grain}" if not measures else f"{_measure_title(measures[0])} by {grain}",
                "x": date, "time_grain": grain, "agg": "count" if not measures else measure_agg(measures[0])}
        if measures:
            spec["y"] = measures[0]
        g.add(spec, 12, 4)
    for category in categories[:3]:
        spec = {"type": "bar", "title": f"Top {category}", "x": category, "sort": "-y", "limit": 15,
                "agg": measure_agg(measures[0]) if measures else "count"}
        if measures:
            spec["y"] = measures[0]
            spec["title"] = f"{_measure_title(measures[0])} by {category}"
        g.add(spec, 6, 4)
    for measure in measures[:3]:
        g.add({"type": "histogram", "title": f"Distribution of {measure}", "x": measure, "bins": 30}, 6, 4)
    if len(measures) >= 2:
        g.add({"type": "scatter", "title": f"{measures[1]} against {measures[0]}", "x": measures[0],
               "y": measures[1], "trendline": True, "limit": 2000}, 6, 4)
    g.add({"type": "table", "title": "Rows", "columns": [c["name"] for c in schema[:8]], "page_size": 10}, 12, 5)
    filters = []
    if dates:
        filters.append({"id": "date", "column": dates[0], "kind": "date_range", "value": None})
    if categories:
        filters.append({"id": "category", "column": categories[0], "kind": "multi_select", "value": None})
    return {"name": f"{name}: overview", "description": "Proposed from the dataset's columns",
            "tabs": [{"id": "main", "title": "Overview"}], "widgets": g.widgets, "filters": filters}
