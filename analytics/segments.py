"""Customer segments of transaction data (a customer, a date, an amount), computed in DuckDB:
one row per customer is built and scored there; only counts and the top customers come back.

Definitions (docs/analyze-timeseries.md says them for people):

* amount of a row = ``amount`` (times ``quantity`` when a quantity column is given, as for
  Online Retail's UnitPrice × Quantity). Rows without a customer, date or amount are left out.
* purchases are rows with an amount above 0; returns (below 0) only lower the monetary value.
* reference date = the day after the last purchase in the data, or ``as_of`` (then only the
  rows before that day count).
* recency = days from the customer's last purchase to the reference date;
  frequency = distinct orders (the ``order`` column) or, without one, distinct purchase
  times; monetary = the sum of all the customer's amounts (returns included).
* scores 1-5 by quintile of rank: score = 1 + floor(5 × (rank − 1) / customers), where rank
  is the position in ascending order (recency: descending, so recent is 5) and **tied values
  share the lowest rank** (rank "min"), so equal values always get the same score.
* segments from the R and F scores by the table in ``SEGMENT_RULES`` (the common RFM map).
* CLV: historic = monetary. Predictive (next ``clv_months``) = average order value (net of
  returns: monetary / frequency, at least 0; a returned order is worth nothing) ×
  purchases per month (over the months from the first purchase to the reference date, at
  least ``MIN_TENURE_MONTHS``) × ``clv_months``, and 0 for a customer whose last purchase is more than
  ``lapse_days`` ago (counted as lapsed). A plain rate model: it assumes an active customer
  keeps buying at their past rate. With ``model: "bgnbd"``, the expected purchases come from
  BG/NBD instead and the order value from Gamma-Gamma (analytics.clv_models); lapsed are
  the customers whose chance of still being active is below one half.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from analytics import clv_models, timeseries
from analytics._fields import NUMERIC_TYPES, check_column, choice, integer, q, types_of
from errors import AnalysisError, InvalidSpec

# (segment, R scores, F scores): every one of the 25 (R, F) pairs falls in exactly one row.
SEGMENT_RULES = (
    ("Champions", (5,), (4, 5)),
    ("Loyal", (3, 4), (4, 5)),
    ("Potential loyalists", (4, 5), (2, 3)),
    ("New customers", (5,), (1,)),
    ("Promising", (4,), (1,)),
    ("Need attention", (3,), (3,)),
    ("About to sleep", (3,), (1, 2)),
    ("Can't lose them", (1, 2), (5,)),
    ("At risk", (1, 2), (3, 4)),
    ("Hibernating", (1, 2), (1, 2)),
)
TOP_CUSTOMERS = 20
CLV_MODELS = ("rate", "bgnbd")
DAYS_PER_MONTH = 30.4375
# A customer seen for less than this many months is rated over this many: one purchase last
# week is not a purchase a week.
MIN_TENURE_MONTHS = 3.0


def segment_of(r: int, f: int) -> str:
    for name, rs, fs in SEGMENT_RULES:
        if r in rs and f in fs:
            return name
    raise ValueError(f"no segment for R={r}, F={f}")


def _segment_case() -> str:
    """The rule table as a SQL CASE (constants of ours, no user input)."""
    parts = [f"WHEN r_score IN ({', '.join(map(str, rs))}) AND f_score IN ({', '.join(map(str, fs))}) "
             f"THEN '{name.replace(chr(39), chr(39) * 2)}'" for name, rs, fs in SEGMENT_RULES]
    return "CASE " + " ".join(parts) + " END"


def _customers_sql(con, source_sql: str, schema: list[dict], params: dict) -> tuple[str, list, dict]:
    """(SQL of one row per customer with recency, frequency, monetary, scores, segment and
    CLV; its bound values; the settings used)."""
    types = types_of(schema)
    names = {}
    for key, what, allowed, required in (("customer", "customer column", None, True),
                                         ("date", "date column", None, True),
                                         ("amount", "amount column", NUMERIC_TYPES, True),
                                         ("quantity", "quantity column", NUMERIC_TYPES, False),
                                         ("order", "order column", None, False)):
        name = params.get(key)
        if name in (None, ""):
            if required:
                raise InvalidSpec(f"Choose the {what}: the field {key!r} is required")
            continue
        check_column(name, schema, allowed, what)
        names[key] = name
    if len({names["customer"], names["date"], names["amount"]}) < 3:
        raise InvalidSpec("The customer, date and amount columns must be three different columns")
    clv_months = integer(params, "clv_months", 12, 1, 120)
    lapse_days = integer(params, "lapse_days", 180, 1, 3650)
    date_sql = timeseries.date_expression(con, source_sql, names["date"], types[names["date"]])
    amount_sql = f"CAST({q(names['amount'])} AS DOUBLE)"
    if "quantity" in names:
        amount_sql = f"({amount_sql} * CAST({q(names['quantity'])} AS DOUBLE))"
    # What counts as one purchase: an order id, or without one a distinct purchase time.
    order_sql = f"CAST({q(names['order'])} AS VARCHAR)" if "order" in names else f"CAST({date_sql} AS VARCHAR)"
    customer = q(names["customer"])
    if types[names["customer"]] in ("float", "decimal"):
        # Ids read as floats (CustomerID 17850.0 in a file with blank ids) are shown whole.
        customer = (f"CASE WHEN {customer} = floor({customer}) THEN CAST(CAST({customer} AS BIGINT) AS VARCHAR) "
                    f"ELSE CAST({customer} AS VARCHAR) END")
    rows_sql = (f"SELECT CAST({customer} AS VARCHAR) AS customer, {date_sql} AS t, "
                f"{amount_sql} AS amount, {order_sql} AS order_key "
                f"FROM {source_sql} WHERE {q(names['customer'])} IS NOT NULL AND {date_sql} IS NOT NULL "
                f"AND {amount_sql} IS NOT NULL")
    as_of = params.get("as_of")
    bind: list = []
    if as_of not in (None, ""):
        try:
            as_of_date = dt.date.fromisoformat(str(as_of)[:10])
        except ValueError:
            raise InvalidSpec(f"The field 'as_of' must be a date like 2011-12-10, not {as_of!r}") from None
        # As of a day: what happened after it is not known yet, so it is left out.
        rows_sql += " AND CAST(" + date_sql + " AS DATE) < CAST(? AS DATE)"
        reference = "CAST(? AS DATE)"
        bind += [as_of_date, as_of_date]
    else:
        reference = "(SELECT CAST(max(t) AS DATE) + 1 FROM purchases)"
    sql = f"""
        WITH rows AS ({rows_sql}),
        purchases AS (SELECT * FROM rows WHERE amount > 0),
        reference AS (SELECT {reference} AS day),
        per AS (
            SELECT p.customer,
                   date_diff('day', CAST(max(p.t) AS DATE), (SELECT day FROM reference)) AS recency,
                   count(DISTINCT p.order_key) AS frequency,
                   min(p.t) AS first_purchase, max(p.t) AS last_purchase,
                   any_value((SELECT day FROM reference)) AS reference_day
            FROM purchases AS p GROUP BY p.customer),
        money AS (SELECT customer, sum(amount) AS monetary FROM rows GROUP BY customer),
        joined AS (SELECT per.*, money.monetary, count(*) OVER () AS n FROM per JOIN money USING (customer)),
        scored AS (
            SELECT *,
                   1 + floor(5 * (rank() OVER (ORDER BY recency DESC) - 1) / n)::INTEGER AS r_score,
                   1 + floor(5 * (rank() OVER (ORDER BY frequency) - 1) / n)::INTEGER AS f_score,
                   1 + floor(5 * (rank() OVER (ORDER BY monetary) - 1) / n)::INTEGER AS m_score
            FROM joined)
        SELECT customer, recency, frequency, monetary, first_purchase, last_purchase, r_score, f_score, m_score,
               {_segment_case()} AS segment,
               monetary AS historic_clv,
               greatest(monetary, 0) / frequency AS average_order_value,
               frequency / greatest({MIN_TENURE_MONTHS}, date_diff('day', CAST(first_purchase AS DATE), reference_day)
                                         / {DAYS_PER_MONTH}) AS purchases_per_month,
               CASE WHEN recency > {lapse_days} THEN 0.0
                    ELSE average_order_value * purchases_per_month * {clv_months} END AS predicted_clv,
               reference_day
        FROM scored"""
    return sql, bind, {"clv_months": clv_months, "lapse_days": lapse_days, "columns": names}


def rfm(con, source_sql: str, schema: list[dict], params: dict, progress) -> dict:
    """The ``rfm`` analysis: scores, named segments, the R × F grid and the top customers."""
    sql, bind, settings = _customers_sql(con, source_sql, schema, params)
    progress(0.3, "Scoring the customers")
    con.execute(f"CREATE OR REPLACE TEMP TABLE rfm_customers AS {sql}", bind)
    try:
        total = con.execute("SELECT count(*) FROM rfm_customers").fetchone()[0]
        if total == 0:
            raise AnalysisError("No customer has a purchase (a row with an amount above 0)")
        counts = dict(con.execute(
            "SELECT segment, count(*) FROM rfm_customers GROUP BY segment").fetchall())
        money = dict(con.execute("SELECT segment, sum(monetary) FROM rfm_customers GROUP BY segment").fetchall())
        means = {row[0]: row[1:] for row in con.execute(
            "SELECT segment, avg(recency), avg(frequency), avg(monetary) FROM rfm_customers GROUP BY segment").fetchall()}
        total_money = sum(v for v in money.values() if v is not None) or 0.0
        segments = []
        for name, rs, fs in SEGMENT_RULES:
            n = counts.get(name, 0)
            recency, frequency, monetary = means.get(name, (None, None, None))
            segments.append({"name": name, "customers": int(n), "share": n / total,
                             "revenue": money.get(name) or 0.0,
                             "revenue_share": (money.get(name) or 0.0) / total_money if total_money else None,
                             "mean_recency": recency, "mean_frequency": frequency, "mean_monetary": monetary,
                             "rule": {"r": list(rs), "f": list(fs)}})
        grid = [{"r": int(r), "f": int(f), "customers": int(n)} for r, f, n in con.execute(
            "SELECT r_score, f_score, count(*) FROM rfm_customers GROUP BY ALL ORDER BY 1, 2").fetchall()]
        progress(0.8, "Listing the top customers")
        top = _top(con, "monetary")
        as_of = con.execute("SELECT max(reference_day) FROM rfm_customers").fetchone()[0]
        dropped = _rows_left_out(con, source_sql, settings["columns"])
    finally:
        con.execute("DROP TABLE IF EXISTS rfm_customers")
    return {"customers": int(total), "segments": segments, "grid": grid, "top_customers": top,
            "reference_day": as_of, "rows_left_out": dropped,
            "tie_rule": "tied values share the lowest rank, so they get the same score",
            "score_formula": "1 + floor(5 × (rank − 1) / customers); recency ranked descending",
            "frequency_definition": ("distinct orders" if "order" in settings["columns"]
                                     else "distinct purchase times")}


def clv(con, source_sql: str, schema: list[dict], params: dict, progress) -> dict:
    """The ``clv`` analysis: historic and predicted customer lifetime value, the latter by
    the rate model (``model`` "rate", the default) or by BG/NBD with Gamma-Gamma ("bgnbd")."""
    model = choice(params, "model", CLV_MODELS, default="rate")
    sql, bind, settings = _customers_sql(con, source_sql, schema, params)
    progress(0.3, "Valuing the customers")
    con.execute(f"CREATE OR REPLACE TEMP TABLE rfm_customers AS {sql}", bind)
    try:
        total = con.execute("SELECT count(*) FROM rfm_customers").fetchone()[0]
        if total == 0:
            raise AnalysisError("No customer has a purchase (a row with an amount above 0)")
        fitted = None
        if model == "bgnbd":
            progress(0.5, "Fitting BG/NBD and Gamma-Gamma")
            fitted = _probabilistic_clv(con, settings["clv_months"])
        summary = {}
        for column in ("historic_clv", "predicted_clv"):
            row = con.execute(f"SELECT sum({column}), avg({column}), median({column}), "
                              f"quantile_cont({column}, 0.9) FROM rfm_customers").fetchone()
            summary[column.replace("_clv", "")] = {"total": row[0], "mean": row[1], "median": row[2], "p90": row[3]}
        if fitted is None:
            lapsed = con.execute("SELECT count(*) FROM rfm_customers WHERE recency > ?",
                                 [settings["lapse_days"]]).fetchone()[0]
        else:  # probably gone: the model's chance that the customer is still active is below one half
            lapsed = con.execute("SELECT count(*) FROM rfm_customers WHERE p_alive < 0.5").fetchone()[0]
        by_segment = [{"name": name, "customers": int(n), "historic": h, "predicted": p}
                      for name, n, h, p in con.execute(
                          "SELECT segment, count(*), avg(historic_clv), avg(predicted_clv) FROM rfm_customers "
                          "GROUP BY segment ORDER BY 4 DESC NULLS LAST").fetchall()]
        top = _top(con, "predicted_clv")
    finally:
        con.execute("DROP TABLE IF EXISTS rfm_customers")
    months = settings["clv_months"]
    if fitted is None:
        method = (f"historic = net amount bought so far; predicted (next {months} months) = average order value "
                  f"(net of returns) × purchases per month since the first purchase (at least "
                  f"{MIN_TENURE_MONTHS:g} months counted) × {months}, and 0 for customers whose last purchase is "
                  f"more than {settings['lapse_days']} days before the reference date. A plain rate model (not "
                  "BG/NBD): it assumes an active customer keeps buying at their past rate")
    else:
        method = (f"historic = net amount bought so far; predicted (next {months} months) = the purchases BG/NBD "
                  f"expects in the next {months * DAYS_PER_MONTH:.0f} days (from each customer's repeat orders, "
                  "the day of their last order and their age since the first, in days) × the order value Gamma-Gamma "
                  "expects (each customer's average order value, net of returns, shrunk towards the customers' "
                  f"mean {fitted['order_value_note']}); lapsed = customers whose chance of still being active is "
                  "below one half")
    return {"customers": int(total), "historic": summary["historic"], "predicted": summary["predicted"],
            "lapsed": int(lapsed), "by_segment": by_segment, "top_customers": top,
            "clv_months": months, "lapse_days": settings["lapse_days"], "model": model,
            "model_parameters": None if fitted is None else fitted["parameters"], "method": method}


def _probabilistic_clv(con, months: int) -> dict:
    """Replace rfm_customers' predicted_clv with BG/NBD × Gamma-Gamma, and add p_alive."""
    found = con.execute(
        "SELECT customer, frequency, "
        "date_diff('second', CAST(first_purchase AS TIMESTAMP), CAST(last_purchase AS TIMESTAMP)) / 86400.0 AS t_x, "
        "date_diff('second', CAST(first_purchase AS TIMESTAMP), CAST(reference_day AS TIMESTAMP)) / 86400.0 AS age, "
        "average_order_value FROM rfm_customers").fetchnumpy()
    orders = np.asarray(found["frequency"], dtype=float)
    repeat, t_x, age = orders - 1, np.asarray(found["t_x"], dtype=float), np.asarray(found["age"], dtype=float)
    bgnbd = clv_models.fit_bgnbd(repeat, t_x, age)
    purchases = clv_models.expected_purchases(bgnbd, months * DAYS_PER_MONTH, repeat, t_x, age)
    alive = clv_models.probability_alive(bgnbd, repeat, t_x, age)
    order_value = np.asarray(found["average_order_value"], dtype=float)
    parameters = {"bgnbd": {k: bgnbd[k] for k in ("r", "alpha", "a", "b")}, "gamma_gamma": None}
    try:
        gamma = clv_models.fit_gamma_gamma(orders[repeat > 0], order_value[repeat > 0])
        expected_value = clv_models.expected_order_value(gamma, orders, order_value)
        parameters["gamma_gamma"] = {k: gamma[k] for k in ("p", "q", "v")}
        note = f"of {clv_models.population_order_value(gamma):,.2f}, the less the more orders they have"
    except AnalysisError:
        # Too few repeat customers to learn how order values vary: each keeps their own.
        expected_value, note = order_value, "(not here: too few customers with repeat orders; each keeps their own)"
    frame = pd.DataFrame({"customer": found["customer"], "predicted": purchases * expected_value, "alive": alive})
    con.execute("ALTER TABLE rfm_customers ADD COLUMN p_alive DOUBLE")
    con.register("clv_predictions", frame)
    try:
        con.execute("UPDATE rfm_customers SET predicted_clv = p.predicted, p_alive = p.alive "
                    "FROM clv_predictions AS p WHERE rfm_customers.customer = p.customer")
    finally:
        con.unregister("clv_predictions")
    return {"parameters": parameters, "order_value_note": note}


def _top(con, order_by: str) -> list[dict]:
    # order_by is one of our own column names, never user input.
    rows = con.execute(
        f"SELECT customer, recency, frequency, monetary, r_score, f_score, m_score, segment, historic_clv, "
        f"average_order_value, purchases_per_month, predicted_clv FROM rfm_customers ORDER BY {order_by} DESC NULLS LAST, customer LIMIT ?",
        [TOP_CUSTOMERS]).df()
    return rows.to_dict("records")


def _rows_left_out(con, source_sql: str, columns: dict) -> int:
    conditions = " OR ".join(f"{q(columns[key])} IS NULL" for key in ("customer", "date", "amount"))
    return int(con.execute(f"SELECT count(*) FROM {source_sql} WHERE {conditions}").fetchone()[0])
