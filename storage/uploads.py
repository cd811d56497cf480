"""Chunked, resumable uploads. The browser sends a file in pieces of a few MB; each piece
is appended to a file on disk at the offset the server expects, so memory stays bounded
and an interrupted upload resumes where it stopped."""
from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Engine

from analytics.columns import clean_name
from storage.database import utcnow
from storage.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from storage.limits import MB, Limits, check_upload
from storage.principal import Principal
from storage.tables import uploads

COPY_PIECE = 1024 * 1024
CHUNK_SIZE = 8 * 1024 * 1024  # what the browser is told to send


@dataclass(frozen=True)
class Upload:
    id: str
    filename: str
    size: int
    received: int
    status: str

    def public_dict(self) -> dict:
        return {"id": self.id, "filename": self.filename, "size": self.size, "offset": self.received,
                "status": self.status, "chunk_size": CHUNK_SIZE}


def clean_filename(filename: str) -> str:
    """What we show and keep of a file's name: the last path part, no control characters.
    The file itself is stored under a random id, never under this name."""
    base = str(filename or "").replace("\\", "/").split("/")[-1]
    base = clean_name(base).strip(" .")
    return base[:255] or "upload"


class UploadService:
    def __init__(self, engine: Engine, data_dir: Path, limits: Limits | int):
        self.engine = engine
        self.dir = Path(data_dir) / "uploads"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.limits = limits if isinstance(limits, Limits) else Limits(max_upload_mb=int(limits))
        self.max_upload_mb = self.limits.max_upload_mb
        self.max_bytes = self.max_upload_mb * MB

    def path_for(self, upload_id: str) -> Path:
        return self.dir / f"{uuid.UUID(upload_id).hex}.part"

    def too_large(self, size: int) -> PayloadTooLarge:
        return PayloadTooLarge(
            f"The file is {size / (1024 * 1024):,.0f} MB; the most this server accepts is {self.max_upload_mb:,} MB "
            "(DATAINSIGHT_MAX_UPLOAD_MB)"
        )

    def create(self, principal: Principal, filename: str, size) -> Upload:
        principal.require_write("upload files")
        try:
            size = int(size)
        except (TypeError, ValueError):
            raise InvalidInput("Give the file's size in bytes") from None
        if size <= 0:
            raise InvalidInput("The file is empty")
        if size > self.max_bytes:
            raise self.too_large(size)
        upload_id = str(uuid.uuid4())
        now = utcnow()
        with self.engine.begin() as conn:
            # The declared size counts at once: the file grows to it.
            check_upload(conn, self.limits, principal.user_id, size)
            self.path_for(upload_id).touch()
            conn.execute(insert(uploads).values(
                id=upload_id, user_id=principal.user_id, filename=clean_filename(filename), size=size, received=0,
                status="receiving", created_at=now, updated_at=now,
            ))
        return self.get(principal, upload_id)

    def get(self, principal: Principal, upload_id) -> Upload:
        try:
            upload_id = str(uuid.UUID(str(upload_id)))
        except ValueError:
            raise NotFound(f"There is no upload {upload_id!r}") from None
        with self.engine.connect() as conn:
            row = conn.execute(select(uploads).where(uploads.c.id == upload_id)).first()
        if row is None or row.user_id != principal.user_id:
            raise NotFound(f"There is no upload {upload_id} of yours")
        return Upload(row.id, row.filename, row.size, row.received, row.status)

    def write_chunk(self, principal: Principal, upload_id, offset, stream, length: int | None) -> Upload:
        principal.require_write("send file contents")
        upload = self.get(principal, upload_id)
        if upload.status != "receiving":
            raise Conflict(f"This upload is {upload.status}; start a new one")
        try:
            offset = int(offset)
        except (TypeError, ValueError):
            raise InvalidInput("Give the chunk's offset in bytes") from None
        if offset != upload.received:
            raise Conflict(f"The server has {upload.received} bytes of this file; send from there",
                           details={"offset": upload.received})
        if length is not None and offset + int(length) > upload.size:
            raise PayloadTooLarge("The chunk goes past the size given when the upload started")
        path = self.path_for(upload.id)
        written = 0
        with open(path, "r+b") as out:
            out.seek(offset)
            while True:
                piece = stream.read(COPY_PIECE)
                if not piece:
                    break
                written += len(piece)
                if offset + written > upload.size:
                    out.truncate(offset)
                    raise PayloadTooLarge("The chunk goes past the size given when the upload started")
                out.write(piece)
            out.truncate(offset + written)
            if offset + written == upload.size:
                out.flush()
                os.fsync(out.fileno())
        received = offset + written
        status = "complete" if received == upload.size else "receiving"
        with self.engine.begin() as conn:
            conn.execute(update(uploads).where(uploads.c.id == upload.id, uploads.c.received == offset)
                         .values(received=received, status=status, updated_at=utcnow()))
        return self.get(principal, upload.id)

    def complete_path(self, principal: Principal, upload_id) -> tuple[Upload, Path]:
        upload = self.get(principal, upload_id)
        if upload.status != "complete":
            raise Conflict(f"The upload of {upload.filename} is not finished ({upload.received} of {upload.size} bytes)")
        return upload, self.path_for(upload.id)

    def register_file(self, principal: Principal, filename: str, src_stream) -> Upload:
        """A whole file at once (the multipart API): stored like a finished chunked upload."""
        principal.require_write("upload files")
        upload_id = str(uuid.uuid4())
        path = self.path_for(upload_id)
        size = 0
        with self.engine.connect() as conn:
            check_upload(conn, self.limits, principal.user_id, 0)
        with open(path, "wb") as out:
            while True:
                piece = src_stream.read(COPY_PIECE)
                if not piece:
                    break
                size += len(piece)
                if size > self.max_bytes:
                    out.close()
                    path.unlink(missing_ok=True)
                    raise self.too_large(size)
                out.write(piece)
        try:
            with self.engine.connect() as conn:
                check_upload(conn, self.limits, principal.user_id, size)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        if size == 0:
            path.unlink(missing_ok=True)
            raise InvalidInput("The file is empty")
        now = utcnow()
        with self.engine.begin() as conn:
            conn.execute(insert(uploads).values(
                id=upload_id, user_id=principal.user_id, filename=clean_filename(filename), size=size, received=size,
                status="complete", created_at=now, updated_at=now,
            ))
        return self.get(principal, upload_id)

    def discard(self, principal: Principal, upload_id) -> None:
        principal.require_write("delete uploads")
        upload = self.get(principal, upload_id)
        self.path_for(upload.id).unlink(missing_ok=True)
        with self.engine.begin() as conn:
            conn.execute(delete(uploads).where(uploads.c.id == upload.id))

    def sweep(self, older_than_hours: int = 48) -> None:
        """Forget uploads nobody finished or used within ``older_than_hours``."""
        from datetime import timedelta

        cutoff = utcnow() - timedelta(hours=older_than_hours)
        with self.engine.begin() as conn:
            stale = conn.execute(select(uploads.c.id).where(uploads.c.updated_at < cutoff)).scalars().all()
            for upload_id in stale:
                self.path_for(upload_id).unlink(missing_ok=True)
            conn.execute(delete(uploads).where(uploads.c.updated_at < cutoff))

