"""The one settings object: every knob comes from a ``DATAINSIGHT_*`` environment variable.

Nothing here has a hard-coded secret. The secret key, when not given, is generated on
first start and kept in the data dir so that sessions survive restarts and every worker
process of one installation signs cookies with the same key.
"""
from __future__ import annotations

import ipaddress
import os
import secrets
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent
PREFIX = "DATAINSIGHT_"


class SettingsError(ValueError):
    """A setting has a value the app cannot use; the message names the variable."""


def _int_env(env: dict, name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(PREFIX + name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{PREFIX}{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{PREFIX}{name} must be at least {minimum}, got {value}")
    return value


def parse_port(raw: str, what: str) -> int:
    """A TCP port, 1 to 65535; ``what`` names where the value came from in the message."""
    try:
        port = int(raw)
    except ValueError:
        raise SettingsError(f"{what} must be a port number (1 to 65535), got {raw!r}") from None
    if not 1 <= port <= 65535:
        raise SettingsError(f"{what} must be a port number (1 to 65535), got {port}")
    return port


def _port_env(env: dict, name: str) -> int | None:
    """A port, or None when unset (the thing it is for stays off)."""
    raw = (env.get(PREFIX + name) or "").strip()
    return parse_port(raw, PREFIX + name) if raw else None


def _bool_env(env: dict, name: str, default: bool) -> bool:
    raw = env.get(PREFIX + name)
    if raw is None or raw.strip() == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{PREFIX}{name} must be true or false, got {raw!r}")


def _choice_env(env: dict, name: str, choices: tuple[str, ...], default: str) -> str:
    raw = (env.get(PREFIX + name) or "").strip().lower()
    if not raw:
        return default
    if raw not in choices:
        raise SettingsError(f"{PREFIX}{name} must be {' or '.join(choices)}, got {raw!r}")
    return raw


def _domains_env(env: dict, name: str) -> tuple[str, ...]:
    """Comma-separated email domains (example.com), lower-cased, without a leading @."""
    found = []
    for item in (env.get(PREFIX + name) or "").split(","):
        item = item.strip().lower().lstrip("@")
        if not item:
            continue
        if "." not in item or any(c in item for c in " /@:"):
            raise SettingsError(f"{PREFIX}{name} takes email domains such as example.com; got {item!r}")
        found.append(item)
    return tuple(found)


def _url_env(env: dict, name: str) -> str | None:
    """An http(s) address such as https://bi.example.com (a path prefix allowed), without
    its trailing slash, or None when unset."""
    from urllib.parse import urlsplit

    raw = (env.get(PREFIX + name) or "").strip().rstrip("/")
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise SettingsError(f"{PREFIX}{name} takes the app's address, such as https://bi.example.com; got {raw!r}")
    return raw


def _origins_env(env: dict, name: str) -> tuple[str, ...]:
    """Comma-separated origins (``https://app.example.com``, or ``*`` for any), lower-cased
    without a trailing slash, as a browser writes its Origin header."""
    from urllib.parse import urlsplit

    found = []
    for item in ((env.get(PREFIX + name) or "").split(",")):
        item = item.strip().rstrip("/").lower()
        if not item:
            continue
        parts = urlsplit(item)
        if item != "*" and (parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query):
            raise SettingsError(f"{PREFIX}{name} takes origins such as https://app.example.com (scheme and host, "
                                f"no path), or *; got {item!r}")
        found.append(item)
    return tuple(found)


def _rate_env(env: dict, name: str, default: str) -> str | None:
    """A rate such as ``600/minute`` (or ``10/second``, ``5000/hour``), or None for ``off``."""
    raw = (env.get(PREFIX + name) or default).strip().lower()
    if raw in ("off", "none", "0"):
        return None
    from limits import parse

    try:
        parse(raw)
    except ValueError:
        raise SettingsError(f"{PREFIX}{name} takes a rate such as 600/minute or 10/second, or off; got {raw!r}") \
            from None
    return raw


def _networks_env(env: dict, name: str) -> tuple[str, ...]:
    """Comma-separated addresses or CIDR blocks, normalised (``10.0.0.1`` -> ``10.0.0.1/32``)."""
    raw = env.get(PREFIX + name) or ""
    found = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        try:
            found.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise SettingsError(f"{PREFIX}{name} takes IP addresses or CIDR blocks, got {item!r}") from None
    return tuple(found)


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    host: str = "127.0.0.1"
    port: int = 8050
    secret_key: str | None = field(default=None, repr=False)
    # Background jobs go to Celery workers through this Redis (app.py worker); none: the
    # web process's own thread pool.
    redis_url: str | None = field(default=None, repr=False)
    max_upload_mb: int = 1024
    # What one upload may expand to and each person may keep (storage.limits.Limits).
    max_expanded_mb: int = 4096
    disk_reserve_mb: int = 1024
    user_quota_mb: int = 10240
    uploads_in_progress_mb: int = 2048
    import_memory_mb: int = 512
    workers: int = 1
    threads: int = 8
    # The front (web.front) reads every request whole before a thread takes it.
    request_timeout: int = 30
    min_upload_kbps: int = 32
    anonymous_body_kb: int = 256
    max_connections: int = 200
    secure_cookies: bool = False
    rate_limit: str | None = "600/minute"  # per API token or signed-in person, on /api/
    anonymous_rate_limit: str | None = "300/minute"  # per client address: sign-in, public links
    cors_origins: tuple[str, ...] = ()
    audit_retention_days: int = 365  # pages that may call /api/v1 with a Bearer token
    metrics_token: str | None = field(default=None, repr=False)  # GET /metrics from elsewhere than 127.0.0.1
    # A job worker's own GET /metrics (app.py worker); no port: it serves none.
    worker_metrics_port: int | None = None
    worker_metrics_host: str = "127.0.0.1"
    # Reverse proxies whose X-Forwarded-For / X-Forwarded-Host are believed; none by default.
    trusted_proxies: tuple[str, ...] = ()
    log_level: str = "INFO"
    # Outgoing mail for scheduled reports (DATAINSIGHT_SMTP_*); no host means no mail.
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_from: str = "datainsight@localhost"
    smtp_tls: bool = False  # STARTTLS after connecting (port 465's implicit TLS too)
    # Report mails an hour, per person and per dashboard, counted in the database.
    mail_sends_per_hour: int = 30
    mail_sends_per_hour_per_dashboard: int = 20
    # The report scheduler thread; None = on, except inside a pytest run.
    scheduler: bool | None = None
    scheduler_interval: float = 30.0  # seconds between the scheduler's rounds
    # Alert webhooks may reach private, loopback and link-local addresses (storage.webhooks).
    webhook_allow_private: bool = False
    connections_allow_loopback: bool = False
    # The app's address as people reach it (https://bi.example.com), for links in alert
    # messages; without it, the address the alert was saved from.
    public_url: str | None = None
    # Who may make an account: "invite" (administrators and invitations) or "open" (anyone,
    # with email verification), optionally only at these email domains.
    signup: str = "invite"
    signup_domains: tuple[str, ...] = ()
    # Event collection (issue 13): POST /api/collect's limits.
    collect_max_body_kb: int = 1024
    collect_max_events: int = 1000
    collect_site_rate_limit: str | None = "60000/minute"  # events per site
    collect_address_rate_limit: str | None = "1200/minute"  # requests per client address
    events_upkeep: bool = True  # compaction and retention of events in this process
    events_snapshot_minutes: int = 10  # how often a site's dataset file is written again (when events came)

    @classmethod
    def from_env(cls, env: dict | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)
        data_dir = Path(env.get(PREFIX + "DATA_DIR") or PROJECT_ROOT / "data" / "runtime")
        data_dir = data_dir.expanduser().resolve()
        database_url = env.get(PREFIX + "DATABASE_URL") or f"sqlite:///{data_dir / 'datainsight.db'}"
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            host=env.get(PREFIX + "HOST") or "127.0.0.1",
            port=_int_env(env, "PORT", 8050),
            secret_key=env.get(PREFIX + "SECRET_KEY") or None,
            redis_url=env.get(PREFIX + "REDIS_URL") or None,
            max_upload_mb=_int_env(env, "MAX_UPLOAD_MB", 1024),
            max_expanded_mb=_int_env(env, "MAX_EXPANDED_MB", 4096),
            disk_reserve_mb=_int_env(env, "DISK_RESERVE_MB", 1024, minimum=0),
            user_quota_mb=_int_env(env, "USER_QUOTA_MB", 10240, minimum=0),
            uploads_in_progress_mb=_int_env(env, "UPLOADS_IN_PROGRESS_MB", 2048, minimum=0),
            import_memory_mb=_int_env(env, "IMPORT_MEMORY_MB", 512, minimum=16),
            workers=_int_env(env, "WORKERS", 1),
            threads=_int_env(env, "THREADS", 8),
            request_timeout=_int_env(env, "REQUEST_TIMEOUT", 30),
            min_upload_kbps=_int_env(env, "MIN_UPLOAD_KBPS", 32),
            anonymous_body_kb=_int_env(env, "ANONYMOUS_BODY_KB", 256),
            max_connections=_int_env(env, "MAX_CONNECTIONS", 200, minimum=8),
            secure_cookies=_bool_env(env, "SECURE_COOKIES", False),
            metrics_token=env.get(PREFIX + "METRICS_TOKEN") or None,
            worker_metrics_port=_port_env(env, "WORKER_METRICS_PORT"),
            worker_metrics_host=(env.get(PREFIX + "WORKER_METRICS_HOST") or "").strip() or "127.0.0.1",
            cors_origins=_origins_env(env, "CORS_ORIGINS"),
            audit_retention_days=_int_env(env, "AUDIT_RETENTION_DAYS", 365),
            rate_limit=_rate_env(env, "RATE_LIMIT", "600/minute"),
            anonymous_rate_limit=_rate_env(env, "ANONYMOUS_RATE_LIMIT", "300/minute"),
            trusted_proxies=_networks_env(env, "TRUSTED_PROXIES"),
            log_level=(env.get(PREFIX + "LOG_LEVEL") or "INFO").upper(),
            smtp_host=env.get(PREFIX + "SMTP_HOST") or None,
            smtp_port=_int_env(env, "SMTP_PORT", 25),
            smtp_user=env.get(PREFIX + "SMTP_USER") or None,
            smtp_password=env.get(PREFIX + "SMTP_PASSWORD") or None,
            smtp_from=env.get(PREFIX + "SMTP_FROM") or "datainsight@localhost",
            smtp_tls=_bool_env(env, "SMTP_TLS", False),
            mail_sends_per_hour=_int_env(env, "MAIL_SENDS_PER_HOUR", 30),
            mail_sends_per_hour_per_dashboard=_int_env(env, "MAIL_SENDS_PER_HOUR_PER_DASHBOARD", 20),
            scheduler=_bool_env(env, "SCHEDULER", True) if (env.get(PREFIX + "SCHEDULER") or "").strip() else None,
            scheduler_interval=float(_int_env(env, "SCHEDULER_INTERVAL", 30)),
            webhook_allow_private=_bool_env(env, "WEBHOOK_ALLOW_PRIVATE", False),
            connections_allow_loopback=_bool_env(env, "CONNECTIONS_ALLOW_LOOPBACK", False),
            public_url=_url_env(env, "PUBLIC_URL"),
            signup=_choice_env(env, "SIGNUP", ("invite", "open"), "invite"),
            signup_domains=_domains_env(env, "SIGNUP_DOMAINS"),
            collect_max_body_kb=_int_env(env, "COLLECT_MAX_BODY_KB", 1024),
            collect_max_events=min(1000, _int_env(env, "COLLECT_MAX_EVENTS", 1000)),
            collect_site_rate_limit=_rate_env(env, "COLLECT_SITE_RATE_LIMIT", "60000/minute"),
            collect_address_rate_limit=_rate_env(env, "COLLECT_ADDRESS_RATE_LIMIT", "1200/minute"),
            events_upkeep=_bool_env(env, "EVENTS_UPKEEP", True),
            events_snapshot_minutes=_int_env(env, "EVENTS_SNAPSHOT_MINUTES", 10, minimum=0),
        )

    def with_overrides(self, **changes) -> "Settings":
        return replace(self, **changes)

    def ensure_data_dir(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def resolved_secret_key(self) -> str:
        """The configured key, or the one kept in the data dir (created once, mode 0600)."""
        if self.secret_key:
            return self.secret_key
        self.ensure_data_dir()
        return read_or_create_key(self.data_dir / "secret_key")


def read_or_create_key(path: Path) -> str:
    """The key kept in ``path``, made once (mode 0600) when there is none."""
    try:
        # O_EXCL: when several workers start at once, exactly one writes the key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
            handle.flush()
            os.fsync(handle.fileno())
    for _ in range(50):
        key = path.read_text().strip()
        if key:
            return key
        time.sleep(0.05)  # another worker is between create and write
    raise SettingsError(f"The secret key file {path} is empty; delete it to make a new one")
