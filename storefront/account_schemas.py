"""Customer account requests: validation for the API and the account pages, and their OpenAPI.

The same field rules as checkout's (email, name, phone, address); nullable fields are single
validators that accept None, never unions (see checkout_schemas.py).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema

from .accounts import MAX_PASSWORD, MIN_PASSWORD
from .checkout_schemas import ADDRESS_SCHEMA, PHONE_SCHEMA, Email, _address, _phone
from .schemas import _not_sent, _text

Password = Annotated[
    str,
    Field(strict=True, min_length=MIN_PASSWORD, max_length=MAX_PASSWORD),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": MIN_PASSWORD,
            "maxLength": MAX_PASSWORD,
            "description": "8–128 characters, not the account's email.",
        }
    ),
]
# What a sign-in may send: any password up to a sane size (a wrong one is a 401, not a 422).
GivenPassword = Annotated[str, Field(strict=True, min_length=1, max_length=1024)]


def _nullable_phone(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("must be text or null")
    return _phone(value)


NullablePhone = Annotated[
    str | None,
    PlainValidator(_nullable_phone),
    WithJsonSchema({"anyOf": [PHONE_SCHEMA, {"type": "null"}]}),
]
NullableAddress = Annotated[
    str | None,
    PlainValidator(_address),
    WithJsonSchema({"anyOf": [ADDRESS_SCHEMA, {"type": "null"}]}),
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisterIn(_Body):
    """Open an account (and sign in)."""

    email: Email
    password: Password
    name: _text(0, 200) = ""  # type: ignore[valid-type]


class LoginIn(_Body):
    """Sign in."""

    email: Email
    password: GivenPassword


class ProfilePatch(_Body):
    """Change the details checkout is prefilled with; null clears phone or address."""

    name: _text(0, 200) = _not_sent()  # type: ignore[valid-type]
    phone: NullablePhone = _not_sent()
    address: NullableAddress = _not_sent()


class PasswordChangeIn(_Body):
    """Change the password; the customer's other sessions are signed out."""

    current_password: GivenPassword
    new_password: Password


class ResetRequestIn(_Body):
    """Ask for a password reset link by mail."""

    email: Email


class ResetConfirmIn(_Body):
    """Set a new password with the token from the reset mail."""

    token: Annotated[str, Field(strict=True, min_length=1, max_length=200)]
    password: Password


class CustomerOut(BaseModel):
    """A customer as the API shows them."""

    email: str
    name: str
    phone: str | None
    address: str | None
