"""Dashboards proposed for a dataset: templates for shapes we recognise by their columns
(video game sales, music preferences, retail transactions) and, for anything else, an
X-ray built from the columns' roles: KPIs of the real measures, the main measure over
time, top categories, distributions and a scatter of measures, a map of countries and the
rows themselves, each widget with one line that says why it is there.

Nothing here sums, averages, bins or plots as a number a column whose role is an
identifier, a code, a date part or a constant (``column_choice.aggregated_columns`` says
what a spec aggregates; the tests check every proposal against it).

Pure: a dataset name, its schema, a small summary and the roles in, a dashboard payload
out ({"name", "description", "tabs", "widgets", "filters"}); storage checks and saves it.
"""
from __future__ import annotations

import datetime as dt

from analytics.column_choice import PIE_VALUES, Columns
from analytics.countries import ISO2_TO_ISO3
from analytics.sql import quote_ident

NUMERIC = ("integer", "float", "decimal")
TEMPORAL = ("date", "timestamp")
GRID_COLUMNS = 12
KPI_SLOTS = 4
TOP_N = 15
HISTOGRAMS = 3
BAR_CHARTS = 3
# Two measures this correlated are one measure twice (miles and kilometres, distance and
# flight time): their scatter says nothing new, so the next pair is drawn.
SAME_MEASURE_R = 0.98


class _Grid:
    """Places widgets left to right in rows of a 12-column grid."""

    def __init__(self, dataset_id):
        self.dataset_id = dataset_id
        self.widgets: list[dict] = []
        self.x = self.y = self.row_height = 0

    def add(self, spec: dict, w: int, h: int) -> None:
        if self.x + w > GRID_COLUMNS:
            self.new_row()
        spec = dict(spec)
        if spec.get("type") != "markdown":
            spec["dataset_id"] = self.dataset_id
        self.widgets.append({"id": f"w{len(self.widgets) + 1}", "spec": spec,
                             "layout": {"x": self.x, "y": self.y, "w": w, "h": h}, "tab": "main"})
        self.x += w
        self.row_height = max(self.row_height, h)

    def new_row(self) -> None:
        if self.x:
            self.x, self.y, self.row_height = 0, self.y + self.row_height, 0


def _finder(schema: list[dict]):
    by_lower = {c["name"].lower(): c["name"] for c in schema}

    def find(*names):
        for name in names:
            if name.lower() in by_lower:
                return by_lower[name.lower()]
        return None

    return find


def propose(name: str, schema: list[dict], summary: dict | None, dataset_id, roles: dict | None = None,
            sampled: bool = False) -> dict:
    """The fullest dashboard we can propose for this dataset. ``roles`` is
    {column: {"role", "detail", ...}}; ``summary`` is {"rows", "columns": {column:
    {"distinct", "nulls", "min", "max"}}, "correlations": [{"a", "b", "r"}],
    "country_values": {column: [a few values]}}. ``sampled``: the summary is of a sample
    (a live table or query, whose charts read all its rows as they are when drawn), so
    the widgets' descriptions quote none of its counts, ranges or dates."""
    columns = Columns(schema, roles or {}, summary or {})
    columns.sampled = sampled
    for template in (web_analytics, video_game_sales, retail_transactions, music_preferences):
        payload = template(name, schema, columns, dataset_id)
        if payload is not None:
            return payload
    return profile_based(name, schema, columns, dataset_id, summary or {})


# Correlations are computed between at most this many leading measures (15 pairs).
CORRELATED_MEASURES = 6
COUNTRY_SAMPLE = 20


def facts(con, source_sql: str, columns: Columns) -> dict:
    """What a proposal needs beyond the column summary, in one scan and one small query:
    the correlations of the leading measures (to scatter the pair that moves together)
    and a few values of each country column (names or codes, for the map)."""
    out: dict = {"correlations": [], "country_values": {}}
    measures = columns.measures()[:CORRELATED_MEASURES]
    pairs = [(a, b) for i, a in enumerate(measures) for b in measures[i + 1:]]
    if pairs:
        parts = ", ".join(f"corr(CAST({quote_ident(a)} AS DOUBLE), CAST({quote_ident(b)} AS DOUBLE))"
                          for a, b in pairs)
        row = con.execute(f"SELECT {parts} FROM {source_sql}").fetchone()
        out["correlations"] = [{"a": a, "b": b, "r": float(r)} for (a, b), r in zip(pairs, row)
                               if r is not None and r == r]
    for country in columns.geography("country")[:1]:
        col = quote_ident(country)
        values = con.execute(f"SELECT DISTINCT {col} FROM {source_sql} WHERE {col} IS NOT NULL LIMIT $1",
                             [COUNTRY_SAMPLE]).fetchall()
        out["country_values"][country] = [v[0] for v in values]
    return out


