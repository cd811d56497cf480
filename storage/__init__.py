"""The data services that both faces (Dash callbacks and the REST API) call.

Every function that touches something owned by a workspace takes the acting Principal
and checks it here; there is no other path to the data.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from storage import health
from storage.analyses import AnalysisService
from storage.audit import AuditLog
from storage.connections import ConnectionService
from storage.dashboard_views import DashboardViewService
from storage.dashboards import DashboardService
from storage.database import make_engine, migrate
from storage.datasets import DatasetService
from storage.invitations import InvitationService
from storage.jobs import JobService
from storage.limits import Limits
from storage.dataset_sources import DatasetSources
from storage.live import LiveQueries
from storage.query_sources import QuerySources
from storage.profiles import ProfileService
from storage.queries import QueryService
from storage.reports import ReportService
from storage.roles import ColumnRoleService
from storage.schedules import ScheduleService
from storage.alerts import AlertService
from storage.saved_queries import SavedQueryService
from storage.collect import CollectService, EventUpkeep
from storage.event_store import EventStore
from storage.sites import SiteService
from storage.site_stats import SiteStatsService
from storage.signup import SignupService
from storage.syncs import SyncService
from storage.sql_editor import SqlEditorService
from storage.sessions import SessionService
from storage.throttle import LoginThrottle
from storage.tokens import TokenService
from storage.uploads import UploadService
from storage.users import UserService
from storage.workspaces import WorkspaceService
from settings import read_or_create_key


class Storage:
    """Everything the app keeps, for one data dir and one metadata database."""

    def __init__(self, database_url: str, data_dir: Path, sleep: Callable[[float], None] = time.sleep,
                 max_upload_mb: int = 1024, limits: Limits | None = None, audit_retention_days: int = 365,
                 secret_key: str | None = None, redis_url: str | None = None):
        self.limits = limits or Limits(max_upload_mb=max_upload_mb)
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.engine = make_engine(database_url)
        self.throttle = LoginThrottle(self.engine)
        self.users = UserService(self.engine, self.throttle, sleep=sleep)
        self.sessions = SessionService(self.engine)
        self.workspaces = WorkspaceService(self.engine)
        self.tokens = TokenService(self.engine)
        self.invitations = InvitationService(self.engine, self.users)
        self.uploads = UploadService(self.engine, self.data_dir, self.limits)
        self.datasets = DatasetService(self.engine, self.workspaces, self.data_dir, self.limits)
        self.jobs = JobService(self.engine, redis_url=redis_url)
        self.jobs.storage = self
        self.profiles = ProfileService(self.engine, self.datasets, self.jobs, self.data_dir)
        self.roles = ColumnRoleService(self.engine, self.workspaces, self.datasets, self.profiles)
        self.profiles.roles = self.roles  # profile alerts follow the roles
        self.dashboards = DashboardService(self.engine, self.workspaces, self.datasets, self.roles)
        self.redis_url = redis_url
        self.queries = QueryService(self.datasets, self.data_dir, **self._shared_query_state(secret_key))
        self.queries.dashboards = self.dashboards
        self.queries.roles = self.roles
        self.dashboard_views = DashboardViewService(self.dashboards, self.datasets, self.queries)
        self.analyses = AnalysisService(self.datasets, self.jobs, self.data_dir)
        self.queries.analyses = self.analyses  # analysis widgets on dashboards
        self.reports = ReportService(self.dashboards, self.dashboard_views, self.datasets, self.queries, self.jobs,
                                     self.data_dir)
        self.scheduler = None  # storage.schedules.Scheduler, started by app.create_app
        self.mail_probe = health.MailProbe()
        self.schedules = ScheduleService(self.engine, self.workspaces, self.dashboards, self.users, self.reports,
                                         self.jobs)
        self.alerts = AlertService(self.engine, self.workspaces, self.dashboards, self.users, self.queries,
                                   self.jobs)
        self.signup = SignupService(self.engine, self.users, redis_url=redis_url)
        # The secret key seals connection passwords: the app's, else the one kept in the
        # data dir (read only when a connection is first used).
        self.connections = ConnectionService(
            self.engine, self.workspaces, lambda: secret_key or read_or_create_key(self.data_dir / "secret_key"))
        self.syncs = SyncService(self.engine, self.workspaces, self.datasets, self.connections, self.jobs, self.users)
        self.sql = SqlEditorService(self.engine, self.workspaces, self.datasets)
        self.sql.connections = self.connections
        self.sql.syncs = self.syncs
        self.saved_queries = SavedQueryService(self.engine, self.workspaces)
        sources = DatasetSources(self.engine)
        self.queries.live = LiveQueries(self.engine, self.connections, sources)
        self.queries.query_sources = QuerySources(self.engine, self.sql, sources)
        self.syncs.sql_editor = self.sql
        self.events = EventStore(self.data_dir)
        self.sites = SiteService(self.engine, self.workspaces, self.datasets, self.events)
        self.sites.users = self.users
        self.collect = CollectService(self.sites, self.events)
        self.site_stats = SiteStatsService(self.sites, self.events, self.data_dir / "tmp")
        self.queries.sites = self.sites  # a site's dataset: its charts read the events as they arrive
        self.analyses.sites = self.sites
        self.event_upkeep: EventUpkeep | None = None  # started by app.create_app
        self.audit = AuditLog(self.engine, audit_retention_days)
        for service in (self.users, self.workspaces, self.tokens, self.datasets, self.dashboards, self.reports,
                        self.schedules, self.alerts, self.signup, self.connections, self.syncs, self.sites):
            service.audit = self.audit

    def configure(self, settings) -> None:
        """The settings the services read after construction (mail, sign-up, webhooks,
        connections): the same in a web process and in a Celery worker, which sends the
        scheduled reports and alerts a web process's scheduler queued."""
        from storage.schedules import Mailer

        self.schedules.mailer = Mailer.from_settings(settings)
        self.schedules.sends.per_user = settings.mail_sends_per_hour
        self.schedules.sends.per_dashboard = settings.mail_sends_per_hour_per_dashboard
        self.alerts.mailer = self.schedules.mailer
        self.signup.mailer = self.schedules.mailer
        self.signup.mode, self.signup.domains = settings.signup, settings.signup_domains
        self.signup.public_url = settings.public_url
        self.alerts.allow_private = settings.webhook_allow_private
        self.connections.allow_loopback = settings.connections_allow_loopback
        self.alerts.public_url = settings.public_url

    def _shared_query_state(self, secret_key: str | None) -> dict:
        """With Redis: the query result cache and its flights shared by every process
        (storage.redis_state); the secret key signs the cached values, and is the one
        every process shares (the data dir's, when not configured)."""
        if not self.redis_url:
            return {}
        from storage.redis_state import RedisFlights, RedisResultCache, client
        conn = client(self.redis_url)
        key = secret_key or read_or_create_key(self.data_dir / "secret_key")
        return {"cache": RedisResultCache(conn, key), "flights": RedisFlights(conn)}

    def start_event_upkeep(self, interval: float | None = None, snapshot_seconds: float | None = None) -> EventUpkeep:
        kwargs = {"interval": interval} if interval is not None else {}
        if snapshot_seconds is not None:
            kwargs["snapshot_seconds"] = snapshot_seconds
        self.event_upkeep = EventUpkeep(self.sites, self.events, self.data_dir / "tmp", **kwargs).start()
        return self.event_upkeep

    def migrate(self) -> None:
        migrate(self.engine, lock_dir=self.data_dir)

    def recover(self) -> None:
        """Start-up clean-up after a crash: half-written files and forgotten uploads."""
        self.datasets.recover()
        self.uploads.sweep()
        self.jobs.fail_orphans()
        self.jobs.fail_stale()
        self.profiles.sweep()
        self.reports.sweep()
        self.sessions.sweep()
        self.audit.prune()

    def health(self) -> dict:
        """Checks for /api/health (storage.health): database, data dir and free disk,
        the job queue, and the mail server."""
        return {
            "database": health.database_check(self.engine),
            "storage": health.storage_check(self.data_dir, self.limits.disk_reserve_mb),
            "jobs": health.jobs_check(self.engine),
            "mail": self.mail_probe.check(self.schedules.mailer),
        }

    def dispose(self) -> None:
        if self.scheduler is not None:
            self.scheduler.stop()
        if self.event_upkeep is not None:
            self.event_upkeep.stop()
        self.jobs.shutdown()
        self.queries.close()
        self.datasets.close()
        self.engine.dispose()
