"""Sites: what a workspace collects events for (issue 13, point 1).

A site has a public collection key (safe in a web page: it lets anyone *send* events to
this one site, nothing else) and a dataset through which the workspace reads its events
like any other dataset. Who may do what follows the workspace's roles: viewers see a site,
its stats and its dataset; editors create, change and delete sites and send server-side
events; another workspace's site is a 404.

Shared state lives in the database so every process and machine agrees: the daily salt
of visitor ids, dropped-event counts, the claim to compact a site's files and the day its
retention last ran.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import logging
import json
import re
import secrets
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from storage.audit import NO_AUDIT
from storage import ingest
from storage.database import as_utc, row_id, utcnow
from storage.duck import connect, literal
from storage.errors import Forbidden, InvalidInput, NotFound
from storage.event_store import EVENT_COLUMNS, EventStore, empty_table
from storage.principal import Principal, Role
from storage.tables import event_salts, site_drops, sites

log = logging.getLogger(__name__)

DEFAULT_RETENTION_DAYS = 90
SNAPSHOT_VERSIONS_KEPT = 3
CLAIM_SECONDS = 300.0  # a compaction claim; renewed before each step  # a reader that opened an older version file still finds it for a while
MAX_RETENTION_DAYS = 3650
MAX_SITES_PER_WORKSPACE = 200
MAX_EXCLUDED_NETWORKS = 100
KEY_PREFIX = "site_"
KNOWN_FOR = 5.0  # seconds a process trusts what it read of a key
SALT_DAYS_KEPT = 2
PAYLOAD_KEYS = {"name", "domain", "retention_days", "excluded_networks"}
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
                     r"(:\d{1,5})?$")


@dataclass(frozen=True)
class SiteRef:
    """What collection needs of a site, found by its key."""
    id: int
    workspace_id: int
    domain: str
    excluded: tuple
    key: str
    retention_days: int = DEFAULT_RETENTION_DAYS


def clean_domain(value) -> str:
    """``example.com`` from what people paste: a bare host, or an address with a scheme,
    ``www.``, a path or a trailing slash."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("A site needs a domain, such as example.com")
    text = value.strip().lower()
    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", text)
    text = text.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if text.startswith("www."):
        text = text[4:]
    try:
        text = text.encode("idna").decode("ascii") if not text.isascii() else text
    except UnicodeError:
        raise InvalidInput(f"{value.strip()[:100]!r} is not a domain name such as example.com") from None
    if not _DOMAIN.match(text):
        raise InvalidInput(f"{value.strip()[:100]!r} is not a domain name such as example.com")
    return text


def clean_networks(value) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput("excluded_networks must be a list of addresses or ranges, such as [\"203.0.113.0/24\"]")
    if len(value) > MAX_EXCLUDED_NETWORKS:
        raise InvalidInput(f"A site may exclude at most {MAX_EXCLUDED_NETWORKS} address ranges")
    cleaned = []
    for item in value:
        try:
            cleaned.append(str(ipaddress.ip_network(item.strip(), strict=False)))
        except ValueError:
            raise InvalidInput(f"{item[:60]!r} is not an IP address or range such as 203.0.113.0/24") from None
    return cleaned


