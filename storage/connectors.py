"""Reading from a database a workspace connected (issue 16): PostgreSQL through ADBC
(libpq's binary protocol decoded straight into Arrow batches, no Python object per
value), MySQL and MariaDB through PyMySQL, streamed batch by batch into Arrow.

Every session is read-only and time-limited on the server's side:
- PostgreSQL: ``default_transaction_read_only=on`` and ``statement_timeout`` are set in the
  connection's start-up options, so they hold from the first statement;
- MySQL/MariaDB: ``SET SESSION TRANSACTION READ ONLY`` and ``max_execution_time`` (MySQL)
  or ``max_statement_time`` (MariaDB), then ``START TRANSACTION READ ONLY``.
A query sent here is one SELECT (checked with sqlglot in the database's dialect); the
read-only transaction refuses whatever a function called by it would write.

Types come from the database, not from the values: integers, floats, booleans, dates and
timestamps (with time zone: UTC) keep their type; NUMERIC/DECIMAL are read as floats
(the app's numbers); JSON, UUID and text types are text; any other type (intervals,
arrays, network addresses, geometry...) is kept as its text form with a note.

The host is resolved once; link-local, multicast and unspecified addresses are refused
(nothing there is a database, and 169.254.169.254 is the cloud's metadata service).
Private and loopback addresses are allowed: connecting to an address is the workspace
owner's decision, and databases live on private networks.
"""
from __future__ import annotations

import datetime as dt
import decimal
import ipaddress
import re
import socket
import ssl
import time
from dataclasses import dataclass, field
from typing import Iterator
from urllib.parse import quote, urlencode

import pyarrow as pa
import sqlglot
from sqlglot import exp

from storage.errors import DataInsightError, InvalidInput
from storage.queries import QueryTimeout

KINDS = ("postgresql", "mysql")
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}
DIALECTS = {"postgresql": "postgres", "mysql": "mysql"}
TLS_MODES = ("disable", "prefer", "require", "verify-ca", "verify-full")
CONNECT_TIMEOUT = 10  # seconds
QUERY_TIMEOUT = 30  # seconds, for the editor, schemas and tests
SYNC_TIMEOUT = 3600  # seconds, for copying a whole table
BATCH_ROWS = 50_000
# The size of the Arrow batches ADBC makes of PostgreSQL's rows while copying (its default
# is 16 MB). A sync writes each batch while the next is read (storage.syncs._read_ahead)
# and holds up to a row group besides: with 4 MB batches the writing starts sooner and
# the peak memory of a 1M-row x 16-column sync is 25-30 MB lower (355 against 380 MiB);
# the time was the same within the noise of a shared 2-core machine.
PG_BATCH_BYTES = 4 * 1024 * 1024
SAMPLE_ROWS = 10_000  # a live dataset's sample, for profiles and analyses
# A random sample drawn by the database (one scan of the table).
# (The line break before each closing parenthesis: a query may end in a -- comment.)
SAMPLE_SQL = {"postgresql": "SELECT * FROM ({query}\n) AS sample_source ORDER BY random() LIMIT {rows}",
              "mysql": "SELECT * FROM ({query}\n) AS sample_source ORDER BY RAND() LIMIT {rows}"}
MAX_TABLES = 2_000
MAX_COLUMNS_LISTED = 50_000


class ConnectionFailed(DataInsightError):
    """The database could not be reached or refused us; the message says which."""

    code = "connection_failed"
    status = 400


class SourceQueryError(InvalidInput):
    code = "sql_error"


@dataclass(frozen=True)
class Target:
    kind: str
    host: str
    port: int
    database: str
    user: str
    password: str = field(repr=False, default="")
    options: dict = field(default_factory=dict)
    allow_loopback: bool = False  # DATAINSIGHT_CONNECTIONS_ALLOW_LOOPBACK

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def label(self) -> str:
        return "PostgreSQL" if self.kind == "postgresql" else "MySQL"


@dataclass
class Column:
    name: str
    db_type: str  # as the database names it
    arrow: pa.DataType | None  # None: kept as text
    note: str | None = None


