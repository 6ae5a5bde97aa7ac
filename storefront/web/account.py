"""Account pages: sign in, register, the account (details, password, orders), password reset.

The forms use the API's schemas and domain calls; each post redirects (303) with a message,
or shows the form again (200) with what to fix and the typed values kept (never the password).
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from pydantic import BaseModel, ValidationError

from .. import accounts
from ..account_schemas import (
    LoginIn,
    PasswordChangeIn,
    ProfilePatch,
    RegisterIn,
    ResetConfirmIn,
    ResetRequestIn,
)
from ..cart_merge import MergeReport
from ..extensions import db
from ..order_access import own_orders
from ..orders import STATUS_TITLES
from ..password_reset import queue_password_reset
from ..ratelimit import LOGIN, rate_limited
from ..session_account import sign_in, sign_out, signed_in_user
from ..session_cart import current_token, limits
from . import bp
from .navigation import next_url

# What to fix, per field, in the interface's language.
FIELD_MESSAGES = {
    "email": _l("Введите адрес электронной почты, например ivan@example.ru."),
    "password": _l("Пароль: от 8 до 128 символов, не совпадающий с адресом почты."),
    "new_password": _l("Пароль: от 8 до 128 символов, не совпадающий с адресом почты."),
    "current_password": _l("Это не ваш текущий пароль."),
    "name": _l("Имя: не длиннее 200 символов."),
    "phone": _l("Телефон: цифры, пробелы, + ( ) -, не меньше 5 цифр и до 32 символов."),
    "address": _l("Адрес: от 5 до 500 символов."),
}
BAD_CREDENTIALS = _l("Неверный адрес почты или пароль.")


def _form(*names: str) -> dict[str, str]:
    return {name: request.form.get(name) or "" for name in names}


def _validate(schema: type[BaseModel], values: dict[str, object], errors: dict[str, str]):  # type: ignore[no-untyped-def]
    """The validated form, or None with `errors` naming each field to fix."""
    try:
        return schema.model_validate(values)
    except ValidationError as exc:
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "email"
            errors[name] = str(FIELD_MESSAGES.get(name, FIELD_MESSAGES["email"]))
        return None


def _merge_notice(report: MergeReport) -> None:
    """Tell the customer what the guest cart brought to their account's cart."""
    if report.merged or report.reduced:
        flash(_("Товары из корзины перенесены в корзину аккаунта."), "success")
    for name, wanted, kept in report.reduced:
        flash(_("«%(name)s»: в корзине %(kept)d шт. вместо %(wanted)d — столько можно заказать.",
                name=name, kept=kept, wanted=wanted), "error")  # fmt: skip
    if report.left_out:
        flash(_("Не перенесены в корзину: %(names)s (нет в наличии или корзина заполнена).",
                names=", ".join(report.left_out)), "error")  # fmt: skip


def _signed_in(customer: accounts.CustomerView, message: str) -> ResponseReturnValue:
    """Sign in with a fresh session, say so and what the cart brought, and go on to `next`."""
    report = sign_in(customer, current_token(), limits())
    db.session.commit()
    flash(message, "success")
    _merge_notice(report)
    return redirect(next_url(url_for("web.account")), 303)


@bp.get("/account/login")
def login_page() -> ResponseReturnValue:
    """The sign-in form."""
    return render_template("account/login.html", values={"email": ""}, errors={})


@bp.post("/account/login")
@rate_limited(LOGIN)
def login() -> ResponseReturnValue:
    """Sign in; the guest cart joins the account's."""
    values, errors = _form("email", "password"), {}
    data = _validate(LoginIn, values, errors)
    if data is not None:
        try:
            customer = accounts.authenticate(data.email, data.password)
        except accounts.BadCredentials:
            db.session.rollback()
            errors["form"] = str(BAD_CREDENTIALS)
        else:
            return _signed_in(customer, _("Вы вошли как %(email)s.", email=customer.email))
    values.pop("password")
    return render_template("account/login.html", values=values, errors=errors), 200


@bp.get("/account/register")
def register_page() -> ResponseReturnValue:
    """The registration form."""
    return render_template("account/register.html", values={"email": "", "name": ""}, errors={})


@bp.post("/account/register")
@rate_limited(LOGIN)
def register() -> ResponseReturnValue:
    """Open an account and sign in."""
    values, errors = _form("email", "password", "name"), {}
    data = _validate(RegisterIn, values, errors)
    if data is not None and accounts.password_problem(data.password, data.email):
        errors["password"] = str(FIELD_MESSAGES["password"])
        data = None
    if data is not None:
        try:
            customer = accounts.register(data.email, data.password, data.name)
        except accounts.EmailTaken:
            db.session.rollback()
            errors["email"] = _("Аккаунт с этим адресом уже есть. Войдите или восстановите пароль.")
        else:
            message = _("Аккаунт создан. Вы вошли как %(email)s.", email=customer.email)
            return _signed_in(customer, message)
    values.pop("password")
    return render_template("account/register.html", values=values, errors=errors), 200


