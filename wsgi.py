"""WSGI entry point: `gunicorn --config gunicorn.conf.py wsgi:app`."""

from storefront import create_app

app = create_app()
