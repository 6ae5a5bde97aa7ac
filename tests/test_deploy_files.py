"""The build, run and deploy files say what they must (no Docker engine or database needed)."""

import json
import logging
import os
import re
import runpy
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from storefront.routing import MAX_URL_BYTES

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = ROOT.parent / "shared" / "spec" / "http-contract.md"
SERVE = "gunicorn --config gunicorn.conf.py wsgi:app"
UPGRADE = "flask --app storefront db upgrade"


@pytest.fixture(scope="module")
def compose():
    """docker-compose.yml, parsed."""
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def env_example():
    """Names assigned in .env.example, mapped to their values."""
    pairs = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.match(r"([A-Z_][A-Z0-9_]*)=(.*)", line)
        if match:
            pairs[match[1]] = match[2]
    return pairs


@pytest.fixture(scope="module")
def dockerfile():
    """Dockerfile instructions as (INSTRUCTION, arguments), continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, args = line.partition(" ")
            instructions.append((keyword.upper(), args.strip()))
    return instructions


def make_recipe(target):
    """The recipe lines of one Makefile target."""
    lines = (ROOT / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"{target}\s*:(?!=)", line))
    recipe = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip())
    return recipe


def command_text(command):
    """A compose/Dockerfile command, list or string, as one string."""
    return " ".join(command) if isinstance(command, list) else command


def runs_migrations_then_gunicorn(command):
    """True when the command upgrades the database and only then starts gunicorn."""
    text = command_text(command)
    return UPGRADE in text and SERVE in text and text.index(UPGRADE) < text.index(SERVE)


def test_compose_has_the_original_services(compose):
    """Compose defines pg, test_pg and backend, as the original did."""
    assert {"pg", "test_pg", "backend"} <= set(compose["services"])


def test_test_pg_port_and_timezone(compose):
    """test_pg publishes 5432 on host port 5433 and runs in Asia/Almaty time."""
    test_pg = compose["services"]["test_pg"]
    assert "5433:5432" in test_pg["ports"]
    assert test_pg["environment"]["TZ"] == "Asia/Almaty"


@pytest.mark.parametrize("service", ["pg", "test_pg"])
def test_postgres_16_with_utf8_locale(compose, service):
    """Both databases are postgres:16 initialised with a UTF-8 locale (Cyrillic case folding)."""
    spec = compose["services"][service]
    assert spec["image"] == "postgres:16"
    args = spec["environment"]["POSTGRES_INITDB_ARGS"]
    assert "--locale=C.UTF-8" in args
    assert "--encoding=UTF8" in args


def test_pg_healthcheck_uses_pg_isready(compose):
    """pg reports healthy only when pg_isready succeeds."""
    assert "pg_isready" in command_text(compose["services"]["pg"]["healthcheck"]["test"])


def test_backend_builds_and_waits_for_healthy_pg(compose):
    """backend builds from the Dockerfile, reads .env and starts once pg is healthy."""
    backend = compose["services"]["backend"]
    build = backend["build"]
    assert build == "." or (
        build["context"] == "." and build.get("dockerfile", "Dockerfile") == "Dockerfile"
    )
    env_files = backend["env_file"]
    env_files = env_files if isinstance(env_files, list) else [env_files]
    assert ".env" in [f if isinstance(f, str) else f["path"] for f in env_files]
    assert backend["depends_on"]["pg"]["condition"] == "service_healthy"
    assert "@pg:5432/" in backend["environment"]["DATABASE_URL"]
    assert "8000:8000" in backend["ports"]


def test_backend_migrates_before_gunicorn(compose):
    """backend's command applies migrations, then serves with gunicorn."""
    assert runs_migrations_then_gunicorn(compose["services"]["backend"]["command"])


# The `scaled` profile: nginx (deploy/nginx/storefront.conf) in front of backend replicas.
NGINX_CONFIG = ROOT / "deploy" / "nginx" / "storefront.conf"
SCALED = ("migrate", "backend-scaled", "nginx")


