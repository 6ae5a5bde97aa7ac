"""Queueing the password reset mail, for the API and the pages alike."""

from __future__ import annotations

from flask import current_app, url_for
from flask_babel import get_locale

from . import accounts
from .mail import messages, outbox


def queue_password_reset(email: str) -> None:
    """Mail a reset link when `email` has an account (in the caller's transaction).

    The caller answers the same whether or not it does: no hint which emails have accounts.
    """
    found = accounts.request_reset(email)
    if found is None:
        return
    customer, token = found
    path = url_for("web.password_reset_page", token=token)
    link = f"{current_app.config['SHOP_BASE_URL']}{path}"
    locale = str(get_locale())
    outbox.enqueue(messages.password_reset(customer.email, customer.name, link, locale))
