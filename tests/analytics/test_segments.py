"""RFM scores, segments and CLV against a pandas computation of the same definitions, on
generated transactions with ties and returns; the segment rule table covers every score
pair once; bad input gets its message."""
from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pytest

from analytics import segments
from errors import AnalysisError, InvalidSpec

SCHEMA = [{"name": "customer", "type": "text"}, {"name": "sold_at", "type": "timestamp"},
          {"name": "price", "type": "float"}, {"name": "qty", "type": "integer"},
          {"name": "invoice", "type": "text"}, {"name": "note", "type": "text"}]
BASE = {"customer": "customer", "date": "sold_at", "amount": "price", "quantity": "qty"}


def quiet(_fraction, _message=None):
    return None


def transactions(customers=250, seed=3) -> pd.DataFrame:
    """Invoices of varied customers over a year: some buy once, some weekly; whole-day
    timestamps make ties in recency and frequency common; some lines are returns."""
    rng = np.random.default_rng(seed)
    rows, invoice = [], 1000
    start = dt.datetime(2022, 1, 3)
    for c in range(customers):
        purchases = int(rng.choice([1, 1, 1, 2, 2, 3, 5, 8, 13, 20]))
        days = sorted(rng.integers(0, 360, purchases))
        for day in days:
            invoice += 1
            for _line in range(int(rng.integers(1, 4))):
                rows.append({"customer": f"C{c:03d}", "sold_at": start + dt.timedelta(days=int(day), hours=10),
                             "price": float(rng.choice([1.25, 2.5, 4.95, 9.99])), "qty": int(rng.integers(1, 12)),
                             "invoice": f"I{invoice}", "note": "x"})
            if rng.random() < 0.1:  # a return on the same invoice day
                rows.append({"customer": f"C{c:03d}", "sold_at": start + dt.timedelta(days=int(day), hours=15),
                             "price": 2.5, "qty": -2, "invoice": f"R{invoice}", "note": "x"})
    rows.append({"customer": None, "sold_at": start, "price": 5.0, "qty": 1, "invoice": "I0", "note": "x"})
    return pd.DataFrame(rows)


def pandas_rfm(frame: pd.DataFrame, order: str | None = None) -> pd.DataFrame:
    """The documented definitions, in pandas."""
    frame = frame.dropna(subset=["customer", "sold_at", "price", "qty"]).copy()
    frame["amount"] = frame["price"] * frame["qty"]
    purchases = frame[frame["amount"] > 0]
    reference = purchases["sold_at"].max().normalize() + pd.Timedelta(days=1)
    key = order or "sold_at"
    per = purchases.groupby("customer").agg(last=("sold_at", "max"), first=("sold_at", "min"),
                                            frequency=(key, "nunique"))
    per["recency"] = (reference - per["last"].dt.normalize()).dt.days
    per["monetary"] = frame.groupby("customer")["amount"].sum()
    n = len(per)

    def score(values, ascending=True):
        # Quintile of rank, ties sharing the lowest rank ("min").
        return (1 + np.floor(5 * (values.rank(method="min", ascending=ascending) - 1) / n)).astype(int)

    per["r_score"] = score(per["recency"], ascending=False)
    per["f_score"] = score(per["frequency"])
    per["m_score"] = score(per["monetary"])
    per["segment"] = [segments.segment_of(r, f) for r, f in zip(per["r_score"], per["f_score"])]
    tenure = np.maximum(segments.MIN_TENURE_MONTHS,
                        (reference - per["first"].dt.normalize()).dt.days / segments.DAYS_PER_MONTH)
    per["predicted_clv"] = np.where(per["recency"] > 180, 0.0,
                                    per["monetary"].clip(lower=0) / per["frequency"] * per["frequency"] / tenure * 12)
    return per


@pytest.fixture(scope="module")
def frame():
    return transactions()


@pytest.fixture(scope="module")
def con(frame):
    connection = duckdb.connect()
    connection.register("sales", frame)
    return connection


def scored_table(con, params):
    sql, bind, _settings = segments._customers_sql(con, "sales", SCHEMA, params)
    return con.execute(sql, bind).df().set_index("customer").sort_index()


@pytest.mark.parametrize("order", [None, "invoice"])
def test_rfm_scores_match_pandas(con, frame, order):
    params = dict(BASE, order=order) if order else BASE
    ours = scored_table(con, params)
    expected = pandas_rfm(frame, order).sort_index()
    assert list(ours.index) == list(expected.index)
    for column in ("recency", "frequency", "r_score", "f_score", "m_score"):
        assert ours[column].astype(int).tolist() == expected[column].astype(int).tolist(), column
    np.testing.assert_allclose(ours["monetary"], expected["monetary"])
    assert ours["segment"].tolist() == expected["segment"].tolist()
    np.testing.assert_allclose(ours["predicted_clv"], expected["predicted_clv"])
    # The data has ties: the rule gives equal values equal scores.
    assert expected["frequency"].duplicated().any()
    for _value, group in ours.groupby("frequency"):
        assert group["f_score"].nunique() == 1


def test_rfm_segments_add_up_and_match_pandas(con, frame):
    result = segments.rfm(con, "sales", SCHEMA, BASE, quiet)
    expected = pandas_rfm(frame)
    assert result["customers"] == len(expected)
    counts = expected["segment"].value_counts()
    assert [s["name"] for s in result["segments"]] == [rule[0] for rule in segments.SEGMENT_RULES]
    for row in result["segments"]:
        assert row["customers"] == counts.get(row["name"], 0)
        assert row["share"] == pytest.approx(counts.get(row["name"], 0) / len(expected))
    assert sum(s["customers"] for s in result["segments"]) == len(expected)
    assert sum(g["customers"] for g in result["grid"]) == len(expected)
    top = result["top_customers"]
    assert top[0]["customer"] == expected["monetary"].idxmax()
    assert [t["monetary"] for t in top] == sorted((t["monetary"] for t in top), reverse=True)
    assert result["rows_left_out"] == 1  # the row without a customer
    assert result["reference_day"] == (frame["sold_at"].max().normalize() + pd.Timedelta(days=1)).date()


