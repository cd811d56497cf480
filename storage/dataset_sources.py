"""Where a dataset's rows come from, as ``dataset_syncs`` says (issue 16): read once per
dataset and remembered for a few seconds in each process, since every widget query asks
(is it live on a connection? a live SQL query?) and the answer is fixed when the dataset
is made (a refresh makes a new version file, and so a new key).
"""
from __future__ import annotations

import threading
import time

from sqlalchemy import select

from storage.tables import dataset_syncs

# Sources whose version file is a sample, not the dataset's rows: a live table on a
# connection (storage.live), a live SQL query (storage.query_sources).
SAMPLED_SOURCES = ("live", "query")
KNOWN_FOR = 10.0  # seconds
MAX_KNOWN = 4096


class DatasetSources:
    def __init__(self, engine):
        self.engine = engine
        self._known: dict[tuple[int, str], tuple[float, object]] = {}
        self._lock = threading.Lock()

    def row(self, dataset):
        """The ``dataset_syncs`` row (source, connection_id, source_table, source_sql,
        cache_seconds) of ``dataset`` (a Dataset, access already checked), or None for an
        uploaded dataset. Remembered by id *and* version file: a deleted dataset's id given
        to a new dataset (SQLite re-uses the largest) is a new key, never the old answer."""
        key = (dataset.id, dataset.path)
        now = time.monotonic()
        with self._lock:
            found = self._known.get(key)
        if found is not None and now - found[0] < KNOWN_FOR:
            return found[1]
        with self.engine.connect() as conn:
            row = conn.execute(select(dataset_syncs.c.source, dataset_syncs.c.connection_id,
                                      dataset_syncs.c.source_table, dataset_syncs.c.source_sql,
                                      dataset_syncs.c.cache_seconds)
                               .where(dataset_syncs.c.dataset_id == dataset.id)).first()
        with self._lock:
            self._known[key] = (now, row)
            if len(self._known) > MAX_KNOWN:
                self._known.clear()
        return row
