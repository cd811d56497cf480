"""Personal API tokens: shown once, stored as a SHA-256 hash, revocable, and never
worth more than the user who made them (a read-scoped token is worth less)."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine

from analytics.names import check_name
from storage.audit import NO_AUDIT
from storage.database import as_utc, read_only, utcnow
from storage.errors import Forbidden, InvalidInput, NotFound
from storage.principal import SCOPES, SCOPE_WRITE, Principal
from storage.tables import api_tokens, users

TOKEN_PREFIX = "dit_"
LAST_USED_RESOLUTION = timedelta(minutes=1)  # avoid a write on every request


def hash_token(plaintext: str) -> str:
    # Tokens are 256 random bits, so a fast hash is safe and lets us look them up by hash.
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ApiToken:
    id: int
    name: str
    prefix: str
    scope: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def status(self) -> str:
        if self.revoked_at:
            return "revoked"
        if self.expires_at and self.expires_at <= utcnow():
            return "expired"
        return "active"

    @classmethod
    def from_row(cls, row) -> "ApiToken":
        return cls(
            row.id, row.name, row.prefix, row.scope, as_utc(row.created_at), as_utc(row.expires_at),
            as_utc(row.last_used_at), as_utc(row.revoked_at),
        )

    def public_dict(self) -> dict:
        iso = lambda v: v.isoformat() if v else None  # noqa: E731
        return {
            "id": self.id,
            "name": self.name,
            "prefix": self.prefix,
            "scope": self.scope,
            "status": self.status,
            "created_at": iso(self.created_at),
            "expires_at": iso(self.expires_at),
            "last_used_at": iso(self.last_used_at),
            "revoked_at": iso(self.revoked_at),
        }


class TokenService:
    audit = NO_AUDIT  # Storage gives it the real AuditLog

    def __init__(self, engine: Engine):
        self.engine = engine
        self.reads = read_only(engine)  # single reads: one round trip (storage.database)

    def create(
        self, principal: Principal, name: str, scope: str = SCOPE_WRITE, expires_in_days: int | None = None
    ) -> tuple[ApiToken, str]:
        """Returns the token and its plaintext, which is never stored or shown again."""
        if principal.via == "token":
            raise Forbidden("API tokens can only be created from a signed-in session")
        token, plaintext = self._create(principal.user_id, name, scope, expires_in_days)
        self.audit.record(principal, "token.created", target_type="token", target_id=token.id, target_name=token.name,
                          scope=token.scope)
        return token, plaintext

    def create_unchecked(self, user_id: int, name: str, scope: str = SCOPE_WRITE) -> tuple[ApiToken, str]:
        """For the operator's CLI."""
        return self._create(user_id, name, scope, None)

    def _create(self, user_id: int, name: str, scope: str, expires_in_days) -> tuple[ApiToken, str]:
        if not (name or "").strip():
            raise InvalidInput("Give the token a name, so you know later what uses it", details={"field": "name"})
        name = check_name(name, "token name", field="name")
        if scope not in SCOPES:
            raise InvalidInput(f"Unknown scope {scope!r}; choose one of {', '.join(SCOPES)}")
        expires_at = None
        if expires_in_days not in (None, ""):
            try:
                days = int(expires_in_days)
            except (TypeError, ValueError):
                raise InvalidInput("The expiry must be a whole number of days") from None
            if not 1 <= days <= 3650:
                raise InvalidInput("The expiry must be between 1 and 3650 days")
            expires_at = utcnow() + timedelta(days=days)
        plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            token_id = conn.execute(
                insert(api_tokens)
                .values(
                    user_id=user_id,
                    name=name,
                    prefix=plaintext[: len(TOKEN_PREFIX) + 6],
                    token_hash=hash_token(plaintext),
                    scope=scope,
                    created_at=utcnow(),
                    expires_at=expires_at,
                )
                .returning(api_tokens.c.id)
            ).scalar_one()
            row = conn.execute(select(api_tokens).where(api_tokens.c.id == token_id)).one()
        return ApiToken.from_row(row), plaintext

    def list_for(self, principal: Principal) -> list[ApiToken]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(api_tokens)
                .where(api_tokens.c.user_id == principal.user_id)
                .order_by(api_tokens.c.created_at.desc(), api_tokens.c.id.desc())
            ).all()
        return [ApiToken.from_row(r) for r in rows]

    def revoke(self, principal: Principal, token_id) -> ApiToken:
        if not principal.can_write:
            raise Forbidden("This API token is read-only")
        try:
            token_id = int(token_id)
        except (TypeError, ValueError):
            raise NotFound(f"There is no token {token_id!r}") from None
        with self.engine.begin() as conn:
            row = conn.execute(
                select(api_tokens).where(api_tokens.c.id == token_id, api_tokens.c.user_id == principal.user_id)
            ).first()
            if row is None:
                raise NotFound(f"There is no token {token_id} of yours")
            was_live = row.revoked_at is None
            if was_live:
                conn.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(revoked_at=utcnow()))
            row = conn.execute(select(api_tokens).where(api_tokens.c.id == token_id)).one()
        if was_live:
            self.audit.record(principal, "token.revoked", target_type="token", target_id=token_id, target_name=row.name)
        return ApiToken.from_row(row)

    def resolve(self, plaintext: str) -> Principal | None:
        """The principal a presented token stands for, or None if it is not valid now."""
        if not plaintext or not plaintext.startswith(TOKEN_PREFIX) or len(plaintext) > 200:
            return None
        now = utcnow()
        with self.reads.connect() as conn:
            row = conn.execute(
                select(api_tokens, users.c.email, users.c.name.label("user_name"), users.c.is_admin, users.c.is_active)
                .join(users, users.c.id == api_tokens.c.user_id)
                .where(api_tokens.c.token_hash == hash_token(plaintext))
            ).first()
        if row is None or row.revoked_at is not None or not row.is_active:
            return None
        expires_at = as_utc(row.expires_at)
        if expires_at is not None and expires_at <= now:
            return None
        last_used = as_utc(row.last_used_at)
        if last_used is None or now - last_used > LAST_USED_RESOLUTION:
            with self.engine.begin() as conn:
                conn.execute(update(api_tokens).where(api_tokens.c.id == row.id).values(last_used_at=now))
        return Principal(
            row.user_id, row.email, row.user_name, bool(row.is_admin), via="token", scope=row.scope, token_id=row.id
        )
