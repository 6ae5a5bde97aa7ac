"""A bulk import that dies halfway writes nothing: the admin endpoint, `flask seed FILE`, and a
`flask seed --generate` killed in the middle of its COPY.

Rows that fail validation are covered by tests/api/test_products.py and tests/test_cli.py; here
the last row passes validation and the database itself fails it: a trigger kills the session
(the server side of "killed halfway") or raises an error.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from storefront.extensions import db
from tests.conftest import make_app
from tests.faults.conftest import ADMIN, ROOT, Browser, Cluster, app_env, live_server

pytestmark = [pytest.mark.live, pytest.mark.faults, pytest.mark.timeout(120)]

POISON = "Отравленный товар"
FAULTS = {
    # The server ends the session in the middle of the INSERT, as a crash or a kill would.
    "killed": "PERFORM pg_terminate_backend(pg_backend_pid());",
    # An error the database raises on the last row.
    "failed": "RAISE EXCEPTION 'injected failure on the last row';",
}
STATE = (
    "SELECT (SELECT count(*) FROM products), (SELECT count(*) FROM categories), "
    "(SELECT coalesce(sum(product_count), 0) FROM categories), "
    "(SELECT count(*) FROM search_terms), "
    "(SELECT version FROM catalog_version)"
)
INDEXES = "SELECT indexname FROM pg_indexes WHERE tablename = 'products' ORDER BY 1"
CONSTRAINTS = (
    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
    "WHERE conrelid = 'products'::regclass ORDER BY 1"
)


def rows(count: int) -> list[dict[str, Any]]:
    """`count` valid products in new categories, then the poisoned one, valid too."""
    items = [
        {"name": f"Товар {n}", "price": f"{n + 1}.50", "category": f"Новая {n % 3}"}
        for n in range(count)
    ]
    return [*items, {"name": POISON, "price": 1, "category": "Новая 0"}]


def state(cluster: Cluster, database: str) -> tuple[Any, ...]:
    """Products, categories, the stored category counts, the search vocabulary, the catalog
    version (a write rolled back bumps nothing)."""
    with cluster.connect(database) as connection:
        return tuple(connection.execute(STATE).fetchone() or ())


def indexes(cluster: Cluster, database: str) -> list[str]:
    """The products table's indexes by name."""
    with cluster.connect(database) as connection:
        return [name for (name,) in connection.execute(INDEXES)]


def constraints(cluster: Cluster, database: str) -> list[tuple[str, str]]:
    """The products table's constraints: name and definition."""
    with cluster.connect(database) as connection:
        return [(name, definition) for name, definition in connection.execute(CONSTRAINTS)]


