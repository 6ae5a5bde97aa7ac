"""The customer account operations of the OpenAPI document."""

from __future__ import annotations

from typing import Any

from .builders import operation, ref, session_security
from .orders import CODES_TEXT

CODED = "CodedProblem"
PROBLEM = "application/problem+json"
ACCEPTED = {"type": "object", "properties": {"status": {"const": "accepted"}}}
NOT_SIGNED_IN = "401 `not_signed_in` without a signed-in customer."


def _coded(status: int, description: str) -> dict[str, Any]:
    return {str(status): {"description": description, "content": {PROBLEM: {"schema": ref(CODED)}}}}


def account_paths() -> dict[str, Any]:
    """Register, sign in and out, the profile, the password and its reset."""
    customer = ref("CustomerOut")
    common: dict[str, Any] = {"tag": "account", "problem_schema": CODED}
    signed_in = {**common, "security": session_security(required=True)}
    limited = (400, 403, 413, 415, 422, 429)
    return {
        "/api/account/register/": {
            "post": operation(
                "register",
                "Open an account (and sign in)",
                (201, "Signed in as the new customer.", customer),
                limited,
                body=ref("RegisterIn"),
                session=True,
                description="Starts a fresh session; the guest's cart joins the account's. "
                + CODES_TEXT,
                other_responses=_coded(409, "`email_taken`."),
                **common,
            ),
        },
        "/api/account/login/": {
            "post": operation(
                "login",
                "Sign in",
                (200, "Signed in.", customer),
                limited,
                body=ref("LoginIn"),
                session=True,
                description="Starts a fresh session and merges the guest's cart: each line "
                "min(sum, MAX_LINE_QUANTITY, tracked stock), stock 0 adds nothing, lines past "
                "MAX_CART_LINES are left out. Limited per email and per address (RATE_LIMITS "
                "`login`, `login_address`).",
                other_responses=_coded(401, "`bad_credentials`: the same for an unknown email."),
                **common,
            ),
        },
        "/api/account/logout/": {
            "post": operation(
                "logout",
                "Sign out",
                (204, "Signed out (also when no one was signed in).", None),
                (403, 415),
                session=True,
                description="Ends the sign-in on the server: a copy of the cookie signs no one "
                "in. The session gets an empty guest cart.",
                **common,
            ),
        },
        "/api/account/": {
            "get": operation(
                "getAccount",
                "The signed-in customer",
                (200, "The customer.", customer),
                description=NOT_SIGNED_IN,
                other_responses=_coded(401, "`not_signed_in`."),
                **signed_in,
            ),
            "patch": operation(
                "updateAccount",
                "Change name, phone or address",
                (200, "The customer.", customer),
                (400, 403, 413, 415, 422),
                body=ref("ProfilePatch"),
                description="null clears phone or address. " + NOT_SIGNED_IN,
                other_responses=_coded(401, "`not_signed_in`."),
                **signed_in,
            ),
        },
        "/api/account/password/": {
            "post": operation(
                "changePassword",
                "Change the password",
                (204, "Changed; the customer's other sessions are signed out.", None),
                limited,
                body=ref("PasswordChangeIn"),
                description="A wrong current password: 422 at `current_password`. " + NOT_SIGNED_IN,
                other_responses=_coded(401, "`not_signed_in`."),
                **signed_in,
            ),
        },
        "/api/account/password-reset/": {
            "post": operation(
                "requestPasswordReset",
                "Mail a password reset link",
                (
                    202,
                    "Accepted, whatever the email (no hint whether it has an account).",
                    {"type": "object", "properties": {"status": {"const": "accepted"}}},
                ),
                limited,
                body=ref("ResetRequestIn"),
                session=True,
                description="A registered email gets a link valid for one hour and one use; a "
                "newer request or a password change voids older links.",
                **common,
            ),
        },
        "/api/account/password-reset/confirm/": {
            "post": operation(
                "confirmPasswordReset",
                "Set a new password with the mailed token",
                (204, "Set; every session of the customer is signed out (not signed in).", None),
                limited,
                body=ref("ResetConfirmIn"),
                session=True,
                description="An expired, used or forged token: 422 `invalid_token`.",
                **common,
            ),
        },
    }
