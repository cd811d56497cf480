"""Funnels, journeys and retention of event data (an entity id, an event name, a time),
all computed in DuckDB: only the answer (a few dozen rows) comes back.

* ``funnel``: an ordered funnel. An entity enters at its first event of step 1; it
  reaches step k at its first step-k event at or after the time it reached step k-1 (and,
  with ``window_days``, no later than that many days after entering). Per step: entities,
  conversion (share of the entrants), drop-off (share of those at the previous step who
  did not go on), median time from the previous step and from entering.
* ``journeys``: paths through events (or through lifecycle states, when the event column
  is a state column): each entity's events in time order, repeats in a row collapsed,
  the first ``depth`` kept, events outside the chosen ones (default: the most common)
  shown as "Other". Gives Sankey links between positions and the top whole paths.
* ``retention``: cohorts by the period (week or month) of each entity's first event (or
  first ``start_event``), and the share of each cohort active (any event, or
  ``return_event``) k periods later; plus lifecycle counts per period: new, retained
  (active the period before too), resurrected (active before, not the period before),
  churned (active the period before, not this one).

Events at the same time are ordered by event name, so every answer is reproducible.
"""
from __future__ import annotations

from analytics import timeseries
from analytics._fields import check_column, choice, integer, q, types_of
from errors import AnalysisError, InvalidSpec

MAX_STEPS = 12
MAX_JOURNEY_EVENTS = 15
MAX_TOP_PATHS = 20
MAX_COHORTS = 52
MAX_EVENT_NAMES = 200
MAX_OFFSETS = 52
OTHER = "Other"
END = "(end)"


def _columns(con, source_sql: str, schema: list[dict], params: dict) -> tuple[str, str, str]:
    """(entity SQL, event SQL, time SQL) for the request's three columns, checked."""
    types = types_of(schema)
    picked = []
    for key, what in (("entity", "entity id column"), ("event", "event column"), ("time", "time column")):
        name = params.get(key)
        if name in (None, ""):
            raise InvalidSpec(f"Choose the {what}: the field {key!r} is required")
        check_column(name, schema, what=what)
        picked.append(name)
    if len(set(picked)) < 3:
        raise InvalidSpec("The entity, event and time columns must be three different columns")
    time_sql = timeseries.date_expression(con, source_sql, picked[2], types[picked[2]])
    return q(picked[0]), f"CAST({q(picked[1])} AS VARCHAR)", time_sql


def _events_sql(entity: str, event: str, time: str, source_sql: str) -> str:
    """Every usable event: rows with an entity, an event name and a time."""
    return (f"SELECT CAST({entity} AS VARCHAR) AS entity, {event} AS event, {time} AS t FROM {source_sql} "
            f"WHERE {entity} IS NOT NULL AND {event} IS NOT NULL AND {time} IS NOT NULL")


def _names(params: dict, key: str, *, minimum: int, maximum: int, required: bool = True) -> list[str]:
    values = params.get(key)
    if values in (None, "", []):
        if required:
            raise InvalidSpec(f"Choose the {key}: at least {minimum}")
        return []
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise InvalidSpec(f"The field {key!r} must be a list of event names")
    if len(set(values)) != len(values):
        repeated = next(v for v in values if values.count(v) > 1)
        raise InvalidSpec(f"The event {repeated!r} appears twice in {key!r}; each may appear once")
    if not minimum <= len(values) <= maximum:
        raise InvalidSpec(f"The field {key!r} needs {minimum} to {maximum} events, not {len(values)}")
    return values


def _check_events_exist(con, events_sql: str, names: list[str], column: str) -> None:
    found = {row[0] for row in con.execute(
        f"SELECT DISTINCT event FROM ({events_sql}) WHERE list_contains(?, event)", [names]).fetchall()}
    missing = [n for n in names if n not in found]
    if missing:
        raise InvalidSpec(f"There is no event {missing[0]!r} in column {column!r}"
                          + (f" (nor {', '.join(map(repr, missing[1:]))})" if len(missing) > 1 else ""))


def _optional_event(con, events_sql, params, key, column) -> str | None:
    name = params.get(key)
    if name in (None, ""):
        return None
    if not isinstance(name, str):
        raise InvalidSpec(f"The field {key!r} must be an event name")
    _check_events_exist(con, events_sql, [name], column)
    return name


# --- the event names to pick steps from ---------------------------------------------------------

