"""The link between a browser session and a signed-in customer (Flask-Login).

The session stays Flask's signed cookie. Signed in, it holds Flask-Login's user id, which is
`<customer id>:<sign-in token>`; the server keeps the token's SHA-256 (`accounts.SignIn`), so
the user loader's one indexed lookup both finds the customer and checks that this sign-in has
not ended (sign-out, or a password change or reset elsewhere). A cookie whose sign-in ended
signs no one in and carries no cart.
"""

from __future__ import annotations

from flask import Flask, session
from flask_login import UserMixin, current_user, login_user, logout_user

from . import accounts
from .cart_merge import MergeReport, merge_guest_cart
from .extensions import login_manager

USER_KEY = "_user_id"
# What survives a sign-in or sign-out: the visitor's language.
KEPT_KEYS = ("lang",)


class AccountUser(UserMixin):
    """The signed-in customer of a request, and the token of their sign-in."""

    def __init__(self, signed: accounts.SignedIn, token: str) -> None:
        self.signed = signed
        self.token = token

    @property
    def customer(self) -> accounts.CustomerView:
        """Who is signed in."""
        return self.signed.customer

    def get_id(self) -> str:
        """What the session keeps: the customer id and the sign-in token."""
        return f"{self.signed.customer.id}:{self.token}"


def _load_user(user_id: str) -> AccountUser | None:
    """The live sign-in a session names, or None (ended, forged or malformed)."""
    customer_id, _, token = user_id.partition(":")
    if not customer_id.isdigit() or len(customer_id) > 10 or not 20 <= len(token) <= 64:
        return None
    signed = accounts.signed_in(int(customer_id), token)
    return AccountUser(signed, token) if signed else None


def signed_in_user() -> AccountUser | None:
    """The signed-in customer of this request, or None. No query for a guest's session.

    A session whose sign-in has ended is emptied: its cart token went with the sign-in.
    """
    if USER_KEY not in session:
        return None
    user = current_user._get_current_object()
    if isinstance(user, AccountUser):
        return user
    _fresh_session()
    return None


def signed_in_customer_id() -> int | None:
    """The signed-in customer's id, or None for a guest."""
    user = signed_in_user()
    return user.customer.id if user is not None else None


def _fresh_session() -> None:
    """An empty session, keeping only the visitor's language."""
    kept = {key: session[key] for key in KEPT_KEYS if key in session}
    session.clear()
    session.update(kept)


def sign_in(customer: accounts.CustomerView, guest_token: str | None, limits) -> MergeReport:  # type: ignore[no-untyped-def]
    """Sign `customer` in with a fresh session; the guest cart joins theirs (caller commits).

    Signing in while signed in ends that sign-in on the server first (its cart stays with its
    customer, so there is no guest cart to merge).
    """
    current = signed_in_user()
    if current is not None:
        accounts.end_sign_in(current.token)
        guest_token = None
    report = merge_guest_cart(guest_token, customer.id, limits)
    token = accounts.start_sign_in(customer.id)
    _fresh_session()
    login_user(AccountUser(accounts.SignedIn(customer, report.cart_token), token))
    session.permanent = True
    return report


def sign_out() -> None:
    """End this session's sign-in on the server; the session is a new guest's (caller commits)."""
    current = signed_in_user()
    if current is not None:
        accounts.end_sign_in(current.token)
        logout_user()
    _fresh_session()


def register(app: Flask) -> None:
    """Bind Flask-Login to the app: no "remember me" cookie, no session protection of its own."""
    login_manager.init_app(app)
    login_manager.user_loader(_load_user)
    # The server-side sign-in record is the protection; Flask-Login's would end sign-ins when
    # the client's address changes (a phone between networks).
    login_manager.session_protection = None
    app.config.setdefault("REMEMBER_COOKIE_DURATION", 0)
