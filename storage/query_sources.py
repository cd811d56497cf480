"""Live SQL datasets (issue 16, point 4): a SQL editor query that charts run each time
they are drawn, over the workspace's current datasets, its parameters bound to the
dashboard's filters.

Such a dataset is a dataset like any other (its version file is a random sample of the
query's result, which profiles, analyses and the rows grid use, and say so) plus a
``dataset_syncs`` row with ``source = 'query'`` holding the SQL. QueryService asks
``source_for`` whether a dataset is one; if so it builds the widget's query as usual over
a stand-in name, and ``run`` puts the person's query in its place (parameters bound, in
the SQL editor's sandbox: only the workspace's datasets, no files, time and memory
limits). A widget on it therefore takes every chart type, filter, cross-filter and
drill-down, like Superset's virtual datasets.

Results are cached under a key that holds the current version of every dataset of the
workspace (``state_of``): a new upload changes the key, nothing else needs forgetting.
"""
from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import select

from analytics.sql_parameters import COLUMN_TYPE, Parameter, parameters_in
from storage.dataset_sources import DatasetSources
from storage.live import DEFAULT_CACHE_SECONDS
from storage.tables import dataset_versions, datasets


@dataclass(frozen=True)
class QuerySource:
    dataset_id: int
    workspace_id: int
    sql: str
    parameters: tuple[Parameter, ...]
    cache_seconds: int = DEFAULT_CACHE_SECONDS


@lru_cache(maxsize=256)
def _parameters(sql: str) -> tuple[Parameter, ...]:
    return tuple(parameters_in(sql))  # asked for several times a chart


def sample_note(rows: int) -> str:
    return (f"Live SQL: charts run this query over the workspace's current datasets each time they are drawn; "
            f"profiles, analyses and the rows shown here use a random sample of {rows:,} rows of its result")


class QuerySources:
    def __init__(self, engine, sql_editor, sources: DatasetSources):
        self.engine = engine
        self.sql_editor = sql_editor
        self.sources = sources

    def source_for(self, dataset) -> QuerySource | None:
        """The query behind a dataset, or None for a dataset with rows of its own."""
        row = self.sources.row(dataset)
        if row is None or row.source != "query":
            return None
        return QuerySource(dataset.id, dataset.workspace_id, row.source_sql, _parameters(row.source_sql),
                           row.cache_seconds if row.cache_seconds is not None else DEFAULT_CACHE_SECONDS)

    def parameters_of(self, dataset) -> list[dict]:
        """[{"name", "type"}] of a live SQL dataset's parameters, as the dashboard's filters
        see them (a column type that picks the filter's kind); [] for other datasets."""
        source = self.source_for(dataset)
        if source is None:
            return []
        return [{"name": p.name, "type": COLUMN_TYPE[p.type], "parameter": p.type} for p in source.parameters]

    def state_of(self, source: QuerySource) -> str:
        """The cache bucket of a live SQL dataset's results: the name and current version
        of each dataset of the workspace its query may name (so a new upload, refresh,
        rename or deletion is a new key), and the time in steps of ``cache_seconds`` (a
        query may read the clock: ``current_date - 30``)."""
        text = source.sql.lower()
        with self.engine.connect() as conn:
            rows = conn.execute(select(datasets.c.id, datasets.c.name, dataset_versions.c.path)
                                .join(dataset_versions, (dataset_versions.c.dataset_id == datasets.c.id)
                                      & (dataset_versions.c.version == datasets.c.current_version))
                                .where(datasets.c.workspace_id == source.workspace_id)
                                .order_by(datasets.c.id)).all()
        named = [tuple(r) for r in rows if r.name.lower() in text or f"{r.name}_{r.id}".lower() in text]
        step = int(time.time() // source.cache_seconds) if source.cache_seconds > 0 else time.time()
        return hashlib.sha256(repr([named, step]).encode()).hexdigest()

    def stand_in(self) -> str:
        """A name the widget's query is built over; never a column name, never guessable."""
        return f"datainsight_query_{uuid.uuid4().hex}"

    def run(self, source: QuerySource, sql: str, params: list, values: dict | None, stand_in: str, row_cap: int,
            time_limit: float) -> tuple[list[str], list[list], bool]:
        return self.sql_editor.run_for_chart(source.workspace_id, source.sql, values, sql, params, stand_in,
                                             row_cap, time_limit)
