"""Gunicorn settings for the container: `gunicorn --config gunicorn.conf.py wsgi:app`."""

import os

# PORT is what most platforms set; 8000 is what the Dockerfile exposes.
bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"

# Threads suit an app that mostly waits on the database; one process per usable CPU.
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY") or len(os.sched_getaffinity(0)))
threads = 4
timeout = 30
graceful_timeout = 20

accesslog = "-"
