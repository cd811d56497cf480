"""Accounts: first-run setup, sign-in, passwords, and what admins do with users."""
from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from analytics.names import check_name
from storage.audit import NO_AUDIT
from storage.database import as_utc, read_only, utcnow
from storage.errors import Conflict, Forbidden, InvalidInput, NotFound, RateLimited, Unauthenticated
from storage.passwords import DUMMY_HASH, check_password_rules, hash_password, verify_password
from storage.principal import Principal, Role
from storage.tables import instance_state, memberships, user_sessions, users, workspaces
from storage.throttle import LoginThrottle, delay_for

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalize_email(email: str) -> str:
    email = (email or "").strip().lower()
    if not EMAIL_RE.match(email) or len(email) > 320:
        raise InvalidInput(f"{email or 'An empty value'!r} is not a valid email address")
    return email


def clean_name(name: str | None, email: str) -> str:
    name = check_name(name, "name", field="name", required=False)
    return name or email.split("@", 1)[0]


def text_input(value, what: str) -> str:
    """A form field that must be text (the sign-in and set-up forms are public callbacks, so
    anyone may post a list or an object in their place): "" for nothing, else InvalidInput."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"The {what} must be text")
    return value


class EmailNotVerified(Forbidden):
    """The password is right, but the account's address was never confirmed (open sign-up)."""

    code = "email_not_verified"


@dataclass(frozen=True)
class User:
    id: int
    email: str
    name: str
    is_admin: bool
    is_active: bool
    session_stamp: str
    created_at: datetime
    last_login_at: datetime | None
    email_verified: bool = True  # false for an open sign-up whose link is not opened yet

    @classmethod
    def from_row(cls, row) -> "User":
        return cls(
            id=row.id,
            email=row.email,
            name=row.name,
            is_admin=bool(row.is_admin),
            is_active=bool(row.is_active),
            session_stamp=row.session_stamp,
            created_at=as_utc(row.created_at),
            last_login_at=as_utc(row.last_login_at),
            email_verified=bool(row.email_verified),
        )

    def principal(self, via: str = "session") -> Principal:
        return Principal(self.id, self.email, self.name, self.is_admin, via=via)

    def public_dict(self) -> dict:
        return {
            "id": self.id,
            "email": self.email,
            "name": self.name,
            "is_admin": self.is_admin,
            "is_active": self.is_active,
            "created_at": self.created_at.isoformat(),
            "last_login_at": self.last_login_at.isoformat() if self.last_login_at else None,
        }


