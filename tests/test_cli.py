"""The `flask seed` command: demo catalog, bulk files, synthetic catalogs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text

from storefront import synthetic
from storefront.extensions import db
from storefront.models import Product


def run(app: Flask, *args: str):
    """Invoke a `flask` command of `app` and return the click result."""
    return app.test_cli_runner().invoke(args=list(args))


def count(app: Flask, sql: str = "SELECT count(*) FROM products") -> int:
    """A single number from the database."""
    with app.app_context():
        return db.session.execute(text(sql)).scalar_one()


def test_seed_loads_the_demo_catalog_once(app: Flask) -> None:
    """`seed` loads the original's 20 products; a second run adds nothing."""
    first = run(app, "seed")
    assert first.exit_code == 0 and "Added 20 products" in first.output
    second = run(app, "seed")
    assert second.exit_code == 0 and "Added 0 products" in second.output
    assert count(app) == 20
    assert count(app, "SELECT count(*) FROM categories") == 6


def test_if_empty_leaves_a_filled_catalog_alone(app: Flask, tmp_path: Path) -> None:
    """`seed --if-empty` (what `make run` calls) seeds only an empty catalog."""
    path = tmp_path / "one.json"
    path.write_text(json.dumps([{"name": "Один", "price": 1, "category": "Разное"}]))
    assert run(app, "seed", str(path)).exit_code == 0
    result = run(app, "seed", "--if-empty")
    assert result.exit_code == 0 and "nothing to do" in result.output
    assert count(app) == 1


def test_seed_file_skips_existing_name_in_same_category(app: Flask, tmp_path: Path) -> None:
    """Same name in the same category is skipped; in another category it is a new product."""
    path = tmp_path / "items.json"
    path.write_text(
        json.dumps(
            [
                {"name": "Беспроводная мышь", "price": "1.50", "category": "электроника"},
                {"name": "Беспроводная мышь", "price": 2, "category": "Подарки"},
            ]
        ),
        encoding="utf-8",
    )
    run(app, "seed")
    result = run(app, "seed", str(path))
    assert result.exit_code == 0, result.output
    assert "Added 1 products" in result.output
    assert count(app) == 21


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[]", "non-empty JSON array"),
        ("{not json", "not a JSON file"),
        (
            json.dumps([{"name": "ok", "price": 1, "category": "x"}, {"name": "bad", "price": 0}]),
            "[1, 'price']",
        ),
    ],
)
def test_bad_seed_file_loads_nothing(
    app: Flask, tmp_path: Path, content: str, message: str
) -> None:
    """A bad file is refused with the reason, and nothing of it is written."""
    path = tmp_path / "bad.json"
    path.write_text(content)
    result = run(app, "seed", str(path))
    assert result.exit_code != 0
    assert message in result.output
    assert count(app) == 0


def test_generate_makes_a_searchable_catalog_and_is_idempotent(app: Flask, backend: str) -> None:
    """`seed --generate N` makes N products over ~50 categories; running it again adds none."""
    result = run(app, "seed", "--generate", "600")
    assert result.exit_code == 0, result.output
    assert count(app) == 600
    assert count(app, "SELECT count(DISTINCT category_id) FROM products") == 50
    again = run(app, "seed", "--generate", "600")
    assert again.exit_code == 0 and "Added 0 products" in again.output
    assert count(app) == 600
    with app.test_client() as client:
        # Model codes are unique: a rare word finds exactly its product.
        assert client.get("/api/products/?search=0000001").get_json()["total"] == 1
        body = client.get("/api/products/?search=складная&limit=1").get_json()
        assert body["total"] > 0


def test_generate_on_postgres_keeps_every_index(app: Flask, backend: str) -> None:
    """The COPY loader drops indexes for speed and must rebuild each of them."""
    if backend != "postgresql":
        pytest.skip("the COPY loader is PostgreSQL's")
    sql = "SELECT count(*) FROM pg_indexes WHERE tablename = 'products'"
    before = count(app, sql)
    assert run(app, "seed", "--generate", "300").exit_code == 0
    assert count(app, sql) == before
    with app.app_context():
        stems = db.session.execute(
            text("SELECT count(*) FROM products WHERE search_stems IS NULL")
        ).scalar_one()
        assert stems == 0


