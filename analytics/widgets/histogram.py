"""Histogram: a numeric column cut into bins on round numbers, counted in SQL.

Whole numbers with few distinct values (days 1..31, months, ages) get one bar per value:
cutting 31 days into 30 equal bins merges two days into a false spike, and cutting 12
months into 30 bins leaves empty gaps between them. Otherwise the bin width is a "nice"
number (1, 2, 2.5 or 5 × 10^k; whole numbers only for whole-number data, so each bin
holds the same count of possible values), the first edge is a multiple of it below the
minimum and the last bin holds the maximum, so the axis is bounded by the data. A column
with one value only gets a sentence, not a histogram.

The plan (width, first edge, number of bins) is made in SQL from the bounds, so the
whole histogram stays one aggregate query: the bounds come from the file's statistics
when they are known (one scan), or from a first pass over the filtered column.
"""
from __future__ import annotations

import math

from analytics.widgets.base import (
    NUMERIC,
    EditorField,
    Params,
    Schema,
    WidgetType,
    f_description,
    f_filters,
    f_title,
    figure_output,
    filter_sql,
)
from analytics.widgets.formatting import decimals_for_step, format_number, no_separator
from analytics.widgets.theme import base_layout

# The bar count when the person has not set one: whole numbers with at most this many
# possible values get one bar each (days of a month, minutes, weeks of a year); other
# data at most AUTO_BINS bars.
AUTO_WHOLE_BINS = 60
AUTO_BINS = 30

# Nice widths: 1, 2, 2.5, 5 × 10^k. Whole-number data only takes whole widths (25 but
# not 2.5), so every bin spans the same number of possible values.
NICE_STEPS = [m * 10.0 ** k for k in range(-15, 40) for m in (1, 2, 2.5, 5)]
WHOLE_STEPS = [s for s in NICE_STEPS if s >= 1 and float(s).is_integer()]
# Values on an edge belong to the bin that starts there: 0.3 / 0.1 is 2.9999999999999996
# in floating point, so the plan rounds its bounds to EDGE_DECIMALS and each value's
# v / step is nudged up by EDGE_NUDGE before floor() (counts 0.3 in the bin from 0.3).
EDGE_DECIMALS = 9
EDGE_NUDGE = "1e-9"


def _plan_sql(cap: str, whole_cap: str, steps: str, whole_steps: str) -> str:
    """The plan from ``bounds`` (lo, hi, whole): the smallest nice width that needs at
    most ``cap`` bins (``whole_cap`` one-per-value bins for whole numbers), the index of
    the first edge (k0: first edge = k0 × step) and the number of bins."""
    fits_whole = f"floor(hi / s) - floor(lo / s) + 1 <= {cap}"
    fits = f"greatest(ceil(round(hi / s, {EDGE_DECIMALS})) - floor(round(lo / s, {EDGE_DECIMALS})), 1) <= {cap}"
    step = (f"CASE WHEN whole AND hi - lo + 1 <= {whole_cap} THEN 1.0 "
            f"WHEN whole THEN list_min(list_filter({whole_steps}, lambda s: {fits_whole})) "
            f"ELSE list_min(list_filter({steps}, lambda s: {fits})) END")
    k0 = f"floor(round(lo / step, {EDGE_DECIMALS}))"
    nbins = (f"CASE WHEN whole THEN floor(hi / step) - k0 + 1 "
             f"ELSE greatest(ceil(round(hi / step, {EDGE_DECIMALS})) - k0, 1) END")
    return (f"stepped AS (SELECT *, {step} AS step FROM bounds), "
            f"started AS (SELECT *, {k0} AS k0 FROM stepped), "
            f"plan AS MATERIALIZED (SELECT *, {nbins} AS nbins FROM started)")


