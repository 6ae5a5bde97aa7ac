"""Unbound extension objects, bound to the app in `create_app`."""

from flask import Response
from flask_babel import Babel
from flask_cors import CORS
from flask_login import LoginManager as FlaskLoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from .dbsession import Session


class LoginManager(FlaskLoginManager):
    """Flask-Login without its "remember me" cookie, which this shop never sets.

    Flask-Login's after-request step refreshes or clears that cookie on every response, and
    reading the session to find out marks it accessed: every answer, a product's included,
    then said `Vary: Cookie` and paid for it. Here `login_user` is never asked to remember, and
    `session_account.sign_out` empties the session after `logout_user`, so the step never had
    anything to do.
    """

    def _update_remember_cookie(self, response: Response) -> Response:
        return response


class Base(DeclarativeBase):
    """Declarative base with constraint names, so migrations can refer to them."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


db = SQLAlchemy(model_class=Base, session_options={"class_": Session})
migrate = Migrate()
cors = CORS()
# Page forms carry CSRF tokens; the JSON API is exempted (see create_app).
csrf = CSRFProtect()
babel = Babel()
# The signed-in customer (see session_account.py); the session cookie stays Flask's.
login_manager = LoginManager()
