"""DataInsight: the composition root.

``create_app(settings)`` wires settings, storage, the Flask server, the guard, the API
and the Dash app together. ``server`` is what ``gunicorn app:server`` serves, and
``python app.py`` is the operator's command line (serve, create-user, create-token,
migrate).
"""
from __future__ import annotations

import argparse
import getpass
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlencode

import dash
import dash_bootstrap_components as dbc
import flask
from dash import dcc, html

from api import register_api
from callbacks import register_all
from components.navbar import navbar
from settings import PROJECT_ROOT, Settings, SettingsError, parse_port
from storage import Storage
from storage.errors import DataInsightError
from storage.jobs import pid_alive
from storage.limits import Limits
from web import auth, callback_shapes, cors, metrics, prefetch, rate_limits
from web.context import EXTENSION_KEY, current_principal, current_storage, current_workspace
from web.redact import RedactSecrets

log = logging.getLogger("datainsight")


def _shell_layout():
    """The frame around every page. Anonymous visitors get no navbar at all."""
    principal = current_principal() if flask.has_request_context() else None
    top = None
    if principal is not None:
        storage = current_storage()
        workspaces = storage.workspaces.list_for(principal)
        current = current_workspace(principal)
        top = navbar(principal.name, principal.is_admin, workspaces, current.id)
    return html.Div([top, dbc.Container(dash.page_container, fluid="lg", className="pb-5", id="page-body")])


def _redirect_to_login():
    """Sends an anonymous visitor to sign in, and back to the page they asked for after."""
    inputs = dash.ctx.inputs if dash.ctx else {}
    path = (inputs.get("_pages_location.pathname") or "/") + (inputs.get("_pages_location.search") or "")
    href = "/login" if path == "/" else "/login?" + urlencode({"next": path})
    return dcc.Location(id="protected-redirect", href=href, refresh=True)


def protect_page_layouts() -> None:
    """Protected by default: every page not registered with ``public=True`` renders only
    a redirect for an anonymous visitor, and ``admin_only`` pages refuse non-admins."""
    from components.feedback import empty_state

    for page in dash.page_registry.values():
        layout = page["layout"]
        if page.get("public") or getattr(layout, "_protected", False):
            continue

        def guarded(_layout=layout, _admin=page.get("admin_only", False), **kwargs):
            principal = current_principal()
            if principal is None:
                return _redirect_to_login()
            if _admin and not principal.is_admin:
                return empty_state("shield-lock", "Administrators only", "Ask an administrator if you need this page.")
            try:
                return _layout(**kwargs) if callable(_layout) else _layout
            except DataInsightError as exc:
                return empty_state("exclamation-triangle", "This page could not be shown", exc.message)

        guarded._protected = True
        page["layout"] = guarded


def _start_scheduler(storage: Storage, settings: Settings) -> None:
    """Mail from the SMTP settings, and the thread that sends scheduled reports and checks
    alerts (every
    worker runs one; the database claim sends each report once). Off inside pytest
    unless DATAINSIGHT_SCHEDULER=true asks for it."""
    import os

    from storage.schedules import Scheduler

    storage.configure(settings)
    wanted = settings.scheduler if settings.scheduler is not None else "PYTEST_CURRENT_TEST" not in os.environ
    if wanted:
        storage.scheduler = Scheduler(storage.schedules, storage.alerts, storage.syncs, storage.jobs,
                                      interval=settings.scheduler_interval).start()


