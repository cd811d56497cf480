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

import threading
import time
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from storage.connectors import DIALECTS, Target, open_source, quote_table
from storage.errors import AnalysisError, DataInsightError
from storage.tables import dataset_syncs

STAND_IN = "datainsight_live_table"
DEFAULT_CACHE_SECONDS = 300
KNOWN_FOR = 10.0  # seconds a process remembers whether a dataset is live


@dataclass(frozen=True)
class LiveTable:
    dataset_id: int
    connection_id: int
    table: str
    cache_seconds: int


class LiveQueries:
    def __init__(self, engine, connections):
        self.engine = engine
        self.connections = connections
        self._known: dict[int, tuple[float, LiveTable | None]] = {}
        self._lock = threading.Lock()

    def source_for(self, dataset) -> LiveTable | None:
        """The live table behind a dataset, or None for a dataset with its own file."""
        now = time.monotonic()
        with self._lock:
            found = self._known.get(dataset.id)
        if found is not None and now - found[0] < KNOWN_FOR:
            return found[1]
        from sqlalchemy import select

        with self.engine.connect() as conn:
            row = conn.execute(select(dataset_syncs.c.connection_id, dataset_syncs.c.source_table,
                                      dataset_syncs.c.cache_seconds)
                               .where(dataset_syncs.c.dataset_id == dataset.id,
                                      dataset_syncs.c.source == "live")).first()
        live = None
        if row is not None:
            live = LiveTable(dataset.id, row.connection_id, row.source_table,
                             row.cache_seconds if row.cache_seconds is not None else DEFAULT_CACHE_SECONDS)
        with self._lock:
            self._known[dataset.id] = (now, live)
            if len(self._known) > 4096:
                self._known.clear()
        return live

    def target(self, live: LiveTable) -> Target:
        if live.connection_id is None:
            raise AnalysisError("The connection of this live dataset was deleted, so its charts cannot be drawn")
        target = self.connections.target_of(live.connection_id)
        if target is None:
            raise AnalysisError("The connection of this live dataset was deleted, so its charts cannot be drawn")
        return target

    def run(self, live: LiveTable, sql: str, params: list, row_cap: int,
            time_limit: float) -> tuple[list[str], list[list], bool]:
        target = self.target(live)
        translated, ordered = translate(sql, params, live.table, target.kind)
        wrapped = f"SELECT * FROM ({translated}) AS widget_result LIMIT {int(row_cap) + 1}"
        with open_source(target, time_limit) as source:
            columns, rows = source.fetch(wrapped, ordered)
        return columns, rows[:row_cap], len(rows) > row_cap


def translate(sql: str, params: list, table: str, kind: str) -> tuple[str, list]:
    """DuckDB SQL over the stand-in table → the dialect's SQL over ``table``, and the
    parameters in the order the dialect binds them (PostgreSQL: $n as written; MySQL: one
    %s per use, in order)."""
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
    _portable(tree, kind)
    ordered: list = []
    if kind == "mysql":
        for node in list(tree.find_all(exp.Parameter, exp.Placeholder, bfs=False)):  # in the text's order
            index = _param_index(node)
            if index is None:
                continue
            ordered.append(params[index - 1])
            node.replace(exp.Placeholder())
        try:
            text = tree.sql(dialect=dialect)
        except sqlglot.errors.UnsupportedError as exc:
            raise AnalysisError(f"This chart cannot run on MySQL: {exc}") from None
        return text.replace("?", "%s"), ordered
    for node in list(tree.find_all(exp.Parameter, exp.Placeholder)):  # kept as $n, which ADBC binds
        index = _param_index(node)
        if index is not None:
            node.replace(exp.Var(this=f"${index}"))
    try:
        text = tree.sql(dialect=dialect, unsupported_level=sqlglot.ErrorLevel.RAISE)
    except sqlglot.errors.UnsupportedError as exc:
        raise AnalysisError(f"This chart cannot run on PostgreSQL: {exc}") from None
    return text, list(params)


def _portable(tree: exp.Expression, kind: str) -> None:
    """Rewrite the few DuckDB-only constructs the widget queries use into standard SQL:
    - ``GROUP BY ALL`` → the positions of the projections that are not aggregates;
    - ``USING SAMPLE reservoir(n ROWS)`` on a subquery → ``ORDER BY random() LIMIT n``
      (a uniform sample of n rows, as the reservoir draws);
    - ``isfinite(x)`` on a number → x is not ±Infinity or NaN (MySQL has neither);
    - ``list_min(list_filter(list, lambda v: cond))`` → ``(SELECT min(v) FROM unnest(list) WHERE
      cond)`` on PostgreSQL (the histogram's choice of a bar width)."""
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
    if kind == "postgresql":  # round(double precision, n) does not exist there
        for rounded in list(tree.find_all(exp.Round)):
            if rounded.args.get("decimals") is not None:
                rounded.set("this", exp.cast(rounded.this.copy(), "NUMERIC"))
    for call in list(tree.find_all(exp.Anonymous)):
        if str(call.this).lower() == "isfinite" and len(call.expressions) == 1:
            value = call.expressions[0].copy()
            if kind == "postgresql":
                specials = [exp.cast(exp.Literal.string(v), "DOUBLE PRECISION") for v in ("Infinity", "-Infinity", "NaN")]
                call.replace(exp.Not(this=exp.paren(exp.In(this=value, expressions=specials))))
            else:
                call.replace(exp.Not(this=exp.Is(this=value, expression=exp.Null())))


def _param_index(node) -> int | None:
    text = node.sql(dialect="duckdb").lstrip("$")
    return int(text) if text.isdigit() else None


def check_live_names(dataset_schema: list[dict], source_names: list[str]) -> None:
    """A live dataset's columns must keep the table's names (the queries name them)."""
    for column, name in zip(dataset_schema, source_names):
        if column["name"] != name:
            raise DataInsightError(f"The column {name!r} would be called {column['name']!r} here, and live queries "
                                   "name the table's own columns: copy the table instead (mode \"sync\")")