def event_names(con, source_sql: str, schema: list[dict], params: dict, progress) -> dict:
    """The ``event_names`` analysis: the most frequent values of the event column (for the
    step pickers), with their event counts."""
    name = params.get("event")
    if name in (None, ""):
        raise InvalidSpec("Choose the event column: the field 'event' is required")
    check_column(name, schema, what="event column")
    col = q(name)
    rows = con.execute(f"SELECT CAST({col} AS VARCHAR) AS event, count(*) AS n FROM {source_sql} "
                       f"WHERE {col} IS NOT NULL GROUP BY 1 ORDER BY n DESC, event LIMIT ?",
                       [MAX_EVENT_NAMES + 1]).fetchall()
    return {"events": [{"name": e, "events": int(n)} for e, n in rows[:MAX_EVENT_NAMES]],
            "truncated": len(rows) > MAX_EVENT_NAMES}


# --- funnel ------------------------------------------------------------------------------------

def funnel(con, source_sql: str, schema: list[dict], params: dict, progress) -> dict:
    entity, event, time = _columns(con, source_sql, schema, params)
    steps = _names(params, "steps", minimum=2, maximum=MAX_STEPS)
    window = params.get("window_days")
    if window is not None:
        window = integer(params, "window_days", 0, 1, 3650)
    events_sql = _events_sql(entity, event, time, source_sql)
    _check_events_exist(con, events_sql, steps, params["event"])
    progress(0.2, "Following the entities through the steps")
    # One CTE per step: the first time each entity reached it (in order). Step names are
    # bound values; the window is a checked integer.
    ctes = [f"ev AS ({events_sql})",
            "s1 AS (SELECT entity, min(t) AS t, min(t) AS t0 FROM ev WHERE event = ? GROUP BY entity)"]
    for k in range(2, len(steps) + 1):
        limit = f" AND e.t <= p.t0 + INTERVAL ({int(window)}) DAY" if window else ""
        ctes.append(f"s{k} AS (SELECT p.entity, min(e.t) AS t, any_value(p.t0) AS t0, any_value(p.t) AS prev "
                    f"FROM s{k - 1} AS p JOIN ev AS e ON e.entity = p.entity AND e.event = ? AND e.t >= p.t{limit} "
                    f"GROUP BY p.entity)")
    selects = [("SELECT 1 AS step, count(*) AS entities, NULL::DOUBLE AS median_prev, NULL::DOUBLE AS median_start "
                "FROM s1")]
    for k in range(2, len(steps) + 1):
        selects.append(f"SELECT {k}, count(*), median(epoch(t) - epoch(prev)), median(epoch(t) - epoch(t0)) FROM s{k}")
    sql = "WITH " + ", ".join(ctes) + " " + " UNION ALL ".join(selects) + " ORDER BY step"
    rows = con.execute(sql, steps).fetchall()
    total = con.execute(f"SELECT count(DISTINCT entity) FROM ({events_sql})").fetchone()[0]
    first = rows[0][1]
    result_steps, previous = [], None
    for (index, entities, median_prev, median_start), name in zip(rows, steps):
        entry = {
            "name": name,
            "entities": int(entities),
            "conversion": entities / first if first else 0.0,
            "step_conversion": (entities / previous if previous else 0.0) if previous is not None else 1.0,
            "drop_off": ((previous - entities) / previous if previous else 0.0) if previous is not None else 0.0,
            "dropped": (previous - entities) if previous is not None else 0,
            "median_seconds_from_previous": median_prev,
            "median_seconds_from_start": median_start,
        }
        result_steps.append(entry)
        previous = entities
    return {"steps": result_steps, "entities_total": int(total), "entered": int(first),
            "converted": int(rows[-1][1]), "window_days": window,
            "definition": "ordered: each step at or after the previous one, from the entity's first step-1 event"}


# --- journeys (Sankey) ---------------------------------------------------------------------------

