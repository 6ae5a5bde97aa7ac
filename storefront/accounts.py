"""Customer accounts: registering, checking passwords, sign-in records and password resets.

No HTTP here (the API and the pages call these with plain values), and each function runs in
the caller's transaction. Following OWASP's Authentication, Session Management and Forgot
Password cheat sheets:

- passwords are stored only as argon2id hashes (argon2-cffi's defaults, rehashed when those
  change); an unknown email is checked against a dummy hash, so it costs what a wrong password
  costs and answers the same;
- a sign-in is a server-side record: the session cookie holds the customer id and a random
  token whose SHA-256 is the record's key. Signing out deletes the record (a copied cookie
  stops working); a password change or reset bumps the customer's `session_version`, which
  ends every sign-in made before it;
- reset tokens are random, stored only as SHA-256, valid for an hour and once; a newer request
  or a password change voids older ones.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, delete, insert, select, text, update

from . import fastsql
from .extensions import db
from .models import Cart, Customer, PasswordReset, SignIn
from .orders import email_key

RESET_LIFETIME = timedelta(hours=1)
MIN_PASSWORD = 8
MAX_PASSWORD = 128

_c = Customer.__table__
_s = SignIn.__table__
_r = PasswordReset.__table__
_cart = Cart.__table__


class AccountError(Exception):
    """A refused account request; `code` is the contract's."""

    code = "account_error"


class EmailTaken(AccountError):
    """An account with this email exists already."""

    code = "email_taken"


class BadCredentials(AccountError):
    """Unknown email or wrong password: the same answer either way."""

    code = "bad_credentials"


class WrongPassword(AccountError):
    """The current password given for a change is not the customer's."""

    code = "validation_error"


class InvalidToken(AccountError):
    """A reset token that is expired, used, voided or was never made."""

    code = "invalid_token"


@dataclass(frozen=True)
class CustomerView:
    """A customer as the API and the pages show them."""

    id: int
    email: str
    name: str
    phone: str | None
    address: str | None


@dataclass(frozen=True)
class SignedIn:
    """A live sign-in: the customer, and the token of their cart (None before the first)."""

    customer: CustomerView
    cart_token: str | None


@cache
def hasher() -> PasswordHasher:
    """argon2id with argon2-cffi's default parameters."""
    return PasswordHasher()


@cache
def _dummy_hash() -> str:
    # Made once per process: an unknown email is verified against it, costing the same time.
    return hasher().hash(secrets.token_urlsafe(16))


def password_problem(password: str, email: str) -> str | None:
    """Why `password` cannot be a new password for `email`, or None."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        return f"must be {MIN_PASSWORD} to {MAX_PASSWORD} characters"
    if password.casefold() == email.strip().casefold():
        return "must not be your email address"
    return None


def digest(token: str) -> str:
    """What the database keeps of a token: its SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


_COLUMNS = (_c.c.id, _c.c.email, _c.c.name, _c.c.phone, _c.c.address)


def _view(row) -> CustomerView:  # type: ignore[no-untyped-def]
    return CustomerView(row.id, row.email, row.name, row.phone, row.address)


_REGISTER = text(
    "INSERT INTO customers (email, email_key, password_hash, name) "
    "VALUES (:email, :email_key, :password_hash, :name) "
    "ON CONFLICT (email_key) DO NOTHING RETURNING id"
)


def register(email: str, password: str, name: str) -> CustomerView:
    """Create an account; EmailTaken when the email (case-insensitively) has one."""
    customer_id = db.session.execute(
        _REGISTER,
        {
            "email": email,
            "email_key": email_key(email),
            "password_hash": hasher().hash(password),
            "name": name,
        },
    ).scalar()
    if customer_id is None:
        # Hash first either way: registering a taken email takes as long as a new one.
        raise EmailTaken("An account with this email exists already.")
    return CustomerView(customer_id, email, name, None, None)


def authenticate(email: str, password: str) -> CustomerView:
    """The customer whose email and password these are; BadCredentials otherwise."""
    row = db.session.execute(
        select(*_COLUMNS, _c.c.password_hash).where(_c.c.email_key == email_key(email))
    ).first()
    if row is None:
        _verify(_dummy_hash(), password)
        raise BadCredentials("The email or the password is wrong.")
    if not _verify(row.password_hash, password):
        raise BadCredentials("The email or the password is wrong.")
    if hasher().check_needs_rehash(row.password_hash):
        _set_password(row.id, password)
    return _view(row)


def _verify(stored: str, password: str) -> bool:
    try:
        return hasher().verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _set_password(customer_id: int, password: str) -> None:
    db.session.execute(
        update(_c).where(_c.c.id == customer_id).values(password_hash=hasher().hash(password))
    )


def get_customer(customer_id: int) -> CustomerView | None:
    """One customer, or None."""
    row = db.session.execute(select(*_COLUMNS).where(_c.c.id == customer_id)).first()
    return _view(row) if row else None


def update_profile(customer_id: int, changes: dict[str, str | None]) -> CustomerView:
    """Change name, phone and address (only the keys given)."""
    allowed = {key: changes[key] for key in ("name", "phone", "address") if key in changes}
    if allowed:
        db.session.execute(update(_c).where(_c.c.id == customer_id).values(**allowed))
    customer = get_customer(customer_id)
    assert customer is not None
    return customer


