"""Browser tests: a real DataInsight server (gunicorn, ``python app.py``) on a free port
with a fresh data dir, driven by Debian's Chromium through Playwright.

Fixtures:
  live_server  (session) the running server: ``url``, ``data_dir``, ``log_path``
  base_url     (session) its base URL, e.g. ``http://127.0.0.1:41235``
  browser      (session) one headless Chromium
  page         (function) a page in a fresh browser context per test, so no cookies
               carry over between tests
  new_page     (function) a factory for more independent contexts in one test (a second
               person signing in next to the first); keyword arguments go to
               ``browser.new_context`` (e.g. ``storage_state`` of a signed-in session)
  run_live_server()  the context manager behind ``live_server``, for a module that needs
               a server of its own

When a test that used a page fails, a full-page screenshot of every open page goes to
tests/e2e/artifacts/<test name>[-<n>].png and the tail of the server log is attached to
the report.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import TEST_RATE_LIMITS

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = os.environ.get("DATAINSIGHT_E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_TIMEOUT = 30.0
# Dash answers within a second here; a generous ceiling keeps slow CI machines green
# without any fixed sleeps in the tests.
EXPECT_TIMEOUT_MS = 15_000


@dataclass(frozen=True)
class LiveServer:
    url: str
    data_dir: Path
    log_path: Path
    process: subprocess.Popen

    def log_tail(self, lines: int = 80) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as exc:
            return f"(no server log: {exc})"
        return "\n".join(text.splitlines()[-lines:])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(process: subprocess.Popen) -> None:
    """Terminate the server's whole process group (gunicorn master and workers)."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=5)


@contextmanager
def run_live_server():
    """Start a server on a free port with a fresh data dir; stop it and remove the data
    when the block ends. ``live_server`` is one of these for the whole session; a module
    that needs a server of its own (e.g. one whose first user is not the first-run
    setup) can override ``live_server`` and ``base_url`` with a module-scoped one."""
    tmp = Path(tempfile.mkdtemp(prefix="datainsight-e2e-"))
    data_dir = tmp / "data"
    log_path = tmp / "server.log"
    port = _free_port()
    env = dict(os.environ)
    env.update(
        DATAINSIGHT_DATA_DIR=str(data_dir),
        DATAINSIGHT_PORT=str(port),
        DATAINSIGHT_HOST="127.0.0.1",
        DATAINSIGHT_LOG_LEVEL="INFO",
        **TEST_RATE_LIMITS,
    )
    env.pop("DATAINSIGHT_DATABASE_URL", None)  # always the fresh SQLite file in data_dir
    env.pop("DATAINSIGHT_SECRET_KEY", None)
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "app.py"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, so we can stop all of it
        )
    server = LiveServer(url=url, data_dir=data_dir, log_path=log_path, process=process)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        last_error = "no answer"
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"The server exited with code {process.returncode} before it was ready.\n"
                    f"--- server log ---\n{server.log_tail()}",
                    pytrace=False,
                )
            try:
                with urllib.request.urlopen(url + "/api/health", timeout=2) as response:
                    body = response.read().decode()
                    if response.status == 200 and '"ok"' in body:
                        break
                    last_error = f"{response.status} {body}"
            except (urllib.error.URLError, OSError) as exc:
                last_error = str(exc)
            if time.monotonic() > deadline:
                pytest.fail(
                    f"The server at {url} was not healthy after {STARTUP_TIMEOUT:.0f}s ({last_error}).\n"
                    f"--- server log ---\n{server.log_tail()}",
                    pytrace=False,
                )
            time.sleep(0.2)  # polling interval while the server boots
        yield server
    finally:
        _stop(process)
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def run_live_server_with(env: dict):
    """``run_live_server`` with these DATAINSIGHT_* settings in its environment (the
    process's own environment is put back afterwards)."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update({k: str(v) for k, v in env.items()})
    try:
        with run_live_server() as server:
            yield server
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session")
def live_server():
    with run_live_server() as server:
        yield server


@pytest.fixture(scope="session")
def base_url(live_server) -> str:
    return live_server.url


@pytest.fixture(scope="session")
def playwright_instance():
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (make test-system-deps)")
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


def same_origin_context(browser, base_url: str, **options):
    """A browser context on the live server whose API calls pass the same-origin check.

    page.request (the tests' API calls through the signed-in cookie) sends no Origin of its
    own, and web/csrf.py refuses cookie-authenticated changes without one; the browser's
    own requests carry this same value. A test that checks what Chromium itself sends
    passes extra_http_headers={}."""
    return browser.new_context(**{"base_url": base_url, "extra_http_headers": {"Origin": base_url}, **options})


@pytest.fixture
def new_page(browser, base_url, request):
    """Make a page in a fresh, isolated context (own cookies). Closed after the test."""
    contexts = []
    pages = []
    request.node._e2e_pages = pages  # for the failure screenshot hook

    def make(**context_options):
        """``context_options`` go to ``browser.new_context`` (e.g. ``storage_state`` to
        start signed in, ``accept_downloads``)."""
        # page.request (the tests' API calls through the signed-in cookie) sends no Origin of
        # its own, and web/csrf.py refuses cookie-authenticated changes without one; the
        # browser's own requests carry this same value. A test that checks what Chromium
        # itself sends passes extra_http_headers={}.
        options = {"viewport": {"width": 1280, "height": 900}, **context_options}
        context = same_origin_context(browser, base_url, **options)
        context.set_default_timeout(EXPECT_TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        pages.append(page)
        return page

    yield make
    for context in contexts:
        try:
            context.close()
        except Exception:  # the browser may already be gone after a crash
            pass


@pytest.fixture
def page(new_page):
    return new_page()


def _artifact_name(nodeid_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid_name).strip("_") or "test"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "teardown" or not report.failed:
        return
    pages = [p for p in getattr(item, "_e2e_pages", []) if not p.is_closed()]
    if pages:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = _artifact_name(item.name)
        for number, page in enumerate(pages, start=1):
            target = ARTIFACTS / (f"{name}.png" if number == 1 else f"{name}-{number}.png")
            try:
                page.screenshot(path=str(target), full_page=True)
                report.sections.append(("e2e screenshot", f"{target} (page at {page.url})"))
            except Exception as exc:  # a crashed page must not hide the real failure
                report.sections.append(("e2e screenshot", f"could not save {target}: {exc}"))
    server = item.funcargs.get("live_server")  # present whenever base_url/page was used
    if server is not None:
        report.sections.append(("server log (tail)", server.log_tail(60)))