def journeys(con, source_sql: str, schema: list[dict], params: dict, progress) -> dict:
    entity, event, time = _columns(con, source_sql, schema, params)
    depth = integer(params, "depth", 5, 2, 10)
    top_events = integer(params, "top_events", 8, 2, MAX_JOURNEY_EVENTS)
    top_paths = integer(params, "top_paths", 10, 1, MAX_TOP_PATHS)
    events_sql = _events_sql(entity, event, time, source_sql)
    chosen = _names(params, "events", minimum=2, maximum=MAX_JOURNEY_EVENTS, required=False)
    if chosen:
        _check_events_exist(con, events_sql, chosen, params["event"])
    else:
        chosen = [row[0] for row in con.execute(
            f"SELECT event FROM ({events_sql}) GROUP BY event ORDER BY count(DISTINCT entity) DESC, event LIMIT ?",
            [top_events]).fetchall()]
    if not chosen:
        raise AnalysisError("There are no events with an entity, a name and a time")
    start_event = _optional_event(con, events_sql, params, "start_event", params["event"])
    progress(0.3, "Ordering each entity's events")
    # Journeys start at the entity's first start_event when one is given.
    start_filter = ("JOIN (SELECT entity, min(t) AS t0 FROM ev WHERE event = ? GROUP BY entity) AS s "
                    "USING (entity) WHERE ev.t >= s.t0" if start_event else "")
    bind = [chosen, OTHER] + ([start_event] if start_event else []) + [depth]
    # The kept steps are computed once into a temp table (per connection: each analysis
    # run has its own), then links, paths and the count read it.
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE journey_steps AS WITH ev AS ({events_sql}), "
        f"mapped AS (SELECT ev.entity, CASE WHEN list_contains(?, ev.event) THEN ev.event ELSE ? END AS step, ev.t "
        f"FROM ev {start_filter}), "
        f"ordered AS (SELECT entity, step, t, lag(step) OVER (PARTITION BY entity ORDER BY t, step) AS before "
        f"FROM mapped), "
        f"collapsed AS (SELECT entity, step, row_number() OVER (PARTITION BY entity ORDER BY t, step) AS pos "
        f"FROM ordered WHERE before IS NULL OR before <> step) "
        f"SELECT * FROM collapsed WHERE pos <= ?", bind)
    try:
        links = con.execute(
            f"SELECT a.pos, a.step, coalesce(b.step, '{END}') AS target, count(*) AS entities "
            "FROM journey_steps AS a LEFT JOIN journey_steps AS b ON b.entity = a.entity AND b.pos = a.pos + 1 "
            "GROUP BY ALL ORDER BY a.pos, entities DESC, a.step, target").fetchall()
        progress(0.7, "Counting whole paths")
        paths = con.execute(
            "SELECT path, count(*) AS entities FROM (SELECT entity, list(step ORDER BY pos) AS path "
            "FROM journey_steps GROUP BY entity) GROUP BY path ORDER BY entities DESC, path LIMIT ?",
            [top_paths]).fetchall()
        entities = con.execute("SELECT count(DISTINCT entity) FROM journey_steps").fetchone()[0]
    finally:
        con.execute("DROP TABLE IF EXISTS journey_steps")
    return {
        "links": [{"position": int(pos), "source": source, "target": target, "entities": int(n)}
                  for pos, source, target, n in links if pos < depth or target == END],
        "paths": [{"path": list(path), "entities": int(n), "share": n / entities if entities else 0.0}
                  for path, n in paths],
        "entities": int(entities), "events": chosen, "depth": depth, "start_event": start_event,
        "definition": (f"each entity's events in time order, repeats in a row collapsed, the first {depth} kept; "
                       f"events other than the {len(chosen)} listed shown as {OTHER!r}"),
    }


# --- retention ---------------------------------------------------------------------------------

def retention(con, source_sql: str, schema: list[dict], params: dict, progress) -> dict:
    entity, event, time = _columns(con, source_sql, schema, params)
    grain = choice(params, "grain", ("week", "month"), default="week")
    periods = integer(params, "periods", 12, 1, MAX_OFFSETS)
    events_sql = _events_sql(entity, event, time, source_sql)
    start_event = _optional_event(con, events_sql, params, "start_event", params["event"])
    return_event = _optional_event(con, events_sql, params, "return_event", params["event"])
    progress(0.2, "Finding each entity's cohort")
    start_where = "WHERE event = ?" if start_event else ""
    return_where = "WHERE event = ?" if return_event else ""
    # Each entity's cohort and active periods, computed once (temp tables of this run's own
    # connection); every count below reads them.
    con.execute(f"CREATE OR REPLACE TEMP TABLE retention_first AS WITH ev AS ({events_sql}) "
                f"SELECT entity, CAST(date_trunc(?, min(t)) AS DATE) AS cohort FROM ev {start_where} GROUP BY entity",
                [grain] + ([start_event] if start_event else []))
    con.execute(f"CREATE OR REPLACE TEMP TABLE retention_active AS WITH ev AS ({events_sql}) "
                f"SELECT DISTINCT entity, CAST(date_trunc(?, t) AS DATE) AS period FROM ev {return_where}",
                [grain] + ([return_event] if return_event else []))
    try:
        return _retention_counts(con, grain, periods, start_event, return_event, progress)
    finally:
        con.execute("DROP TABLE IF EXISTS retention_first")
        con.execute("DROP TABLE IF EXISTS retention_active")