def _clean_name(value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("A site needs a name")
    name = " ".join(value.split())
    if len(name) > 200:
        raise InvalidInput("A site's name may have at most 200 characters")
    return name


def _clean_retention(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_RETENTION_DAYS:
        raise InvalidInput(f"retention_days must be a whole number of days from 0 (keep forever) to "
                           f"{MAX_RETENTION_DAYS}")
    return value


class SiteService:
    audit = NO_AUDIT  # Storage gives it the real AuditLog

    def __init__(self, engine, workspaces, datasets, store: EventStore, clock=utcnow):
        self.engine = engine
        self.workspaces = workspaces
        self.datasets = datasets
        self.store = store
        self.clock = clock
        self.users = None  # set by Storage: snapshots are written as the site's creator
        self._keys: dict[str, tuple[float, SiteRef | None]] = {}
        self._by_dataset: dict[tuple[int, str], tuple[float, int | None]] = {}
        self._salts: dict[str, bytes] = {}
        self._lock = threading.Lock()

    # --- reading ------------------------------------------------------------------------

    def _load(self, conn, principal: Principal, site_id, minimum: Role):
        site_id = row_id(site_id, "site")
        row = conn.execute(select(sites).where(sites.c.id == site_id)).first()
        if row is None or self.workspaces.role_of(conn, principal, row.workspace_id) is None:
            raise NotFound(f"There is no site {site_id}")
        self.workspaces.require_role(conn, principal, row.workspace_id, minimum)
        return row

    @staticmethod
    def _to_dict(row) -> dict:
        return {"id": row.id, "workspace_id": row.workspace_id, "name": row.name, "domain": row.domain,
                "key": row.key, "dataset_id": row.dataset_id, "retention_days": row.retention_days,
                "excluded_networks": json.loads(row.excluded_networks_json),
                "created_at": as_utc(row.created_at).isoformat(), "updated_at": as_utc(row.updated_at).isoformat()}

    def ref(self, site: dict) -> SiteRef:
        """The SiteRef of a site already found by ``require``."""
        return SiteRef(site["id"], site["workspace_id"], site["domain"],
                       tuple(ipaddress.ip_network(n) for n in site["excluded_networks"]), site["key"],
                       site["retention_days"])

    def get(self, principal: Principal, site_id) -> dict:
        with self.engine.connect() as conn:
            return self._to_dict(self._load(conn, principal, site_id, Role.VIEWER))

    def require(self, principal: Principal, site_id, minimum: Role = Role.VIEWER) -> dict:
        """The site, if the principal has ``minimum`` in its workspace (else NotFound/Forbidden)."""
        with self.engine.connect() as conn:
            return self._to_dict(self._load(conn, principal, site_id, minimum))

    def list(self, principal: Principal, workspace_id=None) -> list[dict]:
        with self.engine.connect() as conn:
            if workspace_id is not None:
                self.workspaces.require_role(conn, principal, workspace_id, Role.VIEWER)
                ids = [int(workspace_id)]
            else:
                ids = [w.id for w in self.workspaces.list_for(principal)]
            rows = conn.execute(select(sites).where(sites.c.workspace_id.in_(ids))
                                .order_by(sites.c.name, sites.c.id)).all() if ids else []
        return [self._to_dict(r) for r in rows]

    def by_key(self, key) -> SiteRef | None:
        """The site a collection key names (None if none); remembered a few seconds."""
        if not isinstance(key, str) or not 1 <= len(key) <= 64:
            return None
        now = time.monotonic()
        with self._lock:
            found = self._keys.get(key)
        if found is not None and now - found[0] < KNOWN_FOR:
            return found[1]
        with self.engine.connect() as conn:
            row = conn.execute(select(sites.c.id, sites.c.workspace_id, sites.c.domain, sites.c.retention_days,
                                      sites.c.excluded_networks_json).where(sites.c.key == key)).first()
        ref = None
        if row is not None:
            ref = SiteRef(row.id, row.workspace_id, row.domain,
                          tuple(ipaddress.ip_network(n) for n in json.loads(row.excluded_networks_json)), key,
                          row.retention_days)
        with self._lock:
            if len(self._keys) > 10000:
                self._keys.clear()
            self._keys[key] = (now, ref)
        return ref

    def site_of_dataset(self, dataset) -> int | None:
        """The site whose events ``dataset`` (access already checked) reads, or None."""
        key = (dataset.id, dataset.path)
        now = time.monotonic()
        with self._lock:
            found = self._by_dataset.get(key)
        if found is not None and now - found[0] < KNOWN_FOR:
            return found[1]
        with self.engine.connect() as conn:
            site_id = conn.execute(select(sites.c.id).where(sites.c.dataset_id == dataset.id,
                                                            sites.c.workspace_id == dataset.workspace_id)).scalar()
        with self._lock:
            if len(self._by_dataset) > 10000:
                self._by_dataset.clear()
            self._by_dataset[key] = (now, site_id)
        return site_id

    # --- changing -----------------------------------------------------------------------

    def create(self, principal: Principal, workspace_id, payload) -> dict:
        if not isinstance(payload, dict):
            raise InvalidInput("A site must be a JSON object with a name and a domain")
        unknown = sorted(set(payload) - PAYLOAD_KEYS)
        if unknown:
            raise InvalidInput(f"Unknown field {unknown[0]!r}; a site has {', '.join(sorted(PAYLOAD_KEYS))}")
        name = _clean_name(payload.get("name"))
        domain = clean_domain(payload.get("domain"))
        retention = _clean_retention(payload.get("retention_days", DEFAULT_RETENTION_DAYS))
        networks = clean_networks(payload.get("excluded_networks"))
        with self.engine.connect() as conn:
            self.workspaces.require_role(conn, principal, workspace_id, Role.EDITOR)
            count = conn.execute(select(func.count()).select_from(sites)
                                 .where(sites.c.workspace_id == int(workspace_id))).scalar_one()
        if count >= MAX_SITES_PER_WORKSPACE:
            raise InvalidInput(f"A workspace may have at most {MAX_SITES_PER_WORKSPACE} sites")
        dataset = self._create_dataset(principal, workspace_id, name)
        now = self.clock()
        try:
            with self.engine.begin() as conn:
                self.workspaces.require_role(conn, principal, workspace_id, Role.EDITOR)
                site_id = conn.execute(insert(sites).values(
                    workspace_id=int(workspace_id), dataset_id=dataset.id, name=name, domain=domain,
                    key=KEY_PREFIX + secrets.token_urlsafe(18), retention_days=retention,
                    excluded_networks_json=json.dumps(networks), created_by=principal.user_id,
                    created_at=now, updated_at=now).returning(sites.c.id)).scalar_one()
        except BaseException:
            self.datasets.delete(principal, dataset.id)
            raise
        self.audit.record(principal, "site.created", target_type="site", target_id=site_id, target_name=name,
                          workspace_id=int(workspace_id))
        return self.get(principal, site_id)

    def _create_dataset(self, principal: Principal, workspace_id, name: str):
        """The site's dataset: its schema is the events', its file an empty table until the
        events are published to it; its charts read the events themselves."""
        with tempfile.TemporaryDirectory(dir=self.datasets.tmp_dir) as folder:
            path = Path(folder) / "events.parquet"
            pq.write_table(empty_table(), path)
            inspection = self.datasets.inspect_file(path, "events.parquet", allow_empty=True)
            dataset_name = self.datasets.free_name(principal, workspace_id, f"{name} events")
            return self.datasets.create_from_file(
                principal, workspace_id, path, "events.parquet", name=dataset_name, inspection=inspection,
                description=f"Events collected for the site {name}. Its charts read the events as they arrive.")

    def update(self, principal: Principal, site_id, payload) -> dict:
        if not isinstance(payload, dict):
            raise InvalidInput("The changes must be a JSON object")
        unknown = sorted(set(payload) - PAYLOAD_KEYS)
        if unknown:
            raise InvalidInput(f"Unknown field {unknown[0]!r}; a site has {', '.join(sorted(PAYLOAD_KEYS))}")
        values = {}
        if "name" in payload:
            values["name"] = _clean_name(payload["name"])
        if "domain" in payload:
            values["domain"] = clean_domain(payload["domain"])
        if "retention_days" in payload:
            values["retention_days"] = _clean_retention(payload["retention_days"])
        if "excluded_networks" in payload:
            values["excluded_networks_json"] = json.dumps(clean_networks(payload["excluded_networks"]))
        with self.engine.begin() as conn:
            row = self._load(conn, principal, site_id, Role.EDITOR)
            if values:
                conn.execute(update(sites).where(sites.c.id == row.id).values(updated_at=self.clock(), **values))
        with self._lock:
            self._keys.pop(row.key, None)
        self.audit.record(principal, "site.updated", target_type="site", target_id=row.id,
                          target_name=values.get("name", row.name), workspace_id=row.workspace_id)
        return self.get(principal, row.id)

    def delete(self, principal: Principal, site_id) -> None:
        """The site, its events and its dataset."""
        with self.engine.begin() as conn:
            row = self._load(conn, principal, site_id, Role.EDITOR)
            conn.execute(delete(sites).where(sites.c.id == row.id))
        with self._lock:
            self._keys.pop(row.key, None)
        self.store.delete_site(row.id)
        if row.dataset_id is not None:
            try:
                self.datasets.delete(principal, row.dataset_id)
            except NotFound:
                pass
        self.audit.record(principal, "site.deleted", target_type="site", target_id=row.id, target_name=row.name,
                          workspace_id=row.workspace_id)

    # --- shared state of collection -----------------------------------------------------------

    def salt(self, day: str) -> bytes:
        """The secret salt of visitor ids on ``day`` (UTC 'YYYY-MM-DD'): made by whichever
        process needs it first, read by all the others; salts older than two days are
        deleted, so yesterday's visitors cannot be linked to today's."""
        with self._lock:
            known = self._salts.get(day)
        if known is not None:
            return known
        with self.engine.begin() as conn:
            value = conn.execute(select(event_salts.c.salt).where(event_salts.c.day == day)).scalar()
            if value is None:
                statement = self._insert(event_salts).values(day=day, salt=secrets.token_hex(32),
                                                              created_at=self.clock())
                conn.execute(statement.on_conflict_do_nothing(index_elements=[event_salts.c.day]))
                value = conn.execute(select(event_salts.c.salt).where(event_salts.c.day == day)).scalar_one()
                oldest = (dt.date.fromisoformat(day) - dt.timedelta(days=SALT_DAYS_KEPT)).isoformat()
                conn.execute(delete(event_salts).where(event_salts.c.day < oldest))
        salt = bytes.fromhex(value)
        with self._lock:
            self._salts = {d: s for d, s in self._salts.items() if d >= day} | {day: salt}
        return salt

    def _insert(self, table):
        return (postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert)(table)

    def count_dropped(self, site_id: int, reason: str, events: int, day: str) -> None:
        statement = self._insert(site_drops).values(site_id=site_id, day=day, reason=reason, events=events)
        statement = statement.on_conflict_do_update(
            index_elements=[site_drops.c.site_id, site_drops.c.day, site_drops.c.reason],
            set_={"events": site_drops.c.events + events})
        with self.engine.begin() as conn:
            conn.execute(statement)

    def dropped(self, principal: Principal, site_id, first_day: str, last_day: str) -> dict[str, int]:
        site = self.require(principal, site_id)
        with self.engine.connect() as conn:
            rows = conn.execute(select(site_drops.c.reason, func.sum(site_drops.c.events))
                                .where(site_drops.c.site_id == site["id"], site_drops.c.day >= first_day,
                                       site_drops.c.day <= last_day).group_by(site_drops.c.reason)).all()
        return {reason: int(total) for reason, total in rows}

    # --- background upkeep: compaction and retention -----------------------------------------

    def all_ids(self) -> list[tuple[int, int]]:
        """(site id, retention days) of every site."""
        with self.engine.connect() as conn:
            return [(r.id, r.retention_days) for r in conn.execute(select(sites.c.id, sites.c.retention_days))]

    def claim_compaction(self, site_id: int, seconds: float = CLAIM_SECONDS) -> str | None:
        """A token if this process may compact the site now (None: another one is)."""
        now = self.clock()
        token = secrets.token_hex(8)
        with self.engine.begin() as conn:
            claimed = conn.execute(update(sites).where(
                sites.c.id == site_id,
                or_(sites.c.compact_claimed_until.is_(None), sites.c.compact_claimed_until < now),
            ).values(compact_claimed_until=now + dt.timedelta(seconds=seconds), compact_claim=token)).rowcount
        return token if claimed == 1 else None

    def renew_compaction(self, site_id: int, token: str, seconds: float = CLAIM_SECONDS) -> bool:
        """Whether the claim is still ours (renewed); False: it ran out and may be another's."""
        now = self.clock()
        with self.engine.begin() as conn:
            renewed = conn.execute(update(sites).where(
                sites.c.id == site_id, sites.c.compact_claim == token, sites.c.compact_claimed_until > now,
            ).values(compact_claimed_until=now + dt.timedelta(seconds=seconds))).rowcount
        return renewed == 1

    def release_compaction(self, site_id: int, token: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(sites).where(sites.c.id == site_id, sites.c.compact_claim == token)
                         .values(compact_claimed_until=None, compact_claim=None))

    def claim_retention(self, site_id: int, day: str) -> bool:
        """True for the one process that runs ``site_id``'s retention on ``day``."""
        with self.engine.begin() as conn:
            claimed = conn.execute(update(sites).where(
                sites.c.id == site_id,
                or_(sites.c.retention_done_on.is_(None), sites.c.retention_done_on != day),
            ).values(retention_done_on=day)).rowcount
        return claimed == 1

    # --- the dataset's version file: a snapshot of the events ---------------------------------

    def _digest(self, site_id: int) -> str:
        return hashlib.sha256(self.store.state(site_id).encode()).hexdigest()

    def publish_wanted(self, site_id: int, every_seconds: float) -> bool:
        """Whether the site's dataset file is older than ``every_seconds`` and its events
        changed since (the grid, profile and SQL editor read that file; charts, stats and
        analyses read the events themselves)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(sites.c.dataset_id, sites.c.published_state, sites.c.published_at)
                               .where(sites.c.id == site_id)).first()
        if row is None or row.dataset_id is None:
            return False
        if row.published_at is not None and \
                (self.clock() - as_utc(row.published_at)).total_seconds() < every_seconds:
            return False
        return self._digest(site_id) != row.published_state

    def publish(self, site_id: int) -> int | None:
        """Write the site's events as a new version of its dataset, as the site's creator
        (None when they cannot edit it any more), keeping the last few versions."""
        with self.engine.connect() as conn:
            row = conn.execute(select(sites).where(sites.c.id == site_id)).first()
        if row is None or row.dataset_id is None or self.users is None:
            return None
        digest = self._digest(site_id)
        owner = self.users.get(row.created_by) if row.created_by is not None else None
        try:
            if owner is None or not owner.is_active:
                raise Forbidden("the site's creator has no active account")
            principal = owner.principal(via="events")
            dataset = self.datasets.get(principal, row.dataset_id)
            tmp = self.datasets.tmp_dir / f".events-{uuid.uuid4().hex}.parquet"
            con = connect(self.datasets.tmp_dir, threads=1)
            try:
                relation = self.store.relation_sql(site_id)
                con.execute(f"COPY (SELECT {', '.join(EVENT_COLUMNS)} FROM {relation} ORDER BY ts) TO "
                            f"{literal(str(tmp))} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)")
                rows = con.execute(f"SELECT count(*) FROM read_parquet({literal(str(tmp))})").fetchone()[0]
            finally:
                con.close()
            try:
                self.datasets.add_version(principal, dataset.id, tmp, "events.parquet",
                                          written=ingest.Written(rows, dataset.schema))
            finally:
                tmp.unlink(missing_ok=True)
        except (NotFound, Forbidden) as exc:
            log.info("site %s: its dataset is not refreshed (%s)", site_id, exc)
            rows = None
        else:
            self.datasets.prune_versions(dataset.id, SNAPSHOT_VERSIONS_KEPT)
        with self.engine.begin() as conn:
            conn.execute(update(sites).where(sites.c.id == site_id)
                         .values(published_state=digest, published_at=self.clock()))
        return rows
