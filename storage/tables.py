"""Metadata tables, in SQLAlchemy Core. Portable types only: the same tables run on
SQLite and PostgreSQL. Changes go through a new Alembic migration in
``storage/migrations/versions``; this module describes the schema at head."""
from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    true,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("password_hash", String(300), nullable=False),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("is_active", Boolean, nullable=False, default=True),
    # Changes whenever the password changes; part of the session id, so that a new
    # password signs out every other session.
    Column("session_stamp", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_login_at", DateTime(timezone=True)),
    # Added by migration 0012: false for an open sign-up until its link is opened.
    Column("email_verified", Boolean, nullable=False, default=True, server_default=true()),
)

workspaces = Table(
    "workspaces",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("is_personal", Boolean, nullable=False, default=False),
    Column("created_by", Integer, ForeignKey("users.id"), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # Added by migration 0008: email domains (JSON list) that report mail may go to besides
    # the members; an owner's decision. Empty: members only.
    Column("allowed_recipient_domains", Text, nullable=False, default="[]"),
)

memberships = Table(
    "memberships",
    metadata,
    Column("workspace_id", Integer, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("scope", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("last_used_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
)

# --- added by migration 0002 -------------------------------------------------------

login_throttle = Table(
    "login_throttle",
    metadata,
    Column("key", String(400), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("first_failure_at", DateTime(timezone=True), nullable=False),
    Column("locked_until", DateTime(timezone=True)),
)

invitations = Table(
    "invitations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(320), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("invited_by", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("accepted_at", DateTime(timezone=True)),
)

instance_state = Table(
    "instance_state",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("value", Text, nullable=False),
)

# --- added by migration 0003 -------------------------------------------------------

uploads = Table(
    "uploads",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("filename", String(300), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("received", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # receiving | complete | cancelled
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

datasets = Table(
    "datasets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("workspace_id", Integer, ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("current_version", Integer, nullable=False),
    Column("created_by", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

dataset_versions = Table(
    "dataset_versions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("dataset_id", Integer, ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("path", String(500), nullable=False),  # relative to the data dir
    Column("rows", BigInteger, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("schema_json", Text, nullable=False),  # [{"name", "type", "storage_type"}]
    Column("operation", String(16), nullable=False),  # create | replace | append
    Column("source_name", String(300), nullable=False),
    Column("source_format", String(32), nullable=False),
    Column("created_by", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("dataset_id", "version", name="uq_dataset_versions_dataset_id"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("workspace_id", Integer, ForeignKey("workspaces.id", ondelete="CASCADE")),
    Column("status", String(16), nullable=False),  # queued | running | done | failed | cancelled
    Column("progress", Float, nullable=False),
    Column("message", Text, nullable=False),
    Column("result_json", Text),
    Column("cancel_requested", Boolean, nullable=False),
    Column("worker", String(200), nullable=False),  # host:pid of the process running it
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# --- added by migration 0004 -------------------------------------------------------

dashboards = Table(
    "dashboards",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("workspace_id", Integer, ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, default=""),
    # The layout is read and saved whole, so it is kept as JSON documents, validated on save.
    Column("tabs_json", Text, nullable=False),  # [{"id", "title"}]
    Column("widgets_json", Text, nullable=False),  # [{"id", "spec", "layout", "tab"}]
    Column("filters_json", Text, nullable=False),  # [{"id", "column", "kind", "value"}]
    Column("created_by", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

dashboard_shares = Table(
    "dashboard_shares",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("dashboard_id", Integer, ForeignKey("dashboards.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),  # sha256 of the token; the token is not kept
    Column("created_by", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    # Added by migration 0005: whether the link may also download the dashboard's reports.
    Column("allow_export", Boolean, nullable=False, default=False),
)

# --- added by migration 0005 -------------------------------------------------------

schedules = Table(
    "schedules",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("dashboard_id", Integer, ForeignKey("dashboards.id", ondelete="SET NULL"), index=True),
    Column("workspace_id", Integer, ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("owner_id", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("name", String(200), nullable=False),
    Column("frequency", String(16), nullable=False),  # daily | weekly | monthly
    Column("days_json", Text, nullable=False),  # weekly: [0..6], Monday = 0; monthly: [day of month]
    Column("time_of_day", String(5), nullable=False),  # HH:MM in the schedule's time zone
    Column("timezone", String(64), nullable=False),
    Column("recipients_json", Text, nullable=False),  # ["a@b.c", ...]
    Column("format", String(8), nullable=False),  # pdf | xlsx | html | zip
    Column("paper", String(8), nullable=False),
    Column("orientation", String(16), nullable=False),
    Column("filters_json", Text, nullable=False),  # {filter id: value}, as in the dashboard URL
    Column("enabled", Boolean, nullable=False, default=True),
    Column("stop_reason", Text),  # why the scheduler stopped it (dashboard deleted, owner lost access)
    Column("next_run_at", DateTime(timezone=True), index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

schedule_runs = Table(
    "schedule_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("schedule_id", Integer, ForeignKey("schedules.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("due_at", DateTime(timezone=True), nullable=False),  # the slot this run is for
    Column("trigger", String(16), nullable=False),  # schedule | manual
    Column("status", String(16), nullable=False),  # running | retrying | sent | failed
    Column("attempts", Integer, nullable=False),
    Column("error", Text),
    Column("retry_at", DateTime(timezone=True)),
    Column("claimed_by", String(200)),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True)),
    Column("pages", Integer),
    Column("size_bytes", BigInteger),
    Column("note", Text),  # added by migration 0008: recipients a send skipped, and why
)

# Added by migration 0008: one row per attempt to mail a report, kept after its schedule
# is deleted; also the count the hourly send limits read (storage/mail_log.py).
send_log = Table(
    "send_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("workspace_id", Integer, ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("dashboard_id", Integer, ForeignKey("dashboards.id", ondelete="SET NULL"), index=True),
    Column("schedule_id", Integer, ForeignKey("schedules.id", ondelete="SET NULL")),
    Column("schedule_name", String(200), nullable=False),
    Column("trigger", String(16), nullable=False),  # manual | schedule
    # Who pressed Send now (NULL: the scheduler), and whose rights built the report.
    Column("requested_by", Integer, ForeignKey("users.id", ondelete="SET NULL"), index=True),
    Column("sent_as", Integer, ForeignKey("users.id", ondelete="SET NULL"), index=True),
    Column("recipients_json", Text, nullable=False),  # the addresses mailed
    Column("skipped_json", Text, nullable=False),  # addresses left out: not members, domain not allowed
    Column("status", String(16), nullable=False),  # sending | sent | failed | refused
    Column("error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("finished_at", DateTime(timezone=True)),
)

# Column roles (analytics.roles): what each column is, inferred once per dataset version
# (with the column summary it was inferred from), and a person's corrections per dataset
# and column name, which outlive versions while the column exists.
column_roles = Table(
    "column_roles",
    metadata,
    Column("dataset_id", Integer, ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("basis", String(16), nullable=False),  # summary (one scan) | profile
    Column("roles_json", Text, nullable=False),  # {column: {"role", "detail", "reason"}}
    Column("summary_json", Text, nullable=False),  # {"rows", "columns": {column: stats}}
    Column("computed_at", DateTime(timezone=True), nullable=False),
)

column_role_overrides = Table(
    "column_role_overrides",
    metadata,
    Column("dataset_id", Integer, ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True),
    Column("column_name", String(300), primary_key=True),
    Column("role", String(32), nullable=False),
    Column("detail", String(32)),
    Column("set_by", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("set_at", DateTime(timezone=True), nullable=False),
)

# Sign-in sessions (storage.sessions): one row per sign-in. The signed session cookie and
# the remember-me cookie carry its random key (kept here only as a hash); signing out
# revokes the row, so a copy of either cookie is worth nothing afterwards.
user_sessions = Table(
    "user_sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    Column("user_agent", String(300)),
    Column("client_address", String(64)),
)

# Added by migration 0009: fixed-window rate-limit counters (storage/rate_limits.py).
rate_limits = Table(
    "rate_limits",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("hits", Integer, nullable=False),
    Column("expires_at", Float, nullable=False),
)

# Added by migration 0010: the audit log (storage/audit.py); no foreign keys on purpose.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor_user_id", Integer),
    Column("actor_token_id", Integer),
    Column("actor", String(320), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target_type", String(32)),
    Column("target_id", String(64)),
    Column("target_name", String(300)),
    Column("workspace_id", Integer, index=False),
    Column("address", String(64)),
    Column("detail_json", Text, nullable=False),
)

# Added by migration 0011: alerts on a widget's number (storage/alerts.py), each check of
# one, and each message a change of state sent (retried with backoff).
alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("workspace_id", Integer, ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("dashboard_id", Integer, ForeignKey("dashboards.id", ondelete="SET NULL"), index=True),
    Column("widget_id", String(64), nullable=False),
    Column("owner_id", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("name", String(200), nullable=False),
    Column("category_json", Text),  # the category whose value is watched (JSON), or NULL for a KPI
    Column("op", String(16), nullable=False),  # > >= < <= changes_by_pct
    Column("threshold", Float, nullable=False),
    Column("check_json", Text, nullable=False),  # a schedule {"frequency", ...} or "on_refresh"
    Column("channels_json", Text, nullable=False),  # [{"type": "email", "to": [...]}, {"type": "webhook", "url"}]
    Column("send_mode", String(16), nullable=False),  # on_change | every_time
    Column("link_base", String(300)),  # the app's address the alert was made at, for links in messages
    Column("enabled", Boolean, nullable=False, default=True),
    Column("stop_reason", Text),
    Column("state", String(16), nullable=False),  # unknown | ok | triggered
    Column("last_value", Float),
    Column("last_checked_at", DateTime(timezone=True)),
    Column("next_check_at", DateTime(timezone=True), index=True),
    Column("checked_version", String(64)),  # on_refresh: the dataset version last checked
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

alert_checks = Table(
    "alert_checks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("alert_id", Integer, ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("trigger", String(16), nullable=False),  # schedule | refresh | manual
    Column("checked_at", DateTime(timezone=True), nullable=False),
    Column("value", Float),
    Column("change_pct", Float),
    Column("state", String(16), nullable=False),  # ok | triggered | error
    Column("event", String(16)),  # triggered | recovered | repeated: what was sent, if anything
    Column("error", Text),
    Column("message_json", Text),  # what the event's messages say (and its chart), for retries
)

alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("alert_id", Integer, ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("check_id", Integer, ForeignKey("alert_checks.id", ondelete="CASCADE"), nullable=False),
    Column("channel", String(16), nullable=False),  # email | webhook
    Column("target", String(400), nullable=False),  # the addresses, or the webhook's host (never its secret path)
    Column("destination", Text, nullable=False),  # JSON: the addresses, or the webhook's whole URL
    Column("status", String(16), nullable=False, index=True),  # sending | retrying | sent | failed
    Column("attempts", Integer, nullable=False),
    Column("error", Text),
    Column("retry_at", DateTime(timezone=True)),
    Column("claimed_by", String(200)),
    Column("started_at", DateTime(timezone=True)),
    Column("sent_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Added by migration 0012: single-use links that verify an address (open sign-up) or
# reset a password, stored as hashes like API tokens (storage/signup.py).
account_links = Table(
    "account_links",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("purpose", String(16), nullable=False),  # verify | reset
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
)

# Added by migration 0013: the SQL editor's history, per person (storage/sql_editor.py).
sql_history = Table(
    "sql_history",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("workspace_id", Integer, ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
    Column("sql", Text, nullable=False),
    Column("ran_at", DateTime(timezone=True), nullable=False),
    Column("elapsed_ms", Integer, nullable=False),
    Column("rows", Integer),
    Column("error", Text),
    Index("ix_sql_history_user_id_id", "user_id", "id"),
)

# Added by migration 0014: databases a workspace connected (storage/connections.py), and
# the datasets copied from them (storage/syncs.py). The password is sealed with a key
# derived from the app's secret key (storage/secret_box.py) and never leaves the server.
connections = Table(
    "connections",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("workspace_id", Integer, ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),  # postgresql | mysql
    Column("host", String(255), nullable=False),
    Column("port", Integer, nullable=False),
    Column("database_name", String(200), nullable=False),
    Column("username", String(200), nullable=False),
    Column("password_sealed", Text, nullable=False),
    Column("options_json", Text, nullable=False),  # {"sslmode": ...}
    Column("created_by", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

dataset_syncs = Table(
    "dataset_syncs",
    metadata,
    Column("dataset_id", Integer, ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True),
    # connection: copied from a connected database; workspace: a SQL editor query over the
    # workspace's own datasets, saved as a dataset; live: widget queries run on the
    # connected database (storage/live.py), the version file is a sample.
    Column("source", String(16), nullable=False),
    Column("cache_seconds", Integer),  # live: how long a widget's result is reused
    # NULL once the connection is deleted: the dataset stays, as its last copy.
    Column("connection_id", Integer, ForeignKey("connections.id", ondelete="SET NULL"), index=True),
    Column("source_table", String(500)),  # what was copied: a table ...
    Column("source_sql", Text),  # ... or a query
    Column("refresh_json", Text, nullable=False),  # "manual" | {"every", "unit"} | {"daily", "timezone"}
    Column("incremental_column", String(200)),
    Column("owner_id", Integer, ForeignKey("users.id", ondelete="SET NULL")),  # refreshes run as this person
    Column("next_refresh_at", DateTime(timezone=True), index=True),
    Column("running_job", String(64)),  # the job refreshing it now; claimed in one UPDATE
    Column("running_since", DateTime(timezone=True)),
    Column("last_refresh_at", DateTime(timezone=True)),
    Column("last_status", String(16)),  # ok | failed
    Column("last_error", Text),
    Column("last_rows", BigInteger),  # rows copied by the last refresh (new rows, when incremental)
    Column("notes_json", Text, nullable=False),  # what the copy could not keep as it was
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Added by migration 0014: SQL editor queries kept by name, the person's own or shared with
# the workspace (storage/saved_queries.py).
saved_queries = Table(
    "saved_queries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("workspace_id", Integer, ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("owner_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("sql", Text, nullable=False),
    Column("connection_id", Integer, ForeignKey("connections.id", ondelete="CASCADE")),  # NULL: the datasets
    Column("shared", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# --- website and product events (issue 13) ------------------------------------------------

sites = Table(
    "sites",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("workspace_id", Integer, ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False, index=True),
    # The dataset its events are read as; NULL if someone deleted that dataset.
    Column("dataset_id", Integer, ForeignKey("datasets.id", ondelete="SET NULL"), index=True),
    Column("name", String(200), nullable=False),
    Column("domain", String(255), nullable=False),
    Column("key", String(64), nullable=False, unique=True),  # the public collection key
    Column("retention_days", Integer, nullable=False),  # 0: kept forever
    Column("excluded_networks_json", Text, nullable=False),  # ["10.0.0.0/8", ...]: dropped
    Column("created_by", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # One process at a time compacts a site's files: claimed in one UPDATE (storage.sites).
    Column("compact_claimed_until", DateTime(timezone=True)),
    Column("compact_claim", String(32)),  # whose claim it is: only its holder renews or releases it
    Column("retention_done_on", String(10)),  # the UTC day old partitions were last dropped
    # The events as the dataset's version file last showed them (a digest of the visible
    # files) and when: the grid, profile and SQL editor read that file (storage.collect).
    Column("published_state", String(64)),
    Column("published_at", DateTime(timezone=True)),
    sqlite_autoincrement=True,  # a deleted site's id is never given again
)

# The salt of visitor ids, one per UTC day, shared by every process (storage.collect).
event_salts = Table(
    "event_salts",
    metadata,
    Column("day", String(10), primary_key=True),
    Column("salt", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Events refused as bots or excluded addresses, counted per site, day and reason.
site_drops = Table(
    "site_drops",
    metadata,
    Column("site_id", Integer, ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("reason", String(16), primary_key=True),
    Column("events", BigInteger, nullable=False),
)
