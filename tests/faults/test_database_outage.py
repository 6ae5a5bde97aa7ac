"""PostgreSQL stopped under a running app: quick 503s, no stack trace, recovery by itself."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.faults.conftest import Browser, Cluster, Reply, Shop, stocked_shop

pytestmark = [pytest.mark.live, pytest.mark.faults, pytest.mark.timeout(120)]

WORKERS, THREADS = 2, 2
# Each thread holds at most one pooled connection, so this is how many can go stale.
POOLED_CONNECTIONS = WORKERS * THREADS
# How long /readyz is polled after PostgreSQL is back, and how soon it must have recovered
# (in practice at once: the next checkout reconnects).
RECOVERY_SECONDS = 15
RECOVERED_SECONDS = 5
# connect_timeout is 5 s, but a stopped local server refuses at once: an answer takes well under
# a second. 4.5 s leaves room for a machine busy with other work (3 s failed once at a load
# average of 12) and still fails a request that waited for connect_timeout.
QUICK_SECONDS = 4.5
LEAKS = ("Traceback", "OperationalError", "psycopg", "sqlalchemy", "SELECT", 'File "')


@pytest.fixture(scope="module")
def shop(
    cluster: Cluster, database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Shop]:
    """A live gunicorn with a product and a cart; PostgreSQL is running again afterwards."""
    log = tmp_path_factory.mktemp("outage") / "gunicorn.log"
    url = cluster.database_url(database)
    with stocked_shop(url, log, workers=WORKERS, threads=THREADS) as shop:
        try:
            yield shop
        finally:
            if not (cluster.directory / "data" / "postmaster.pid").exists():
                cluster.start()


def fill_pools(port: int) -> None:
    """Make every worker thread open a pooled connection (parallel slow-ish requests)."""
    with ThreadPoolExecutor(POOLED_CONNECTIONS * 2) as pool:
        replies = list(pool.map(lambda _: Browser(port).get("/readyz"), range(40)))
    assert {reply.status for reply in replies} == {200}


def assert_no_leak(reply: Reply) -> None:
    """No stack trace, exception name or SQL in a body."""
    for leak in LEAKS:
        assert leak not in reply.text, f"{leak!r} leaked into a {reply.status} answer"


def assert_unavailable_problem(reply: Reply) -> None:
    """503 problem+json with Retry-After, quickly."""
    assert reply.status == 503, reply.text
    assert reply.headers["Content-Type"].startswith("application/problem+json")
    assert int(reply.headers["Retry-After"]) > 0
    assert reply.json()["status"] == 503
    assert reply.seconds < QUICK_SECONDS
    assert_no_leak(reply)


def wait_until_ready(port: int) -> tuple[float, Counter[int]]:
    """Poll /readyz until 200; (seconds it took, statuses seen on the way)."""
    started = time.monotonic()
    seen: Counter[int] = Counter()
    while time.monotonic() - started < RECOVERY_SECONDS:
        status = Browser(port).get("/readyz").status
        seen[status] += 1
        if status == 200:
            return time.monotonic() - started, seen
        time.sleep(0.2)
    pytest.fail(f"/readyz did not recover within {RECOVERY_SECONDS} s: {dict(seen)}")


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_outage_answers_503_and_recovers(shop: Shop, cluster: Cluster, mode: str) -> None:
    """While PostgreSQL is down every database path answers a quick 503; then it recovers."""
    fill_pools(shop.port)
    log_before = shop.log.read_text()
    cluster.stop(mode)

    ready = Browser(shop.port).get("/readyz")
    assert ready.status == 503 and ready.json()["database"] == "unreachable"
    assert int(ready.headers["Retry-After"]) > 0
    assert Browser(shop.port).get("/healthz").status == 200
    # Several of each, so that both workers and several pooled connections meet the outage.
    for _ in range(POOLED_CONNECTIONS):
        assert_unavailable_problem(Browser(shop.port).get("/api/products/"))
        assert_unavailable_problem(shop.browser.get("/api/cart/"))
        assert_unavailable_problem(shop.browser.post("/api/cart/", {"product_id": shop.product_id}))
        page = shop.browser.get("/")
        assert page.status == 503 and page.headers["Content-Type"].startswith("text/html")
        assert int(page.headers["Retry-After"]) > 0
        assert "Магазин ненадолго недоступен" in page.text
        assert page.seconds < QUICK_SECONDS
        assert_no_leak(page)
        product = shop.browser.get(f"/products/{shop.product_id}")
        assert product.status == 503 and "Магазин ненадолго недоступен" in product.text

    cluster.start()
    took, _ = wait_until_ready(shop.port)
    assert took < RECOVERED_SECONDS, f"recovered only after {took:.1f} s"
    # Once ready, everything works on the same processes: the cart survived, and the add that
    # met the outage did not half-happen.
    with ThreadPoolExecutor(POOLED_CONNECTIONS) as pool:
        replies = list(pool.map(lambda _: shop.browser.get("/api/cart/"), range(20)))
    assert {reply.status for reply in replies} == {200}
    assert replies[0].json()["items"][0]["product"]["id"] == shop.product_id
    assert Browser(shop.port).get("/").status == 200
    # The log says the database was unavailable, without a traceback.
    log = shop.log.read_text()[len(log_before) :]
    assert "database unavailable" in log
    assert "Traceback" not in log


def test_restart_costs_at_most_one_503_per_pooled_connection(shop: Shop, cluster: Cluster) -> None:
    """A quick database restart with no request in between: stale pooled connections fail once.

    pool_pre_ping is off (a round trip per checkout); instead SQLAlchemy recognises the
    disconnect on first use and invalidates the whole pool of that worker, so after a restart
    at most one 503 per pooled connection is seen (in practice about one per worker), and then
    none.
    """
    fill_pools(shop.port)
    cluster.stop("fast")
    cluster.start()

    with ThreadPoolExecutor(POOLED_CONNECTIONS) as pool:
        first = list(pool.map(lambda _: Browser(shop.port).get("/api/products/"), range(40)))
    statuses = Counter(reply.status for reply in first)
    assert set(statuses) <= {200, 503}
    assert statuses[503] <= POOLED_CONNECTIONS, statuses
    for reply in first:
        if reply.status == 503:
            assert_unavailable_problem(reply)
    after = [Browser(shop.port).get("/api/products/").status for _ in range(20)]
    assert set(after) == {200}
