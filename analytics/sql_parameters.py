"""Parameters in a SQL query that charts draw from (issue 16, point 4): dashboard filters
bound into the query's own text, as Metabase's analysts write them.

- ``{{region}}`` is a text parameter. A dashboard filter on ``region`` (a multi-select)
  binds its chosen values, one bound value each: write ``region IN ({{region}})``.
- ``{{since:date}}`` and ``{{amount:number}}`` are ranges. A date-range or number-range
  filter binds its two ends: write ``order_date BETWEEN {{since}}``. An open end is the
  smallest or largest value of the type, so a filter set on one side still works.
- ``[[ AND region IN ({{region}}) ]]`` is optional: the clause is left out while a filter
  of its parameters has no value. A parameter outside ``[[ ]]`` must have one.

The text is rewritten with ``$n`` placeholders and the values go beside it, bound: no value
is ever written into SQL. Strings, quoted names and comments are skipped while scanning,
so ``'{{x}}'`` stays a string. DuckDB's nested lists (``[[1, 2]]``) hold no parameter and
are left as they are.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass

from errors import InvalidInput

TYPES = ("text", "number", "date")
FILTER_KIND = {"text": "multi_select", "number": "numeric_range", "date": "date_range"}
COLUMN_TYPE = {"text": "string", "number": "float", "date": "date"}  # what the dashboard's filter form shows
MAX_PARAMETERS = 20
MAX_VALUES = 1000  # values one text parameter takes (a multi-select's limit)
_TOKEN = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]{0,62})\s*(?::\s*([A-Za-z]+)\s*)?\}\}")
_OPEN_ENDS = {"number": (-math.inf, math.inf), "date": ("0001-01-01", "9999-12-31")}


class ParameterError(InvalidInput):
    code = "sql_error"


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str  # text | number | date

    @property
    def filter_kind(self) -> str:
        return FILTER_KIND[self.type]

    def public_dict(self) -> dict:
        return {"name": self.name, "type": self.type, "filter_kind": self.filter_kind}


def _pieces(sql: str) -> list[tuple[str, str]]:
    """The text cut into ("code", ...), ("skip", ...) (strings, quoted names, comments),
    ("param", "{{...}}") and ("optional", "[[...]]") pieces."""
    out: list[tuple[str, str]] = []
    code_start = i = 0
    n = len(sql)

    def flush(upto: int):
        if upto > code_start:
            out.append(("code", sql[code_start:upto]))

    while i < n:
        ch = sql[i]
        two = sql[i:i + 2]
        end = None
        kind = "skip"
        if ch in ("'", '"'):
            j = i + 1
            while j < n:
                if sql[j] == ch:
                    if sql[j + 1:j + 2] == ch:  # '' or "" inside
                        j += 2
                        continue
                    break
                j += 1
            end = min(j + 1, n)
        elif two == "--":
            j = sql.find("\n", i)
            end = n if j < 0 else j
        elif two == "/*":
            j = sql.find("*/", i + 2)
            end = n if j < 0 else j + 2
        elif two == "{{":
            found = _TOKEN.match(sql, i)
            if found is None:
                close = sql.find("}}", i)
                shown = sql[i:close + 2] if 0 <= close < i + 80 else sql[i:i + 20]
                raise ParameterError(f"{shown!r} is not a parameter: write {{{{name}}}}, {{{{name:number}}}} or "
                                     "{{name:date}}, a name of letters, digits and _", details={"field": "sql"})
            end, kind = found.end(), "param"
        elif two == "[[":
            close = _closing_brackets(sql, i + 2)
            # Optional only when a parameter is in its code: [['{{a}}', 'b']] is a list.
            if close is not None and any(k == "param" for k, _ in _pieces(sql[i + 2:close])):
                end, kind = close + 2, "optional"
        if end is None:
            i += 1
            continue
        flush(i)
        out.append((kind, sql[i:end]))
        i = code_start = end
    flush(n)
    return out


def _closing_brackets(sql: str, start: int) -> int | None:
    """Where the ``]]`` closing an optional clause starts (strings inside skipped)."""
    i, n = start, len(sql)
    while i < n:
        ch = sql[i]
        if ch in ("'", '"'):
            j = sql.find(ch, i + 1)
            while j >= 0 and sql[j + 1:j + 2] == ch:
                j = sql.find(ch, j + 2)
            if j < 0:
                return None
            i = j + 1
            continue
        if sql.startswith("]]", i):
            return i
        if sql.startswith("[[", i):
            return None  # nested: a list literal, not ours
        i += 1
    return None


def without_trailing(sql: str) -> str:
    """The statement without what may follow its end: spaces, ``;`` and comments
    (``SELECT 1; -- note``), which would break a query wrapped as a subquery."""
    pieces = _pieces(sql)
    while pieces:
        kind, text = pieces[-1]
        if kind == "skip" and text.startswith(("--", "/*")):
            pieces.pop()
        elif kind == "code" and not text.strip(" \t\r\n;"):
            pieces.pop()
        elif kind == "code" and text.rstrip(" \t\r\n;") != text:
            pieces[-1] = (kind, text.rstrip(" \t\r\n;"))
        else:
            break
    return "".join(text for _, text in pieces)


def parameters_in(sql: str) -> list[Parameter]:
    """The parameters a query names, in order of first use, with their types."""
    found: dict[str, str | None] = {}
    for kind, text in _pieces(sql):
        if kind == "optional":
            inner = [m for k, t in _pieces(text[2:-2]) if k == "param" for m in [_TOKEN.match(t)]]
        elif kind == "param":
            inner = [_TOKEN.match(text)]
        else:
            continue
        for match in inner:
            name, declared = match.group(1), (match.group(2) or "").lower() or None
            if declared is not None and declared not in TYPES:
                raise ParameterError(f"{{{{{name}:{declared}}}}}: a parameter's type is text, number or date",
                                     details={"field": "sql"})
            known = found.get(name)  # None: used so far without a type
            if declared and known and known != declared:
                raise ParameterError(f"The parameter {name!r} is given two types, {known} and {declared}",
                                     details={"field": "sql"})
            found[name] = declared or known
    if len(found) > MAX_PARAMETERS:
        raise ParameterError(f"A query takes at most {MAX_PARAMETERS} parameters", details={"field": "sql"})
    return [Parameter(name, kind or "text") for name, kind in found.items()]


def _values_for(parameter: Parameter, value) -> list | None:
    """The bound values of one parameter, or None when it has no value."""
    if value in (None, [], ""):
        return None
    values = value if isinstance(value, list) else [value]
    if parameter.type == "text":
        values = [v for v in values if v is not None]
        if not values:
            return None
        if len(values) > MAX_VALUES:
            raise ParameterError(f"{parameter.name!r} takes at most {MAX_VALUES} values")
        return [v if isinstance(v, (str, bool)) else str(v) if isinstance(v, (int, float)) else _refuse(parameter, v)
                for v in values]
    low, high = (list(values) + [None, None])[:2] if len(values) != 1 else (values[0], values[0])
    if low in (None, "") and high in (None, ""):
        return None
    ends = _OPEN_ENDS[parameter.type]
    return [_typed(parameter, low, ends[0]), _typed(parameter, high, ends[1], end=True)]


def _typed(parameter: Parameter, value, open_end, end: bool = False):
    if value in (None, ""):
        if parameter.type == "number":
            return open_end
        value = open_end  # a date's text, read below
    if parameter.type == "number":
        if isinstance(value, bool):
            _refuse(parameter, value)
        if isinstance(value, int):  # kept exact (a float has 53 bits), within a BIGINT
            return value if abs(value) < 2 ** 63 else _refuse(parameter, value)
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):  # OverflowError: an integer of 400 digits
            raise ParameterError(f"{parameter.name!r} takes numbers, not {str(value)[:40]!r}") from None
        if not math.isfinite(number):
            _refuse(parameter, value)
        return int(number) if number.is_integer() and abs(number) < 2 ** 53 else number
    try:
        day = dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise ParameterError(f"{parameter.name!r} takes dates like 2024-01-31, not {str(value)[:40]!r}") from None
    # The end of a date range is the whole of that day: a time on 2024-03-31 is before the end of [.., 2024-03-31].
    return dt.datetime.combine(day, dt.time.max) if end else day


def _refuse(parameter: Parameter, value):
    raise ParameterError(f"{parameter.name!r} cannot take the value {str(value)[:40]!r}")


def bind(sql: str, values: dict | None, start: int = 1, *, fill_missing: bool = False) -> tuple[str, list]:
    """``sql`` with each parameter replaced by ``$start``, ``$start+1``... and the values
    bound to them, in order. An optional clause whose parameters are not all given is left
    out. ``fill_missing``: a required parameter with no value binds NULL (the SQL editor's
    trial run, a sample) instead of being an error."""
    values = values or {}
    types = {p.name: p for p in parameters_in(sql)}
    bound: list = []
    given = {name: _values_for(types[name], values.get(name)) for name in types}

    def placeholder(text: str) -> str:
        name = _TOKEN.match(text).group(1)
        parameter = types[name]
        got = given[name]
        if got is None:
            if not fill_missing:
                raise ParameterError(f"This chart's query needs a value for {{{{{name}}}}}: add a dashboard filter "
                                     f"on {name!r} and choose a value, or put its clause in [[ ]]",
                                     details={"parameter": name})
            got = [None] if parameter.type == "text" else [None, None]
        marks = []
        for value in got:
            bound.append(value)
            marks.append(f"${start + len(bound) - 1}")
        return (" AND " if parameter.type != "text" else ", ").join(marks)

    out = []
    for kind, text in _pieces(sql):
        if kind == "param":
            out.append(placeholder(text))
        elif kind == "optional":
            inner = _pieces(text[2:-2])
            names = [_TOKEN.match(t).group(1) for k, t in inner if k == "param"]
            if all(given[name] is not None for name in names):
                out.append(" " + "".join(placeholder(t) if k == "param" else t for k, t in inner) + " ")
        else:
            out.append(text)
    return "".join(out), bound
