"""Background steps give way to interactive queries, for a bounded time, then check."""
import threading
import time

import pytest

from storage.priority import Activity, polite


def test_a_step_waits_while_interactive_work_runs():
    activity = Activity()
    release = threading.Event()

    def dashboard_query():
        with activity.running():
            release.wait(5)

    worker = threading.Thread(target=dashboard_query)
    worker.start()
    while not activity.busy:
        time.sleep(0.01)
    checks = []
    step = polite(lambda: checks.append(time.monotonic()), activity, max_wait=5)
    threading.Timer(0.3, release.set).start()
    started = time.monotonic()
    step()
    assert 0.25 <= checks[0] - started < 3 and not activity.busy
    worker.join()


def test_the_wait_is_bounded_and_the_check_still_runs():
    activity = Activity()
    cancelled = []

    def check():
        cancelled.append(True)
        raise RuntimeError("cancelled")

    with activity.running():  # a query that outlasts the wait
        started = time.monotonic()
        with pytest.raises(RuntimeError, match="cancelled"):
            polite(check, activity, max_wait=0.2)()
        assert 0.15 <= time.monotonic() - started < 2
    assert cancelled == [True] and not activity.busy


def test_idle_costs_nothing():
    activity = Activity()
    started = time.monotonic()
    for _ in range(1000):
        polite(None, activity)()
    assert time.monotonic() - started < 0.5
