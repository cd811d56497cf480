"""The one way identifiers reach SQL. It lives in analytics because the widget registry
(pure spec → SQL) needs it as much as storage does; ``storage/sql.py`` re-exports it so
there is still exactly one quoting helper."""
from __future__ import annotations

from errors import InvalidInput


def quote_ident(name: str) -> str:
    """Quote an identifier for DuckDB/PostgreSQL: wrap in double quotes, double any inside."""
    if not isinstance(name, str) or "\x00" in name:
        raise InvalidInput("A column name is not valid")
    return '"' + name.replace('"', '""') + '"'
