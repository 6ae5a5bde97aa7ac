"""The soak: a long mixed load at about half of the measured capacity; no errors, flat memory.

    .venv/bin/python -m bench.soak --database-url URL [--seconds S] [--seed-seconds S]

`bench/run --soak` (what `make soak` calls) starts a throwaway PostgreSQL, migrates and seeds it
(SOAK_PRODUCTS, default 100 000), then runs this. One run: the app under gunicorn with
gunicorn.conf.py; a pool of requests mixed as shoppers mix them (browse 68 %, search 20 %,
cart 10 %, checkout 2 %); the capacity for that mix, measured with wrk unpaced; then the soak
itself, paced at SOAK_FRACTION (0.5) of it for SOAK_SECONDS (600), the workers' RSS sampled
every SOAK_SAMPLE_SECONDS (5). Exit status 1 on any error (status >= 400, socket error,
timeout), a checkout that found no session left, a worker replaced, or a worker's RSS growing
more than 10 % from minute 2 (20 % into a shortened run) to the end. A full-length run adds
itself to BENCHMARKS.md under "Soak".

Checkouts each need a session of their own (an order empties its cart): each wrk run gets fresh
ones, made in the database as for the benchmark's checkout scenario (bench/sessions.py), enough
for its length; the pool's checkout entries are "NEXT" lines that bench/lua/pool.lua turns into
the next unused one.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import runpy
import secrets
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from random import Random
from typing import Any

from bench import report
from bench.load import LoadSettings, libpq_url, wrk
from bench.servers import ROOT, Server
from bench.sessions import (
    CheckoutSessions,
    checkout_products,
    last_order_id,
    make_sessions,
    once_line,
    orders_since,
)
from bench.soak_report import CART_SESSIONS, FULL_SECONDS, append, markdown
from bench.workload import BY_NAME, Request, cart_add_pool, sample_catalog
from storefront import create_app
from storefront.session_cart import pricing

PACED_LUA = ROOT / "bench" / "lua" / "paced.lua"
MAX_GROWTH = 0.10
# How a shopper's requests mix: browse 68 %, search 20 %, cart 10 %, checkout 2 % (weights in
# per cent).
MIX = {
    "browse": {"detail": 34, "list-category": 24, "page-catalog": 10},
    "search": {"search-rare": 10, "search-common": 5, "search-typo": 5},
    "cart": {"cart-add": 6, "cart-get": 3, "cart-clear": 1},
    "checkout": {"checkout": 2},
}
POOL_SIZE = 20_000
CART_PRODUCTS = 20
# Products the checkout carts hold (the first half with tracked stock), as in the benchmark.
CHECKOUT_PRODUCTS = 1000
# Checkout sessions per wrk run: enough for this rate (req/s of the whole mix, above what the
# app reaches on 2 cores) for an unpaced run, or three times the warm-up's rate if more; for the
# paced soak, half as many again as its target rate would use. Spare ones are deleted after.
CEILING_RPS = 1000


def _env(name: str, default: Any) -> Any:
    raw = os.environ.get(f"SOAK_{name}", "").strip()
    return type(default)(raw) if raw else default


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Flags; each defaults to its SOAK_* variable."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--seconds", type=float, default=_env("SECONDS", float(FULL_SECONDS)))
    parser.add_argument("--fraction", type=float, default=_env("FRACTION", 0.5))
    parser.add_argument("--rate", type=float, default=_env("RATE", 0.0), help="req/s; 0: measure")
    parser.add_argument("--capacity-seconds", type=float, default=_env("CAPACITY_SECONDS", 20.0))
    parser.add_argument("--sample-seconds", type=float, default=_env("SAMPLE_SECONDS", 5.0))
    parser.add_argument("--threads", type=int, default=_env("THREADS", 2))
    parser.add_argument("--connections", type=int, default=_env("CONNECTIONS", 16))
    parser.add_argument("--seed-seconds", type=float, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--report", type=Path, default=None, help="default: BENCHMARKS.md (full)")
    parser.add_argument("--rng-seed", type=int, default=_env("RNG_SEED", 5))
    args = parser.parse_args(argv)
    if not args.database_url.startswith("postgresql"):
        parser.error("a PostgreSQL --database-url (or DATABASE_URL) is required")
    if args.report is None and args.seconds >= FULL_SECONDS:
        args.report = ROOT / "BENCHMARKS.md"
    return args


def draw_pool(catalog: Any, cookies: list[str], add_products: list[int], rng: Random) -> list[str]:
    """POOL_SIZE pool lines (bench/lua/pool.lua's format) drawn by the weights of MIX; a
    checkout is a "NEXT" line (the next once-line, see `Pools.for_run`)."""
    weights = {name: weight for group in MIX.values() for name, weight in group.items()}
    names = rng.choices(list(weights), list(weights.values()), k=POOL_SIZE)
    lines = []
    for name in names:
        if name == "checkout":
            lines.append("NEXT")
            continue
        cookie = rng.choice(cookies)
        if name == "cart-add":
            (request,) = cart_add_pool(1, add_products, rng, 1)
            request = Request(request.method, request.path, cookie, request.body)
        elif name == "cart-get":
            request = Request("GET", "/api/cart/", cookie)
        elif name == "cart-clear":
            # Keeps every line far from the 99 limit however long the soak runs.
            request = Request("DELETE", "/api/cart/", cookie)
        else:
            request = BY_NAME[name].draw(catalog, rng)
        lines.append(
            "\t".join((request.method, request.path, request.session or "", request.body or ""))
        )
    return lines


def checkout_share() -> float:
    """The share of checkouts in the mix."""
    weights = [weight for group in MIX.values() for weight in group.values()]
    return sum(MIX["checkout"].values()) / sum(weights)


@dataclass
class Pools:
    """The mix's pool file, written again for each wrk run with fresh checkout sessions."""

    path: Path
    lines: list[str]
    checkout: CheckoutSessions

    def for_run(self, rps: float, seconds: float, connections: int) -> Path:
        """The pool with checkout sessions for `seconds` at `rps` requests a second."""
        count = math.ceil(rps * seconds * checkout_share()) + 2 * connections
        sessions = [once_line(cookie, body) for cookie, body in self.checkout.make(count)]
        self.path.write_text("\n".join(self.lines + sessions) + "\n")
        return self.path


@dataclass
class RssSamples:
    """The workers' VmRSS over time: [(seconds since start, {pid: KiB})]."""

    server: Server
    interval: float
    samples: list[tuple[float, dict[int, int]]] = field(default_factory=list)

    def run(self, stop: threading.Event) -> None:
        started = time.monotonic()
        while not stop.is_set():
            memory = {pid: rss for pid, (rss, _) in self.server.memory().items() if rss}
            self.samples.append((time.monotonic() - started, memory))
            stop.wait(self.interval)

    def growth(self, seconds: float) -> dict[str, Any]:
        """Each worker's mean RSS in the window at minute 2 and in the last one, and the growth."""
        base_at = min(120.0, 0.2 * seconds)
        window = max(15.0, 3 * self.interval)
        base = [m for t, m in self.samples if base_at <= t < base_at + window]
        end = [m for t, m in self.samples if t >= self.samples[-1][0] - window]
        pids = sorted(set().union(*(m.keys() for _, m in self.samples)))
        workers = {}
        for pid in pids:
            before = [m[pid] for m in base if pid in m]
            after = [m[pid] for m in end if pid in m]
            if before and after:
                b, a = sum(before) / len(before), sum(after) / len(after)
                workers[pid] = {"base_mb": b / 1024, "end_mb": a / 1024, "growth": a / b - 1}
        replaced = len(pids) != len(workers) or len(pids) != len(self.samples[0][1])
        return {"base_at_s": base_at, "window_s": window, "workers": workers, "replaced": replaced}

    def per_minute(self) -> list[float]:
        """The largest worker RSS (MB) at the end of each minute."""
        minutes: dict[int, float] = {}
        for t, memory in self.samples:
            if memory:
                minutes[int(t // 60)] = max(memory.values()) / 1024
        return [minutes[m] for m in sorted(minutes)]


def errors_of(result: dict[str, Any]) -> int:
    """Requests that failed in a wrk run: status >= 400, socket errors, timeouts."""
    return result["non_2xx"] + result["socket_errors"] + result["timeouts"]


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Prepare, measure the capacity, soak; the server is stopped whatever happens."""
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    dsn = libpq_url(args.database_url)
    env = {
        "DATABASE_URL": args.database_url,
        "STOREFRONT_ENV": "production",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(48),
        # Rate limits would answer 429s to one client sending hundreds of requests a second.
        "RATE_LIMITS": "off",
    }
    os.environ.update(env)
    app = create_app()
    serializer = app.session_interface.get_signing_serializer(app)
    gunicorn = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    machine = report.machine(dsn, gunicorn)
    rng = Random(args.rng_seed)
    server = Server("app", "wsgi:app", env, out / "soak-app.log")
    settings = LoadSettings(threads=args.threads, connections=args.connections)
    # Paced, a connection waits for its send time; twice as many keep the pace while a few are
    # held up by slow requests (a common word's search), as long as the server keeps up.
    paced = LoadSettings(threads=args.threads, connections=2 * args.connections)
    started = time.time()
    pools = None
    try:
        server.start()
        catalog = sample_catalog(dsn, rng)
        add_products = rng.sample(catalog.cart_ids, CART_PRODUCTS)
        log(f"prelude: {CART_SESSIONS} cart sessions")
        sessions = make_sessions(
            server.port,
            "soak",
            CART_SESSIONS,
            add_products,
            1,
            lambda cookie: serializer.loads(cookie)["cart"],
            rng,
        )
        picked = rng.sample(catalog.ids, min(CHECKOUT_PRODUCTS, len(catalog.ids)))
        products = checkout_products(dsn, picked, tracked=len(picked) // 2)
        with app.app_context():
            fee = pricing().fee

        def sign(token: str) -> str:
            return serializer.dumps({"cart": token, "_permanent": True})

        (out / "pools").mkdir(parents=True, exist_ok=True)
        pools = Pools(
            out / "pools" / "soak.txt",
            draw_pool(catalog, list(sessions.values()), add_products, rng),
            CheckoutSessions(dsn, sign, products, fee, rng),
        )

        log("warm-up, then the capacity for this mix (wrk unpaced)")
        pool = pools.for_run(CEILING_RPS, 5, settings.connections)
        warm = wrk(server.url, pool, settings, 5, count=True)
        pools.checkout.drop()
        pool = pools.for_run(
            max(CEILING_RPS, 3 * warm["rps"]), args.capacity_seconds, settings.connections
        )
        capacity = wrk(server.url, pool, settings, args.capacity_seconds, count=True)
        pools.checkout.drop()
        rate = args.rate or args.fraction * capacity["rps"]
        log(f"capacity {capacity['rps']:.0f} req/s; soak at {rate:.0f} req/s, {args.seconds:.0f} s")
        pool = pools.for_run(1.5 * rate, args.seconds, paced.connections)
        last_order = last_order_id(dsn)

        rss = RssSamples(server, args.sample_seconds)
        stop = threading.Event()
        sampler = threading.Thread(target=rss.run, args=(stop,), daemon=True)
        load_before = os.getloadavg()
        sampler.start()
        try:
            soak = wrk(
                server.url,
                pool,
                paced,
                args.seconds,
                count=True,
                script=PACED_LUA,
                script_args=(f"{rate / args.threads:.3f}",),
            )
        finally:
            stop.set()
            sampler.join()
        orders = orders_since(dsn, last_order)
    finally:
        server.stop()
        if pools is not None:
            pools.checkout.drop()
    growth = rss.growth(args.seconds)
    worst = max((w["growth"] for w in growth["workers"].values()), default=0.0)
    problems = []
    if errors_of(capacity) or errors_of(soak):
        problems.append(f"errors: {errors_of(capacity)} at capacity, {errors_of(soak)} in the soak")
    overrun = capacity["once"]["overrun"] + soak["once"]["overrun"]
    if overrun:
        problems.append(f"{overrun} checkouts found no session left (too few made for the run)")
    if growth["replaced"] or not growth["workers"]:
        problems.append("a worker was replaced (or never sampled) during the soak")
    if worst > MAX_GROWTH:
        problems.append(f"worker RSS grew {worst:.1%} (at most {MAX_GROWTH:.0%})")
    return {
        "mode": "soak",
        "started": started,
        "minutes": (time.time() - started) / 60,
        "machine": machine,
        "loadavg_before_soak": load_before,
        "products": report.product_count(dsn),
        "seed_seconds": args.seed_seconds,
        "mix": MIX,
        "settings": {"threads": args.threads, "connections": args.connections},
        "paced_connections": paced.connections,
        "capacity": capacity,
        "target_rps": rate,
        "seconds": args.seconds,
        "soak": soak,
        # Orders placed during the soak (with the few in flight when wrk stopped).
        "orders": orders,
        "rss": growth,
        "rss_per_minute_mb": rss.per_minute(),
        "worst_growth": worst,
        "problems": problems,
    }


def log(message: str) -> None:
    print(f"soak: {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Soak, write the results, and say whether the app held up."""
    args = parse_args(argv)
    results = run(args)
    text = json.dumps(results, indent=1, ensure_ascii=False, default=str)
    (args.out / "results-soak.json").write_text(text)
    section = markdown(results)
    print(section)
    if args.report:
        append(args.report, section)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(results["started"]))
        (ROOT / "bench" / "results" / f"soak-{stamp}.json").write_text(text)
        log(f"added this run to {args.report}")
    for problem in results["problems"]:
        log(f"PROBLEM: {problem}")
    return 1 if results["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
