"""How much one upload may expand to, on disk and in memory, and how much each person may
keep. The numbers come from settings (DATAINSIGHT_*); usage is counted from the
metadata database, so every worker process sees the same totals."""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from storage.errors import QuotaExceeded
from storage.tables import dataset_versions, uploads

MB = 1024 * 1024
# A compressed upload may expand to this many times the upload limit (and no more than
# DATAINSIGHT_MAX_EXPANDED_MB, and no more than the free disk minus its reserve).
EXPANSION_FACTOR = 8
# Uploads that still take space: received in part, or whole but not imported yet.
OPEN_UPLOADS = ("receiving", "complete")


def human_mb(size: int) -> str:
    mb = size / MB
    return f"{mb:,.0f} MB" if mb >= 10 else f"{mb:,.1f} MB".replace(".0 ", " ")


@dataclass(frozen=True)
class Expansion:
    """The most bytes one compressed upload may expand to, which setting sets that, and
    the free disk to keep (checked again while the bytes are written)."""

    cap_bytes: int
    setting: str | None = None
    reserve_bytes: int = 0


@dataclass(frozen=True)
class Limits:
    max_upload_mb: int = 1024
    max_expanded_mb: int = 4096
    disk_reserve_mb: int = 1024
    user_quota_mb: int = 10240  # stored dataset versions per person; 0: no quota
    uploads_in_progress_mb: int = 2048  # 0: no quota
    import_memory_mb: int = 512  # what one Excel conversion may hold in memory

    @classmethod
    def from_settings(cls, settings) -> "Limits":
        return cls(**{name: getattr(settings, name) for name in cls.__dataclass_fields__})

    def expansion(self, directory: Path) -> Expansion:
        """The smallest of DATAINSIGHT_MAX_EXPANDED_MB, 8 x DATAINSIGHT_MAX_UPLOAD_MB and
        the free disk of ``directory`` less DATAINSIGHT_DISK_RESERVE_MB."""
        reserve = self.disk_reserve_mb * MB
        free = shutil.disk_usage(directory).free - reserve
        return min(
            (Expansion(self.max_expanded_mb * MB, "DATAINSIGHT_MAX_EXPANDED_MB", reserve),
             Expansion(EXPANSION_FACTOR * self.max_upload_mb * MB, "DATAINSIGHT_MAX_UPLOAD_MB", reserve),
             Expansion(max(free, 0), "DATAINSIGHT_DISK_RESERVE_MB", reserve)),
            key=lambda e: e.cap_bytes,
        )

    @property
    def memory_budget(self) -> int:
        return self.import_memory_mb * MB


def _open_upload_bytes(conn, user_id: int) -> int:
    return int(conn.execute(select(func.coalesce(func.sum(uploads.c.size), 0))
                            .where(uploads.c.user_id == user_id, uploads.c.status.in_(OPEN_UPLOADS))).scalar_one())


def stored_bytes(conn, user_id: int) -> int:
    """Every dataset version this person made: old versions are files on disk too."""
    return int(conn.execute(select(func.coalesce(func.sum(dataset_versions.c.size_bytes), 0))
                            .where(dataset_versions.c.created_by == user_id)).scalar_one())


def check_upload(conn, limits: Limits, user_id: int | None, adding: int) -> None:
    """Before an upload of ``adding`` bytes starts (or grows): refuse a person whose
    datasets fill their quota, or whose open uploads would pass theirs."""
    if user_id is None:
        return
    check_stored(conn, limits, user_id, 0)
    if limits.uploads_in_progress_mb:
        total = _open_upload_bytes(conn, user_id) + adding
        if total > limits.uploads_in_progress_mb * MB:
            raise QuotaExceeded(
                f"Your uploads in progress would take {human_mb(total)}; the most one person may have is "
                f"{limits.uploads_in_progress_mb:,} MB (DATAINSIGHT_UPLOADS_IN_PROGRESS_MB). "
                "Finish or cancel an upload first")


def check_stored(conn, limits: Limits, user_id: int | None, adding: int) -> None:
    """Before a dataset version of ``adding`` bytes is committed (or, with 0, before an
    upload starts): refuse past DATAINSIGHT_USER_QUOTA_MB."""
    if user_id is None or not limits.user_quota_mb:
        return
    quota = limits.user_quota_mb * MB
    used = stored_bytes(conn, user_id)
    if used + adding > quota or (adding == 0 and used >= quota):
        if adding:
            raise QuotaExceeded(
                f"This dataset takes {human_mb(adding)} and your datasets already take {human_mb(used)}; the most "
                f"one person may keep is {limits.user_quota_mb:,} MB (DATAINSIGHT_USER_QUOTA_MB). "
                "Delete datasets or old versions first")
        raise QuotaExceeded(
            f"Your datasets take {human_mb(used)}; the most one person may keep is {limits.user_quota_mb:,} MB "
            "(DATAINSIGHT_USER_QUOTA_MB). Delete datasets or old versions first")