@pytest.fixture(scope="module")
def nginx_directives():
    """The shipped nginx config as {directive: [arguments of each occurrence]}."""
    text = re.sub(r"#[^\n]*", "", NGINX_CONFIG.read_text())
    directives = {}
    for statement in re.split(r"[;{}]", text):
        words = statement.split()
        if words:
            directives.setdefault(words[0], []).append(words[1:])
    return directives


def test_scaled_profile_is_optional(compose):
    """migrate, backend-scaled and nginx run only with `--profile scaled`, Mailpit only with
    `--profile mail`; the rest always."""
    for name, service in compose["services"].items():
        expected = ["scaled"] if name in SCALED else ["mail"] if name == "mailpit" else []
        assert service.get("profiles", []) == expected, name


def test_scaled_backend_is_backend_without_a_published_port(compose):
    """backend-scaled is the same image, settings and database as backend, publishes no port
    (replicas would fight over it), trusts one proxy, and serves once migrations have run."""
    backend, scaled = compose["services"]["backend"], compose["services"]["backend-scaled"]
    for key in ("build", "env_file", "restart", "stop_grace_period"):
        assert scaled[key] == backend[key], key
    assert scaled["environment"] == {**backend["environment"], "TRUSTED_PROXIES": "1"}
    assert not scaled.get("ports")
    assert command_text(scaled["command"]) == SERVE
    assert scaled["depends_on"]["pg"]["condition"] == "service_healthy"
    assert scaled["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert scaled["deploy"]["replicas"] >= 2


def test_migrations_run_once_before_the_replicas(compose):
    """migrate is a one-shot (never restarted) that upgrades the database the replicas use."""
    backend, migrate = compose["services"]["backend"], compose["services"]["migrate"]
    assert command_text(migrate["command"]) == UPGRADE
    assert migrate["restart"] == "no"
    assert migrate["environment"] == backend["environment"]
    assert migrate["depends_on"]["pg"]["condition"] == "service_healthy"
    assert not migrate.get("ports")


def test_nginx_service_mounts_the_shipped_config(compose, nginx_directives):
    """nginx (the official image) waits for healthy replicas, serves the shipped config in
    place of the image's default server, and publishes the port that config listens on."""
    nginx = compose["services"]["nginx"]
    assert nginx["image"].split(":")[0] == "nginx"
    assert nginx["depends_on"]["backend-scaled"]["condition"] == "service_healthy"
    assert "./deploy/nginx/storefront.conf:/etc/nginx/conf.d/default.conf:ro" in nginx["volumes"]
    (listen,) = nginx_directives["listen"]
    assert [f"8080:{listen[0]}"] == nginx["ports"]


def test_nginx_upstream_is_the_scaled_service(compose, nginx_directives):
    """The upstream is backend-scaled on gunicorn's port, and every request goes to it."""
    # `server` is also the block that listens: that one has no arguments.
    (server,) = [arguments for arguments in nginx_directives["server"] if arguments]
    host, _, port = server[0].partition(":")
    assert host == "backend-scaled" and host in compose["services"]
    assert gunicorn_settings()["bind"].endswith(f":{port}")
    (upstream,) = nginx_directives["upstream"]
    assert nginx_directives["proxy_pass"] == [[f"http://{upstream[0]}"]]


def test_nginx_sets_the_forwarded_headers(nginx_directives):
    """X-Forwarded-For/-Proto/-Host and the request id reach the app (TRUSTED_PROXIES=1)."""
    headers = {name.lower(): value for name, value in nginx_directives["proxy_set_header"]}
    assert headers["x-forwarded-for"] == "$proxy_add_x_forwarded_for"
    assert headers["x-forwarded-proto"] == "$scheme"
    assert headers["x-forwarded-host"] == headers["host"] == "$host"
    assert headers["x-request-id"] == "$request_id"


def test_nginx_retries_only_what_is_safe(nginx_directives):
    """A failed instance's GETs go to another one; never a POST (no non_idempotent), never the
    app's own 503 (the database is down for every instance)."""
    (retry,) = nginx_directives["proxy_next_upstream"]
    assert {"error", "timeout"} <= set(retry)
    assert "non_idempotent" not in retry and "http_503" not in retry
    assert int(nginx_directives["proxy_next_upstream_tries"][0][0]) >= 2


def test_nginx_lets_keepalive_and_bodies_through(nginx_directives, env_example):
    """nginx drops idle upstream connections before gunicorn does, and passes bodies up to
    MAX_BULK_BYTES (the app answers larger ones itself, as problem+json)."""
    settings = gunicorn_settings()
    (timeout,) = nginx_directives["keepalive_timeout"]
    assert int(timeout[0].rstrip("s")) < settings["keepalive"]
    assert nginx_directives["proxy_http_version"] == [["1.1"]]
    (size,) = nginx_directives["client_max_body_size"]
    assert int(size[0].rstrip("m")) * 1024 * 1024 >= int(env_example["MAX_BULK_BYTES"])
    (read_timeout,) = nginx_directives["proxy_read_timeout"]
    assert int(read_timeout[0].rstrip("s")) > settings["timeout"]


def nginx_size(text):
    """Bytes of an nginx size such as `8k` or `1m`."""
    units = {"k": 1024, "m": 1024 * 1024}
    return int(text[:-1]) * units[text[-1].lower()] if text[-1].isalpha() else int(text)


def test_servers_read_every_url_the_app_answers(nginx_directives):
    """The app's URL limit (MAX_URL_BYTES: a problem+json 414) is below gunicorn's and nginx's
    request-line limits, with room for the longest method and the HTTP version, so a client
    sees the servers' own HTML 414 only past them."""
    longest_line = len("OPTIONS ") + MAX_URL_BYTES + len(" HTTP/1.1")
    gunicorn_limit = gunicorn_settings()["limit_request_line"]
    # gunicorn reads any larger setting as 8190, its maximum.
    assert longest_line <= gunicorn_limit <= 8190
    (buffers,) = nginx_directives["large_client_header_buffers"]
    # nginx needs the request line and its CRLF in one buffer.
    assert longest_line + 2 <= nginx_size(buffers[1])


def test_makefile_docker_scaled_mirrors_the_profile():
    """`make docker-scaled` starts nginx with the scaled profile and the replicas it asks for."""
    (command,) = [line for line in make_recipe("docker-scaled") if line.startswith("docker")]
    assert command.startswith("docker compose --profile scaled up -d")
    assert "--scale backend-scaled=$(REPLICAS)" in command
    assert command.split()[-1] == "nginx"


WORKER = "flask --app storefront mail worker"


def test_mailer_is_backend_running_the_mail_worker(compose):
    """mailer: backend's image, settings and database, the worker instead of gunicorn, no port,
    no HTTP health check; MAIL_URL from .env unless the shell sets it."""
    backend, mailer = compose["services"]["backend"], compose["services"]["mailer"]
    for key in ("build", "env_file", "restart", "stop_grace_period"):
        assert mailer[key] == backend[key], key
    assert mailer["environment"] == {**backend["environment"], "MAIL_URL": "${MAIL_URL:-}"}
    assert command_text(mailer["command"]) == WORKER
    assert mailer["depends_on"]["pg"]["condition"] == "service_healthy"
    assert not mailer.get("ports")
    assert mailer["healthcheck"] == {"disable": True}
    # Longer than one SMTP exchange can take, so SIGTERM lets the mail being sent finish.
    assert int(mailer["stop_grace_period"].rstrip("s")) > 20


def test_mailpit_catches_mail_in_development_only(compose):
    """Mailpit (profile `mail`) shows its web UI and takes SMTP on 127.0.0.1 only."""
    mailpit = compose["services"]["mailpit"]
    assert mailpit["image"].split(":")[0] == "axllent/mailpit"
    assert sorted(mailpit["ports"]) == ["127.0.0.1:1025:1025", "127.0.0.1:8025:8025"]


def test_makefile_docker_mail_mirrors_the_profile(compose):
    """`make docker-mail` starts the `mail` profile with the mailer sending to Mailpit's SMTP."""
    (command,) = [line for line in make_recipe("docker-mail") if "docker compose" in line]
    assert command == "MAIL_URL=smtp://mailpit:1025 docker compose --profile mail up -d"
    smtp_ports = [port.rsplit(":", 1)[1] for port in compose["services"]["mailpit"]["ports"]]
    assert "1025" in smtp_ports


def test_makefile_run_serves_with_the_mail_worker_beside_it():
    """`make run` says where mail goes, starts the worker in the background before the server,
    and stops it when the server stops."""
    recipe = make_recipe("run")
    where = next(i for i, line in enumerate(recipe) if "mail where" in line)
    worker = next(i for i, line in enumerate(recipe) if "mail worker &" in line)
    serve = next(i for i, line in enumerate(recipe) if re.search(r"\brun --host\b", line))
    assert where < worker < serve
    shell = " ".join(recipe[worker : serve + 1])
    assert "worker=$$!" in shell and "trap 'kill $$worker" in shell and "EXIT" in shell


def test_compose_variables_are_in_env_example(env_example):
    """Every ${VAR} that compose interpolates is defined in .env.example."""
    text = (ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", text))
    assert used
    assert used <= set(env_example), sorted(used - set(env_example))


def test_contract_configuration_is_in_env_example(env_example):
    """Every variable of the contract's Configuration section is in .env.example."""
    if not CONTRACT.exists():
        pytest.skip(f"{CONTRACT} not found (the contract lives next to the repository)")
    section = CONTRACT.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    names = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", section))
    assert "DATABASE_URL" in names
    assert names <= set(env_example), sorted(names - set(env_example))


def test_env_example_holds_no_secrets(env_example):
    """.env.example leaves the secret key and the admin token empty."""
    assert env_example["SECRET_KEY"] == ""
    assert env_example["STOREFRONT_ADMIN_TOKEN"] == ""


def test_dockerfile_production_and_non_root(dockerfile):
    """The image runs in production mode as a non-root user."""
    env = {}
    for keyword, args in dockerfile:
        if keyword == "ENV":
            env.update(pair.split("=", 1) for pair in shlex.split(args))
    assert env["STOREFRONT_ENV"] == "production"
    users = [args for keyword, args in dockerfile if keyword == "USER"]
    assert users
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_dockerfile_cmd_migrates_then_runs_gunicorn(dockerfile):
    """The image's CMD applies migrations, then runs gunicorn with gunicorn.conf.py."""
    cmd = [args for keyword, args in dockerfile if keyword == "CMD"][-1]
    assert runs_migrations_then_gunicorn(json.loads(cmd))
    assert (ROOT / "gunicorn.conf.py").exists()
    assert (ROOT / "wsgi.py").exists()


def test_dockerfile_healthcheck_hits_healthz(dockerfile):
    """The image's health check asks /healthz."""
    checks = [args for keyword, args in dockerfile if keyword == "HEALTHCHECK"]
    assert checks
    assert "/healthz" in checks[-1]


def test_dockerignore_keeps_what_the_image_needs():
    """.dockerignore does not drop a file or directory the image runs from."""
    ignored = {
        line.strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    needed = {"storefront", "templates", "static", "migrations", "wsgi.py", "gunicorn.conf.py"}
    assert not needed & ignored
    assert {"pyproject.toml", "README.md"}.isdisjoint(ignored)
    assert {".git", ".venv", ".env"} <= ignored


def test_gunicorn_config_defaults(monkeypatch):
    """gunicorn.conf.py binds 0.0.0.0:8000 by default, PORT when set, with gthread workers."""
    monkeypatch.delenv("PORT", raising=False)
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert settings["bind"] == "0.0.0.0:8000"
    assert settings["worker_class"] == "gthread"
    assert settings["workers"] >= 1
    monkeypatch.setenv("PORT", "9000")
    assert runpy.run_path(str(ROOT / "gunicorn.conf.py"))["bind"] == "0.0.0.0:9000"


def test_makefile_run_upgrades_before_serving():
    """`make run` applies migrations and seeds before it starts the server."""
    recipe = make_recipe("run")
    upgrade = next(i for i, line in enumerate(recipe) if "db upgrade" in line)
    seed = next(i for i, line in enumerate(recipe) if "seed --if-empty" in line)
    serve = next(i for i, line in enumerate(recipe) if re.search(r"\brun --host\b", line))
    assert upgrade < seed < serve


def test_makefile_test_uses_the_test_runner():
    """`make test` goes through scripts/run-tests, which provides PostgreSQL."""
    assert any(line.startswith("scripts/run-tests") for line in make_recipe("test"))


def test_ci_runs_lint_and_tests():
    """.ci/run calls `make lint` and `make test`."""
    commands = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if not line.strip().startswith("#")
    ]
    assert "make test" in commands
    assert "make lint" in commands


@pytest.mark.parametrize("package", ["postgresql-15", "chromium", "nginx-light"])
def test_ci_installs_what_the_live_tests_need(package):
    """.ci/run installs PostgreSQL, the browser and nginx when missing (through test-deps, the
    script `make test` uses too; the browser and nginx tests skip without them)."""
    assert re.search(r"^scripts/test-deps$", (ROOT / ".ci" / "run").read_text(), re.M)
    assert re.search(rf"\) echo {package} ;;$", (ROOT / "scripts" / "test-deps").read_text(), re.M)


@pytest.mark.parametrize(
    "script", [".ci/run", "scripts/throwaway-pg", "scripts/run-tests", "scripts/test-deps"]
)
def test_scripts_are_executable_bash(script):
    """The shell scripts are executable and parse with `bash -n`."""
    path = ROOT / script
    assert path.stat().st_mode & 0o111
    subprocess.run(["bash", "-n", str(path)], check=True)


def gunicorn_settings():
    """gunicorn.conf.py's settings as gunicorn reads them (module globals)."""
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def test_gunicorn_threads_keep_their_read_connections_unless_told_not_to(monkeypatch):
    """gunicorn's threads live as long as their worker: the config turns the setting on for the
    app (through gunicorn's environment, not this process's), and an operator's 0 wins."""
    monkeypatch.delenv("READ_CONNECTION_PER_THREAD", raising=False)
    assert gunicorn_settings()["raw_env"] == ["READ_CONNECTION_PER_THREAD=1"]
    assert "READ_CONNECTION_PER_THREAD" not in os.environ
    monkeypatch.setenv("READ_CONNECTION_PER_THREAD", "0")
    assert gunicorn_settings()["raw_env"] == []


@pytest.fixture
def cpus(monkeypatch):
    """Make the machine look like it has `n` CPUs and no cgroup quota: call with n."""
    real_read_text = Path.read_text

    def read_text(path, *args, **kwargs):
        if str(path) == "/sys/fs/cgroup/cpu.max":
            raise FileNotFoundError(path)
        return real_read_text(path, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", read_text)
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    monkeypatch.delenv("GUNICORN_THREADS", raising=False)
    return lambda n: monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(n)))


@pytest.mark.parametrize(
    ("n", "workers", "threads"),
    [(1, 2, 2), (2, 2, 4), (4, 4, 4), (16, 16, 4), (64, 64, 4)],
)
def test_gunicorn_sizes_itself_from_the_cpus(cpus, n, workers, threads):
    """gthread: a worker per usable CPU (at least 2), about 4 threads per CPU in all."""
    cpus(n)
    settings = gunicorn_settings()
    assert settings["worker_class"] == "gthread"
    assert (settings["CPUS"], settings["workers"], settings["threads"]) == (n, workers, threads)


def test_gunicorn_threads_follow_the_cpus_per_worker(cpus, monkeypatch):
    """Fewer workers than CPUs (WEB_CONCURRENCY) get more threads each, up to 8."""
    cpus(8)
    monkeypatch.setenv("WEB_CONCURRENCY", "2")
    assert (gunicorn_settings()["workers"], gunicorn_settings()["threads"]) == (2, 8)
    monkeypatch.setenv("WEB_CONCURRENCY", "4")
    assert gunicorn_settings()["threads"] == 8
    monkeypatch.setenv("GUNICORN_THREADS", "3")
    assert gunicorn_settings()["threads"] == 3


@pytest.mark.parametrize(
    ("cpu_max", "expected"),
    [("max 100000", 8), ("150000 100000", 2), ("50000 100000", 1), ("400000 100000", 4), ("", 8)],
)
def test_gunicorn_counts_a_cgroup_cpu_quota(cpus, tmp_path, cpu_max, expected):
    """In a container limited to 1.5 CPUs, two workers, not one per CPU of the host."""
    cpus(8)
    path = tmp_path / "cpu.max"
    path.write_text(cpu_max)
    assert gunicorn_settings()["usable_cpus"](path) == expected


def test_gunicorn_timeouts_and_graceful_shutdown(compose):
    """Hung workers are replaced; SIGTERM drains requests before compose's SIGKILL."""
    settings = gunicorn_settings()
    assert 0 < settings["keepalive"] < settings["graceful_timeout"] <= settings["timeout"]
    grace = compose["services"]["backend"]["stop_grace_period"]
    assert int(grace.rstrip("s")) > settings["graceful_timeout"]


def test_gunicorn_access_log_format_is_json_with_the_request_id():
    """The format is a JSON object naming the request id the app echoes, and no credential."""
    fmt = gunicorn_settings()["access_log_format"]
    assert "%({x-request-id}o)s" in fmt
    assert not re.search(r"authorization|cookie", fmt, re.IGNORECASE)
    assert "%(u)s" not in fmt  # the user name of Basic auth
    sample = re.sub(r"%\((?:s|B|L)\)s", "1", fmt)
    sample = re.sub(r"%\([^)]*\)s", "x", sample)
    assert set(json.loads(sample)) >= {"time", "request_id", "method", "path", "status"}


def access_line(settings, tmp_path, *, sent, user_agent):
    """The line gunicorn's logger (the config's logger_class) writes for one request."""
    from gunicorn.config import Config

    config = Config()
    config.set("accesslog", str(tmp_path / "access.log"))
    config.set("errorlog", str(tmp_path / "error.log"))
    config.set("access_log_format", settings["access_log_format"])
    logger = settings["logger_class"](config)
    try:
        environ = {
            "REQUEST_METHOD": "GET",
            "RAW_URI": "/%D0%BC%D1%8B%D1%88%D1%8C?x=1",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "PATH_INFO": "/мышь".encode().decode("latin-1"),
            "QUERY_STRING": 'x="1"',
            "REMOTE_ADDR": "10.0.0.7",
            "HTTP_USER_AGENT": user_agent,
            "HTTP_AUTHORIZATION": "Bearer do-not-log-me",
        }
        request = SimpleNamespace(
            headers=[("USER-AGENT", user_agent), ("AUTHORIZATION", "Bearer do-not-log-me")]
        )
        response = SimpleNamespace(
            status="201 CREATED",
            sent=sent,
            headers=[("Content-Type", "application/json"), ("X-Request-ID", "req-7")],
        )
        logger.access(response, request, environ, timedelta(microseconds=1234))
    finally:
        for name in ("gunicorn.access", "gunicorn.error"):
            for handler in list(logging.getLogger(name).handlers):
                logging.getLogger(name).removeHandler(handler)
                handler.close()
    (line,) = (tmp_path / "access.log").read_text().splitlines()
    return line


def test_gunicorn_access_log_lines_are_json(tmp_path):
    """Quotes, backslashes and control characters from clients cannot break a line's JSON."""
    settings = gunicorn_settings()
    nasty = 'bot "quoted" \\ back\tslash'
    line = access_line(settings, tmp_path, sent=42, user_agent=nasty)
    entry = json.loads(line)
    assert entry["request_id"] == "req-7"
    assert entry["status"] == 201
    assert entry["bytes"] == 42
    assert entry["duration_s"] == pytest.approx(0.001234)
    assert entry["path"] == "/мышь"
    assert entry["query"] == 'x="1"'
    assert entry["user_agent"] == nasty
    assert entry["remote_addr"] == "10.0.0.7"
    assert "do-not-log-me" not in line
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$", entry["time"])
    (tmp_path / "access.log").unlink()
    assert json.loads(access_line(settings, tmp_path, sent=None, user_agent="-"))["bytes"] is None


def test_gunicorn_logconfig_writes_app_logs_as_json():
    """The root logger (the app's records) and gunicorn's error log go out as JSON lines."""
    script = (
        "import logging, logging.config, runpy\n"
        "settings = runpy.run_path('gunicorn.conf.py')\n"
        "logging.config.dictConfig(settings['logconfig_dict'])\n"
        "logging.getLogger('storefront.errors').warning('database unavailable: %s', 'x')\n"
        "logging.getLogger('gunicorn.error').info('Booting worker')\n"
        "logging.getLogger('gunicorn.access').info('{\"raw\": true}')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    app, booting = (json.loads(line) for line in done.stderr.splitlines())
    assert app["logger"] == "storefront.errors" and app["level"] == "WARNING"
    assert app["message"] == "database unavailable: x"
    assert booting["logger"] == "gunicorn.error"
    assert json.loads(done.stdout) == {"raw": True}


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(port, path, headers=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status, dict(response.headers)


@pytest.mark.live
@pytest.mark.timeout(60)
def test_gunicorn_serves_with_json_logs_and_request_ids(tmp_path):
    """The real thing: gunicorn.conf.py boots the app, logs JSON, stops cleanly on SIGTERM."""
    port = _free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": str(tmp_path),
        "PORT": str(port),
        "STOREFRONT_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "WEB_CONCURRENCY": "2",
    }
    out, err = tmp_path / "stdout.log", tmp_path / "stderr.log"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, err.read_text()
            try:
                status, headers = _get(port, "/healthz", {"X-Request-ID": "deploy-test-1"})
                break
            except OSError:
                assert time.monotonic() < deadline, err.read_text()
                time.sleep(0.1)
        assert status == 200 and headers["X-Request-ID"] == "deploy-test-1"
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        _, generated = _get(port, "/healthz")
        made = generated["X-Request-ID"]
        assert re.fullmatch(r"[0-9a-f]{32}", made)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            returncode = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
    assert returncode == 0, err.read_text()
    access = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(a["path"], a["status"]) for a in access][-2:] == [("/healthz", 200)] * 2
    # Two workers write to one stdout: the second request's line may land before the first's.
    assert sorted(a["request_id"] for a in access[-2:]) == sorted(["deploy-test-1", made])
    errors = [json.loads(line) for line in err.read_text().splitlines()]
    messages = [e["message"] for e in errors]
    assert any("2 gthread workers" in m for m in messages)
    assert any("Handling signal: term" in m for m in messages)
    assert env["SECRET_KEY"] not in out.read_text() + err.read_text()