def _retention_counts(con, grain: str, periods: int, start_event, return_event, progress) -> dict:
    base = "WITH first AS (SELECT * FROM retention_first), active AS (SELECT * FROM retention_active) "
    bind: list = []
    rows = con.execute(
        base + "SELECT f.cohort, date_diff(?, f.cohort, a.period) AS k, count(DISTINCT a.entity) AS n "
               "FROM first AS f JOIN active AS a ON a.entity = f.entity AND a.period >= f.cohort "
               "WHERE date_diff(?, f.cohort, a.period) <= ? GROUP BY ALL ORDER BY 1, 2",
        bind + [grain, grain, periods]).fetchall()
    sizes = dict(con.execute(base + "SELECT cohort, count(*) FROM first GROUP BY cohort", bind).fetchall())
    if not sizes:
        raise AnalysisError("No entity has a start event: there are no cohorts")
    last_period = con.execute(base + "SELECT max(period) FROM active", bind).fetchone()[0]
    progress(0.6, "Counting lifecycle states")
    cohorts_sorted = sorted(sizes)
    truncated = len(cohorts_sorted) > MAX_COHORTS
    cohorts_sorted = cohorts_sorted[-MAX_COHORTS:]
    by_cohort: dict = {c: {} for c in cohorts_sorted}
    for cohort, k, n in rows:
        if cohort in by_cohort:
            by_cohort[cohort][int(k)] = int(n)
    cohorts = []
    for cohort in cohorts_sorted:
        # Offsets after the data ends are unknown, not zero: the row stops there.
        observable = _periods_between(cohort, last_period, grain) if last_period else 0
        counts = [by_cohort[cohort].get(k, 0) for k in range(min(periods, observable) + 1)]
        size = sizes[cohort]
        cohorts.append({"cohort": cohort, "size": int(size), "active": counts,
                        "retention": [c / size for c in counts]})
    lifecycle = _lifecycle(con, base, bind, grain)
    return {"grain": grain, "periods": periods, "cohorts": cohorts, "cohorts_truncated": truncated,
            "start_event": start_event, "return_event": return_event, "lifecycle": lifecycle,
            "definition": (f"cohort = the {grain} of the entity's first "
                           f"{repr(start_event) + ' event' if start_event else 'event'}; active in a {grain} = "
                           f"{'a ' + repr(return_event) + ' event' if return_event else 'any event'} in it")}


def _periods_between(start, end, grain: str) -> int:
    if grain == "week":
        return (end - start).days // 7
    return (end.year - start.year) * 12 + end.month - start.month


def _lifecycle(con, base: str, bind: list, grain: str) -> list[dict]:
    """Per period: new, retained, resurrected, and churned (active the period before, not in
    this one; a plain count, the chart draws it below zero)."""
    rows = con.execute(
        base + f"""
        , spans AS (SELECT min(period) AS lo, max(period) AS hi FROM active),
        calendar AS (SELECT CAST(unnest(generate_series(lo, hi, INTERVAL 1 {'WEEK' if grain == 'week' else 'MONTH'}))
                     AS DATE) AS period FROM spans),
        flags AS (
            SELECT a.period, a.entity,
                   f.cohort = a.period AS is_new,
                   EXISTS (SELECT 1 FROM active AS b WHERE b.entity = a.entity
                           AND b.period = CAST(a.period - INTERVAL 1 {'WEEK' if grain == 'week' else 'MONTH'} AS DATE))
                       AS was_active
            FROM active AS a LEFT JOIN first AS f USING (entity)),
        counted AS (
            SELECT period, count(*) FILTER (WHERE is_new) AS new,
                   count(*) FILTER (WHERE NOT coalesce(is_new, false) AND was_active) AS retained,
                   count(*) FILTER (WHERE NOT coalesce(is_new, false) AND NOT was_active) AS resurrected
            FROM flags GROUP BY period),
        churn AS (
            SELECT CAST(a.period + INTERVAL 1 {'WEEK' if grain == 'week' else 'MONTH'} AS DATE) AS period,
                   count(*) AS churned
            FROM active AS a WHERE NOT EXISTS (SELECT 1 FROM active AS b WHERE b.entity = a.entity
                  AND b.period = CAST(a.period + INTERVAL 1 {'WEEK' if grain == 'week' else 'MONTH'} AS DATE))
            GROUP BY 1)
        SELECT c.period, coalesce(n.new, 0), coalesce(n.retained, 0), coalesce(n.resurrected, 0),
               coalesce(ch.churned, 0)
        FROM calendar AS c LEFT JOIN counted AS n USING (period) LEFT JOIN churn AS ch USING (period)
        ORDER BY 1""", bind).fetchall()
    return [{"period": p, "new": int(a), "retained": int(b), "resurrected": int(c), "churned": int(d)}
            for p, a, b, c, d in rows][-MAX_COHORTS:]
