"""Work that may outlast a page request, computed in the background with a bounded
wait: the caller waits up to a few seconds and then gets ``StillComputing`` instead of
holding the page (or a report) hostage, while the work goes on and stores its result
where the next request finds it.

One computation per key runs at a time (later callers wait on the same one), and a
failure is remembered briefly, so that a page polling for a result that cannot be had
shows the error rather than starting the failing work again every few seconds.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

FAILURE_MEMORY_SECONDS = 60.0


class StillComputing(Exception):
    """The result is being computed and was not ready within the wait."""


class BackgroundResults:
    def __init__(self, workers: int = 2, name: str = "datainsight-background"):
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._running: dict[str, Future] = {}
        self._failed: dict[str, tuple[float, BaseException]] = {}
        self._lock = threading.Lock()

    def get(self, key: str, compute: Callable[[], object], wait: float | None):
        """``compute()``'s value for ``key``, started unless it is running already. Waits
        up to ``wait`` seconds (None: until it ends), then raises StillComputing; raises
        the computation's own error, also to callers within FAILURE_MEMORY_SECONDS."""
        with self._lock:
            failed = self._failed.get(key)
            if failed is not None:
                if time.monotonic() - failed[0] < FAILURE_MEMORY_SECONDS:
                    raise failed[1]
                del self._failed[key]
            future = self._running.get(key)
            if future is None:
                future = self._pool.submit(self._run, key, compute)
                self._running[key] = future
        try:
            return future.result(timeout=wait)
        except FutureTimeout:
            raise StillComputing() from None

    def _run(self, key: str, compute: Callable[[], object]):
        try:
            return compute()
        except BaseException as exc:  # noqa: BLE001 (kept for the callers, then re-raised)
            with self._lock:
                self._failed[key] = (time.monotonic(), exc)
            raise
        finally:
            with self._lock:
                self._running.pop(key, None)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