# --- checks shared by both kinds --------------------------------------------------------------


# Cloud metadata services outside the link-local range (AWS's IPv6 one is unique-local).
METADATA_ADDRESSES = {ipaddress.ip_address("fd00:ec2::254")}


def resolve_host(host: str, port: int, allow_loopback: bool = False) -> str:
    """The address to connect to. Refuses hosts that resolve to link-local, multicast or
    unspecified addresses or a metadata service, and loopback addresses (the server's own
    databases) unless ``allow_loopback`` (one such address refuses the host)."""
    try:
        found = [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise ConnectionFailed(f"The host {host!r} could not be resolved "
                                   f"({getattr(exc, 'strerror', None) or exc})") from None
        found = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    if not found:
        raise ConnectionFailed(f"The host {host!r} has no address")
    for address in found:
        plain = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped else address
        if plain.is_link_local or plain.is_multicast or plain.is_unspecified or plain in METADATA_ADDRESSES:
            raise ConnectionFailed(f"The host {host} is a link-local, multicast or unspecified address ({address}); "
                                   "no database can be reached there")
        if plain.is_loopback and not allow_loopback:
            raise ConnectionFailed(f"The host {host} is this server itself ({address}): connecting to the server's "
                                   "own databases is off unless an administrator sets "
                                   "DATAINSIGHT_CONNECTIONS_ALLOW_LOOPBACK=true")
    return str(found[0])


def one_select(sql: str, kind: str) -> exp.Expression:
    """The statement, parsed in the database's dialect, if it is exactly one SELECT that
    writes nothing and locks nothing; else a message that says what it is."""
    if not isinstance(sql, str) or not sql.strip():
        raise SourceQueryError("Write a query, such as SELECT * FROM orders LIMIT 10", details={"field": "sql"})
    if kind == "mysql" and re.search(r"/\*\s*M?!", sql):
        # MySQL runs what such a comment holds, which a parser reads as a comment.
        raise SourceQueryError("MySQL's executable comments (/*! ... */) are not allowed here",
                               details={"field": "sql"})
    try:
        statements = [s for s in sqlglot.parse(sql, read=DIALECTS[kind]) if s is not None]
    except sqlglot.errors.TokenError as exc:
        raise SourceQueryError(f"The query could not be read: {exc}", details={"field": "sql"}) from None
    except sqlglot.errors.ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        where = f" (line {first.get('line')}, position {first.get('col')})" if first.get("line") else ""
        raise SourceQueryError(f"The query could not be read: {first.get('description') or exc}{where}",
                               details={"field": "sql", "line": first.get("line"), "position": first.get("col")}) \
            from None
    if len(statements) != 1:
        raise SourceQueryError(f"Run one statement at a time; this holds {len(statements)}", details={"field": "sql"})
    statement = statements[0]
    if not isinstance(statement, exp.Query):
        kind = statement.key.upper()
        if kind in ("ALIAS", "COLUMN", "IDENTIFIER", "LITERAL", "PAREN") or isinstance(statement, exp.Condition):
            raise SourceQueryError("The query could not be read: it should start with SELECT or WITH",
                                   details={"field": "sql"})
        raise SourceQueryError(f"Only SELECT queries run on a connection, and this is {kind}: the database is "
                               "only read", details={"field": "sql"})
    for select in statement.find_all(exp.Select):
        if select.args.get("into") is not None:
            raise SourceQueryError("SELECT ... INTO writes a table; only reading queries run here",
                                   details={"field": "sql"})
        if select.args.get("locks"):
            raise SourceQueryError("SELECT ... FOR UPDATE/SHARE locks rows; only plain reads run here",
                                   details={"field": "sql"})
    return statement


def quote_table(name: str, kind: str) -> str:
    """``schema.table`` (or ``table``) as the dialect's quoted identifier, read by sqlglot
    (so ``"My Schema"."Orders"`` and `` `db`.`t` `` work, and nothing else gets in)."""
    if not isinstance(name, str) or not name.strip() or len(name) > 500:
        raise InvalidInput("Name the table to copy, such as public.orders", details={"field": "table"})
    try:
        table = exp.to_table(name.strip(), dialect=DIALECTS[kind])
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError, ValueError):
        table = None
    if table is None or not table.name or table.args.get("catalog") is not None or \
            any(not isinstance(part, exp.Identifier) for part in table.parts):
        raise InvalidInput(f"{name!r} is not a table name: write table or schema.table", details={"field": "table"})
    return ".".join(part.sql(dialect=DIALECTS[kind], identify=True) for part in table.parts)


