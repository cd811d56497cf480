"""Live datasets (issue 16, point 3): widget queries that run on the connected database.

A live dataset is a dataset like any other (its version file is a random sample of the
table drawn by the database, which profiles, analyses and the rows grid use, and say so)
plus a ``dataset_syncs`` row with ``source = 'live'``. QueryService asks ``source_for``
whether a dataset is live; if so it builds the widget's query as usual, over a stand-in
table name, and ``run`` here translates that DuckDB SQL into the database's dialect with
sqlglot (the stand-in replaced by the quoted table), keeps the values bound as
parameters, and runs it in a read-only session with a statement timeout
(storage.connectors). Results are cached by QueryService under a key that includes a time
bucket of ``cache_seconds``, so every process agrees on when a result is stale.
"""
from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from storage.connectors import DIALECTS, Target, open_source, quote_table, without_settings
from storage.errors import AnalysisError, DataInsightError
from storage.dataset_sources import DatasetSources

STAND_IN = "datainsight_live_table"
DEFAULT_CACHE_SECONDS = 300


@dataclass(frozen=True)
class LiveTable:
    dataset_id: int
    workspace_id: int
    connection_id: int
    table: str
    cache_seconds: int


class LiveQueries:
    def __init__(self, engine, connections, sources: DatasetSources):
        self.engine = engine
        self.connections = connections
        self.sources = sources

    def source_for(self, dataset) -> LiveTable | None:
        """The live table behind a dataset, or None for a dataset with its own file."""
        row = self.sources.row(dataset)
        if row is None or row.source != "live":
            return None
        return LiveTable(dataset.id, dataset.workspace_id, row.connection_id, row.source_table,
                         row.cache_seconds if row.cache_seconds is not None else DEFAULT_CACHE_SECONDS)

    def target(self, live: LiveTable) -> Target:
        if live.connection_id is None:
            raise AnalysisError("The connection of this live dataset was deleted, so its charts cannot be drawn")
        # Only a connection of the dataset's own workspace, whatever the row says.
        target = self.connections.target_of(live.connection_id, live.workspace_id)
        if target is None:
            raise AnalysisError("The connection of this live dataset was deleted, so its charts cannot be drawn")
        return target

    def run(self, live: LiveTable, sql: str, params: list, row_cap: int,
            time_limit: float) -> tuple[list[str], list[list], bool]:
        target = self.target(live)
        translated, ordered = translate(sql, params, live.table, target.kind, row_cap)
        try:
            with open_source(target, time_limit) as source:
                columns, rows = source.fetch(translated, ordered)
        except DataInsightError as exc:  # a chart's viewers may not see where the connection points
            raise type(exc)(without_settings(exc.message, target), details=exc.details) from None
        return columns, rows[:row_cap], len(rows) > row_cap


def translate(sql: str, params: list, table: str, kind: str, row_cap: int | None = None) -> tuple[str, list]:
    """DuckDB SQL over the stand-in table → the dialect's SQL over ``table``, and the
    parameters in the order the dialect binds them (PostgreSQL: $n as written; MySQL: one
    %s per use, in order). ``row_cap``: a LIMIT of row_cap + 1 on the outermost query when
    it has none (not a wrapping SELECT: MariaDB drops a derived table's ORDER BY)."""
    dialect = DIALECTS[kind]
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise AnalysisError(f"This chart's query cannot be translated for the database ({exc})") from None
    replacement = sqlglot.parse_one(f"SELECT * FROM {quote_table(table, kind)}", read=dialect).find(exp.Table)
    for found in list(tree.find_all(exp.Table)):
        if found.name == STAND_IN and not found.args.get("db"):
            alias = found.args.get("alias")
            new = replacement.copy()
            if alias is not None:
                new.set("alias", alias.copy())
            found.replace(new)
    _portable(tree, kind, params)
    if row_cap is not None and isinstance(tree, exp.Query) and tree.args.get("limit") is None:
        tree = tree.limit(int(row_cap) + 1)
    ordered: list = []
    if kind == "mysql":
        # %s binds in the order of the text: mark each use, generate, then read the marks in
        # order. The marks hold a random part, so no column name can be taken for one.
        salt = uuid.uuid4().hex
        for node in list(tree.find_all(exp.Parameter, exp.Placeholder)):
            index = _param_index(node)
            if index is not None:
                node.replace(exp.Var(this=f"__p{salt}_{index}__"))
        marks = re.compile(rf"__p{salt}_(\d+)__")
        try:
            text = tree.sql(dialect=dialect)
        except sqlglot.errors.UnsupportedError as exc:
            raise AnalysisError(f"This chart cannot run on MySQL: {exc}") from None
        text = text.replace("%", "%%")
        for found in marks.finditer(text):
            ordered.append(params[int(found.group(1)) - 1])
        return marks.sub("%s", text), mysql_params(ordered)
    for node in list(tree.find_all(exp.Parameter, exp.Placeholder)):  # kept as $n, which ADBC binds
        index = _param_index(node)
        if index is not None:
            node.replace(exp.Var(this=f"${index}"))
    try:
        text = tree.sql(dialect=dialect, unsupported_level=sqlglot.ErrorLevel.RAISE)
    except sqlglot.errors.UnsupportedError as exc:
        raise AnalysisError(f"This chart cannot run on PostgreSQL: {exc}") from None
    return text, list(params)


