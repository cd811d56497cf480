"""Many aggregates in one query: each pass of the profile asks for dozens of numbers
per column, and DuckDB computes them all in one scan of the file."""
from __future__ import annotations


class AggregateQuery:
    def __init__(self):
        self._parts: list[str] = []
        self._params: list = []
        self._aliases: list[str] = []

    def add(self, alias: str, sql: str, params: tuple | list = ()) -> None:
        # count_if over only NULL inputs answers NULL in DuckDB; a count is 0 then.
        if sql.startswith("count_if("):
            sql = f"coalesce({sql}, 0)"
        self._parts.append(f"{sql} AS a{len(self._parts)}")
        self._params.extend(params)
        self._aliases.append(alias)

    def __len__(self) -> int:
        return len(self._parts)

    def run(self, con, source_sql: str) -> dict:
        if not self._parts:
            return {}
        row = con.execute(f"SELECT {', '.join(self._parts)} FROM {source_sql}", self._params).fetchone()
        return dict(zip(self._aliases, row))
