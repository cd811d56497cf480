"""The query most chart types share: one value per category (x, optionally by a time
grain), optionally split by a second column (group), top N categories."""
from __future__ import annotations

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
    if not group:
        if latest:
            sql = (f"SELECT x, y FROM (SELECT {xdim} AS x, {agg} AS y FROM {source_sql} WHERE {where} GROUP BY 1 "
                   f"ORDER BY x DESC NULLS LAST LIMIT {limit}) AS latest ORDER BY x NULLS LAST")
        else:
            sql = (f"SELECT {xdim} AS x, {agg} AS y FROM {source_sql} WHERE {where} GROUP BY 1 "
                   f"ORDER BY {key} {direction} NULLS LAST, x NULLS LAST LIMIT {limit}")
        return sql, params.values
    glimit = params.add(max_groups)
    # Categories are ranked by their total over all groups; groups by their total too.
    pick = "x DESC NULLS LAST" if latest else f"{'sum(y)' if key == 'y' else 'x'} {direction} NULLS LAST, x NULLS LAST"
    sql = (
        f"WITH t AS (SELECT {xdim} AS x, {gdim} AS g, {agg} AS y FROM {source_sql} WHERE {where} GROUP BY 1, 2), "
        f"top_x AS (SELECT x, row_number() OVER (ORDER BY {pick}) AS rk "
        f"FROM t GROUP BY x ORDER BY rk LIMIT {limit}), "
        f"top_g AS (SELECT g, row_number() OVER (ORDER BY sum(y) DESC NULLS LAST, g NULLS LAST) AS gk "
        f"FROM t GROUP BY g ORDER BY gk LIMIT {glimit}) "
        "SELECT t.x, t.g, t.y FROM t JOIN top_x ON t.x IS NOT DISTINCT FROM top_x.x "
        "JOIN top_g ON t.g IS NOT DISTINCT FROM top_g.g "
        f"ORDER BY {'top_x.x NULLS LAST' if latest else 'top_x.rk'}, top_g.gk"
    )
    return sql, params.values


def series(result: dict, spec: dict, group_key: str = "group"):
    """The result as [(group label, group raw, [x raw], [x label], [y])], x in result order."""
    rows = result["rows"]
    grain = spec.get("time_grain")
    time_axis = grain in GRAINS
    if not spec.get(group_key):
        xs = [plain(r[0]) for r in rows]
        labels = xs if time_axis else [grain_label(r[0], grain) for r in rows]
        return [(None, None, xs, labels, [plain(r[1]) for r in rows])]
    order, groups = [], {}
    for x, g, y in rows:
        key = plain(x)
        if key not in order:
            order.append(key)
        groups.setdefault(plain(g), {})[key] = plain(y)
    raw_by_key = {plain(r[0]): r[0] for r in rows}
    labels = order if time_axis else [grain_label(raw_by_key[k], grain) for k in order]
    out = []
    for g, values in groups.items():
        out.append((grain_label(g, spec.get("group_grain")), g, order, labels, [values.get(k) for k in order]))
    return out


def category_click(spec: dict, point: dict, column_key: str = "x", grain_key: str = "time_grain"):
    value, ok = click_value(point)
    if not ok or not spec.get(column_key):
        return None
    return equals_filter(spec[column_key], value, spec.get(grain_key))
