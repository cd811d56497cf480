"""Interactive work first. A dashboard's queries are someone waiting at a screen; a
profile job is not. Background work that runs in steps (the profile: a query per step)
calls ``polite(check)`` between steps, which waits while interactive queries run (at
most MAX_YIELD_SECONDS a step, so busy dashboards slow a profile down but never stall
it), then asks its own ``check`` (cancellation).

Per process: with the default single worker process every dashboard query is seen.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

MAX_YIELD_SECONDS = 2.0


class Activity:
    """How many interactive queries are running now."""

    def __init__(self):
        self._count = 0
        self._changed = threading.Condition()

    @contextmanager
    def running(self) -> Iterator[None]:
        with self._changed:
            self._count += 1
        try:
            yield
        finally:
            with self._changed:
                self._count -= 1
                if self._count == 0:
                    self._changed.notify_all()

    @property
    def busy(self) -> bool:
        return self._count > 0

    def wait_until_idle(self, timeout: float) -> bool:
        """True once nothing interactive runs; False when ``timeout`` passed first."""
        with self._changed:
            return self._changed.wait_for(lambda: self._count == 0, timeout=timeout)


INTERACTIVE = Activity()


def polite(check: Callable[[], None] | None = None, activity: Activity = INTERACTIVE,
           max_wait: float = MAX_YIELD_SECONDS) -> Callable[[], None]:
    """A step check for background work: give way to interactive queries, then ``check``."""
    def step() -> None:
        activity.wait_until_idle(max_wait)
        if check is not None:
            check()
    return step
