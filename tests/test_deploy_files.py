"""The build, run and deploy files say what they must (no Docker engine or database needed)."""

import json
import re
import runpy
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

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


@pytest.mark.parametrize("script", [".ci/run", "scripts/throwaway-pg", "scripts/run-tests"])
def test_scripts_are_executable_bash(script):
    """The shell scripts are executable and parse with `bash -n`."""
    path = ROOT / script
    assert path.stat().st_mode & 0o111
    subprocess.run(["bash", "-n", str(path)], check=True)
