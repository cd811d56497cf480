"""Many aggregates in one query: each pass of the profile asks for dozens of numbers
per column, and DuckDB computes them all in one scan of the file. Values computed once
per row (a deviation from the mean, a histogram bin) go into an inner projection that
several aggregates share."""
from __future__ import annotations


class AggregateQuery:
    def __init__(self):
        self._parts: list[str] = []
        self._params: list = []
        self._aliases: list[str] = []
        self._projections: list[str] = []
        self._projection_params: list = []

    def add(self, alias: str, sql: str, params: tuple | list = ()) -> None:
        # count_if over only NULL inputs answers NULL in DuckDB; a count is 0 then.
        if sql.startswith("count_if("):
            sql = f"coalesce({sql}, 0)"
        self._parts.append(f"{sql} AS a{len(self._parts)}")
        self._params.extend(params)
        self._aliases.append(alias)

    def project(self, name: str, sql: str, params: tuple | list = ()) -> None:
        """A per-row value the aggregates can use by ``name`` (next to the source's columns)."""
        self._projections.append(f"{sql} AS {name}")
        self._projection_params.extend(params)

    def __len__(self) -> int:
        return len(self._parts)

    def run(self, con, source_sql: str) -> dict:
        if not self._parts:
            return {}
        source = source_sql
        if self._projections:
            # DuckDB prunes the columns of * that no aggregate uses.
            source = f"(SELECT *, {', '.join(self._projections)} FROM {source_sql})"
        row = con.execute(f"SELECT {', '.join(self._parts)} FROM {source}",
                          self._params + self._projection_params).fetchone()
        return dict(zip(self._aliases, row))