def test_generate_on_postgres_shows_each_phase_with_its_time(app: Flask, backend: str) -> None:
    """Every phase of the COPY load ends with a line naming it and its seconds: the rows, each
    index and key of the products table as the migrations define them, the vocabulary, the rest."""
    if backend != "postgresql":
        pytest.skip("the COPY loader is PostgreSQL's")
    result = run(app, "seed", "--generate", "2000")
    assert result.exit_code == 0, result.output
    timed = re.findall(r"^(.+) … (\d+\.\d) s$", result.stdout, flags=re.MULTILINE)
    phases = [name for name, _ in timed]
    indexes = [f"index {index.name}" for index in Product.__table__.indexes]
    keys = [f"foreign key {key.name}" for key in Product.__table__.foreign_key_constraints]
    assert len(indexes) == 8 and len(keys) == 1
    expected = ["rows", *keys, "vacuum analyze", *indexes, "search vocabulary", "category counts"]
    assert sorted(phases) == sorted(expected)
    assert phases[0] == "rows"


def test_synthetic_stock_follows_the_seed() -> None:
    """The same seed gives the same stock figures; another seed, others; the rest stays put."""
    first = [p.stock for p in synthetic.generate(500, seed=7)]
    assert first == [p.stock for p in synthetic.generate(500, seed=7)]
    assert first != [p.stock for p in synthetic.generate(500, seed=8)]


@pytest.mark.parametrize("catalog", ["empty", "filled"])
def test_generate_gives_plausible_stock(app: Flask, backend: str, catalog: str) -> None:
    """Synthetic products carry stock as the generator made it, whichever loader wrote them
    (PostgreSQL: COPY into an empty table, a merge into a filled one): untracked (null), sold
    out (0), running low (1–5) and plenty all occur, and none is negative."""
    if catalog == "filled":
        assert run(app, "seed").exit_code == 0
    result = run(app, "seed", "--generate", "2000")
    assert result.exit_code == 0, result.output
    expected = {p.name: p.stock for p in synthetic.generate(2000)}
    with app.app_context():
        rows = db.session.execute(text("SELECT name, stock FROM products")).tuples().all()
    stored = {name: stock for name, stock in rows if name in expected}
    assert stored == expected
    stock = list(stored.values())
    assert 0.05 < stock.count(None) / len(stock) < 0.15
    assert 0.01 < stock.count(0) / len(stock) < 0.06
    tracked = [units for units in stock if units is not None]
    assert any(1 <= units <= 5 for units in tracked)
    assert any(units > 5 for units in tracked)
    assert min(tracked) >= 0


def test_generate_and_file_are_exclusive(app: Flask, tmp_path: Path) -> None:
    """Giving both FILE and --generate is a usage error."""
    path = tmp_path / "x.json"
    path.write_text("[]")
    result = run(app, "seed", str(path), "--generate", "5")
    assert result.exit_code == 2


def test_category_counts_follow_every_write(app: Flask) -> None:
    """Product counts per category stay right through seed, patch, delete and --generate."""
    from tests.factories import AUTH

    run(app, "seed")
    client = app.test_client()

    def counts() -> dict[str, int]:
        return {c["slug"]: c["product_count"] for c in client.get("/api/categories/").get_json()}

    assert counts()["sport"] == 3
    ids = {p["name"]: p["id"] for p in client.get("/api/products/?limit=100").get_json()["items"]}
    mouse = ids["Беспроводная мышь"]
    moved = client.patch(f"/api/products/{mouse}/", json={"category": "Спорт"}, headers=AUTH)
    assert moved.status_code == 200
    assert counts()["sport"] == 4 and counts()["elektronika"] == 4
    assert client.delete(f"/api/products/{mouse}/", headers=AUTH).status_code == 204
    assert counts()["sport"] == 3
    assert run(app, "seed", "--generate", "100").exit_code == 0
    assert sum(counts().values()) == count(app)


def test_orders_purge_keys_forgets_keys_older_than_a_day(app) -> None:
    """`flask orders purge-keys` deletes idempotency keys past 24 hours and keeps newer ones."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import insert, text

    from storefront.extensions import db
    from storefront.models import IdempotencyKey

    now = datetime.now(UTC)
    with app.app_context():
        for key, age in (("old", timedelta(hours=25)), ("new", timedelta(hours=23))):
            db.session.execute(
                insert(IdempotencyKey).values(
                    scope="s", key=key, fingerprint="f", state="done",
                    locked_until=now - age, created_at=now - age,
                )
            )  # fmt: skip
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["orders", "purge-keys"])
    assert result.exit_code == 0, result.output
    assert "Deleted 1 idempotency keys" in result.output
    with app.app_context():
        keys = db.session.execute(text("SELECT key FROM idempotency_keys")).scalars().all()
    assert keys == ["new"]