def _n(value) -> str:
    return f"{int(value):,}" if value is not None else "?"


def _count(cols: Columns, value) -> str:
    """"1,234 " to go before a noun, or nothing when the counts are a sample's."""
    return "" if cols.sampled else f"{_n(value)} "


# --- templates ----------------------------------------------------------------------------


# The columns of a site's events (storage.event_store): a dataset that has them all is one.
WEB_EVENT_COLUMNS = ("ts", "type", "name", "path", "referrer_host", "visitor_id", "session_id", "browser", "os",
                     "device", "user_id", "props")


def web_analytics(name, schema, cols: Columns, dataset_id) -> dict | None:
    """A site's events (issue 13): visitors, visits and pageviews over time, top pages,
    sources, devices, custom events, and the business events sent from a backend as a
    count per day of each (sign-ups, plans, payments, churn). docs/events.md defines the
    same figures for the Sites page; these count every event of the chosen dates."""
    if not all(c in cols.types for c in WEB_EVENT_COLUMNS) or cols.types.get("ts") not in TEMPORAL:
        return None
    pageviews = [{"column": "type", "op": "=", "value": "pageview"}]
    custom = [{"column": "type", "op": "=", "value": "event"}]
    g = _Grid(dataset_id)
    g.add({"type": "kpi", "title": "Visitors", "y": "visitor_id", "agg": "count_distinct", "number_format": "integer",
           "description": "Different visitors (a browser on one day, or a person a backend named with user_id)"}, 3, 2)
    g.add({"type": "kpi", "title": "Visits", "y": "session_id", "agg": "count_distinct", "number_format": "integer",
           "description": "Sessions: a visitor's events with gaps under 30 minutes"}, 3, 2)
    g.add({"type": "kpi", "title": "Pageviews", "agg": "count", "filters": pageviews, "number_format": "integer",
           "description": "Pages viewed, single-page-app navigations included"}, 3, 2)
    g.add({"type": "kpi", "title": "Custom events", "agg": "count", "filters": custom, "number_format": "integer",
           "description": "Events sent with datainsight.track() or from a backend"}, 3, 2)
    g.add({"type": "line", "title": "Visitors per day", "x": "ts", "time_grain": "day", "y": "visitor_id",
           "agg": "count_distinct", "number_format": "integer",
           "description": "Different visitors each day"}, 6, 4)
    g.add({"type": "line", "title": "Pageviews per day", "x": "ts", "time_grain": "day", "agg": "count",
           "filters": pageviews, "number_format": "integer", "description": "Pages viewed each day"}, 6, 4)
    g.add({"type": "bar", "title": "Top pages", "x": "path", "agg": "count", "filters": pageviews, "sort": "-y",
           "limit": 10, "orientation": "h", "number_format": "integer",
           "description": "The ten pages viewed most"}, 6, 5)
    g.add({"type": "bar", "title": "Top sources", "x": "referrer_host", "y": "visitor_id", "agg": "count_distinct",
           "sort": "-y", "limit": 10, "orientation": "h", "number_format": "integer",
           "filters": [{"column": "referrer_host", "op": "!=", "value": ""}],
           "description": "The sites that sent the most visitors (direct visits left out)"}, 6, 5)
    for column, title in (("device", "Devices"), ("browser", "Browsers"), ("os", "Operating systems")):
        g.add({"type": "pie" if column == "device" else "bar", "title": title, "x": column, "y": "visitor_id",
               "agg": "count_distinct", "sort": "-y", "limit": 8, "number_format": "integer",
               "filters": [{"column": column, "op": "!=", "value": ""}],
               "description": f"Visitors by {column} (server-side events have none)"}, 4, 4)
    g.add({"type": "heatmap", "title": "Pageviews by weekday and hour", "x": "ts", "time_grain": "hour_of_day",
           "group": "ts", "group_grain": "weekday", "agg": "count", "filters": pageviews,
           "description": "When in the week people visit (UTC)"}, 6, 4)
    g.add({"type": "bar", "title": "Custom events", "x": "name", "y": "visitor_id", "agg": "count_distinct",
           "filters": custom, "sort": "-y", "limit": 15, "orientation": "h", "number_format": "integer",
           "description": "How many visitors sent each custom event"}, 6, 4)
    g.add({"type": "line", "title": "Events per day", "x": "ts", "time_grain": "day", "agg": "count",
           "group": "name", "filters": custom, "number_format": "integer",
           "description": "Each custom event per day: for a backend's events (sign-up, plan chosen, payment, churn) "
                          "the lifecycle's moves day by day"}, 12, 4)
    filters = [{"id": "date", "column": "ts", "kind": "date_range", "value": None},
               {"id": "page", "column": "path", "kind": "multi_select", "value": None},
               {"id": "source", "column": "referrer_host", "kind": "multi_select", "value": None},
               {"id": "device", "column": "device", "kind": "multi_select", "value": None}]
    return {"name": f"{name}: web analytics", "description": "Visitors, visits, pages, sources, devices and events",
            "tabs": [{"id": "main", "title": "Overview"}], "widgets": g.widgets, "filters": filters}