def _portable(tree: exp.Expression, kind: str, params: list) -> None:
    """Rewrite the few DuckDB-only constructs the widget queries use into standard SQL:
    - ``GROUP BY ALL`` → the positions of the projections that are not aggregates;
    - ``USING SAMPLE reservoir(n ROWS)`` on a subquery → ``ORDER BY random() LIMIT n``
      (a uniform sample of n rows, as the reservoir draws);
    - ``isfinite(x)`` on a number → x is not ±Infinity or NaN (MySQL has neither);
    - ``list_min(list_filter(list, lambda v: cond))`` → ``(SELECT min(v) FROM unnest(list) WHERE
      cond)`` on PostgreSQL (the histogram's choice of a bar width);
    - ``hour``/``isodow``/``month`` of a time → ``EXTRACT`` (PostgreSQL), ``WEEKDAY() + 1`` (MySQL)."""
    for group in list(tree.find_all(exp.Group)):
        if group.args.get("all"):
            select = group.parent
            positions = [exp.Literal.number(i + 1) for i, e in enumerate(select.expressions)
                         if not e.find(exp.AggFunc, exp.Window)]
            if positions:
                group.replace(exp.Group(expressions=positions))
            else:
                group.pop()
    for sample in list(tree.find_all(exp.TableSample)):
        select = sample.parent
        size = sample.args.get("size")
        if not isinstance(select, exp.Select) or size is None:
            continue
        sample.pop()
        random = exp.Anonymous(this="random" if kind == "postgresql" else "RAND")
        select.set("order", exp.Order(expressions=[exp.Ordered(this=random)]))
        select.set("limit", exp.Limit(expression=size.copy()))
    for found in list(tree.find_all(exp.ArrayMin)):  # list_min(list_filter(list, lambda v: cond))
        chosen, lam = found.this, found.this.args.get("expression") if isinstance(found.this, exp.ArrayFilter) else None
        if kind != "postgresql" or not isinstance(lam, exp.Lambda) or len(lam.expressions) != 1:
            continue
        var = lam.expressions[0].name
        condition = lam.this.copy().transform(
            lambda n: exp.column(var) if isinstance(n, exp.Identifier) and n.name == var
            and not isinstance(n.parent, exp.Column) else n)
        smallest = exp.select(exp.Min(this=exp.column(var))).from_(exp.Unnest(
            expressions=[chosen.this.copy()],
            alias=exp.TableAlias(this=exp.to_identifier("steps"), columns=[exp.to_identifier(var)]))).where(condition)
        found.replace(exp.Subquery(this=smallest))
    # The cyclic parts of a date the widgets group by ("sales by weekday and hour"):
    # PostgreSQL has none of DuckDB's hour()/isodow()/month() functions but EXTRACT (a
    # numeric there, made an integer like DuckDB's); MySQL has HOUR and MONTH, and WEEKDAY
    # counts Monday as 0 where ISO counts it as 1.
    for part in list(tree.find_all(exp.Hour, exp.DayOfWeekIso, exp.Month)):
        field = {exp.Hour: "HOUR", exp.DayOfWeekIso: "ISODOW", exp.Month: "MONTH"}[type(part)]
        if kind == "postgresql":
            part.replace(exp.cast(exp.Extract(this=exp.var(field), expression=part.this.copy()), "INTEGER"))
        elif isinstance(part, exp.DayOfWeekIso):
            part.replace(exp.paren(exp.Add(this=exp.Anonymous(this="WEEKDAY", expressions=[part.this.copy()]),
                                           expression=exp.Literal.number(1))))
    if kind == "postgresql":  # round(double precision, n) does not exist there
        for rounded in list(tree.find_all(exp.Round)):
            if rounded.args.get("decimals") is not None:
                rounded.set("this", exp.cast(rounded.this.copy(), "NUMERIC"))
    if kind == "mysql":
        _mysql_portable(tree, params)
    for call in list(tree.find_all(exp.Anonymous)):
        if str(call.this).lower() == "isfinite" and len(call.expressions) == 1:
            value = call.expressions[0].copy()
            if kind == "postgresql":
                specials = [exp.cast(exp.Literal.string(v), "DOUBLE PRECISION") for v in ("Infinity", "-Infinity", "NaN")]
                call.replace(exp.Not(this=exp.paren(exp.In(this=value, expressions=specials))))
            else:
                call.replace(exp.Not(this=exp.Is(this=value, expression=exp.Null())))


