"""Sign-in sessions that end on the server.

Each sign-in makes a row with a random key. The key travels in the signed session cookie
and in the remember-me cookie (flask-login keeps the user's id string in both; ours is
``<user id>:<session stamp>:<key>``), and only its SHA-256 is stored. Loading a session
looks the row up: signing out revokes the row, so a copy of either cookie taken before is
refused after; "sign out everywhere" revokes every row of the account; a password change or
deactivation does the same (and rotates the stamp, as before). ``last_seen_at`` is written
at most every TOUCH_INTERVAL, not on every request.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, insert, or_, select, update
from sqlalchemy.engine import Engine

from storage.database import as_utc, read_only, utcnow
from storage.errors import Forbidden
from storage.principal import Principal
from storage.tables import user_sessions, users
from storage.tokens import hash_token
from storage.users import User, end_sessions_of

TOUCH_INTERVAL = timedelta(minutes=5)
# A session unused this long is over (the remember-me cookie lasts as long).
IDLE_LIMIT = timedelta(days=30)
KEEP_REVOKED = timedelta(days=1)


@dataclass(frozen=True)
class SignInSession:
    id: int
    created_at: datetime
    last_seen_at: datetime
    user_agent: str | None
    client_address: str | None
    current: bool

    def public_dict(self) -> dict:
        return {
            "id": self.id,
            "created_at": self.created_at.isoformat(),
            "last_seen_at": self.last_seen_at.isoformat(),
            "user_agent": self.user_agent,
            "client_address": self.client_address,
            "current": self.current,
        }


class SessionService:
    def __init__(self, engine: Engine):
        self.engine = engine
        self.reads = read_only(engine)  # single reads: one round trip (storage.database)

    def start(self, user_id: int, user_agent: str | None = None, client_address: str | None = None) -> str:
        """A new session for a sign-in; returns its key (kept only in the cookies)."""
        key = secrets.token_urlsafe(32)
        now = utcnow()
        with self.engine.begin() as conn:
            conn.execute(insert(user_sessions).values(
                key_hash=hash_token(key), user_id=user_id, created_at=now, last_seen_at=now,
                user_agent=(user_agent or "")[:300] or None, client_address=(client_address or "")[:64] or None,
            ))
        return key

    def resolve(self, user_id: int, stamp: str, key: str) -> User | None:
        """The user of a live session, or None when it was ended, idled out, or the
        account was deactivated or changed its password."""
        now = utcnow()
        with self.reads.connect() as conn:
            row = conn.execute(_LIVE_SESSION, {"key_hash": hash_token(key), "user_id": user_id}).first()
        if row is None or not row.is_active or row.session_stamp != stamp:
            return None
        seen = as_utc(row.session_seen)
        if seen < now - IDLE_LIMIT:
            return None
        if seen < now - TOUCH_INTERVAL:
            with self.engine.begin() as conn:
                conn.execute(update(user_sessions).where(user_sessions.c.id == row.session_row)
                             .values(last_seen_at=now))
        return User.from_row(row)

    def end(self, key: str) -> None:
        """Sign-out: this session and its remember-me cookie stop working."""
        with self.engine.begin() as conn:
            conn.execute(update(user_sessions)
                         .where(user_sessions.c.key_hash == hash_token(key), user_sessions.c.revoked_at.is_(None))
                         .values(revoked_at=utcnow()))

    def end_all(self, principal: Principal) -> int:
        """Sign out everywhere: every session of the acting user; how many were live."""
        if not principal.can_write:
            raise Forbidden("This API token is read-only; it cannot end sessions")
        with self.engine.begin() as conn:
            return end_sessions_of(conn, principal.user_id)

    def list_for(self, principal: Principal, current_key: str | None = None) -> list[SignInSession]:
        """The acting user's live sessions, newest first; ``current`` marks this one."""
        current_hash = hash_token(current_key) if current_key else None
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(user_sessions)
                .where(user_sessions.c.user_id == principal.user_id, user_sessions.c.revoked_at.is_(None),
                       user_sessions.c.last_seen_at >= utcnow() - IDLE_LIMIT)
                .order_by(user_sessions.c.last_seen_at.desc(), user_sessions.c.id.desc())
            ).all()
        return [SignInSession(r.id, as_utc(r.created_at), as_utc(r.last_seen_at), r.user_agent, r.client_address,
                              r.key_hash == current_hash) for r in rows]

    def sweep(self) -> None:
        """Forget sessions ended a while ago or idle past the limit (at start-up)."""
        now = utcnow()
        with self.engine.begin() as conn:
            conn.execute(delete(user_sessions).where(or_(
                user_sessions.c.revoked_at < now - KEEP_REVOKED,
                user_sessions.c.last_seen_at < now - IDLE_LIMIT,
            )))


# A session's user, run on every request: built once, since building a select costs
# several times what running it does (see WorkspaceService.member_role).
_LIVE_SESSION = (
    select(users, user_sessions.c.id.label("session_row"), user_sessions.c.last_seen_at.label("session_seen"))
    .join(user_sessions, user_sessions.c.user_id == users.c.id)
    .where(user_sessions.c.key_hash == bindparam("key_hash"), users.c.id == bindparam("user_id"),
           user_sessions.c.revoked_at.is_(None))
)