class Histogram(WidgetType):
    name = "histogram"
    label = "Histogram"
    icon = "bar-chart-steps"
    fields = [
        f_title(), f_description(),
        EditorField("x", "Column", "column", required=True, types=list(NUMERIC)),
        EditorField("bins", "Bars (at most)", "number", default=None, minimum=1, maximum=200,
                    help=f"Empty: one bar per value for whole numbers with up to {AUTO_WHOLE_BINS} values, "
                         f"otherwise at most {AUTO_BINS} bars on round numbers"),
        f_filters(),
    ]

    def query(self, spec, schema, source_sql):
        cols = Schema(schema)
        params = Params()
        x = cols.col(spec["x"])
        where = filter_sql(cols, spec.get("filters"), params)
        chosen = spec.get("bins")
        plan = _plan_sql(params.add(int(chosen or AUTO_BINS)), params.add(int(chosen or AUTO_WHOLE_BINS)),
                         f"CAST({params.add(NICE_STEPS)} AS DOUBLE[])",
                         f"CAST({params.add(WHOLE_STEPS)} AS DOUBLE[])")
        base = (f"base AS NOT MATERIALIZED (SELECT CAST({x} AS DOUBLE) AS v FROM {source_sql} WHERE {where} "
                f"AND {x} IS NOT NULL AND isfinite(CAST({x} AS DOUBLE)))")
        stats_float = False
        if not spec.get("filters") and spec["x"] in cols.ranges:
            # Unfiltered, the bounds are the file's statistics: one pass. Whole numbers are
            # known from the type; a float column of whole values is found in the same
            # pass (all_whole) and its bins merged in render.
            low, high = cols.ranges[spec["x"]]
            stats_float = cols.types[spec["x"]] != "integer"
            bounds = (f"bounds AS (SELECT CAST({params.add(low)} AS DOUBLE) AS lo, CAST({params.add(high)} AS DOUBLE) "
                      f"AS hi, {'TRUE' if cols.types[spec['x']] == 'integer' else 'FALSE'} AS whole)")
        else:
            # NOT MATERIALIZED: scanning the column twice is cheaper than keeping every value.
            whole = "TRUE" if cols.types[spec["x"]] == "integer" else "coalesce(bool_and(v = floor(v)), TRUE)"
            bounds = f"bounds AS (SELECT min(v) AS lo, max(v) AS hi, {whole} AS whole FROM base)"
        # The maximum on the last edge gets bin nbins of its own here: render closes the
        # last bin over it, or places it in its own whole-number bin (see _to_whole).
        # + EDGE_NUDGE rather than round(): the same edge rule per row at a third of the cost.
        bin_expr = f"CAST(least(greatest(floor(v / step + {EDGE_NUDGE}) - k0, 0), nbins) AS BIGINT)"
        # Per row only the bin and the count (and, for a float column whose bounds came from
        # the statistics, whether its values are whole); the plan joins the few bins after.
        check_whole = "bool_and(v = floor(v))" if stats_float else "FALSE"
        sql = (f"WITH {base}, {bounds}, {plan}, "
               f"binned AS (SELECT {bin_expr} AS bin, count(*) AS n, {check_whole} AS all_whole "
               "FROM base CROSS JOIN plan WHERE step IS NOT NULL GROUP BY bin) "
               "SELECT binned.bin, binned.n, plan.lo, plan.hi, plan.step, plan.k0, plan.nbins, plan.whole, "
               "binned.all_whole FROM binned CROSS JOIN plan ORDER BY binned.bin")
        return sql, params.values

    def render(self, result, spec):
        column = spec["x"]
        rows = [dict(zip(result["columns"], r)) for r in result["rows"]]
        date_part = no_separator(column, (result.get("roles") or {}).get(column),
                                 [r["lo"] for r in rows[:1]] + [r["hi"] for r in rows[:1]], True)
        layout = base_layout(spec, xaxis={"title": {"text": column}})
        if not rows:
            return {**figure_output([], layout), "note": "No values to count"}
        lo, hi, total = float(rows[0]["lo"]), float(rows[0]["hi"]), sum(int(r["n"]) for r in rows)
        if lo == hi:
            # One value only: a single bar would look like data; a sentence says what it is.
            value = format_number(int(lo) if lo.is_integer() else lo, "d" if date_part else None)
            note = f"One value only: {value} ({total:,} rows)"
            layout["annotations"] = [{"text": note, "showarrow": False, "xref": "paper", "yref": "paper",
                                      "x": 0.5, "y": 0.5, "font": {"size": 14, "color": "#6c757d"}}]
            layout["xaxis"]["visible"] = False
            layout["yaxis"] = {"visible": False}
            return {**figure_output([], layout), "note": note}
        step, k0, nbins = float(rows[0]["step"]), int(rows[0]["k0"]), int(rows[0]["nbins"])
        whole = bool(rows[0]["whole"])
        counts = {int(r["bin"]): int(r["n"]) for r in rows}
        if not whole and all(r["all_whole"] for r in rows):
            # Whole values in a float column (known only after the pass): regroup the cells
            # into whole-number bins so each holds the same number of possible values.
            whole, (step, k0, nbins, counts) = True, _to_whole(step, k0, counts, lo, hi, spec.get("bins"))
        elif nbins in counts:  # the last bin is closed: the maximum on its upper edge belongs in it
            counts[nbins - 1] = counts.get(nbins - 1, 0) + counts.pop(nbins)
        trace = _trace(column, step, k0, nbins, counts, whole, date_part)
        if whole and step == 1 and nbins <= 12:  # a few values: each one labelled (months 1..12)
            layout["xaxis"].update(tickmode="linear", tick0=k0, dtick=1)
        if date_part:
            layout["xaxis"]["tickformat"] = "d"
        layout["yaxis"] = {**layout.get("yaxis", {}), "title": {"text": "Rows"}}
        return figure_output([trace], layout)

    def click_filter(self, spec, point):
        data = point.get("customdata") if isinstance(point, dict) else None
        if not isinstance(data, list) or len(data) != 2:
            return None
        return {"column": spec["x"], "op": "between", "value": [data[0], data[1]]}