def video_game_sales(name, schema, cols: Columns, dataset_id) -> dict | None:
    find = _finder(schema)
    platform, genre, publisher, sales = find("Platform"), find("Genre"), find("Publisher"), find("Global_Sales")
    if not (platform and genre and publisher and sales) or not cols.aggregatable(sales):
        return None
    year, title = find("Year"), find("Name")
    regions = [(find(c), label) for c, label in (("NA_Sales", "North America"), ("EU_Sales", "Europe"),
                                                  ("JP_Sales", "Japan"), ("Other_Sales", "Other regions"))]
    regions = [(c, label) for c, label in regions if c and cols.aggregatable(c)]
    g = _Grid(dataset_id)
    g.add({"type": "kpi", "title": "Global sales (M units)", "y": sales, "agg": "sum", "number_format": "decimal",
           "description": f"The sum of {sales} (millions of units) over all {_count(cols, cols.rows)}games"}, 3, 2)
    for column, label in regions[:3]:
        g.add({"type": "kpi", "title": f"{label} (M units)", "y": column, "agg": "sum", "number_format": "decimal",
               "description": f"The sum of {column}: the games' sales in {label}"}, 3, 2)
    # The year is a date part: an axis to read sales along, never a number to add up.
    if year and cols.types.get(year) in NUMERIC and not cols.aggregatable(year):
        g.add({"type": "line", "title": "Global sales by year", "x": year, "y": sales, "agg": "sum",
               "description": f"Sales of the games released each year ({year} as the axis, in order)"}, 12, 4)
    g.add({"type": "bar", "title": "Sales by genre", "x": genre, "y": sales, "agg": "sum", "sort": "-y", "limit": 12,
           "description": "Which genres sell most, over every platform and year"}, 6, 4)
    g.add({"type": "bar", "title": "Top platforms", "x": platform, "y": sales, "agg": "sum", "sort": "-y",
           "limit": TOP_N, "description": f"The {TOP_N} platforms whose games sold most"}, 6, 4)
    g.add({"type": "bar", "title": "Top publishers", "x": publisher, "y": sales, "agg": "sum", "sort": "-y",
           "limit": 10, "orientation": "h", "description": "The ten publishers that sold most"}, 6, 5)
    g.add({"type": "heatmap", "title": "Genre by platform", "x": platform, "group": genre, "y": sales, "agg": "sum",
           "limit": 12, "description": "Sales of each genre on each platform: where a genre sells"}, 6, 5)
    if regions:
        g.add({"type": "pivot", "title": "Sales by genre and region", "rows": [genre], "values": regions[0][0],
               "agg": "sum", "description": f"{regions[0][1]} sales of each genre"} if len(regions) == 1 else
              {"type": "bar", "title": f"{regions[0][1]} sales by genre", "x": genre, "y": regions[0][0],
               "agg": "sum", "group": platform, "stacking": "stacked", "limit": 12,
               "description": f"{regions[0][1]} sales of each genre, split by platform"}, 6, 5)
    columns = [c for c in (title, platform, year, genre, publisher, sales) if c]
    g.add({"type": "table", "title": "Best-selling games", "columns": columns, "sort": sales, "descending": True,
           "page_size": 10, "description": f"The games themselves, best-selling first ({sales})"}, 6, 5)
    filters = [{"id": "platform", "column": platform, "kind": "multi_select", "value": None},
               {"id": "genre", "column": genre, "kind": "multi_select", "value": None}]
    if year and cols.types.get(year) in NUMERIC:
        filters.append({"id": "year", "column": year, "kind": "numeric_range", "value": None})
    return {"name": f"{name}: video game sales", "description": "Sales by region, platform, genre, publisher and year",
            "tabs": [{"id": "main", "title": "Overview"}], "widgets": g.widgets, "filters": filters}