@bp.post("/account/logout")
def logout() -> ResponseReturnValue:
    """Sign out (here and on the server); the browser keeps an empty guest cart."""
    sign_out()
    db.session.commit()
    flash(_("Вы вышли из аккаунта."), "success")
    return redirect(url_for("web.catalog"), 303)


def _account_page(profile_errors=None, password_errors=None, values=None) -> ResponseReturnValue:  # type: ignore[no-untyped-def]
    user = signed_in_user()
    if user is None:
        return redirect(url_for("web.login_page", next=url_for("web.account")), 303)
    customer = user.customer
    shown = values or {
        "name": customer.name,
        "phone": customer.phone or "",
        "address": customer.address or "",
    }
    return render_template(
        "account/index.html",
        customer=customer,
        values=shown,
        profile_errors=profile_errors or {},
        password_errors=password_errors or {},
        orders=own_orders(limit=50, offset=0).items,
        status_titles=STATUS_TITLES,
    )


@bp.get("/account")
def account() -> ResponseReturnValue:
    """The customer's details, password and orders."""
    return _account_page()


@bp.post("/account")
def update_account() -> ResponseReturnValue:
    """Save name, phone and address (checkout is prefilled with them)."""
    user = signed_in_user()
    if user is None:
        return redirect(url_for("web.login_page", next=url_for("web.account")), 303)
    values, errors = _form("name", "phone", "address"), {}
    data = _validate(
        ProfilePatch,
        {"name": values["name"], "phone": values["phone"] or None,
         "address": values["address"] or None},
        errors,
    )  # fmt: skip
    if data is None:
        return _account_page(profile_errors=errors, values=values)
    accounts.update_profile(user.customer.id, data.model_dump())
    db.session.commit()
    flash(_("Данные сохранены."), "success")
    return redirect(url_for("web.account"), 303)


@bp.post("/account/password")
@rate_limited(LOGIN)
def change_password() -> ResponseReturnValue:
    """A new password; the customer's other sessions are signed out."""
    user = signed_in_user()
    if user is None:
        return redirect(url_for("web.login_page", next=url_for("web.account")), 303)
    errors: dict[str, str] = {}
    data = _validate(PasswordChangeIn, _form("current_password", "new_password"), errors)
    if data is not None and accounts.password_problem(data.new_password, user.customer.email):
        errors["new_password"] = str(FIELD_MESSAGES["new_password"])
    if data is not None and not errors:
        try:
            accounts.change_password(
                user.customer.id, data.current_password, data.new_password, user.token
            )
        except accounts.WrongPassword:
            db.session.rollback()
            errors["current_password"] = str(FIELD_MESSAGES["current_password"])
        else:
            db.session.commit()
            flash(_("Пароль изменён. На других устройствах нужно войти заново."), "success")
            return redirect(url_for("web.account"), 303)
    return _account_page(password_errors=errors)


@bp.get("/account/password-reset")
def password_reset_page() -> ResponseReturnValue:
    """Ask for a reset link; with `?token=` from the mail, the new-password form."""
    token = request.args.get("token")
    if token is None:
        return render_template("account/reset_request.html", values={"email": ""}, errors={})
    email = accounts.reset_email(token) if 0 < len(token) <= 200 else None
    return render_template("account/reset_confirm.html", token=token, email=email, errors={})


@bp.post("/account/password-reset")
@rate_limited(LOGIN)
def request_password_reset() -> ResponseReturnValue:
    """Mail a reset link (the answer is the same whether or not the email has an account)."""
    values, errors = _form("email"), {}
    data = _validate(ResetRequestIn, values, errors)
    if data is None:
        return render_template("account/reset_request.html", values=values, errors=errors), 200
    queue_password_reset(data.email)
    db.session.commit()
    flash(_("Если для %(email)s есть аккаунт, мы отправили на него ссылку для смены пароля. "
            "Она действует один час.", email=data.email), "success")  # fmt: skip
    return redirect(url_for("web.login_page"), 303)


@bp.post("/account/password-reset/confirm")
@rate_limited(LOGIN)
def confirm_password_reset() -> ResponseReturnValue:
    """Set the new password; then sign in with it."""
    token = request.form.get("token") or ""
    errors: dict[str, str] = {}
    values = {"token": token, "password": request.form.get("password") or ""}
    data = _validate(ResetConfirmIn, values, errors)
    if data is not None:
        try:
            accounts.confirm_reset(data.token, data.password)
        except accounts.InvalidToken:
            db.session.rollback()
            errors["token"] = "invalid"
        except ValueError:
            db.session.rollback()
            errors["password"] = str(FIELD_MESSAGES["password"])
        else:
            db.session.commit()
            flash(_("Пароль изменён. Войдите с новым паролем."), "success")
            return redirect(url_for("web.login_page"), 303)
    email = accounts.reset_email(token) if 0 < len(token) <= 200 else None
    return render_template(
        "account/reset_confirm.html", token=token, email=email, errors=errors
    ), 200