_MYSQL_WEEK = sqlglot.parse_one("CAST(DATE_SUB(CAST(week_of AS DATE), INTERVAL WEEKDAY(week_of) DAY) AS DATETIME)",
                                read="mysql")


def _mysql_portable(tree: exp.Expression, params: list) -> None:
    """MySQL and MariaDB: no CTE materialisation hints; weeks start on Monday (as DuckDB's
    and PostgreSQL's date_trunc); regr_slope/regr_intercept written with sums; a list of
    the widget's own constants filtered by a lambda (the histogram's widths) as a derived
    table; no median or percentile aggregate, which is said."""
    for found in list(tree.find_all(exp.RegrSlope, exp.RegrIntercept)):
        y, x = found.this, found.expression
        found.replace(_regression(x.sql(dialect="mysql"), y.sql(dialect="mysql"), isinstance(found, exp.RegrSlope)))
    for found in list(tree.find_all(exp.ArrayMin)):
        chosen = found.this
        lam = chosen.args.get("expression") if isinstance(chosen, exp.ArrayFilter) else None
        values = chosen.this.this if isinstance(chosen.this, exp.Cast) else chosen.this
        index = _param_index(values) if isinstance(values, (exp.Placeholder, exp.Parameter)) else None
        if not isinstance(lam, exp.Lambda) or len(lam.expressions) != 1 or index is None:
            continue
        constants = params[index - 1]
        if not isinstance(constants, list) or not all(isinstance(v, (int, float)) for v in constants):
            continue
        var = lam.expressions[0].name
        condition = lam.this.copy().transform(
            lambda n: exp.column(var) if isinstance(n, exp.Identifier) and n.name == var
            and not isinstance(n.parent, exp.Column) else n)
        rows = " UNION ALL ".join(f"SELECT {float(v)!r} AS {var}" for v in constants)
        table = sqlglot.parse_one(f"SELECT MIN({var}) FROM ({rows}) AS steps", read="mysql")
        found.replace(exp.Subquery(this=table.where(condition)))
    for cte in tree.find_all(exp.CTE):
        cte.set("materialized", None)
    for trunc in list(tree.find_all(exp.TimestampTrunc, exp.DateTrunc)):
        unit = trunc.args.get("unit")
        if unit is not None and unit.name.upper() == "WEEK":
            inner = trunc.this
            week = _MYSQL_WEEK.copy().transform(
                lambda n: inner.copy() if isinstance(n, exp.Column) and n.name == "week_of" else n)
            trunc.replace(week)
    if tree.find(exp.Median, exp.PercentileCont, exp.PercentileDisc, exp.Quantile):
        raise AnalysisError("This chart needs a median or a percentile, which MySQL cannot compute in one query: "
                            "copy the table (a synced dataset) to draw it, or choose another aggregation")


def _regression(x: str, y: str, slope: bool) -> exp.Expression:
    """regr_slope(y, x) / regr_intercept(y, x) over the rows where both are known."""
    both = f"{x} IS NOT NULL AND {y} IS NOT NULL"
    n = f"SUM(CASE WHEN {both} THEN 1 ELSE 0 END)"
    sx, sy = f"SUM(CASE WHEN {both} THEN {x} END)", f"SUM(CASE WHEN {both} THEN {y} END)"
    sxy, sxx = f"SUM(CASE WHEN {both} THEN {x} * {y} END)", f"SUM(CASE WHEN {both} THEN {x} * {x} END)"
    slope_sql = f"(({n}) * ({sxy}) - ({sx}) * ({sy})) / NULLIF(({n}) * ({sxx}) - ({sx}) * ({sx}), 0)"
    text = slope_sql if slope else f"(({sy}) - ({slope_sql}) * ({sx})) / NULLIF({n}, 0)"
    return sqlglot.parse_one(f"SELECT {text}", read="mysql").expressions[0]


def mysql_params(params: list) -> list:
    """Filter values as MySQL compares them: an ISO date-time ('2025-03-01T00:00:00')
    becomes a datetime (MySQL does not read the T)."""
    converted = []
    for value in params:
        if isinstance(value, str) and _ISO_DATETIME.match(value):
            try:
                value = dt.datetime.fromisoformat(value)
            except ValueError:
                pass
        converted.append(value)
    return converted


_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")


def _param_index(node) -> int | None:
    text = node.sql(dialect="duckdb").lstrip("$")
    return int(text) if text.isdigit() else None


def check_live_names(dataset_schema: list[dict], source_names: list[str]) -> None:
    """A live dataset's columns must keep the table's names (the queries name them)."""
    for column, name in zip(dataset_schema, source_names):
        if column["name"] != name:
            raise DataInsightError(f"The column {name!r} would be called {column['name']!r} here, and live queries "
                                   "name the table's own columns: copy the table instead (mode \"sync\")")