def music_preferences(name, schema, cols: Columns, dataset_id) -> dict | None:
    find = _finder(schema)
    age, gender, genre = find("age"), find("gender"), find("genre")
    if not (age and gender and genre) or not cols.aggregatable(age):
        return None
    g = _Grid(dataset_id)
    g.add({"type": "kpi", "title": "People", "agg": "count", "number_format": "integer",
           "description": "One row per person asked"}, 4, 2)
    g.add({"type": "kpi", "title": "Average age", "y": age, "agg": "mean", "number_format": "decimal",
           "description": f"The average of {age}: ages are averaged, never added up"}, 4, 2)
    g.add({"type": "kpi", "title": "Genres", "y": genre, "agg": "count_distinct", "number_format": "integer",
           "description": f"How many different values {genre} has"}, 4, 2)
    g.add({"type": "bar", "title": "Genre by gender", "x": genre, "agg": "count", "group": gender,
           "stacking": "grouped", "description": "How many people prefer each genre, by gender"}, 6, 4)
    g.add({"type": "heatmap", "title": "Genre by age", "x": genre, "group": age, "agg": "count",
           "description": "How many people of each age prefer each genre"}, 6, 4)
    g.add({"type": "pie", "title": "Genres", "x": genre, "agg": "count", "donut": True,
           "description": "Each genre's share of the people"}, 6, 4)
    g.add({"type": "box", "title": "Age by genre", "y": age, "x": genre,
           "description": "The spread of ages of the people who prefer each genre"}, 6, 4)
    return {"name": f"{name}: music preferences", "description": "Genre by gender and age",
            "tabs": [{"id": "main", "title": "Overview"}], "widgets": g.widgets,
            "filters": [{"id": "gender", "column": gender, "kind": "multi_select", "value": None},
                        {"id": "age", "column": age, "kind": "numeric_range", "value": None}]}