# --- sign-ins -------------------------------------------------------------------------------


def start_sign_in(customer_id: int) -> str:
    """Record a new sign-in of the customer; returns the token for their session cookie."""
    token = secrets.token_urlsafe(32)
    version = select(_c.c.session_version).where(_c.c.id == customer_id).scalar_subquery()
    db.session.execute(
        insert(_s).values(
            token_hash=digest(token), customer_id=customer_id, session_version=version
        )
    )
    return token


# One indexed lookup per signed-in request: the sign-in (by primary key), its customer, and
# the customer's cart.
_SIGNED_IN = fastsql.Statement(
    select(*_COLUMNS, _cart.c.token.label("cart_token"))
    .select_from(_s)
    .join(_c, _c.c.id == _s.c.customer_id)
    .outerjoin(_cart, _cart.c.customer_id == _c.c.id)
    .where(
        _s.c.token_hash == bindparam("token_hash"),
        _s.c.customer_id == bindparam("customer_id"),
        _s.c.session_version == _c.c.session_version,
    )
)


def signed_in(customer_id: int, token: str) -> SignedIn | None:
    """The live sign-in of this cookie's customer and token, or None (ended or forged)."""
    row = _SIGNED_IN.first({"token_hash": digest(token), "customer_id": customer_id})
    return SignedIn(CustomerView(*row[:5]), row[5]) if row else None


def end_sign_in(token: str) -> None:
    """Sign this session out on the server: its cookie, or any copy, signs no one in."""
    db.session.execute(delete(_s).where(_s.c.token_hash == digest(token)))


def end_other_sign_ins(customer_id: int, keep_token: str | None) -> None:
    """End every sign-in of the customer but `keep_token`'s (a password change or reset)."""
    version = db.session.execute(
        update(_c)
        .where(_c.c.id == customer_id)
        .values(session_version=_c.c.session_version + 1)
        .returning(_c.c.session_version)
    ).scalar_one()
    kept = [digest(keep_token)] if keep_token else []
    db.session.execute(
        delete(_s).where(_s.c.customer_id == customer_id, _s.c.token_hash.not_in(kept))
    )
    if keep_token:
        db.session.execute(
            update(_s).where(_s.c.token_hash == kept[0]).values(session_version=version)
        )


def change_password(customer_id: int, current: str, new: str, keep_token: str | None) -> None:
    """Set a new password after checking the current one; other sessions are signed out."""
    stored = db.session.execute(
        select(_c.c.password_hash).where(_c.c.id == customer_id)
    ).scalar_one()
    if not _verify(stored, current):
        raise WrongPassword("The current password is wrong.")
    _set_password(customer_id, new)
    end_other_sign_ins(customer_id, keep_token)
    db.session.execute(delete(_r).where(_r.c.customer_id == customer_id))


# --- password resets ------------------------------------------------------------------------


def request_reset(email: str) -> tuple[CustomerView, str] | None:
    """A new reset token for the account of `email` (older ones void), or None without one.

    The caller mails the link and answers the same either way.
    """
    row = db.session.execute(select(*_COLUMNS).where(_c.c.email_key == email_key(email))).first()
    if row is None:
        return None
    db.session.execute(delete(_r).where(_r.c.customer_id == row.id))
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    db.session.execute(
        insert(_r).values(
            token_hash=digest(token),
            customer_id=row.id,
            created_at=now,
            expires_at=now + RESET_LIFETIME,
        )
    )
    return _view(row), token


def reset_email(token: str) -> str | None:
    """The email of a usable reset token (for the new-password form), or None."""
    row = _usable_reset(token)
    return row.email if row else None


def _usable_reset(token: str):  # type: ignore[no-untyped-def]
    row = db.session.execute(
        select(_r.c.customer_id, _r.c.expires_at, _c.c.email)
        .join(_c, _c.c.id == _r.c.customer_id)
        .where(_r.c.token_hash == digest(token))
    ).first()
    if row is None:
        return None
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
    return row if expires > datetime.now(UTC) else None


def confirm_reset(token: str, password: str) -> CustomerView:
    """Set a new password from a reset token, which is used up; every session is signed out.

    InvalidToken for an expired, used, voided or forged token; ValueError (saying why) for a
    password that may not be set, leaving the token usable.
    """
    usable = _usable_reset(token)
    if usable is None:
        raise InvalidToken("This reset link is invalid, used or expired.")
    problem = password_problem(password, usable.email)
    if problem:
        raise ValueError(problem)
    # Deleting it is what uses it: of two parallel confirmations only one finds the row.
    consumed = db.session.execute(
        delete(_r).where(_r.c.token_hash == digest(token)).returning(_r.c.customer_id)
    ).scalar()
    if consumed is None:
        raise InvalidToken("This reset link is invalid, used or expired.")
    _set_password(consumed, password)
    end_other_sign_ins(consumed, None)
    db.session.execute(delete(_r).where(_r.c.customer_id == consumed))
    customer = get_customer(consumed)
    assert customer is not None
    return customer
