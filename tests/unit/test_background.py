"""BackgroundResults: a bounded wait, one computation per key, failures remembered."""
import threading
import time

import pytest

from storage.background import BackgroundResults, StillComputing


def test_waits_then_says_still_computing_and_the_result_follows():
    results = BackgroundResults(workers=2)
    gate, calls = threading.Event(), []

    def slow():
        calls.append(1)
        assert gate.wait(10)
        return 42

    try:
        with pytest.raises(StillComputing):
            results.get("k", slow, wait=0.05)
        with pytest.raises(StillComputing):  # asked again meanwhile: the same run, not a second
            results.get("k", slow, wait=0.05)
        answers = []
        waiter = threading.Thread(target=lambda: answers.append(results.get("k", slow, wait=None)))
        waiter.start()  # waits as long as it takes, on the same run
        gate.set()
        waiter.join(10)
        assert answers == [42] and calls == [1]
    finally:
        gate.set()
        results.shutdown()


def test_one_computation_for_callers_at_the_same_time():
    results = BackgroundResults(workers=2)
    calls = []

    def compute():
        calls.append(1)
        time.sleep(0.2)
        return "done"

    answers = []
    threads = [threading.Thread(target=lambda: answers.append(results.get("same", compute, wait=5)))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.shutdown()
    assert answers == ["done"] * 4 and calls == [1]


def test_a_failure_is_told_to_the_next_callers_without_running_again():
    results = BackgroundResults(workers=1)
    calls = []

    def broken():
        calls.append(1)
        raise ValueError("no such column")

    with pytest.raises(ValueError, match="no such column"):
        results.get("bad", broken, wait=5)
    with pytest.raises(ValueError, match="no such column"):
        results.get("bad", broken, wait=5)
    results.shutdown()
    assert calls == [1]