def retail_transactions(name, schema, cols: Columns, dataset_id) -> dict | None:
    find = _finder(schema)
    quantity, price = find("Quantity", "Qty"), find("UnitPrice", "Unit_Price", "Price")
    date = find("InvoiceDate", "OrderDate", "Date", "TransactionDate")
    if not (quantity and price and date) or not cols.aggregatable(quantity) or not cols.aggregatable(price) \
            or cols.types.get(date) not in TEMPORAL:
        return None
    invoice, customer = find("InvoiceNo", "Invoice", "OrderID", "OrderNo"), find("CustomerID", "Customer ID", "Customer")
    country, product = find("Country"), find("Description", "Product", "StockCode")
    revenue = {"expr": "mul", "columns": [quantity, price]}
    made = f"{quantity} × {price} of each row"
    g = _Grid(dataset_id)
    g.add({"type": "kpi", "title": "Revenue", "y": revenue, "agg": "sum", "number_format": "currency",
           "description": f"The sum of {made}, returns subtracted"}, 3, 2)
    if invoice:
        g.add({"type": "kpi", "title": "Orders", "y": invoice, "agg": "count_distinct", "number_format": "integer",
               "description": f"How many different {invoice} there are: one per order"}, 3, 2)
        g.add({"type": "kpi", "title": "Average order value", "y": revenue, "agg": "sum", "per": invoice,
               "number_format": "currency", "description": f"Revenue divided by the number of orders ({invoice})"},
              3, 2)
    if customer:
        g.add({"type": "kpi", "title": "Customers", "y": customer, "agg": "count_distinct", "number_format": "integer",
               "description": f"How many different {customer} bought"}, 3, 2)
    g.add({"type": "kpi", "title": "Monthly revenue", "y": revenue, "agg": "sum", "x": date, "time_grain": "month",
           "compare_previous": True, "sparkline": True, "number_format": "currency",
           "description": "The last month's revenue beside the month before"}, 4, 3)
    g.add({"type": "line", "title": "Revenue by month", "x": date, "time_grain": "month", "y": revenue, "agg": "sum",
           "number_format": "currency", "description": f"Revenue per month of {date}"}, 8, 3)
    g.add({"type": "heatmap", "title": "Revenue by weekday and hour", "x": date, "time_grain": "hour_of_day",
           "group": date, "group_grain": "weekday", "y": revenue, "agg": "sum",
           "description": "When in the week people buy"}, 6, 4)
    if product:
        g.add({"type": "bar", "title": "Top products", "x": product, "y": revenue, "agg": "sum", "sort": "-y",
               "limit": 10, "orientation": "h", "number_format": "currency",
               "description": "The ten products that brought the most revenue"}, 6, 4)
    if customer:
        g.add({"type": "bar", "title": "Top customers", "x": customer, "y": revenue, "agg": "sum", "sort": "-y",
               "limit": 10, "number_format": "currency", "filters": [{"column": customer, "op": "is not null"}],
               "description": "The ten customers who spent most (rows without a customer left out)"}, 6, 4)
    if country:
        g.add({"type": "map", "title": "Revenue by country", "x": country, "y": revenue, "agg": "sum",
               "location_mode": "country names", "description": "Where the revenue comes from"}, 6, 4)
    filters = [{"id": "date", "column": date, "kind": "date_range", "value": None}]
    if country:
        filters.append({"id": "country", "column": country, "kind": "multi_select", "value": None})
    return {"name": f"{name}: retail", "description": "Revenue, orders, customers, products and countries",
            "tabs": [{"id": "main", "title": "Overview"}], "widgets": g.widgets, "filters": filters}


# --- anything else: an X-ray from the roles --------------------------------------------------


def measure_title(cols: Columns, measure: str) -> str:
    return f"{'Total' if cols.agg_for(measure) == 'sum' else 'Average'} {measure}"


def _measure_sentence(cols: Columns, measure: str) -> str:
    """How a measure is aggregated over the rows, and why, in words."""
    rows = _count(cols, cols.rows)
    if cols.agg_for(measure) == "sum":
        return f"The sum of {measure} over all {rows}rows: its values add up"
    return f"The average of {measure} per row, over {rows or 'all '}rows: its values do not add up, so they are averaged"


def _date_text(value) -> str:
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.strftime("%Y-%m-%d %H:%M")
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def _value_text(value) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return _date_text(value)


def _scatter_pair(cols: Columns, measures: list[str], correlations) -> tuple[str, str, float | None] | None:
    """The two measures that move together most (below SAME_MEASURE_R), else the first two."""
    if len(measures) < 2:
        return None
    candidates = []
    for pair in correlations or []:
        a, b, r = pair.get("a"), pair.get("b"), pair.get("r")
        if a in measures and b in measures and a != b and r is not None and abs(r) < SAME_MEASURE_R:
            candidates.append((abs(r), a, b, r))
    if candidates:
        _, a, b, r = max(candidates, key=lambda c: (c[0], -measures.index(c[1]) - measures.index(c[2])))
        # The measure that comes first (the more important) goes on the y axis.
        y, x = (a, b) if measures.index(a) < measures.index(b) else (b, a)
        return x, y, r
    return measures[1], measures[0], None


def country_mode(values) -> str:
    """How a country column writes its countries, from a few of its values: two-letter
    codes, three-letter codes or names (what the map widget calls its location mode)."""
    values = [str(v).strip() for v in values or [] if v is not None and str(v).strip()]
    if not values:
        return "country names"
    if all(len(v) == 2 and v.upper() in ISO2_TO_ISO3 or v.upper() in ("UK", "EL") for v in values):
        return "ISO-2"
    iso3 = set(ISO2_TO_ISO3.values())
    if all(len(v) == 3 and v.upper() in iso3 for v in values):
        return "ISO-3"
    return "country names"


def _place_halves(g: _Grid, specs: list[dict]) -> None:
    """Two widgets a row; the last of an odd number takes the whole row. Empties ``specs``."""
    g.new_row()
    for i, spec in enumerate(specs):
        g.add(spec, 12 if i == len(specs) - 1 and len(specs) % 2 else 6, 4)
    g.new_row()
    specs.clear()


