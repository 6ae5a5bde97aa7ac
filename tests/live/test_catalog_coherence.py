"""A catalog write through one server process is seen by the next read through any other.

Every process keeps product totals in memory; a write through any process of any instance
must show in the next read, wherever it lands (the contract has no "stale for 30 seconds" for
direct reads). Three ways of serving, over one PostgreSQL:
- two single-worker instances: the reader is known, so each check is deterministic;
- one instance with two workers (`-k gthread`): the kernel picks the worker, so many reads;
- the two single-worker instances behind nginx (round robin), writes and reads through it.
Each runs COHERENCE_ROUNDS rounds (default 24; 100 to prove it holds 100 times in a row) of:
warm the readers' caches, create products in a new category, check; move one to another
category, check; delete one, check. A check compares the API and the catalog page with what
the database holds.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
from sqlalchemy import Engine, create_engine, text

from tests.conftest import empty_tables
from tests.live.instances import NGINX, NGINX_MISSING, Instance, Nginx, Shopper, nginx, serving
from tests.live_server import free_port

ROUNDS = int(os.environ.get("COHERENCE_ROUNDS", "24"))
pytestmark = [pytest.mark.live, pytest.mark.timeout(60 + 4 * ROUNDS)]

BASE = "База"
WORD = "кофемолка"
# Reads per check through a port that spreads them over processes (two workers, nginx).
SPREAD_READS = 4
# Admin writes sent at once through each single-worker instance (gunicorn gives it 4 threads).
RACING_WRITES = 4
PAGE_COUNT = re.compile(r"Найдено товаров: (\d+)")


@dataclass(frozen=True)
class Truth:
    """What the database holds: products per listed category, and matches of WORD."""

    categories: dict[str, int]
    matches: int


def truth(engine: Engine) -> Truth:
    """The catalog as it is in the database right now."""
    with engine.connect() as connection:
        categories = dict(
            connection.execute(
                text("SELECT name, product_count FROM categories WHERE product_count > 0")
            ).all()
        )
        matches = connection.execute(
            text("SELECT count(*) FROM products WHERE name_key LIKE :like"), {"like": f"%{WORD}%"}
        ).scalar_one()
    return Truth(categories, matches)


class Reader:
    """The reads a frontend makes, each on a new connection to `port`."""

    def __init__(self, port: int) -> None:
        self.port = port

    def _get(self, path: str) -> object:
        reply = Shopper().send(self.port, "GET", path)
        assert reply.status == 200, (path, reply.body)
        return reply.body

    def categories(self) -> dict[str, int]:
        """GET /api/categories/ as {name: product_count}."""
        listed = self._get("/api/categories/")
        assert isinstance(listed, list)
        return {entry["name"]: entry["product_count"] for entry in listed}

    def total(self, **query: str) -> int:
        """`total` of a one-item page of GET /api/products/ (a full page: the total is counted)."""
        page = self._get(f"/api/products/?{urlencode({**query, 'limit': 1})}")
        assert isinstance(page, dict)
        return page["total"]

    def page_total(self, **query: str) -> int:
        """The count the catalog page shows for `query` (one product per page)."""
        html = self._get(f"/?{urlencode({**query, 'limit': 1})}")
        assert isinstance(html, bytes)
        found = PAGE_COUNT.search(html.decode())
        assert found, html[:500]
        return int(found[1])


class Writer:
    """Admin writes through `port`."""

    def __init__(self, port: int) -> None:
        self.port = port

    def send(self, method: str, path: str, data: object = None, status: int = 200) -> object:
        """One admin request that must answer `status`."""
        reply = Shopper().send(self.port, method, path, data)
        assert reply.status == status, (method, path, reply.body)
        return reply.body


def check(readers: list[Reader], engine: Engine, category: str) -> None:
    """Every reader answers what the database holds, for the lists a frontend reads."""
    expected = truth(engine)
    for reader in readers:
        assert reader.categories() == expected.categories
        assert reader.total(category=BASE) == expected.categories[BASE]
        assert reader.total(category=category) == expected.categories.get(category, 0)
        assert reader.total(search=WORD) == expected.matches
        assert reader.page_total(search=WORD) == expected.matches


def one_round(writer: Writer, readers: list[Reader], engine: Engine) -> None:
    """Warm the readers' caches, then create, move and delete, checking after each write."""
    tag = secrets.token_hex(4)
    category = f"Категория {tag}"
    check(readers, engine, category)
    created = writer.send(
        "POST",
        "/api/products/bulk",
        [{"name": f"Кофемолка {tag} {n}", "price": 990 + n, "category": category} for n in (1, 2)]
        + [{"name": f"Кофемолка {tag} 3", "price": 1990, "category": BASE}],
        status=201,
    )
    assert isinstance(created, list)
    check(readers, engine, category)
    moved, deleted = created[0]["id"], created[1]["id"]
    writer.send("PATCH", f"/api/products/{moved}/", {"category": BASE})
    check(readers, engine, category)
    writer.send("DELETE", f"/api/products/{deleted}/", status=204)
    check(readers, engine, category)