def test_as_of_a_day_leaves_out_what_came_after(con, frame):
    cut = dt.date(2022, 7, 1)
    ours = scored_table(con, dict(BASE, as_of=cut.isoformat()))
    expected = pandas_rfm(frame[frame["sold_at"] < pd.Timestamp(cut)]).sort_index()
    assert list(ours.index) == list(expected.index)  # the reference day is the cut: last purchase 30 June
    assert ours["recency"].tolist() == expected["recency"].tolist()
    assert ours["f_score"].tolist() == expected["f_score"].tolist()
    default = scored_table(con, BASE)
    day_after = (frame["sold_at"].max().normalize() + pd.Timedelta(days=1)).date().isoformat()
    assert scored_table(con, dict(BASE, as_of=day_after)).equals(default)


def test_float_customer_ids_are_shown_whole():
    con = duckdb.connect()
    con.register("sales", pd.DataFrame({"customer": [17850.0, 17850.0, 12.5, None], "sold_at": pd.to_datetime(
        ["2011-01-01", "2011-02-01", "2011-02-02", "2011-02-03"]), "price": [2.0, 3.0, 4.0, 5.0], "qty": [1, 1, 1, 1]}))
    schema = [{"name": "customer", "type": "float"}, {"name": "sold_at", "type": "timestamp"},
              {"name": "price", "type": "float"}, {"name": "qty", "type": "integer"}]
    sql, bind, _ = segments._customers_sql(con, "sales", schema, BASE)
    assert sorted(con.execute(f"SELECT customer FROM ({sql})", bind).fetchall()) == [("12.5",), ("17850",)]


def test_segment_rules_cover_every_score_pair_once():
    for r in range(1, 6):
        for f in range(1, 6):
            matches = [name for name, rs, fs in segments.SEGMENT_RULES if r in rs and f in fs]
            assert len(matches) == 1, (r, f, matches)
    assert segments.segment_of(5, 5) == "Champions"
    assert segments.segment_of(1, 1) == "Hibernating"
    assert segments.segment_of(1, 5) == "Can't lose them"


def test_hand_made_customers():
    """Five customers, one per quintile of every measure: the scores are 1..5 by hand."""
    rows = []
    for i in range(5):  # customer K{i}: last bought 10*(5-i) days before the end, i+1 times, spends more
        for j in range(i + 1):
            rows.append({"customer": f"K{i}", "sold_at": dt.datetime(2023, 6, 30) - dt.timedelta(days=10 * (5 - i) + j),
                         "price": 10.0 * (i + 1), "qty": 1, "invoice": f"K{i}-{j}", "note": "x"})
    rows.append({"customer": "K4", "sold_at": dt.datetime(2023, 7, 1), "price": 1.0, "qty": 1,
                 "invoice": "K4-last", "note": "x"})
    con = duckdb.connect()
    con.register("sales", pd.DataFrame(rows))
    ours = scored_table(con, BASE)
    assert ours["r_score"].tolist() == [1, 2, 3, 4, 5]
    assert ours["f_score"].tolist() == [1, 2, 3, 4, 5]
    # Reference day: 2 July, the day after the last purchase; K0 last bought 50 days before 30 June.
    assert ours["recency"].tolist() == [52, 42, 32, 22, 1]
    assert ours["segment"].tolist() == ["Hibernating", "Hibernating", "Need attention", "Loyal", "Champions"]


def test_clv_historic_and_predicted(con, frame):
    result = segments.clv(con, "sales", SCHEMA, BASE, quiet)
    expected = pandas_rfm(frame)
    assert result["historic"]["total"] == pytest.approx(expected["monetary"].sum())
    assert result["predicted"]["total"] == pytest.approx(expected["predicted_clv"].sum())
    assert result["lapsed"] == int((expected["recency"] > 180).sum())
    assert "average order value" in result["method"]
    assert result["top_customers"][0]["customer"] == expected["predicted_clv"].idxmax()


@pytest.mark.parametrize("params, message", [
    ({"date": "sold_at", "amount": "price"}, "Choose the customer column"),
    (dict(BASE, amount="note"), "The amount column 'note' is text; it must be integer or float or decimal"),
    (dict(BASE, amount="nope"), "There is no column 'nope'"),
    (dict(BASE, customer="sold_at"), "three different columns"),
    (dict(BASE, as_of="yesterday"), "'as_of' must be a date like 2011-12-10"),
    (dict(BASE, clv_months=0), "'clv_months' must be between 1 and 120"),
])
def test_bad_requests(con, params, message):
    with pytest.raises(InvalidSpec, match=message):
        segments.rfm(con, "sales", SCHEMA, params, quiet)


def test_no_purchases_is_an_analysis_error():
    con = duckdb.connect()
    con.register("sales", pd.DataFrame({"customer": ["A"], "sold_at": [dt.datetime(2023, 1, 1)], "price": [-5.0],
                                        "qty": [1], "invoice": ["I"], "note": ["x"]}))
    with pytest.raises(AnalysisError, match="No customer has a purchase"):
        segments.rfm(con, "sales", SCHEMA, BASE, quiet)


def test_unparseable_dates(con):
    schema = [dict(c, type="text") if c["name"] == "note" else c for c in SCHEMA]
    with pytest.raises(AnalysisError, match="'note' has .* values that are not dates"):
        segments.rfm(con, "sales", schema, dict(BASE, date="note"), quiet)
