"""The query most chart types share: one value per category (x, optionally by a time
grain), optionally split by a second column (group), top N categories."""
from __future__ import annotations

import datetime as dt

from analytics.widgets.base import (
    GRAINS,
    ROW_CAP,
    TEMPORAL,
    Params,
    Schema,
    by_day_first,
    click_value,
    dimension_sql,
    equals_filter,
    filter_sql,
    grain_label,
    grouped_source,
    plain,
)

MAX_GROUPS = 12


def x_is_time(spec: dict, schema: Schema) -> bool:
    """True when x is a date axis (a date column or a truncating grain), not a category."""
    if spec.get("x") is None:
        return False
    if spec.get("time_grain") in GRAINS:
        return True
    return not spec.get("time_grain") and schema.type_of(spec["x"]) in TEMPORAL


def default_sort(spec: dict, schema: Schema) -> str:
    """Time and cyclic parts read in order; categories biggest first."""
    return "x" if (x_is_time(spec, schema) or spec.get("time_grain")) else "-y"


def category_query(spec: dict, schema_list: list[dict], source_sql: str, group_key: str = "group",
                   max_groups: int = MAX_GROUPS) -> tuple[str, list]:
    """SELECT x[, g], y: x top ``limit`` by the sort, g top ``max_groups`` by total."""
    schema = Schema(schema_list)
    params = Params()
    where = filter_sql(schema, spec.get("filters"), params)
    group = spec.get(group_key)
    gdim = dimension_sql(schema, group, spec.get("group_grain")) if group else None
    # A monthly chart groups by day first (cheaper); not when the group has a grain of its
    # own, which may be finer than a day (hour of day).
    pre = not (group and spec.get("group_grain"))
    xdim, source_sql, where, agg = grouped_source(spec, schema, params, source_sql, where,
                                                  {"grp": gdim} if group else None, allow=pre)
    if group and by_day_first(spec, spec.get("time_grain")) and pre:
        gdim = "grp"
    sort = spec.get("sort") or default_sort(spec, schema)
    direction = "DESC" if sort.startswith("-") else "ASC"
    key = "y" if sort.lstrip("-") == "y" else "x"
    # A time axis read left to right keeps its latest periods when there are too many.
    latest = key == "x" and direction == "ASC" and x_is_time(spec, schema)
    wanted = int(spec.get("limit") or 20)
    if group:  # every category brings up to max_groups rows: stay under the row cap
        wanted = min(wanted, max(1, ROW_CAP // max_groups))
    limit = params.add(wanted)
    # How many categories there are rides along as a window count over the grouped rows (no
    # second scan), so the chart can say "top 15 of 16"; the "Other" value of an additive
    # aggregation is the window total less the categories shown.
    other = wants_other(spec, schema)
    if not group:
        total = ", sum(y) OVER () AS __y_all" if other else ""
        grouped = f"SELECT {xdim} AS x, {agg} AS y FROM {source_sql} WHERE {where} GROUP BY 1"
        if latest:
            sql = (f"SELECT x, y, __n_all FROM (SELECT x, y, count(*) OVER () AS __n_all FROM ({grouped}) AS g "
                   f"ORDER BY x DESC NULLS LAST LIMIT {limit}) AS latest ORDER BY x NULLS LAST")
        else:
            sql = (f"SELECT x, y, count(*) OVER () AS __n_all{total} FROM ({grouped}) AS g "
                   f"ORDER BY {key} {direction} NULLS LAST, x NULLS LAST LIMIT {limit}")
        return sql, params.values
    glimit = params.add(max_groups)
    # Categories are ranked by their total over all groups; groups by their total too.
    pick = "x DESC NULLS LAST" if latest else f"{'sum(y)' if key == 'y' else 'x'} {direction} NULLS LAST, x NULLS LAST"
    shown = (f"SELECT t.x, t.g, t.y, top_x.__n_all, top_g.__n_groups, FALSE AS __other, top_x.rk, top_g.gk FROM t "
             "JOIN top_x ON t.x IS NOT DISTINCT FROM top_x.x JOIN top_g ON t.g IS NOT DISTINCT FROM top_g.g")
    rest = ""
    if other:  # the categories left out, one "Other" per group (an anti-join: no second scan)
        rest = (" UNION ALL SELECT NULL, t.g, sum(t.y), (SELECT max(__n_all) FROM top_x), top_g.__n_groups, TRUE, "
                f"{limit} + 1, top_g.gk FROM t JOIN top_g ON t.g IS NOT DISTINCT FROM top_g.g "
                "WHERE NOT EXISTS (SELECT 1 FROM top_x WHERE t.x IS NOT DISTINCT FROM top_x.x) "
                "GROUP BY t.g, top_g.__n_groups, top_g.gk")
    sql = (
        f"WITH t AS (SELECT {xdim} AS x, {gdim} AS g, {agg} AS y FROM {source_sql} WHERE {where} GROUP BY 1, 2), "
        f"top_x AS (SELECT x, row_number() OVER (ORDER BY {pick}) AS rk, count(*) OVER () AS __n_all "
        f"FROM t GROUP BY x ORDER BY rk LIMIT {limit}), "
        f"top_g AS (SELECT g, row_number() OVER (ORDER BY sum(y) DESC NULLS LAST, g NULLS LAST) AS gk, "
        f"count(*) OVER () AS __n_groups FROM t GROUP BY g ORDER BY gk LIMIT {glimit}) "
        f"SELECT x, g, y, __n_all, __n_groups, __other FROM ({shown}{rest}) AS picked "
        f"ORDER BY {'__other, x NULLS LAST' if latest else 'rk'}, gk"
    )
    return sql, params.values


OTHER_AGGS = ("sum", "count")  # aggregations whose left-out categories add up to one "Other"


def wants_other(spec: dict, schema: Schema) -> bool:
    """An "Other" bar or slice: asked for, over categories (not a time axis), and for an
    aggregation whose parts add up (an average of the rest is not the rest of the average)."""
    return bool(spec.get("other")) and (spec.get("agg") or "count") in OTHER_AGGS and not spec.get("per") \
        and not x_is_time(spec, schema) and spec.get("time_grain") not in GRAINS


def _column(result: dict, name: str):
    columns = result.get("columns") or []
    return columns.index(name) if name in columns else None


def category_count(result: dict) -> int | None:
    """How many categories the query found before its top N (None for an older result)."""
    i = _column(result, "__n_all")
    rows = result.get("rows") or []
    return int(rows[0][i]) if i is not None and rows and rows[0][i] is not None else None


def other_value(result: dict):
    """The left-out categories' total (no group), or None when there are none."""
    i, shown = _column(result, "__y_all"), [r for r in result.get("rows") or []]
    if i is None or not shown or (category_count(result) or 0) <= len(shown):
        return None
    total = plain(shown[0][i])
    return None if total is None else total - sum(plain(r[1]) or 0 for r in shown)


OTHER_LABEL = "Other"


def top_note(result: dict, spec: dict, schema_words: str = "categories", offers_other: bool = True) -> str | None:
    """What a chart leaves out, in words: "Top 15 of 16 categories; ..." (None when nothing)."""
    rows = result.get("rows") or []
    n_all = category_count(result)
    i_other = _column(result, "__other")
    shown = len({plain(r[0]) for r in rows if i_other is None or not r[i_other]})
    parts = []
    if n_all is not None and n_all > shown:
        if spec.get("sort") == "x" and (spec.get("time_grain") in GRAINS or
                                        isinstance(rows[0][0], (dt.date, dt.datetime))):
            parts.append(f"The latest {shown:,} of {n_all:,} periods")
        else:
            text = f"Top {shown:,} of {n_all:,} {schema_words}"
            if wants_other_shown(result):
                text += f"; the other {n_all - shown:,} as \u201c{OTHER_LABEL}\u201d"
            elif offers_other and spec.get("other") and (spec.get("agg") or "count") not in OTHER_AGGS:
                text += f"; the other {n_all - shown:,} left out (an \u201c{OTHER_LABEL}\u201d total needs a sum or a count)"
            elif offers_other:
                text += f"; the other {n_all - shown:,} left out (turn on \u201c{OTHER_LABEL}\u201d to show them)"
            else:
                text += f"; the other {n_all - shown:,} left out"
            parts.append(text)
    i_groups = _column(result, "__n_groups")
    if i_groups is not None and rows and rows[0][i_groups] is not None:
        groups_shown = len({plain(r[1]) for r in rows})
        if int(rows[0][i_groups]) > groups_shown:
            parts.append(f"the top {groups_shown:,} of {int(rows[0][i_groups]):,} values of {spec.get('group')}")
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] if text else None


def wants_other_shown(result: dict) -> bool:
    """Whether the result carries an "Other" (a total column or Other rows)."""
    i = _column(result, "__other")
    if i is not None:
        return any(r[i] for r in result.get("rows") or [])
    return other_value(result) is not None


OTHER_KEY = "\u0000other"  # the raw x of the "Other" bar: no real value, so a click on it filters nothing


def series(result: dict, spec: dict, group_key: str = "group"):
    """The result as [(group label, group raw, [x raw], [x label], [y])], x in result order,
    with the "Other" point last (raw x OTHER_KEY) when the result carries one."""
    rows = result["rows"]
    grain = spec.get("time_grain")
    time_axis = grain in GRAINS
    if not spec.get(group_key):
        xs = [plain(r[0]) for r in rows]
        labels = xs if time_axis else [grain_label(r[0], grain) for r in rows]
        ys = [plain(r[1]) for r in rows]
        rest = other_value(result)
        if rest is not None:
            xs, labels, ys = xs + [OTHER_KEY], labels + [OTHER_LABEL], ys + [rest]
        return [(None, None, xs, labels, ys)]
    i_other = _column(result, "__other")
    order, groups, raw_by_key = [], {}, {}
    for r in rows:
        key = OTHER_KEY if i_other is not None and r[i_other] else plain(r[0])
        raw_by_key.setdefault(key, r[0])
        if key not in order:
            order.append(key)
        groups.setdefault(plain(r[1]), {})[key] = plain(r[2])
    labels = [OTHER_LABEL if k == OTHER_KEY else k if time_axis else grain_label(raw_by_key[k], grain) for k in order]
    out = []
    for g, values in groups.items():
        out.append((grain_label(g, spec.get("group_grain")), g, order, labels, [values.get(k) for k in order]))
    return out


def customdata(xs: list) -> list:
    """Each point's raw x for a click; the "Other" point gets none (a click on it means nothing)."""
    return [[] if x == OTHER_KEY else [x] for x in xs]


def category_click(spec: dict, point: dict, column_key: str = "x", grain_key: str = "time_grain"):
    value, ok = click_value(point)
    if not ok or not spec.get(column_key):
        return None
    return equals_filter(spec[column_key], value, spec.get(grain_key))