def create_app(settings: Settings | None = None) -> dash.Dash:
    settings = settings or Settings.from_env()
    settings.ensure_data_dir()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:  # our own messages name paths too (web.csrf's warning)
        if not any(isinstance(f, RedactSecrets) for f in handler.filters):
            handler.addFilter(RedactSecrets())
    storage = Storage(settings.database_url, settings.data_dir, limits=Limits.from_settings(settings),
                      audit_retention_days=settings.audit_retention_days, secret_key=settings.resolved_secret_key(),
                      redis_url=settings.redis_url)
    storage.migrate()
    storage.recover()
    _start_scheduler(storage, settings)
    if settings.events_upkeep:
        storage.start_event_upkeep(snapshot_seconds=settings.events_snapshot_minutes * 60.0)

    server = flask.Flask("datainsight", root_path=str(PROJECT_ROOT))
    server.config["MAX_CONTENT_LENGTH"] = None  # uploads are chunked; limits are per route
    server.extensions[EXTENSION_KEY] = {"storage": storage, "settings": settings}
    auth.install(server, settings)
    cors.install(server, settings.cors_origins)  # before the guard: preflights carry no token
    metrics.install(server)  # after the guard: its timer runs first and times the guard's refusals
    rate_limits.install(server, settings, storage.engine)  # after the guard: counts by its principal
    prefetch.install(server)  # after the guard: dashboards start their queries with the page
    register_api(server)

    app = dash.Dash(
        __name__,
        server=server,
        use_pages=True,
        pages_folder=str(PROJECT_ROOT / "pages"),
        assets_folder=str(PROJECT_ROOT / "assets"),
        # CodeMirror is served from assets/ but loaded only by the SQL page (assets/sql-editor.js).
        # The website tracker is for other sites' pages (api.tracker serves it), never ours.
        assets_path_ignore=[r"^vendor-codemirror$", r"^tracker$"],
        title="DataInsight",
        update_title=None,
        serve_locally=True,
        # Load the plotly.js chunk with the page, not after the first graph arrives: every
        # dashboard has graphs, and the lazy load added a second round trip and ~1 s.
        eager_loading=True,
        suppress_callback_exceptions=True,  # pages come and go; their ids are not all in the shell
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    server.extensions["datainsight_dash"] = app
    app.layout = _shell_layout
    protect_page_layouts()
    register_all(app)

    @server.before_request
    def _callback_shapes():  # after Dash's own first-request set-up, which completes the map
        if flask.request.path == auth.CALLBACK_PATH and flask.request.method == "POST":
            return callback_shapes.refusal(app.callback_map)
        return None

    return app


def __getattr__(name: str):
    """``gunicorn app:server`` reads ``server``; build it on first use, not at import,
    so that tests and the CLI can import this module without starting an app."""
    if name == "server":
        global server
        server = create_app(Settings.from_env()).server
        return server
    raise AttributeError(name)


# --- command line -----------------------------------------------------------------------


def _serve(settings: Settings, dev: bool) -> None:
    if dev:
        app = create_app(settings)
        app.run(host=settings.host, port=settings.port, debug=True)
        return
    from gunicorn.app.base import BaseApplication

    metrics_dir = _metrics_dir("web")

    class _Gunicorn(BaseApplication):
        def load_config(self):
            self.settings = settings  # read by the front's workers
            self.cfg.set("bind", f"{settings.host}:{settings.port}")
            self.cfg.set("workers", settings.workers)
            # Each worker reads requests whole on an event loop before a thread takes them:
            # slow clients cost a socket, not a thread (web.front).
            self.cfg.set("worker_class", "web.front.FrontWorker")
            self.cfg.set("timeout", 120)
            self.cfg.set("accesslog", "-")
            # gunicorn 25's control socket defaults to one path per user ($HOME/.gunicorn):
            # two serve processes of one user would share it. Nothing here uses it.
            self.cfg.set("control_socket_disable", True)
            self.cfg.set("logger_class", "web.redact.RedactingLogger")  # no share tokens or invite codes in logs
            self.cfg.set("child_exit", _forget_worker_metrics)
            self.cfg.set("on_exit", lambda _server: shutil.rmtree(metrics_dir, ignore_errors=True))

        def load(self):
            return create_app(settings).server

    print(f"DataInsight on http://{settings.host}:{settings.port}  (data in {settings.data_dir})", flush=True)
    _Gunicorn().run()


def _metrics_dir(role: str) -> str:
    """Where this server's processes write their metrics files (storage.metrics): set
    before any process is forked and before prometheus_client is imported. One folder per
    server (a web master, a job worker), emptied at its start and removed at its end: a web
    and a worker started with the same settings on one machine must neither empty nor add
    up each other's files. Under an operator's PROMETHEUS_MULTIPROC_DIR that is its
    subfolder "<role>-<pid>" (those of servers that are gone are removed); else a temp dir.
    Never the shared data dir, where another host's processes write theirs."""
    base = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not base:
        folder = tempfile.mkdtemp(prefix=f"datainsight-{role}-metrics-")
    else:
        os.makedirs(base, exist_ok=True)
        for old in Path(base).iterdir():
            pid = old.name.rpartition("-")[2]
            if old.is_dir() and pid.isdigit() and not pid_alive(int(pid)):
                shutil.rmtree(old, ignore_errors=True)
        folder = os.path.join(base, f"{role}-{os.getpid()}")
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    return folder


def _forget_worker_metrics(_server, worker) -> None:
    from storage.metrics import forget_process

    forget_process(worker.pid)


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    """``python app.py worker``: Celery's prefork worker, and with a metrics port its own
    GET /metrics (web.worker_metrics) adding up the figures of every child."""
    if not settings.redis_url:
        print("error: set DATAINSIGHT_REDIS_URL (the Redis the web processes send jobs to)", file=sys.stderr)
        return 1
    port = args.metrics_port or settings.worker_metrics_port
    host = args.metrics_host or settings.worker_metrics_host
    # Before anything imports prometheus_client (it picks its mode then) and before Celery
    # forks the children that record the jobs' metrics.
    metrics_dir = _metrics_dir("worker") if port else None
    server = None
    try:
        _cli_storage(settings).dispose()  # migrated; each child builds its own (engines do not survive fork)
        if port:
            from web.worker_metrics import serve_worker_metrics

            server = serve_worker_metrics(settings, host, port)
            print(f"Worker metrics on http://{host}:{port}/metrics", flush=True)
        from storage.celery_jobs import run_worker

        run_worker(settings.redis_url, concurrency=args.concurrency)
    finally:
        if server is not None:
            from web.worker_metrics import stop_worker_metrics

            stop_worker_metrics(server)
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def _port_argument(raw: str) -> int:
    try:
        return parse_port(raw, "--metrics-port")
    except SettingsError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _cli_storage(settings: Settings) -> Storage:
    settings.ensure_data_dir()
    storage = Storage(settings.database_url, settings.data_dir, limits=Limits.from_settings(settings),
                      secret_key=settings.resolved_secret_key(),
                      redis_url=settings.redis_url)
    storage.migrate()
    return storage


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python app.py", description="DataInsight server and admin commands")
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="serve the app (the default)")
    serve.add_argument("--dev", action="store_true", help="Flask's development server with hot reload")
    create_user = sub.add_parser("create-user", help="create an account")
    create_user.add_argument("--email", required=True)
    create_user.add_argument("--password", help="omit to be asked for it")
    create_user.add_argument("--name")
    create_user.add_argument("--admin", action="store_true", help="make the account an administrator")
    create_token = sub.add_parser("create-token", help="print a new API token for an account")
    create_token.add_argument("--email", required=True)
    create_token.add_argument("--name", default="command line")
    create_token.add_argument("--scope", choices=("write", "read"), default="write")
    sub.add_parser("migrate", help="upgrade the metadata store to this version and exit")
    worker = sub.add_parser("worker", help="run background jobs from Redis (needs DATAINSIGHT_REDIS_URL)")
    worker.add_argument("--concurrency", type=int, default=1, help="jobs run at once by this worker")
    worker.add_argument("--metrics-port", type=_port_argument,
                        help="serve this worker's job metrics at GET /metrics on this port "
                             "(DATAINSIGHT_WORKER_METRICS_PORT; default: not served)")
    worker.add_argument("--metrics-host",
                        help="the address it listens on (DATAINSIGHT_WORKER_METRICS_HOST; default 127.0.0.1)")
    args = parser.parse_args(argv)

    try:
        settings = Settings.from_env()
        if args.command in (None, "serve"):
            _serve(settings, dev=getattr(args, "dev", False))
            return 0
        if args.command == "worker":
            return _worker(settings, args)
        storage = _cli_storage(settings)
        if args.command == "migrate":
            print("The metadata store is up to date.")
        elif args.command == "create-user":
            password = args.password if args.password is not None else getpass.getpass("Password: ")
            user = storage.users.create_user_unchecked(args.email, password, args.name, args.admin)
            print(f"Created {'administrator' if user.is_admin else 'user'} {user.email} (id {user.id})")
        elif args.command == "create-token":
            user = storage.users.get_by_email(args.email)
            if user is None:
                print(f"error: there is no account with the email {args.email}", file=sys.stderr)
                return 1
            _token, plaintext = storage.tokens.create_unchecked(user.id, args.name, args.scope)
            print(plaintext)
        return 0
    except (DataInsightError, SettingsError) as exc:
        print(f"error: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