def profile_based(name, schema, cols: Columns, dataset_id, summary: dict) -> dict:
    rows = cols.rows
    measures = cols.measures()
    varied = cols.varied_measures()
    additive = cols.additive_measures()
    averaged = cols.averaged_measures()
    categories = cols.categories()
    times = cols.times()
    counted = cols.identifiers(repeated_only=True)
    main = measures[0] if measures else None
    g = _Grid(dataset_id)

    # KPIs: the row count, how many of the thing the rows are about, the measures.
    g.add({"type": "kpi", "title": "Rows", "agg": "count", "number_format": "integer",
           "description": "Every row of the table, counted when the chart is drawn" if cols.sampled
                          else f"Every row of the dataset: {_n(rows)} in all"}, 3, 2)
    slots = KPI_SLOTS - 1
    if counted and slots:
        ident = counted[0]
        g.add({"type": "kpi", "title": f"Distinct {ident}", "y": ident, "agg": "count_distinct",
               "number_format": "integer",
               "description": f"How many different {ident} there are: {ident} names things, so it is counted, "
                              "never added up"}, 3, 2)
        slots -= 1
    for measure in varied[:slots]:
        missing = cols.missing_share(measure)
        left_out = f" ({missing:.0%} of rows have no value and are left out)" if missing >= 0.005 and \
            not cols.sampled else ""
        g.add({"type": "kpi", "title": measure_title(cols, measure), "y": measure, "agg": cols.agg_for(measure),
               "number_format": "decimal" if cols.agg_for(measure) == "mean" else "auto",
               "description": _measure_sentence(cols, measure) + left_out}, 3, 2)
    g.new_row()

    # Over time: the main additive measure (or the row count) and the main average.
    lines = []
    if times:
        time = times[0]
        grain = cols.grain_for(time)
        span = cols.span(time) if not cols.sampled else None
        when = f"{time} runs from {_date_text(span[0])} to {_date_text(span[1])}" if span else f"{time} is the time"
        first = additive[0] if additive else None
        every = f"one point per {grain}"
        if first:
            lines.append({"type": "line", "x": time, "time_grain": grain, "y": first, "agg": "sum",
                          "title": f"{measure_title(cols, first)} by {grain}",
                          "description": f"How {first} changes over time: {when}, so {every}"})
        elif not cols.one_row_per_time(time):  # with one row per moment a count only counts the calendar
            lines.append({"type": "line", "x": time, "time_grain": grain, "agg": "count",
                          "title": f"Rows by {grain}",
                          "description": f"How many rows each {grain}: {when}, so {every}"})
        if averaged:
            second = averaged[0]
            single = cols.one_row_per_point(time, grain)
            per = f"one row per {grain}, so each point is a value of {second}" if single else f"its average per {grain}"
            lines.append({"type": "line", "x": time, "time_grain": grain, "y": second, "agg": "mean",
                          "title": f"{'' if single else 'Average '}{second} by {grain}",
                          "number_format": "decimal",
                          "description": f"Whether {second} rises or falls over time: {per}"})
    elif cols.year_like_part():
        part = cols.year_like_part()
        detail = cols.detail(part) or "period"
        spec = {"type": "line", "x": part, "sort": "x", "limit": 1000}
        if main:
            spec.update({"y": main, "agg": cols.agg_for(main), "title": f"{measure_title(cols, main)} by {part}",
                         "description": f"{measure_title(cols, main)} for each {detail} in {part}, in order: "
                                        f"{part} is a date part, read along, never averaged"})
        else:
            spec.update({"agg": "count", "title": f"Rows by {part}",
                         "description": f"How many rows each {detail} in {part}: a date part, read in order"})
        lines.append(spec)
    for spec in lines:
        g.add(spec, 12 if len(lines) == 1 else 6, 4)
    g.new_row()

    halves: list[dict] = []  # widgets placed two a row; the last of an odd number takes the row
    # Top categories by a measure (the main one and the main average take turns) or by rows.
    for i, category in enumerate(categories[:BAR_CHARTS]):
        distinct = cols.distinct(category)  # of a sample: at least as many in the table
        if cols.sampled:
            shown = f"the {TOP_N} largest of its values" if distinct and distinct > TOP_N else "each of its values"
        else:
            shown = f"the {TOP_N} largest of its {_n(distinct)} values" if distinct and distinct > TOP_N else \
                f"each of its {_n(distinct)} values" if distinct else "each of its values"
        why = (f"{category} is the category with the fewest values that still splits the data"
               if i == 0 else f"{category} is a category" if cols.sampled or not distinct
               else f"{category} is a category with {_n(distinct)} values")
        spec = {"type": "bar", "x": category, "sort": "-y", "limit": TOP_N}
        if main:
            measure = varied[1] if i == 1 and len(varied) > 1 else main
            title = measure_title(cols, measure)
            spec.update({"y": measure, "agg": cols.agg_for(measure), "title": f"{title} by {category}",
                         "description": f"{why}: {title} for {shown}"})
            if cols.agg_for(measure) == "mean":
                spec["number_format"] = "decimal"
        else:
            spec.update({"agg": "count", "title": f"Rows by {category}",
                         "description": f"{why}: the number of rows for {shown}"})
        if distinct and distinct > 8:
            spec["orientation"] = "h"
        halves.append(spec)
    # The rows' shares of a small category (with no measure the bars count rows already).
    small = [c for c in categories if 2 <= (cols.distinct(c) or 0) <= PIE_VALUES]
    if small and main:
        pie = small[0]
        halves.append({"type": "pie", "title": f"Rows by {pie}", "x": pie, "agg": "count", "donut": True,
                       "description": f"Each value of {pie} as a share of the rows" if cols.sampled
                       else f"Each of the {_n(cols.distinct(pie))} values of {pie} as a share of the rows"})
    _place_halves(g, halves)

    # Countries on a map.
    countries = cols.geography("country")
    if countries:
        country = countries[0]
        mode = country_mode((summary.get("country_values") or {}).get(country))
        spec = {"type": "map", "x": country, "location_mode": mode}
        if main:
            spec.update({"y": main, "agg": cols.agg_for(main), "title": f"{measure_title(cols, main)} by {country}",
                         "description": f"{country} names countries: {measure_title(cols, main)} on the map"})
        else:
            spec.update({"agg": "count", "title": f"Rows by {country}",
                         "description": f"{country} names countries: how many rows each"})
        halves.append(spec)

    # How each measure is spread.
    for measure in varied[:HISTOGRAMS]:
        info = cols.info.get(measure) or {}
        bounds = (f" (from {_value_text(info['min'])} to {_value_text(info['max'])})"
                  if info.get("min") is not None and info.get("max") is not None and not cols.sampled else "")
        halves.append({"type": "histogram", "title": f"Distribution of {measure}", "x": measure,
                       "description": f"How the values of {measure} are spread{bounds}: how many rows fall in each "
                                      "range"})

    # Two measures against each other.
    pair = _scatter_pair(cols, measures, summary.get("correlations"))
    if pair:
        x, y, r = pair
        why = (f"the two measures that move together most (r = {r:.2f})" if r is not None
               else "the two main measures")
        halves.append({"type": "scatter", "title": f"{y} against {x}", "x": x, "y": y, "trendline": True,
                       "limit": 2000,
                       "description": f"Whether {y} moves with {x}: {why}; a sample of the rows, the trend over all"})
    _place_halves(g, halves)

    # The rows themselves.
    # The time, the categories, the measures and the id first (what the charts above show).
    shown = [c for c in [*times[:1], *categories[:3], *measures[:4], *counted[:1]] if c]
    shown += [c for c in cols.not_constant() if c not in shown]
    table_columns = shown[:8]
    g.add({"type": "table", "title": "Rows", "columns": table_columns, "page_size": 10,
           "description": "The rows themselves, to look up single records"}, 12, 5)

    filters = []
    if times:
        filters.append({"id": "date", "column": times[0], "kind": "date_range", "value": None})
    elif cols.year_like_part():
        filters.append({"id": "period", "column": cols.year_like_part(), "kind": "numeric_range", "value": None})
    if categories:
        filters.append({"id": "category", "column": categories[0], "kind": "multi_select", "value": None})
    what = ", ".join(measures[:3]) if measures else "the row counts"
    return {"name": f"{name}: overview", "description": f"Proposed from the columns' roles: {what}",
            "tabs": [{"id": "main", "title": "Overview"}], "widgets": g.widgets, "filters": filters}
