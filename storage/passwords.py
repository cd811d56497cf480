"""Password hashing (scrypt through werkzeug) and the password rules."""
from __future__ import annotations

from werkzeug.security import check_password_hash, generate_password_hash

from storage.errors import InvalidInput

MIN_LENGTH = 10
MAX_LENGTH = 1024  # scrypt cost grows with input; refuse megabyte "passwords"


def check_password_rules(password: str, email: str = "") -> None:
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        raise InvalidInput(f"The password must be at least {MIN_LENGTH} characters long")
    if len(password) > MAX_LENGTH:
        raise InvalidInput(f"The password must be at most {MAX_LENGTH} characters long")
    if password.strip() == "":
        raise InvalidInput("The password cannot be only spaces")
    if email and password.strip().lower() == email.strip().lower():
        raise InvalidInput("The password cannot be the same as the email address")


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def verify_password(password_hash: str, password: str) -> bool:
    if not password or len(password) > MAX_LENGTH:
        return False
    return check_password_hash(password_hash, password)


# Verifying against this keeps the time of "no such user" close to "wrong password",
# so response time does not tell an attacker which emails have accounts.
DUMMY_HASH = hash_password("not-a-real-password-only-for-timing")