def _clean_message(text: str, target: Target) -> str:
    text = re.sub(r"^(IO|INTERNAL|INVALID_ARGUMENT|UNKNOWN|INVALID_STATE): ", "", str(text).strip())
    text = re.sub(r"^\[libpq\] ", "", text)
    text = re.sub(r"^Execution error \[PGRES_FATAL_ERROR\]: ", "", text)
    text = re.sub(r"^ERROR: +", "", text)
    text = re.sub(r"^(Failed to connect|Failed to execute query): ", "", text)
    text = text.replace("connection to server at", "server at").split("\nQuery was:")[0]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " ".join(lines)[:600]


_IPV4 = re.compile(r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w.])")
_IPV6 = re.compile(r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")


def without_settings(message: str, target: Target) -> str:
    """A connection's error as shown to someone who may not see its settings (an editor, a
    chart's viewer, a dataset page): its host, addresses, port, user and database name
    replaced by words. Owners see the message as it is."""
    text = message
    for value, word in ((target.where, "the database server"), (target.host, "the database server"),
                        (target.user, "its user"), (target.database, "its database")):
        if value and len(value) >= 2:
            text = re.sub(rf"(?<![\w.-]){re.escape(value)}(?![\w.-])", word, text)
    text = _IPV4.sub("an address", text)
    text = _IPV6.sub(lambda m: "an address" if "::" in m.group(0) or m.group(0).count(":") >= 5 else m.group(0),
                     text)
    return re.sub(rf"(?i)\bport {target.port}\b", "its port", text)


def _connect_message(text: str, target: Target) -> str:
    """A failed connection in words. The password is masked here only: a query's error
    never holds it, and masking there would tell an editor when a guess was right."""
    cleaned = _clean_message(text, target)
    if target.password:
        for form in {target.password, quote(target.password), quote(target.password, safe="")}:
            cleaned = cleaned.replace(form, "***")
    low = cleaned.lower()
    if "does not exist" in low and "database" in low or "unknown database" in low or "to database" in low:
        return f"{target.label} at {target.where} has no database {target.database!r} that this user may read " \
               f"({cleaned})"
    if "password authentication failed" in low or "access denied" in low or "no password supplied" in low:
        return f"{target.label} at {target.where} refused the user name or password ({cleaned})"
    if "timeout" in low or "timed out" in low:
        return f"{target.label} at {target.where} did not answer within {CONNECT_TIMEOUT} s ({cleaned})"
    if "refused" in low or "can't connect" in low or "could not connect" in low or "no route" in low:
        return f"Nothing answers at {target.where}: is the {target.label} server running and reachable? ({cleaned})"
    return f"Could not connect to {target.label} at {target.where}: {cleaned}"


# --- PostgreSQL -------------------------------------------------------------------------------

_PG_KEEP = {"int2", "int4", "int8", "float4", "float8", "bool", "date", "timestamp", "timestamptz", "text",
            "varchar", "bpchar", "name", "char"}
_PG_TEXT = {"json", "jsonb", "uuid", "citext", "xml"}  # text by nature: no note


class PostgresSource:
    kind = "postgresql"

    def __init__(self, target: Target, timeout: float = QUERY_TIMEOUT):
        self.target = target
        self.timeout = timeout
        self._con = None

    def __enter__(self) -> "PostgresSource":
        import adbc_driver_postgresql.dbapi as pg
        from adbc_driver_manager import Error as AdbcError

        address = resolve_host(self.target.host, self.target.port, self.target.allow_loopback)
        mode = self.target.options.get("sslmode") or "prefer"
        params = {
            "host": self.target.host, "hostaddr": address, "port": str(self.target.port),
            "dbname": self.target.database, "user": self.target.user, "password": self.target.password,
            "sslmode": mode, "connect_timeout": str(CONNECT_TIMEOUT), "application_name": "DataInsight",
            "options": f"-c default_transaction_read_only=on -c statement_timeout={int(self.timeout * 1000)} "
                       "-c TimeZone=UTC",
            # Only the password given here logs in: never the server's own ~/.pgpass,
            # PGPASSWORD, Kerberos tickets or client certificates.
            "passfile": "/dev/null", "gssencmode": "disable", "sslcert": "/nonexistent", "sslkey": "/nonexistent",
        }
        uri = "postgresql://?" + urlencode({k: v for k, v in params.items() if v != ""}, quote_via=quote)
        try:
            self._con = pg.connect(uri)
        except AdbcError as exc:
            raise ConnectionFailed(_connect_message(str(exc), self.target)) from None
        return self

    def __exit__(self, *exc_info) -> None:
        if self._con is not None:
            try:
                self._con.rollback()
            except Exception:  # noqa: BLE001 - the connection may already be broken; close it anyway
                pass
            self._con.close()

    def _fail(self, exc: Exception, what: str) -> DataInsightError:
        text = _clean_message(str(exc), self.target)
        if "statement timeout" in text:
            return QueryTimeout(f"{what} ran longer than {self.timeout:g} s on the database and was stopped")
        if "read-only transaction" in text:
            return SourceQueryError(f"The database refused to write: connections are read-only ({text})",
                                    details={"field": "sql"})
        return SourceQueryError(f"{self.target.label} said: {text}", details={"field": "sql"})

    def _rows(self, sql: str, params=None) -> list[tuple]:
        from adbc_driver_manager import Error as AdbcError

        cur = self._con.cursor()
        try:
            cur.execute(sql, params)
            return cur.fetchall()
        except AdbcError as exc:
            raise self._fail(exc, "The query") from None
        finally:
            cur.close()

    def server_version(self) -> str:
        return str(self._rows("SELECT version()")[0][0]).split(" on ")[0][:200]

    def tables(self) -> list[dict]:
        rows = self._rows(
            "SELECT n.nspname, c.relname, c.relkind, a.attname, format_type(a.atttypid, a.atttypmod) "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
            "WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
            "AND n.nspname NOT LIKE 'pg\\_toast%' AND has_table_privilege(c.oid, 'SELECT') "
            f"ORDER BY 1, 2, a.attnum LIMIT {MAX_COLUMNS_LISTED}")
        kinds = {"r": "table", "p": "table", "f": "table", "v": "view", "m": "view"}
        return _group_tables((schema, name, kinds.get(kind, "table"), column, db_type)
                             for schema, name, kind, column, db_type in rows)

    def columns(self, query: str) -> list[Column]:
        from adbc_driver_manager import Error as AdbcError

        cur = self._con.cursor()
        try:
            cur.execute(f"SELECT * FROM ({query}\n) AS datainsight_source LIMIT 0")
            schema = cur.fetch_record_batch().schema
        except (AdbcError, pa.ArrowException, OSError) as exc:
            raise self._fail(exc, "The query") from None
        finally:
            cur.close()
        found = []
        for item in schema:
            db_type = (item.metadata or {}).get(b"POSTGRESQL:type", b"").decode() or str(item.type)
            if db_type in _PG_KEEP:
                found.append(Column(item.name, db_type, item.type))
            elif db_type == "numeric":
                found.append(Column(item.name, db_type, pa.float64()))
            elif db_type in _PG_TEXT:
                found.append(Column(item.name, db_type, None))
            else:
                found.append(Column(item.name, db_type, None,
                                    f"{item.name}: the database type {db_type} is kept as text"))
        return distinct_names(found)

    def select_sql(self, query: str, columns: list[Column], after_column: str | None = None) -> str:
        def pick(column: Column) -> str:
            name = '"' + column.name.replace('"', '""') + '"'
            if column.arrow is None:
                return f"{name}::text AS {name}"
            if column.db_type == "numeric":
                return f"{name}::float8 AS {name}"
            return name

        sql = f"SELECT {', '.join(pick(c) for c in columns)} FROM ({query}\n) AS datainsight_source"
        if after_column is not None:
            sql += f' WHERE "{after_column.replace(chr(34), chr(34) * 2)}" > $1'
        return sql

    def batches(self, query: str, columns: list[Column], after_column: str | None = None,
                after_value=None) -> Iterator[pa.RecordBatch]:
        from adbc_driver_manager import Error as AdbcError

        sql = self.select_sql(query, columns, after_column)
        cur = self._con.cursor()
        try:
            cur.adbc_statement.set_options(**{"adbc.postgresql.batch_size_hint_bytes": str(PG_BATCH_BYTES)})
            if after_column is not None:
                cur.execute(sql, (after_value,))
            else:
                cur.execute(sql)
            reader = cur.fetch_record_batch()
            schema = pa.schema([pa.field(c.name, c.arrow if c.arrow is not None else pa.string()) for c in columns])
            for batch in reader:
                yield pa.RecordBatch.from_arrays(
                    [_plain(batch.column(i), schema.field(i).type) for i in range(batch.num_columns)], schema=schema)
        except (AdbcError, pa.ArrowException, OSError) as exc:  # errors while streaming come through Arrow
            raise self._fail(exc, "Reading the rows") from None
        finally:
            cur.close()

    def fetch(self, sql: str, params: list) -> tuple[list[str], list[list]]:
        """(column names, rows) of a small result (a widget's), numbers as numbers."""
        from adbc_driver_manager import Error as AdbcError

        cur = self._con.cursor()
        try:
            cur.execute(sql, list(params) if params else None)
            table = cur.fetch_arrow_table()
        except (AdbcError, pa.ArrowException, OSError) as exc:
            raise self._fail(exc, "The chart's query") from None
        finally:
            cur.close()
        columns = []
        for index, item in enumerate(table.schema):
            column = table.column(index)
            if isinstance(item.type, pa.ExtensionType):
                column = pa.chunked_array([chunk.storage for chunk in column.chunks], type=item.type.storage_type)
            if (item.metadata or {}).get(b"POSTGRESQL:type") == b"numeric":
                column = column.cast(pa.float64())
            if pa.types.is_timestamp(column.type) and column.type.tz is not None:
                column = column.cast(pa.timestamp(column.type.unit))  # UTC wall time, as the copies keep it
            columns.append(column.to_pylist())
        return table.column_names, [list(r) for r in zip(*columns)]


def distinct_names(columns: list[Column]) -> list[Column]:
    """The columns, if no two share a name (a copy names its columns by name)."""
    seen: set[str] = set()
    for column in columns:
        if column.name.lower() in seen:
            raise SourceQueryError(f"Two columns are named {column.name!r}: name them apart with AS",
                                   details={"field": "sql"})
        seen.add(column.name.lower())
    if not columns:
        raise SourceQueryError("The query returns no columns", details={"field": "sql"})
    return columns


def _plain(array: pa.Array, wanted: pa.DataType) -> pa.Array:
    """An Arrow column without extension types, as ``wanted``."""
    if isinstance(array.type, pa.ExtensionType):
        array = array.storage
    if array.type != wanted:
        array = array.cast(wanted)
    return array


def _group_tables(rows) -> list[dict]:
    tables: dict[tuple, dict] = {}
    for schema, name, kind, column, db_type in rows:
        key = (schema, name)
        if key not in tables:
            if len(tables) >= MAX_TABLES:
                break
            tables[key] = {"schema": schema, "name": name, "kind": kind, "columns": []}
        tables[key]["columns"].append({"name": column, "type": db_type})
    return list(tables.values())


# --- MySQL and MariaDB -------------------------------------------------------------------------


class NamedTlsContext(ssl.SSLContext):
    """Certificate checks against the host *name* on a socket opened to the address it was
    resolved to once (resolve_host): PyMySQL names the server by the host it was given,
    and giving it the name would make it resolve again, where a rebinding DNS answer could
    point elsewhere."""

    server_name: str | None = None

    def wrap_socket(self, sock, *args, server_hostname=None, **kwargs):
        return super().wrap_socket(sock, *args, server_hostname=self.server_name or server_hostname, **kwargs)


def verifying_context(host: str) -> NamedTlsContext:
    context = NamedTlsContext(ssl.PROTOCOL_TLS_CLIENT)  # checks the name and the chain by default
    context.load_default_certs(ssl.Purpose.SERVER_AUTH)
    context.server_name = host
    return context


class MysqlSource:
    kind = "mysql"

    def __init__(self, target: Target, timeout: float = QUERY_TIMEOUT):
        self.target = target
        self.timeout = timeout
        self._con = None
        self.mariadb = False

    def __enter__(self) -> "MysqlSource":
        import pymysql

        address = resolve_host(self.target.host, self.target.port, self.target.allow_loopback)
        mode = self.target.options.get("sslmode") or "prefer"
        tls = None
        if mode != "disable":
            context = verifying_context(self.target.host)
            if mode in ("prefer", "require"):
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            elif mode == "verify-ca":
                context.check_hostname = False
            tls = context

        def connect(tls):
            return pymysql.connect(
                host=address, port=self.target.port,
                user=self.target.user, password=self.target.password, database=self.target.database or None,
                connect_timeout=CONNECT_TIMEOUT, read_timeout=self.timeout + 30, write_timeout=CONNECT_TIMEOUT * 3,
                charset="utf8mb4", ssl=tls, autocommit=False, init_command="SET time_zone = '+00:00'")

        try:
            try:
                self._con = connect(tls)
            except pymysql.MySQLError as exc:
                # "prefer": TLS when the server offers it, else a plain connection
                if mode != "prefer" or "server doesn't support" not in _mysql_text(exc):
                    raise
                self._con = connect(None)
        except pymysql.MySQLError as exc:
            raise ConnectionFailed(_connect_message(_mysql_text(exc), self.target)) from None
        if mode in ("require", "verify-ca", "verify-full") and not isinstance(self._con._sock, ssl.SSLSocket):
            self._con.close()
            self._con = None
            raise ConnectionFailed(f"MySQL at {self.target.where} does not offer TLS, and this connection requires it "
                                   f"(sslmode {mode})")
        self.mariadb = "mariadb" in self._con.get_server_info().lower()
        limit = (f"max_statement_time = {float(self.timeout):g}" if self.mariadb
                 else f"max_execution_time = {int(self.timeout * 1000)}")
        try:
            with self._con.cursor() as cur:
                cur.execute(f"SET SESSION {limit}")
                cur.execute("SET SESSION TRANSACTION READ ONLY")
                cur.execute("START TRANSACTION READ ONLY")
        except pymysql.MySQLError as exc:
            self._con.close()
            self._con = None
            raise ConnectionFailed(_connect_message(_mysql_text(exc), self.target)) from None
        return self

    def __exit__(self, *exc_info) -> None:
        if self._con is not None:
            try:
                self._con.rollback()
                self._con.close()
            except Exception:  # noqa: BLE001 - a broken connection is closed anyway
                pass

    def _fail(self, exc: Exception, what: str) -> DataInsightError:
        text = _clean_message(_mysql_text(exc), self.target)
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
        if code in (1969, 3024) or "max_statement_time" in text or "maximum statement execution time" in text:
            return QueryTimeout(f"{what} ran longer than {self.timeout:g} s on the database and was stopped")
        if code == 1792 or "READ ONLY transaction" in text:
            return SourceQueryError(f"The database refused to write: connections are read-only ({text})",
                                    details={"field": "sql"})
        return SourceQueryError(f"{self.target.label} said: {text}", details={"field": "sql"})

    def _rows(self, sql: str, params=None) -> list[tuple]:
        import pymysql

        try:
            with self._con.cursor() as cur:
                cur.execute(sql, params)
                return list(cur.fetchall())
        except pymysql.MySQLError as exc:
            raise self._fail(exc, "The query") from None

    def fetch(self, sql: str, params: list) -> tuple[list[str], list[list]]:
        """(column names, rows) of a small result (a widget's), numbers as numbers."""
        import pymysql

        try:
            with self._con.cursor() as cur:
                cur.execute(sql, list(params or []))  # the text's %% are undone only with a list
                names = [d[0] for d in cur.description or []]
                rows = [[float(v) if isinstance(v, decimal.Decimal) else v for v in row] for row in cur.fetchall()]
        except pymysql.MySQLError as exc:
            raise self._fail(exc, "The chart's query") from None
        return names, _mysql_datetimes(rows)

    def server_version(self) -> str:
        return ("MariaDB " if self.mariadb else "MySQL ") + self._con.get_server_info()[:100]

    def tables(self) -> list[dict]:
        rows = self._rows(
            "SELECT c.table_schema, c.table_name, t.table_type, c.column_name, c.column_type "
            "FROM information_schema.columns c JOIN information_schema.tables t "
            "ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
            "WHERE c.table_schema NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys') "
            f"ORDER BY c.table_schema, c.table_name, c.ordinal_position LIMIT {MAX_COLUMNS_LISTED}")
        return _group_tables((schema, name, "view" if "VIEW" in str(kind) else "table", column, db_type)
                             for schema, name, kind, column, db_type in rows)

    def columns(self, query: str) -> list[Column]:
        import pymysql

        try:
            with self._con.cursor() as cur:
                cur.execute(f"SELECT * FROM ({query}\n) AS datainsight_source LIMIT 0")
                fields = cur._result.fields if cur._result is not None else []
        except pymysql.MySQLError as exc:
            raise self._fail(exc, "The query") from None
        return distinct_names([_mysql_column(f) for f in fields])

    def select_sql(self, query: str, columns: list[Column], after_column: str | None = None) -> str:
        if after_column is None:
            return f"SELECT * FROM ({query}\n) AS datainsight_source"
        # With a parameter PyMySQL %-formats the whole text: the query's own % are doubled.
        return (f"SELECT * FROM ({query.replace('%', '%%')}\n) AS datainsight_source "
                f"WHERE `{after_column.replace('`', '``')}` > %s")
        return sql

    def batches(self, query: str, columns: list[Column], after_column: str | None = None,
                after_value=None) -> Iterator[pa.RecordBatch]:
        import pymysql
        import pymysql.cursors

        sql = self.select_sql(query, columns, after_column)
        schema = pa.schema([pa.field(c.name, c.arrow if c.arrow is not None else pa.string()) for c in columns])
        cur = self._con.cursor(pymysql.cursors.SSCursor)
        try:
            cur.execute(sql, (after_value,) if after_column is not None else None)
            while True:
                rows = cur.fetchmany(BATCH_ROWS)
                if not rows:
                    break
                values = list(zip(*rows))
                yield pa.RecordBatch.from_arrays(
                    [_mysql_array(values[i], columns[i], schema.field(i).type) for i in range(len(columns))],
                    schema=schema)
        except pymysql.MySQLError as exc:
            raise self._fail(exc, "Reading the rows") from None
        finally:
            try:
                cur.close()
            except Exception:  # noqa: BLE001 - an interrupted stream cannot always be drained
                pass


_DATETIME_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


def _mysql_datetimes(rows: list[list]) -> list[list]:
    """MySQL's date arithmetic answers text ('2025-01-01 00:00:00'): a column whose every
    value reads so is made of datetimes, as the same query gives on the other engines."""
    if not rows:
        return rows
    for index in range(len(rows[0])):
        values = [row[index] for row in rows if row[index] is not None]
        if values and all(isinstance(v, str) and _DATETIME_TEXT.match(v) for v in values):
            for row in rows:
                if row[index] is not None:
                    row[index] = dt.datetime.strptime(row[index], "%Y-%m-%d %H:%M:%S")
    return rows


def _mysql_text(exc: Exception) -> str:
    if len(exc.args) >= 2:
        return str(exc.args[1])
    return str(exc)


# PyMySQL's FIELD_TYPE codes
_MY_INT = {1: "tinyint", 2: "smallint", 3: "int", 8: "bigint", 9: "mediumint", 13: "year"}
_MY_FLOAT = {4: "float", 5: "double", 0: "decimal", 246: "decimal"}
_MY_TEXT = {15: "varchar", 253: "varchar", 254: "char", 245: "json", 247: "enum", 248: "set",
            249: "tinyblob", 250: "mediumblob", 251: "longblob", 252: "text"}
_BINARY_CHARSET = 63


def _mysql_column(f) -> Column:
    code = f.type_code
    if code == 1 and f.length == 1:
        return Column(f.name, "tinyint(1)", pa.bool_())
    if code in _MY_INT:
        return Column(f.name, _MY_INT[code], pa.int64())
    if code in _MY_FLOAT:
        return Column(f.name, _MY_FLOAT[code], pa.float64())
    if code in (10, 14):
        return Column(f.name, "date", pa.date32())
    if code == 12:
        return Column(f.name, "datetime", pa.timestamp("us"))
    if code == 7:
        return Column(f.name, "timestamp", pa.timestamp("us", tz="UTC"))  # the session's time zone is UTC
    if code == 16:
        return Column(f.name, "bit", pa.int64())
    if code in _MY_TEXT and code != 245 and getattr(f, "charsetnr", 0) == _BINARY_CHARSET:
        return Column(f.name, "binary", None, f"{f.name}: binary values are kept as hexadecimal text")
    if code in _MY_TEXT:
        return Column(f.name, _MY_TEXT[code], None)
    names = {11: "time", 255: "geometry"}
    db_type = names.get(code, f"type {code}")
    return Column(f.name, db_type, None, f"{f.name}: the database type {db_type} is kept as text")


def _mysql_value(value, column: Column):
    if value is None:
        return None
    if isinstance(value, bytes):
        if column.db_type == "bit":
            return int.from_bytes(value, "big")
        if column.arrow is None:
            return value.hex() if column.db_type in ("binary", "geometry") or not _is_text(value) else \
                value.decode("utf-8")
    if column.arrow is None:
        if isinstance(value, dt.timedelta):
            total = int(value.total_seconds())
            sign = "-" if total < 0 else ""
            total = abs(total)
            return f"{sign}{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"
        return value if isinstance(value, str) else str(value)
    if isinstance(value, decimal.Decimal):
        return float(value)
    if column.arrow == pa.bool_():
        return bool(value)
    if isinstance(value, str) and column.arrow in (pa.date32(), pa.timestamp("us"), pa.timestamp("us", tz="UTC")):
        return None  # MySQL's zero dates ('0000-00-00') come back as text: no date
    return value


def _is_text(value: bytes) -> bool:
    try:
        value.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _mysql_array(values, column: Column, wanted: pa.DataType) -> pa.Array:
    converted = [_mysql_value(v, column) for v in values]
    if wanted == pa.timestamp("us", tz="UTC"):
        converted = [v.replace(tzinfo=dt.timezone.utc) if isinstance(v, dt.datetime) else v for v in converted]
    return pa.array(converted, type=wanted)


def open_source(target: Target, timeout: float = QUERY_TIMEOUT):
    """A connected source for ``with``: PostgresSource or MysqlSource."""
    if target.kind == "postgresql":
        return PostgresSource(target, timeout)
    if target.kind == "mysql":
        return MysqlSource(target, timeout)
    raise InvalidInput(f"Unknown kind {target.kind!r}; choose postgresql or mysql", details={"field": "kind"})


def test_target(target: Target) -> dict:
    """{"ok", "message", "server_version", "elapsed_ms"}: whether the app can connect and
    read. A failure is an answer, not an error, so the form can show it."""
    started = time.perf_counter()
    try:
        with open_source(target, QUERY_TIMEOUT) as source:
            version = source.server_version()
    except DataInsightError as exc:
        return {"ok": False, "message": exc.message, "server_version": None,
                "elapsed_ms": round((time.perf_counter() - started) * 1000, 1)}
    return {"ok": True, "message": f"Connected to {version}", "server_version": version,
            "elapsed_ms": round((time.perf_counter() - started) * 1000, 1)}
