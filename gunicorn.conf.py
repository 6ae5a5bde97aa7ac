"""Gunicorn settings for the container: `gunicorn --config gunicorn.conf.py wsgi:app`.

- Workers and threads come from the CPUs this process may use (its affinity and, in a
  container, its cgroup CPU quota); `WEB_CONCURRENCY` and `GUNICORN_THREADS` override them.
- SIGTERM (`docker stop`, Kubernetes) is a graceful shutdown: workers stop accepting, finish what
  they are serving for up to `graceful_timeout` seconds, then exit. Give the container longer
  than that to stop (compose: `stop_grace_period`).
- Logs are JSON lines: the access log on stdout (one object per request, with the request id the
  app echoes as `X-Request-ID`), gunicorn's own and the application's logs on stderr.
"""

import json
import math
import os
from datetime import UTC, datetime
from pathlib import Path

from gunicorn.glogging import Logger, SafeAtoms

CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def usable_cpus(cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """CPUs this process may run on: its affinity, capped by a cgroup v2 CPU quota."""
    cpus = len(os.sched_getaffinity(0))
    try:
        quota, period = cpu_max.read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    return max(1, cpus)


CPUS = usable_cpus()

# PORT is what most platforms set; 8000 is what the Dockerfile exposes.
bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"

# One process per usable CPU (at least two, so one restarting never leaves the port unserved);
# threads overlap the waits on PostgreSQL, about four per CPU in all, 2–8 per worker. Each
# thread holds at most one database connection, so an instance uses up to
# workers × threads connections: size PostgreSQL's max_connections for every instance.
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY") or max(2, CPUS))
threads = int(os.environ.get("GUNICORN_THREADS") or max(2, min(8, 4 * CPUS // workers)))

# A worker whose main loop stops checking in for `timeout` seconds is killed and replaced (with
# gthread that means the process hung, not that one request is slow: a request's database work
# is bounded by STATEMENT_TIMEOUT_MS, 5 s by default).
timeout = 30
# SIGTERM: in-flight requests get this long to finish.
graceful_timeout = 20
# Idle keep-alive connections (from a proxy or a load balancer) are closed after this long.
keepalive = 5
# The longest request line read (method, URL and HTTP version; gunicorn's default is 4094 and
# its maximum 8190). The app answers every URL over its own MAX_URL_BYTES (8000, see
# storefront/routing.py) with a problem+json 414, so up to this line gunicorn's HTML 414 is
# never seen; past it, gunicorn refuses the request before the app runs.
limit_request_line = 8190
# The heartbeat file lives in memory, not on the container's overlay filesystem.
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"

# A gthread worker's threads live as long as it does: each keeps its database connection for
# reads from one request to the next (storefront/dbsession.py) instead of taking it from the
# pool every time. Set READ_CONNECTION_PER_THREAD=0 in the environment to turn that off.
# (gunicorn puts `raw_env` in the environment when it starts; reading this file changes nothing.)
raw_env = (
    []
    if os.environ.get("READ_CONNECTION_PER_THREAD", "").strip()
    else ["READ_CONNECTION_PER_THREAD=1"]
)

# gunicorn 25+ opens a control socket under $HOME by default; nothing here uses it, and two
# instances on one host would fight over the same path.
control_socket_disable = True

accesslog = "-"
errorlog = "-"
loglevel = "info"
# One JSON object per request. JsonLogger escapes every value a client sends (path, agent), so
# the line stays valid JSON whatever it holds; status, bytes and duration are JSON numbers.
access_log_format = (
    '{"time": "%(t)s", "request_id": "%({x-request-id}o)s", "remote_addr": "%(h)s", '
    '"forwarded_for": "%({x-forwarded-for}i)s", "method": "%(m)s", "path": "%(U)s", '
    '"query": "%(q)s", "status": %(s)s, "bytes": %(B)s, "duration_s": %(L)s, '
    '"referer": "%(f)s", "user_agent": "%(a)s"}'
)


class JsonAtoms(SafeAtoms):
    """Access-log values escaped for a JSON string (gunicorn's SafeAtoms only escapes `"`).

    A value that is not a string (the body size, None when nothing was sent) is written as
    JSON, so `%(B)s` becomes a number or `null`. Only the values the format names are escaped,
    when it asks for them: gunicorn hands over every request and response header and every
    environ entry (~50 values, the socket's text among them): escaping them all made a
    product detail's line cost 40 µs, against 9 for the dozen the format names.
    """

    def __init__(self, atoms: dict) -> None:
        dict.__init__(self, atoms)

    def __getitem__(self, key: str) -> object:
        if key.startswith("{"):
            key = key.lower()
        if key not in self:
            return "-"
        value = dict.__getitem__(self, key)
        if isinstance(value, str):
            return json.dumps(_from_wsgi(value))[1:-1]
        if isinstance(value, int | float):
            return value
        return json.dumps(value, default=str)


def _from_wsgi(value: str) -> str:
    """WSGI strings carry bytes as latin-1; show UTF-8 paths and headers as the text they are."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return value


class JsonLogger(Logger):
    """gunicorn's logger with JSON-safe access-log values and ISO 8601 UTC times."""

    atoms_wrapper_class = JsonAtoms

    def now(self) -> str:
        return datetime.now(UTC).isoformat(timespec="milliseconds")


logger_class = JsonLogger

# The access log's lines are JSON already; everything else (gunicorn and the app, through the
# root logger) is formatted by the app's JsonFormatter, which adds the request id.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "storefront.logs.JsonFormatter"},
        "raw": {"format": "%(message)s"},
    },
    "handlers": {
        "access": {
            "class": "logging.StreamHandler",
            "formatter": "raw",
            "stream": "ext://sys.stdout",
        },
        "app": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stderr",
        },
    },
    "root": {"level": "INFO", "handlers": ["app"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["app"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["access"], "propagate": False},
    },
}


def when_ready(server) -> None:  # type: ignore[no-untyped-def]
    """Say once how the server is sized."""
    server.log.info(
        "serving %s with %d %s workers x %d threads (%d usable CPUs)",
        bind,
        workers,
        worker_class,
        threads,
        CPUS,
    )
