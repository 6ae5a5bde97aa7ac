"""The catalog version: every catalog write bumps it in its own transaction, and the cached
totals of every process follow it. Two apps on one database stand for two processes."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from storefront import inventory
from storefront.catalog_version import read_catalog_version
from storefront.counts import CountCache
from storefront.extensions import db
from storefront.schemas import ProductIn
from tests.conftest import make_app
from tests.factories import AUTH, create_products, product_data


def version(app: Flask) -> int:
    """The catalog version committed in `app`'s database."""
    with app.app_context():
        found = read_catalog_version()
        db.session.remove()
    assert found is not None
    return found


def seed(app: Flask, *args: str) -> None:
    """Run `flask seed` with `args`; it must succeed."""
    result = app.test_cli_runner().invoke(args=["seed", *args])
    assert result.exit_code == 0, result.output


def _create(app: Flask, client: FlaskClient, mouse: int, tmp_path: Path) -> None:
    create_products(client, [product_data()])


def _bulk(app: Flask, client: FlaskClient, mouse: int, tmp_path: Path) -> None:
    create_products(client, [product_data(name="А"), product_data(name="Б", category="Мебель")])


def _patch_price(app: Flask, client: FlaskClient, mouse: int, tmp_path: Path) -> None:
    patched = client.patch(f"/api/products/{mouse}/", json={"price": 1}, headers=AUTH)
    assert patched.status_code == 200


def _patch_category(app: Flask, client: FlaskClient, mouse: int, tmp_path: Path) -> None:
    patched = client.patch(f"/api/products/{mouse}/", json={"category": "Спорт"}, headers=AUTH)
    assert patched.status_code == 200


def _delete(app: Flask, client: FlaskClient, mouse: int, tmp_path: Path) -> None:
    assert client.delete(f"/api/products/{mouse}/", headers=AUTH).status_code == 204


def _seed_file(app: Flask, client: FlaskClient, mouse: int, tmp_path: Path) -> None:
    path = tmp_path / "one.json"
    path.write_text(json.dumps([{"name": "Один", "price": 1, "category": "Разное"}]))
    seed(app, str(path))


def _seed_generate(app: Flask, client: FlaskClient, mouse: int, tmp_path: Path) -> None:
    # Into a filled table: PostgreSQL merges through a staging table, SQLite inserts in chunks.
    seed(app, "--generate", "30")


WRITES: dict[str, Callable[[Flask, FlaskClient, int, Path], None]] = {
    "create": _create,
    "bulk": _bulk,
    "patch-price": _patch_price,
    "patch-category": _patch_category,
    "delete": _delete,
    "seed-file": _seed_file,
    "seed-generate": _seed_generate,
}


@pytest.mark.parametrize("write", list(WRITES))
def test_every_catalog_write_bumps_the_version(
    app: Flask, client: FlaskClient, demo: dict[str, int], tmp_path: Path, write: str
) -> None:
    """Admin create, bulk, patch, delete; `flask seed FILE` and `--generate`."""
    before = version(app)
    WRITES[write](app, client, demo["Беспроводная мышь"], tmp_path)
    assert version(app) > before


def test_seeding_an_empty_catalog_bumps_the_version(app: Flask) -> None:
    """The demo seed, and `--generate` into an empty table (PostgreSQL: COPY, indexes rebuilt)."""
    before = version(app)
    seed(app)
    seeded = version(app)
    assert seeded > before
    with app.app_context():
        db.session.execute(text("DELETE FROM products"))
        db.session.commit()
    seed(app, "--generate", "30")
    assert version(app) > seeded


def test_writes_that_change_nothing_bump_nothing(
    app: Flask, client: FlaskClient, demo: dict[str, int]
) -> None:
    """A refused write and a seed that skips every product leave the version alone."""
    before = version(app)
    bad = client.post("/api/products/bulk", json=[product_data(), {"name": ""}], headers=AUTH)
    assert bad.status_code == 422
    assert client.delete("/api/products/999999/", headers=AUTH).status_code == 404
    seed(app)
    assert version(app) == before


def test_a_rolled_back_write_bumps_nothing(app: Flask) -> None:
    """The bump is part of the write's transaction: a rollback takes it back too."""
    before = version(app)
    with app.app_context():
        inventory.create_products([ProductIn(name="Х", price=1, category="Новая")])
        db.session.rollback()
    assert version(app) == before


@pytest.fixture
def other(database_url: str, app: Flask) -> Iterator[FlaskClient]:
    """A client of a second app on the same database: another process, with caches of its own."""
    second = make_app(database_url)
    yield second.test_client()
    with second.app_context():
        db.session.remove()
        db.engine.dispose()


def test_another_process_reads_a_write_at_once(
    client: FlaskClient, other: FlaskClient, demo: dict[str, int]
) -> None:
    """Totals the other app counted and keeps are counted again after a write through this one,
    in the API and on the catalog page."""

    def total(query: str) -> int:
        return other.get(f"/api/products/?{query}&limit=1").get_json()["total"]

    def page_shows(query: str, count: int) -> bool:
        return f"Найдено товаров: {count}<" in other.get(f"/?{query}&limit=1").text

    assert total("category=sport") == 3
    assert total("search=мышь") == 1
    assert page_shows("category=sport", 3)
    create_products(client, [product_data(name="Игровая мышь", category="Спорт")])
    assert total("category=sport") == 4
    assert total("search=мышь") == 2
    assert page_shows("category=sport", 4)
    assert {c["slug"]: c["product_count"] for c in other.get("/api/categories/").get_json()}[
        "sport"
    ] == 4
    mouse = demo["Беспроводная мышь"]
    assert client.delete(f"/api/products/{mouse}/", headers=AUTH).status_code == 204
    assert total("search=мышь") == 1


def test_a_total_is_kept_at_the_version_it_was_counted_at() -> None:
    """A hit needs the same version; a late answer for an older version keeps the newer entry;
    no version (no row to read it from) keeps nothing."""
    cache = CountCache(ttl=60)
    assert cache.get("k", 1, lambda: 10) == 10
    assert cache.get("k", 1, lambda: 11) == 10
    assert cache.get("k", 2, lambda: 20) == 20
    assert cache.get("k", 1, lambda: 12) == 12, "an older request computes its own"
    assert cache.get("k", 2, lambda: 21) == 20, "and leaves the newer entry in place"
    assert cache.get("n", None, lambda: 1) == 1
    assert cache.get("n", None, lambda: 2) == 2