@pytest.fixture
def existing(cluster: Cluster, database: str) -> tuple[Any, ...]:
    """The demo catalog and nothing else; the state every failed import must leave."""
    with cluster.connect(database, autocommit=True) as connection:
        connection.execute("TRUNCATE products, categories, search_terms RESTART IDENTITY CASCADE")
    app = make_app(cluster.database_url(database))
    result = app.test_cli_runner().invoke(args=["seed"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        db.engine.dispose()
    return state(cluster, database)


@pytest.fixture(params=sorted(FAULTS))
def poisoned(cluster: Cluster, database: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A trigger that fails the insert of the poisoned row; removed afterwards."""
    with cluster.connect(database, autocommit=True) as connection:
        connection.execute(
            "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"{FAULTS[request.param]} RETURN NEW; END $$"
        )
        connection.execute(
            "CREATE TRIGGER poison BEFORE INSERT ON products FOR EACH ROW "
            f"WHEN (NEW.name = '{POISON}') EXECUTE FUNCTION poison()"
        )
    yield request.param
    with cluster.connect(database, autocommit=True) as connection:
        connection.execute("DROP FUNCTION poison() CASCADE")


def test_bulk_endpoint_writes_nothing_when_the_last_row_fails(
    cluster: Cluster, database: str, existing: tuple[Any, ...], poisoned: str, tmp_path: Path
) -> None:
    """POST /api/products/bulk: 503 (killed) or 500 (failed), no trace, nothing written."""
    with live_server(cluster.database_url(database), tmp_path / "gunicorn.log") as (_, port):
        reply = Browser(port).post("/api/products/bulk", rows(200), ADMIN)
        assert reply.status == (503 if poisoned == "killed" else 500), reply.text
        assert reply.headers["Content-Type"].startswith("application/problem+json")
        assert "Traceback" not in reply.text and "poison" not in reply.text
        if poisoned == "killed":
            assert int(reply.headers["Retry-After"]) > 0
        assert state(cluster, database) == existing
        # The app carries on: the same import without the bad row goes through.
        again = Browser(port).post("/api/products/bulk", rows(200)[:-1], ADMIN)
        assert again.status == 201, again.text


def test_seed_file_writes_nothing_when_the_last_row_fails(
    cluster: Cluster, database: str, existing: tuple[Any, ...], poisoned: str, tmp_path: Path
) -> None:
    """`flask seed FILE`: a non-zero exit that says nothing was loaded, and nothing written."""
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(rows(2000), ensure_ascii=False), encoding="utf-8")
    app: Flask = make_app(cluster.database_url(database))
    result = app.test_cli_runner().invoke(args=["seed", str(path)])
    with app.app_context():
        db.engine.dispose()
    assert result.exit_code == 1, result.output
    assert "nothing loaded" in result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)
    assert state(cluster, database) == existing


def test_killed_generate_leaves_no_products_and_every_index(
    cluster: Cluster, database: str, tmp_path: Path
) -> None:
    """`seed --generate` SIGKILLed during its COPY: no product of it stays, and the next seed
    puts back the indexes and the foreign key the fast path had dropped."""
    with cluster.connect(database, autocommit=True) as connection:
        connection.execute("TRUNCATE products, search_terms RESTART IDENTITY CASCADE")
        connection.execute("UPDATE categories SET product_count = 0")
    # The fast path (COPY into an empty table, indexes dropped and rebuilt) is the one to kill.
    before = indexes(cluster, database), constraints(cluster, database)
    command = [str(ROOT / ".venv" / "bin" / "flask"), "--app", "storefront", "seed"]
    env = app_env(cluster.database_url(database))
    log = tmp_path / "seed.log"
    with log.open("wb") as output:
        seeding = subprocess.Popen(
            [*command, "--generate", "300000"], cwd=ROOT, env=env, stdout=output, stderr=output
        )
    try:
        wait_for_copy(cluster, database, seeding)
        time.sleep(0.5)  # a few chunks into the COPY
    finally:
        os.kill(seeding.pid, signal.SIGKILL)
        seeding.wait(timeout=10)
    # The server notices the dropped connections and rolls their transactions back.
    deadline = time.monotonic() + 10
    while copying(cluster, database) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert state(cluster, database)[0] == 0
    assert constraints(cluster, database) != before[1]  # the fast path's drop stayed

    finished = subprocess.run(
        [*command, "--generate", "500"], cwd=ROOT, env=env, capture_output=True, timeout=60
    )
    assert finished.returncode == 0, finished.stderr
    assert (indexes(cluster, database), constraints(cluster, database)) == before
    assert state(cluster, database)[0] == 500


def copying(cluster: Cluster, database: str) -> bool:
    """Whether a COPY into products is running in `database`."""
    with cluster.connect(database) as connection:
        found = connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND state = 'active' AND query LIKE 'COPY products%'"
        ).fetchone()
    return bool(found and found[0])


def wait_for_copy(cluster: Cluster, database: str, seeding: subprocess.Popen[bytes]) -> None:
    """Wait until the seeding process is streaming rows into products."""
    deadline = time.monotonic() + 30
    while not copying(cluster, database):
        if seeding.poll() is not None or time.monotonic() > deadline:
            pytest.fail("seed --generate never started its COPY")
        time.sleep(0.05)
