"""Invitations: an admin names an email; the invitee follows a one-time link to choose a
password. Until mail delivery exists the admin passes the link on themselves."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine

from storage.database import as_utc, utcnow
from storage.errors import Conflict, InvalidInput, NotFound
from storage.principal import Principal
from storage.tables import invitations
from storage.tokens import hash_token
from storage.users import User, UserService, normalize_email, require_admin, text_input

INVITATION_LIFETIME = timedelta(days=7)


@dataclass(frozen=True)
class Invitation:
    id: int
    email: str
    is_admin: bool
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None

    @classmethod
    def from_row(cls, row) -> "Invitation":
        return cls(row.id, row.email, bool(row.is_admin), as_utc(row.created_at), as_utc(row.expires_at),
                   as_utc(row.accepted_at))

    @property
    def status(self) -> str:
        if self.accepted_at:
            return "accepted"
        return "expired" if self.expires_at <= utcnow() else "pending"

    def public_dict(self) -> dict:
        return {
            "id": self.id,
            "email": self.email,
            "is_admin": self.is_admin,
            "status": self.status,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
        }


class InvitationService:
    def __init__(self, engine: Engine, users_service: UserService):
        self.engine = engine
        self.users = users_service

    def invite(self, principal: Principal, email: str, is_admin: bool = False) -> tuple[Invitation, str]:
        """Returns the invitation and its secret code, shown once to the inviting admin."""
        require_admin(principal)
        email = normalize_email(email)
        if self.users.get_by_email(email) is not None:
            raise Conflict(f"An account with the email {email} already exists")
        code = secrets.token_urlsafe(24)
        now = utcnow()
        with self.engine.begin() as conn:
            invitation_id = conn.execute(
                insert(invitations)
                .values(email=email, token_hash=hash_token(code), is_admin=bool(is_admin), invited_by=principal.user_id,
                        created_at=now, expires_at=now + INVITATION_LIFETIME)
                .returning(invitations.c.id)
            ).scalar_one()
            row = conn.execute(select(invitations).where(invitations.c.id == invitation_id)).one()
        return Invitation.from_row(row), code

    def list_pending(self, principal: Principal) -> list[Invitation]:
        require_admin(principal)
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(invitations).where(invitations.c.accepted_at.is_(None)).order_by(invitations.c.created_at.desc())
            ).all()
        return [Invitation.from_row(r) for r in rows]

    def lookup(self, code: str) -> Invitation:
        """The pending invitation for a code, or NotFound with the reason."""
        with self.engine.connect() as conn:
            row = conn.execute(select(invitations).where(invitations.c.token_hash == hash_token(code or ""))).first()
        if row is None:
            raise NotFound("This invitation link is not valid; ask your administrator for a new one")
        invitation = Invitation.from_row(row)
        if invitation.status == "accepted":
            raise Conflict("This invitation was used already; sign in instead")
        if invitation.status == "expired":
            raise InvalidInput("This invitation has expired; ask your administrator for a new one")
        return invitation

    def accept(self, code: str, password: str, name: str | None = None) -> User:
        code, password = text_input(code, "invitation code"), text_input(password, "password")
        invitation = self.lookup(code)
        with self.engine.begin() as conn:
            # Claim the invitation first, so two tabs cannot both use it.
            claimed = conn.execute(
                update(invitations)
                .where(invitations.c.id == invitation.id, invitations.c.accepted_at.is_(None))
                .values(accepted_at=utcnow())
            ).rowcount
            if claimed != 1:
                raise Conflict("This invitation was used already; sign in instead")
            user = self.users.create_invited_user(conn, invitation.email, password, name, invitation.is_admin)
        return user

