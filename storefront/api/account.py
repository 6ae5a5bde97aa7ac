"""Customer accounts as JSON: register, sign in and out, profile, password change and reset."""

from __future__ import annotations

from flask import Response, jsonify

from .. import accounts
from ..account_schemas import (
    LoginIn,
    PasswordChangeIn,
    ProfilePatch,
    RegisterIn,
    ResetConfirmIn,
    ResetRequestIn,
)
from ..errors import ApiError, validation_error
from ..extensions import db
from ..password_reset import queue_password_reset
from ..ratelimit import LOGIN, rate_limited
from ..session_account import sign_in, sign_out, signed_in_user
from ..session_cart import current_token, limits
from . import bp
from .body import parse_body, read_json

NO_STORE = {"Cache-Control": "no-store"}


def customer_json(customer: accounts.CustomerView) -> dict[str, object]:
    """The contract's `Customer`."""
    return {
        "email": customer.email,
        "name": customer.name,
        "phone": customer.phone,
        "address": customer.address,
    }


def _answer(customer: accounts.CustomerView, status: int = 200) -> tuple[Response, int, dict]:
    return jsonify(customer_json(customer)), status, NO_STORE


def _signed_in() -> accounts.CustomerView:
    """The signed-in customer, or 401 `not_signed_in`."""
    user = signed_in_user()
    if user is None:
        raise ApiError(401, "Sign in first.", code="not_signed_in")
    return user.customer


def _password_problem(field: str, password: str, email: str) -> None:
    problem = accounts.password_problem(password, email)
    if problem:
        raise validation_error([{"loc": ["body", field], "msg": problem}])


@bp.post("/account/register/", strict_slashes=False)
@rate_limited(LOGIN)
def register() -> tuple[Response, int, dict]:
    """Open an account and sign in; the guest's cart joins the new account's."""
    data = parse_body(RegisterIn)
    _password_problem("password", data.password, data.email)
    try:
        customer = accounts.register(data.email, data.password, data.name)
    except accounts.EmailTaken as exc:
        db.session.rollback()
        raise ApiError(409, str(exc), code=exc.code) from exc
    sign_in(customer, current_token(), limits())
    db.session.commit()
    return _answer(customer, 201)


@bp.post("/account/login/", strict_slashes=False)
@rate_limited(LOGIN)
def login() -> tuple[Response, int, dict]:
    """Sign in with a fresh session; the guest's cart joins the customer's."""
    data = parse_body(LoginIn)
    try:
        customer = accounts.authenticate(data.email, data.password)
    except accounts.BadCredentials as exc:
        db.session.rollback()
        raise ApiError(401, str(exc), code=exc.code) from exc
    sign_in(customer, current_token(), limits())
    db.session.commit()
    return _answer(customer)


@bp.post("/account/logout/", strict_slashes=False)
def logout() -> Response:
    """End this sign-in on the server too; the session becomes a new guest's."""
    read_json()
    sign_out()
    db.session.commit()
    return Response(status=204)


@bp.get("/account/", strict_slashes=False)
def get_account() -> tuple[Response, int, dict]:
    """The signed-in customer."""
    return _answer(_signed_in())


@bp.patch("/account/", strict_slashes=False)
def update_account() -> tuple[Response, int, dict]:
    """Change name, phone or address (what checkout is prefilled with)."""
    customer = _signed_in()
    data = parse_body(ProfilePatch)
    updated = accounts.update_profile(customer.id, data.model_dump(exclude_unset=True))
    db.session.commit()
    return _answer(updated)


@bp.post("/account/password/", strict_slashes=False)
@rate_limited(LOGIN)
def change_password() -> Response:
    """A new password; every other session of the customer is signed out."""
    customer = _signed_in()
    data = parse_body(PasswordChangeIn)
    _password_problem("new_password", data.new_password, customer.email)
    user = signed_in_user()
    try:
        accounts.change_password(
            customer.id, data.current_password, data.new_password, user.token if user else None
        )
    except accounts.WrongPassword as exc:
        db.session.rollback()
        raise validation_error(
            [{"loc": ["body", "current_password"], "msg": "is not your current password"}]
        ) from exc
    db.session.commit()
    return Response(status=204)


@bp.post("/account/password-reset/", strict_slashes=False)
@rate_limited(LOGIN)
def request_password_reset() -> tuple[Response, int, dict]:
    """202 whatever the email: a registered one gets a link valid for an hour, once."""
    data = parse_body(ResetRequestIn)
    queue_password_reset(data.email)
    db.session.commit()
    return jsonify(status="accepted"), 202, NO_STORE


@bp.post("/account/password-reset/confirm/", strict_slashes=False)
@rate_limited(LOGIN)
def confirm_password_reset() -> Response:
    """Set the new password from the mail's token; every session is signed out."""
    data = parse_body(ResetConfirmIn)
    try:
        accounts.confirm_reset(data.token, data.password)
    except accounts.InvalidToken as exc:
        db.session.rollback()
        errors = [{"loc": ["body", "token"], "msg": "is invalid, used or expired"}]
        raise ApiError(422, str(exc), code=exc.code, errors=errors) from exc
    except ValueError as exc:
        db.session.rollback()
        raise validation_error([{"loc": ["body", "password"], "msg": str(exc)}]) from exc
    db.session.commit()
    return Response(status=204)
