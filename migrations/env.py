"""Alembic environment for Flask-Migrate: runs on the app's own engine (`db.engine`)."""

import logging
import warnings
from logging.config import fileConfig

from alembic import context
from flask import current_app

config = context.config
if config.config_file_name:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")
# Alembic cannot compare generated-column expressions and warns on each; the search vectors
# are generated on PostgreSQL and plain on SQLite by design (see storefront/models/catalog.py).
warnings.filterwarnings("ignore", message=r"Computed default on products\.search_")

target_db = current_app.extensions["migrate"].db
engine = target_db.engine
config.set_main_option(
    "sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%")
)


def include_object(obj, name, type_, reflected, compare_to):
    """Skip indexes the models mark as PostgreSQL-only when comparing another database."""
    if type_ == "index" and not reflected:
        only = obj.info.get("dialect")
        return only is None or only == engine.dialect.name
    return True


def run_migrations_offline():
    """Emit SQL for the app's database URL without connecting."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_db.metadata,
        literal_binds=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    """Run migrations on a connection from the app's engine."""

    def process_revision_directives(context, revision, directives):
        # Do not write an empty revision when autogenerate finds no change.
        if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
            directives[:] = []
            logger.info("No changes in schema detected.")

    conf_args = dict(current_app.extensions["migrate"].configure_args)
    conf_args.setdefault("process_revision_directives", process_revision_directives)
    conf_args.setdefault("include_object", include_object)

    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            # The app's request-sized statement timeout must not cut a migration short.
            connection.exec_driver_sql("SET statement_timeout = 0")
            # End the transaction the SET opened, or Alembic would run inside it uncommitted.
            connection.commit()
        context.configure(connection=connection, target_metadata=target_db.metadata, **conf_args)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