def end_sessions_of(conn: Connection, user_id: int) -> int:
    """Revoke every live sign-in session of ``user_id`` (storage.sessions) inside the
    caller's transaction; how many there were."""
    result = conn.execute(
        update(user_sessions)
        .where(user_sessions.c.user_id == user_id, user_sessions.c.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return result.rowcount


@dataclass(frozen=True)
class KnownDevice:
    """A browser that signed in to ``user_id`` before, as its signed cookie says; ``key``
    tells one such device from another."""
    user_id: int
    key: str


def require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("Only an administrator can manage users")
    if not principal.can_write:
        raise Forbidden("This API token is read-only")


class UserService:
    audit = NO_AUDIT  # Storage gives it the real AuditLog

    def __init__(self, engine: Engine, throttle: LoginThrottle, sleep: Callable[[float], None] = time.sleep):
        self.engine = engine
        self.reads = read_only(engine)  # single reads: one round trip (storage.database)
        self.throttle = throttle
        self.sleep = sleep

    # --- reading ---------------------------------------------------------------------

    def get(self, user_id: int) -> User | None:
        with self.reads.connect() as conn:
            row = conn.execute(select(users).where(users.c.id == user_id)).first()
        return User.from_row(row) if row else None

    def get_by_email(self, email: str) -> User | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.email == email.strip().lower())).first()
        return User.from_row(row) if row else None

    def needs_setup(self) -> bool:
        with self.engine.connect() as conn:
            claimed = conn.execute(
                select(instance_state.c.value).where(instance_state.c.key == "setup_completed")
            ).first()
        return claimed is None

    def list_users(self, principal: Principal) -> list[User]:
        if not principal.is_admin:
            raise Forbidden("Only an administrator can list users")
        with self.engine.connect() as conn:
            rows = conn.execute(select(users).order_by(users.c.email)).all()
        return [User.from_row(r) for r in rows]

    # --- creating --------------------------------------------------------------------

    def _insert_user(self, conn: Connection, email: str, password: str, name: str | None, is_admin: bool) -> User:
        email = normalize_email(email)
        check_password_rules(password, email)
        now = utcnow()
        try:
            user_id = conn.execute(
                insert(users)
                .values(
                    email=email,
                    name=clean_name(name, email),
                    password_hash=hash_password(password),
                    is_admin=is_admin,
                    is_active=True,
                    session_stamp=secrets.token_hex(8),
                    created_at=now,
                )
                .returning(users.c.id)
            ).scalar_one()
        except IntegrityError:
            raise Conflict(f"An account with the email {email} already exists") from None
        display = clean_name(name, email)
        workspace_id = conn.execute(
            insert(workspaces)
            .values(name=f"{display}'s workspace", is_personal=True, created_by=user_id, created_at=now)
            .returning(workspaces.c.id)
        ).scalar_one()
        conn.execute(
            insert(memberships).values(
                workspace_id=workspace_id, user_id=user_id, role=Role.OWNER.value, created_at=now
            )
        )
        row = conn.execute(select(users).where(users.c.id == user_id)).one()
        return User.from_row(row)

    def create_first_admin(self, email: str, password: str, name: str | None = None) -> User:
        """First-run setup. Exactly one caller wins, even when two race.

        The "setup completed" mark is written in the same transaction as the administrator
        it belongs to, after it, with no savepoint: pysqlite runs a SAVEPOINT outside any
        transaction and its RELEASE commits on its own, so a mark written in a savepoint
        survived a refused password and locked everyone out. A refused input raises before
        anything is written; a lost race fails on the mark's primary key and rolls the
        whole transaction (the new account too) back."""
        email, password = text_input(email, "email"), text_input(password, "password")
        if not self.needs_setup():
            raise Conflict("DataInsight is already set up; sign in instead")
        check_password_rules(password, normalize_email(email))
        try:
            with self.engine.begin() as conn:
                user = self._insert_user(conn, email, password, name, is_admin=True)
                conn.execute(insert(instance_state).values(key="setup_completed", value=utcnow().isoformat()))
            self.audit.record(user.principal(), "user.created", target_type="user", target_id=user.id,
                              target_name=user.email, is_admin=True, how="first-run setup")
            return user
        except (IntegrityError, Conflict):
            if not self.needs_setup():  # another request finished setup first
                raise Conflict("DataInsight is already set up; sign in instead") from None
            raise

    def create_user(
        self, principal: Principal, email: str, password: str, name: str | None = None, is_admin: bool = False
    ) -> User:
        require_admin(principal)
        with self.engine.begin() as conn:
            user = self._insert_user(conn, email, password, name, is_admin)
        self.audit.record(principal, "user.created", target_type="user", target_id=user.id, target_name=user.email,
                          is_admin=bool(is_admin))
        return user

    def create_user_unchecked(self, email: str, password: str, name: str | None = None, is_admin: bool = False) -> User:
        """For the operator's CLI, which runs with the server's own rights."""
        with self.engine.begin() as conn:
            user = self._insert_user(conn, email, password, name, is_admin)
            # An operator-made account counts as setup: the setup page must not appear.
            exists = conn.execute(
                select(instance_state.c.key).where(instance_state.c.key == "setup_completed")
            ).first()
            if not exists:
                conn.execute(insert(instance_state).values(key="setup_completed", value="cli"))
            return user

    def create_invited_user(self, conn: Connection, email: str, password: str, name: str | None, is_admin: bool) -> User:
        return self._insert_user(conn, email, password, name, is_admin)

    # --- signing in ------------------------------------------------------------------

    def authenticate(self, email: str, password: str, client_address: str | None = None,
                     device: KnownDevice | None = None) -> User:
        """Check a sign-in. Failures slow the next attempt down and lock out after a few.

        The account's lock (failures on its email from anywhere) stops guessing, but would
        also lock its owner out whenever a stranger wants to. So a device the account signed
        in from before (``device``, from a signed cookie) is not held by the account's lock:
        it counts its own failures instead, next to the address's."""
        email, password = text_input(email, "email").strip().lower(), text_input(password, "password")
        if not email or not password:
            raise InvalidInput("Enter your email and password")
        user = self.get_by_email(email)
        email_key = f"email:{email}"
        address_keys = [f"ip:{client_address}"] if client_address else []
        known = device is not None and user is not None and device.user_id == user.id
        device_keys = [f"device:{device.user_id}:{device.key}"] if known else []
        try:
            recent_failures = self.throttle.check(device_keys + address_keys if known else [email_key] + address_keys)
        except RateLimited:
            self.audit.record(None, "account.locked_out", actor=email, target_type="user",
                              target_id=user.id if user else None)
            raise
        if recent_failures:
            self.sleep(delay_for(recent_failures))
        ok = verify_password(self._hash_of(user), password)
        if not ok or user is None or not user.is_active:
            self.throttle.record_failure([email_key] + device_keys + address_keys)
            self.audit.record(None, "account.sign_in_failed", actor=email, target_type="user",
                              target_id=user.id if user else None)
            raise Unauthenticated("The email or password is not right")
        if not user.email_verified:  # told only to whoever knows the password
            raise EmailNotVerified(f"Confirm your email address first: open the link we sent to {user.email}. "
                                   "No email? Ask for a new link on the sign-in page.")
        # From a known device the account's count stays: the owner signing in on their
        # laptop must not reset a stranger's lock elsewhere.
        self.throttle.clear(device_keys if known else [email_key])
        self.audit.record(user.principal(), "account.signed_in", target_type="user", target_id=user.id,
                          target_name=user.email, known_device=known)
        return user

    def record_sign_in(self, user_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(users).where(users.c.id == user_id).values(last_login_at=utcnow()))

    def _hash_of(self, user: User | None) -> str:
        if user is None:
            return DUMMY_HASH
        with self.engine.connect() as conn:
            return conn.execute(select(users.c.password_hash).where(users.c.id == user.id)).scalar_one()

    def change_password(self, principal: Principal, current_password: str, new_password: str,
                        client_address: str | None = None) -> User:
        """A new password ends every session of the account. Guesses of the current
        password (from a stolen session, say) are throttled like sign-ins."""
        if principal.via == "token":
            raise Forbidden("Passwords can only be changed from a signed-in session, not with an API token")
        user = self.get(principal.user_id)
        if user is None:
            raise NotFound("Your account no longer exists")
        keys = [f"password:{user.id}"] + ([f"ip:{client_address}"] if client_address else [])
        recent_failures = self.throttle.check(keys, what="wrong current passwords")
        if recent_failures:
            self.sleep(delay_for(recent_failures))
        if not verify_password(self._hash_of(user), current_password or ""):
            self.throttle.record_failure(keys)
            raise InvalidInput("The current password is not right")
        self.throttle.clear(keys[:1])
        if new_password == current_password:
            raise InvalidInput("The new password must differ from the current one")
        check_password_rules(new_password, user.email)
        with self.engine.begin() as conn:
            conn.execute(
                update(users)
                .where(users.c.id == user.id)
                .values(password_hash=hash_password(new_password), session_stamp=secrets.token_hex(8))
            )
            end_sessions_of(conn, user.id)
        self.audit.record(principal, "account.password_changed", target_type="user", target_id=user.id,
                          target_name=user.email)
        return self.get(user.id)

    # --- administering ---------------------------------------------------------------

    def set_active(self, principal: Principal, user_id: int, active: bool) -> User:
        require_admin(principal)
        if user_id == principal.user_id and not active:
            raise InvalidInput("You cannot deactivate your own account")
        target = self.get(user_id)
        if target is None:
            raise NotFound(f"There is no user with id {user_id}")
        with self.engine.begin() as conn:
            values = {"is_active": bool(active)}
            if not active:
                values["session_stamp"] = secrets.token_hex(8)  # ends their sessions now
                end_sessions_of(conn, user_id)
            conn.execute(update(users).where(users.c.id == user_id).values(**values))
        self.audit.record(principal, "user.activated" if active else "user.deactivated", target_type="user",
                          target_id=user_id, target_name=target.email)
        return self.get(user_id)

    def toggle_active(self, principal: Principal, user_id) -> User:
        require_admin(principal)
        try:
            target = self.get(int(user_id))
        except (TypeError, ValueError):
            target = None
        if target is None:
            raise NotFound(f"There is no user with id {user_id}")
        return self.set_active(principal, target.id, not target.is_active)

    def set_admin(self, principal: Principal, user_id: int, is_admin: bool) -> User:
        require_admin(principal)
        if user_id == principal.user_id and not is_admin:
            raise InvalidInput("You cannot remove your own administrator rights")
        target = self.get(user_id)
        if target is None:
            raise NotFound(f"There is no user with id {user_id}")
        with self.engine.begin() as conn:
            conn.execute(update(users).where(users.c.id == user_id).values(is_admin=bool(is_admin)))
        self.audit.record(principal, "user.admin_granted" if is_admin else "user.admin_revoked", target_type="user",
                          target_id=user_id, target_name=target.email)
        return self.get(user_id)

    def count(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(users)).scalar_one()