def _edge(k: float, step: float) -> float:
    """k × step without binary noise (0.30000000000000004 → 0.3)."""
    value = round(k * step, 10)
    return int(value) if value.is_integer() else value


def _trace(column: str, step: float, k0: int, nbins: int, counts: dict, whole: bool, date_part: bool) -> dict:
    """One bar per bin. customdata holds each bin's true bounds: [first, last] whole value
    it holds for whole numbers, [lower edge, upper edge) otherwise (the last bin closed)."""
    bounds, centers = [], []
    for i in range(nbins):
        low, high = _edge(k0 + i, step), _edge(k0 + i + 1, step) - (1 if whole else 0)
        bounds.append([low, high])
        centers.append((low + high) / 2)
    one_per_value = whole and step == 1
    fmt = ("d" if date_part else ",d") if whole else f",.{decimals_for_step(step)}f"
    if one_per_value:
        hover = f"%{{customdata[0]:{fmt}}}: %{{y:,}} rows<extra></extra>"
    elif whole:
        hover = f"%{{customdata[0]:{fmt}}} to %{{customdata[1]:{fmt}}}: %{{y:,}} rows<extra></extra>"
    else:
        hover = f"%{{customdata[0]:{fmt}}} to under %{{customdata[1]:{fmt}}}: %{{y:,}} rows<extra></extra>"
    return {"type": "bar", "x": centers, "y": [counts.get(i, 0) for i in range(nbins)],
            # Separate bars for separate values; touching bars for ranges.
            "width": [step * 0.9 if one_per_value else step] * nbins, "name": column,
            "customdata": bounds, "hovertemplate": hover,
            "meta": {"bins": "whole" if whole else "range"}}


def _to_whole(step: float, k0: int, counts: dict, lo: float, hi: float, chosen: int | None):
    """Cells of a plan made for continuous values, regrouped for whole values: the smallest
    whole nice width that is a multiple of the cell width (so every cell falls in exactly
    one new bin) and keeps within the bar count, the rule the SQL plan applies to whole
    numbers. (step, k0, nbins, counts) of the new bins."""
    one_each = (hi - lo + 1) <= (chosen or AUTO_WHOLE_BINS)
    cap = chosen or (AUTO_WHOLE_BINS if one_each else AUTO_BINS)
    nested = [s for s in WHOLE_STEPS if s >= step and abs(s / step - round(s / step)) < 1e-9]
    fitting = [s for s in nested if math.floor(hi / s) - math.floor(lo / s) + 1 <= cap]
    new_step = (fitting or nested)[0]
    new_k0 = math.floor(lo / new_step)
    merged: dict = {}
    for cell, n in counts.items():
        start = round((k0 + cell) * step, 10)
        b = math.floor(round(start / new_step, 9)) - new_k0
        merged[b] = merged.get(b, 0) + n
    return new_step, new_k0, math.floor(hi / new_step) - new_k0 + 1, merged


WIDGET = Histogram()
