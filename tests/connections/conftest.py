"""Real database servers to connect to (issue 16): ``make test`` starts a throwaway
PostgreSQL (scripts/with-postgres.sh) and MariaDB (scripts/with-mariadb.sh) on 127.0.0.1;
each test gets a database of its own on them, dropped afterwards."""
from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from urllib.parse import urlparse

import pytest

from tests.http.conftest import ada, bob  # noqa: F401  (the API tokens of the two test users)

PG_ADMIN_URL = os.environ.get("DATAINSIGHT_TEST_POSTGRES_ADMIN_URL")
MYSQL_URL = os.environ.get("DATAINSIGHT_TEST_MYSQL_URL")


@dataclass
class SourceDb:
    kind: str
    host: str
    port: int
    database: str
    user: str
    password: str

    def payload(self, workspace_id, name="shop db", **extra) -> dict:
        return {"workspace_id": workspace_id, "name": name, "kind": self.kind, "host": self.host, "port": self.port,
                "database": self.database, "user": self.user, "password": self.password, **extra}

    def connect(self):
        """A read-write connection of the test's own, to set the data up (autocommit)."""
        if self.kind == "postgresql":
            import psycopg

            return psycopg.connect(host=self.host, port=self.port, dbname=self.database, user=self.user,
                                   password=self.password, autocommit=True)
        import pymysql

        return pymysql.connect(host=self.host, port=self.port, user=self.user, password=self.password,
                               database=self.database, autocommit=True, charset="utf8mb4")

    def run(self, *statements):
        con = self.connect()
        try:
            with con.cursor() as cur:
                for statement in statements:
                    cur.execute(statement)
        finally:
            con.close()

    def rows(self, sql):
        con = self.connect()
        try:
            with con.cursor() as cur:
                cur.execute(sql)
                return list(cur.fetchall())
        finally:
            con.close()


@pytest.fixture(autouse=True)
def _servers_on_this_machine(request):
    """The test servers listen on 127.0.0.1: the app may connect to them here
    (DATAINSIGHT_CONNECTIONS_ALLOW_LOOPBACK=true), which it refuses by default."""
    if "app_storage" in request.fixturenames or "app" in request.fixturenames:
        request.getfixturevalue("app_storage").connections.allow_loopback = True


def _require(url, what):
    if not url:
        pytest.skip(f"needs a {what} server: run the tests with make test (scripts/with-postgres.sh and "
                    "scripts/with-mariadb.sh start them)")
    return urlparse(url.replace("postgresql+psycopg://", "postgresql://"))


@pytest.fixture
def pg_db():
    """A database of its own, owned by a login role of its own with a password."""
    import psycopg

    url = _require(PG_ADMIN_URL, "PostgreSQL")
    name = f"source_{uuid.uuid4().hex[:12]}"
    password = f"Pw-{uuid.uuid4().hex}"
    admin = dict(host=url.hostname, port=url.port, user=url.username, password=url.password, autocommit=True)
    with psycopg.connect(dbname="postgres", **admin) as con:
        con.execute(f"CREATE ROLE {name} LOGIN PASSWORD '{password}'")
        con.execute(f'CREATE DATABASE "{name}" OWNER {name}')
    yield SourceDb("postgresql", url.hostname, url.port, name, name, password)
    with psycopg.connect(dbname="postgres", **admin) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        con.execute(f"DROP ROLE IF EXISTS {name}")


@pytest.fixture
def mysql_db():
    """A database of its own, with a user of its own that may do anything in it (only)."""
    import pymysql

    url = _require(MYSQL_URL, "MariaDB or MySQL")
    name = f"source_{uuid.uuid4().hex[:12]}"
    password = f"Pw-{uuid.uuid4().hex}"
    admin = dict(host=url.hostname, port=url.port, user=url.username, password=url.password, autocommit=True)
    con = pymysql.connect(**admin)
    with con.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        cur.execute(f"CREATE USER '{name}'@'127.0.0.1' IDENTIFIED BY '{password}'")
        cur.execute(f"GRANT ALL ON `{name}`.* TO '{name}'@'127.0.0.1'")
    con.close()
    yield SourceDb("mysql", url.hostname, url.port, name, name, password)
    con = pymysql.connect(**admin)
    with con.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cur.execute(f"DROP USER IF EXISTS '{name}'@'127.0.0.1'")
    con.close()