@pytest.fixture(scope="module")
def engine(postgres: str) -> Iterator[Engine]:
    """The shared database, emptied, for reading the truth around the app."""
    empty_tables(postgres)
    engine = create_engine(postgres)
    yield engine
    engine.dispose()
    empty_tables(postgres)


@pytest.fixture(scope="module")
def single_workers(
    postgres: str, engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Instance, Instance]]:
    """Instances A and B, one worker each, and the base catalog made through A."""
    logs = tmp_path_factory.mktemp("coherence")
    with (
        serving(postgres, free_port(), logs / "a.log", workers=1) as a,
        serving(postgres, free_port(), logs / "b.log", workers=1) as b,
    ):
        base = [
            {"name": "Кофемолка ручная", "price": 1500, "category": BASE},
            {"name": "Кофемолка электрическая", "price": 3500, "category": BASE},
            {"name": "Чайник", "price": 2500, "category": BASE},
        ]
        Writer(a.port).send("POST", "/api/products/bulk", base, status=201)
        yield a, b


@pytest.fixture(scope="module")
def two_workers(
    postgres: str,
    single_workers: tuple[Instance, Instance],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Instance]:
    """An instance with two gthread workers (the base catalog is already there)."""
    log = tmp_path_factory.mktemp("coherence-two") / "gunicorn.log"
    with serving(postgres, free_port(), log, workers=2) as instance:
        yield instance


@pytest.fixture(scope="module")
def proxy(single_workers: tuple[Instance, Instance]) -> Iterator[Nginx]:
    """nginx (the shipped config) before A and B."""
    if not NGINX:
        pytest.skip(NGINX_MISSING)
    with nginx([instance.port for instance in single_workers]) as running:
        yield running


def test_a_write_through_one_instance_is_read_through_another(
    single_workers: tuple[Instance, Instance], engine: Engine
) -> None:
    """Written through A, read through B (its caches warmed first), every round."""
    a, b = single_workers
    for _ in range(ROUNDS):
        one_round(Writer(a.port), [Reader(b.port)], engine)


def test_the_two_workers_of_an_instance_agree(two_workers: Instance, engine: Engine) -> None:
    """Written and read through one port of two workers: every read sees every write."""
    readers = [Reader(two_workers.port)] * SPREAD_READS
    for _ in range(ROUNDS):
        one_round(Writer(two_workers.port), readers, engine)


def test_instances_behind_nginx_agree(proxy: Nginx, engine: Engine) -> None:
    """Written and read through nginx, round robin over A and B."""
    readers = [Reader(proxy.port)] * SPREAD_READS
    for _ in range(ROUNDS):
        one_round(Writer(proxy.port), readers, engine)


def test_racing_catalog_writes_through_both_instances_all_succeed(
    single_workers: tuple[Instance, Instance], engine: Engine
) -> None:
    """Bulk creates making the same new categories (in opposite orders) and moves in opposite
    directions, released together through A and B: every one succeeds, nothing deadlocks, and
    the stored category counts and every read agree with the products."""
    a, b = single_workers
    tag = secrets.token_hex(4)
    left, right = f"Левая {tag}", f"Правая {tag}"
    made = Writer(a.port).send(
        "POST",
        "/api/products/bulk",
        [{"name": f"Товар {n}", "price": 100, "category": (left, right)[n % 2]} for n in range(8)],
        status=201,
    )
    assert isinstance(made, list)
    requests: list[tuple[int, str, str, object, int]] = []
    for n, product in enumerate(made):
        port = (a.port, b.port)[n % 2]
        other = right if product["category"] == left else left
        requests.append(
            (port, "PATCH", f"/api/products/{product['id']}/", {"category": other}, 200)
        )
    for n in range(2 * RACING_WRITES):
        names = [f"Новая {tag} {k}" for k in range(3)]
        bulk = [{"name": f"Новинка {n}", "price": 10, "category": name} for name in names]
        requests.append(
            (
                (a.port, b.port)[n % 2],
                "POST",
                "/api/products/bulk",
                bulk[:: 1 if n % 2 else -1],
                201,
            )
        )
    barrier = threading.Barrier(len(requests))

    def send(port: int, method: str, path: str, data: object, expected: int) -> tuple[int, object]:
        barrier.wait(timeout=10)
        reply = Shopper().send(port, method, path, data)
        return reply.status, (expected, path, reply.body)

    with ThreadPoolExecutor(len(requests)) as pool:
        replies = list(pool.map(lambda request: send(*request), requests))
    assert [status for status, _ in replies] == [r[4] for r in requests], replies
    with engine.connect() as connection:
        stored = dict(connection.execute(text("SELECT name, product_count FROM categories")).all())
        counted = dict(
            connection.execute(
                text(
                    "SELECT c.name, count(p.id) FROM categories c "
                    "LEFT JOIN products p ON p.category_id = c.id GROUP BY c.name"
                )
            ).all()
        )
    assert stored == counted
    check([Reader(a.port), Reader(b.port)], engine, left)
