"""The benchmark of issue 5: each scenario against the app, the lean baseline (issue 13), the
bare baseline (the app's SQL replayed) and raw PostgreSQL.

    .venv/bin/python -m bench.harness --database-url URL [--smoke] [--seed-seconds S]

`bench/run` (what `make bench` and `make bench-smoke` call) starts a throwaway PostgreSQL,
migrates and seeds it, then runs this. Settings come from flags or BENCH_* variables; see
bench/README.md. Exit status: 0 when every run completed without errors (missed targets
included), 1 when the harness broke: a status >= 400 or a socket error in a run (a checkout:
anything but a 201), a request the app did not serve at capture, a checkout that found no
session left, a failed pgbench transaction, and in smoke runs a timeout.
"""

from __future__ import annotations

import argparse
import math
import os
import runpy
import secrets
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from random import Random
from typing import Any

from bench import lean_check, report
from bench import profile as profiling
from bench.fixtures import Fixtures, Sizes, raw_add_tokens
from bench.load import LoadSettings, libpq_url, pgbench, wrk
from bench.servers import ROOT, MemorySampler, Server
from bench.sessions import (
    drop_carts,
    empty_carts,
    last_order_id,
    orders_since,
    tokens,
    total_quantity,
)
from bench.workload import BY_NAME, SCENARIOS, Scenario
from storefront import create_app

MODES = {
    # seconds, warm-up, pgbench seconds, pool size, add sessions, 5-line sessions
    "full": {"seconds": 20, "warmup": 3, "pgbench": 10, "pool": 200, "add": 1000, "get": 200},
    "smoke": {"seconds": 3, "warmup": 1, "pgbench": 1, "pool": 40, "add": 200, "get": 50},
}
# Paired rounds after a scenario's runs (app, then its baseline, lean or bare, `PAIR_SECONDS`
# each, `pairs` times): the ratio target is judged on their median (bench/README.md, "Paired
# rounds").
PAIRS = {"full": 5, "smoke": 0}
PAIR_SECONDS = 5.0

# Random requests per templated scenario: many more than one run sends, so that a request
# seldom repeats within a cache's lifetime (the app caches totals for 30 s).
TEMPLATED_POOL = {"full": 50_000, "smoke": 5_000}
# Checkout sessions are made per wrk run, one per request it may send: for a warm-up, as many as
# this rate (orders/s, above what either server reaches on 2 cores) would use; for a measured
# run, as many as that or three times the warm-up's rate, whichever is more. A run that still
# runs out fails (its requests past the end are counted as `overrun`, see bench/lua/pool.lua).
CHECKOUT_RATE = 1000
# pgbench's checkouts: carts enough for this many a second (the database alone does more).
RAW_CHECKOUT_RATE = 4000


def _env(name: str, default: Any) -> Any:
    raw = os.environ.get(f"BENCH_{name}", "").strip()
    return type(default)(raw) if raw else default


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Flags; each defaults to its BENCH_* variable, then to the mode's value."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--smoke", action="store_true", help="10 000 products, ~3 s per run")
    parser.add_argument("--seed-seconds", type=float, default=None)
    parser.add_argument("--scenarios", default=_env("SCENARIOS", ""), help="comma-separated")
    parser.add_argument("--threads", type=int, default=_env("THREADS", 2))
    parser.add_argument("--connections", type=int, default=_env("CONNECTIONS", 16))
    parser.add_argument("--seconds", type=float, default=_env("DURATION", 0.0))
    parser.add_argument("--warmup", type=float, default=_env("WARMUP", -1.0))
    parser.add_argument("--pgbench-seconds", type=float, default=_env("PGBENCH_SECONDS", -1.0))
    parser.add_argument("--pool", type=int, default=_env("POOL", 0))
    parser.add_argument(
        "--pairs",
        type=int,
        default=_env("PAIRS", -1),
        help="paired rounds of the app and its baseline per scenario with a ratio (0: none)",
    )
    parser.add_argument("--pair-seconds", type=float, default=_env("PAIR_SECONDS", PAIR_SECONDS))
    parser.add_argument(
        "--replay",
        type=int,
        default=_env("REPLAY", 1),
        help="0: no replay (bare) run for scenarios that have a lean baseline",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--report", type=Path, default=None, help="default: BENCHMARKS.md (full)")
    parser.add_argument("--rng-seed", type=int, default=_env("RNG_SEED", 5))
    parser.add_argument(
        "--profile", default=_env("PROFILE", ""), help="scenarios to profile with py-spy"
    )
    args = parser.parse_args(argv)
    if not args.database_url.startswith("postgresql"):
        parser.error("a PostgreSQL --database-url (or DATABASE_URL) is required")
    mode = MODES["smoke" if args.smoke else "full"]
    args.mode = "smoke" if args.smoke else "full"
    args.seconds = args.seconds or mode["seconds"]
    args.warmup = mode["warmup"] if args.warmup < 0 else args.warmup
    args.pgbench_seconds = mode["pgbench"] if args.pgbench_seconds < 0 else args.pgbench_seconds
    args.pool = args.pool or mode["pool"]
    args.pairs = PAIRS[args.mode] if args.pairs < 0 else args.pairs
    args.add_sessions, args.get_sessions = mode["add"], mode["get"]
    args.templated_pool = TEMPLATED_POOL[args.mode]
    if args.report is None and not args.smoke:
        args.report = ROOT / "BENCHMARKS.md"
    names = [name.strip() for name in args.scenarios.split(",") if name.strip()]
    unknown = set(names) - set(BY_NAME)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    args.selected = [BY_NAME[name] for name in names] if names else SCENARIOS
    args.profile = {name.strip() for name in args.profile.split(",") if name.strip()}
    return args


class Bench:
    """One run: its fixtures, the two servers, the measurements."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.out: Path = args.out
        # bench/out/ is not in git: a fresh clone has to make it.
        self.out.mkdir(parents=True, exist_ok=True)
        self.settings = LoadSettings(
            threads=args.threads,
            connections=args.connections,
            seconds=args.seconds,
            warmup_seconds=args.warmup,
            pgbench_seconds=args.pgbench_seconds,
            pgbench_warmup_seconds=max(1.0, args.warmup),
        )
        self.dsn = libpq_url(args.database_url)
        self.gunicorn = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
        # Production settings, a fresh SECRET_KEY; rate limits off (they would answer 429s).
        self.env = {
            "DATABASE_URL": args.database_url,
            "STOREFRONT_ENV": "production",
            "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(48),
            "RATE_LIMITS": "off",
        }
        os.environ.update(self.env)
        self.fixtures = Fixtures(
            app=create_app(),
            dsn=self.dsn,
            out=self.out,
            sizes=Sizes(args.add_sessions, args.get_sessions, args.pool, args.templated_pool),
            rng=Random(args.rng_seed),
        )
        self.problems = self.fixtures.problems
        self.sessions = 0  # checkout sessions in the last pool made
        self.app_server = Server("app", "wsgi:app", self.env, self.out / "app.log")
        self.bare_server = Server(
            "bare",
            "bench.bare_app:app",
            {
                **self.env,
                "BENCH_BARE_PLAN": str(self.out / "bare-plan.json"),
                "BENCH_BARE_DSN": self.dsn,
                "BENCH_BARE_POOL": str(self.gunicorn.get("threads", 4)),
                # The app's delivery terms, for the baseline's checkout.
                "BENCH_BARE_DELIVERY_FEE": str(self.fixtures.app.config["DELIVERY_FEE"]),
                "BENCH_BARE_FREE_DELIVERY_FROM": str(
                    self.fixtures.app.config["FREE_DELIVERY_FROM"]
                ),
                "BENCH_BARE_CURRENCY": self.fixtures.app.config["STORE_CURRENCY"],
            },
            self.out / "bare.log",
        )
        config = self.fixtures.app.config
        self.lean_server = Server(
            "lean",
            "bench.lean_app:app",
            {
                **self.env,
                "BENCH_LEAN_DSN": self.dsn,
                "BENCH_LEAN_COUNT_CAP": str(config["COUNT_CAP"]),
                "BENCH_LEAN_CURRENCY": config["STORE_CURRENCY"],
                "BENCH_LEAN_MAX_QUANTITY": str(config["MAX_LINE_QUANTITY"]),
            },
            self.out / "lean.log",
        )

    def log(self, message: str) -> None:
        print(f"bench: {message}", file=sys.stderr, flush=True)

    def pool(self, scenario: Scenario, seconds: float, rate: float = 0.0) -> Path:
        """The pool file for a wrk run of `seconds`: the scenario's own, or for checkout fresh
        sessions enough for `rate` (at least CHECKOUT_RATE) orders a second."""
        if scenario.kind != "checkout":
            return self.out / "pools" / f"{scenario.name}.txt"
        self.sessions = math.ceil(max(CHECKOUT_RATE, rate) * seconds)
        self.sessions += 2 * self.settings.connections
        return self.fixtures.checkout_pool(self.sessions)

    def measure(self, scenario: Scenario, server: Server, reset) -> dict[str, Any]:
        """Warm up, then one measured wrk run with the workers' memory sampled."""
        checkout = scenario.kind == "checkout"
        count = scenario.kind in {"cart-add", "checkout"}
        warm_rate = 0.0
        if reset:
            reset()
        if self.settings.warmup_seconds > 0:
            seconds = self.settings.warmup_seconds
            warm = wrk(server.url, self.pool(scenario, seconds), self.settings, seconds, False)
            warm_rate = warm["rps"]
            self.fixtures.drop_checkout_sessions()
        if reset:
            reset()
        pool = self.pool(scenario, self.settings.seconds, 3 * warm_rate)
        last_order = last_order_id(self.dsn) if checkout else 0
        load = os.getloadavg()[0]
        with MemorySampler(server) as memory:
            result = wrk(server.url, pool, self.settings, self.settings.seconds, count)
        result["loadavg_1m_before"] = load
        result["worker_peak_rss_mb"] = memory.peak_rss_kb / 1024
        result["worker_hwm_mb"] = memory.hwm_kb / 1024
        result["connections_per_worker"] = memory.connections
        if checkout:
            # Every 201 must be an order in the database.
            placed = orders_since(self.dsn, last_order)
            self.fixtures.drop_checkout_sessions()
            result["sessions"] = self.sessions
            result["in_database"] = placed
            result["lost"] = max(0, result["counted"]["2xx"] - placed)
        elif count:
            # Every 201 must be in the database: the carts started empty.
            held = total_quantity(self.dsn, tokens(self.fixtures.cookies, "add"))
            result["in_database"] = held
            result["lost"] = max(0, result["counted"]["2xx"] - held)
        return result

    def paired(self, scenario: Scenario, reset) -> list[dict[str, float]]:
        """Short runs of the app and its baseline (lean, else bare) in turn, each pair's req/s.

        A slow phase of a shared machine (tens of seconds: autovacuum after the cart adds, a
        checkpoint) lands on both of a pair instead of on one side of the ratio. The servers
        are warm from the scenario's own runs. Checkout sessions are used up by their order:
        each run gets fresh ones, dropped after it."""
        base = ("lean", self.lean_server) if scenario.lean else ("bare", self.bare_server)
        found = []
        for number in range(self.args.pairs):
            pair = {}
            # Every other pair starts with the baseline: whatever the first run of a pair
            # leaves behind (autovacuum of the rows it wrote, a checkpoint) falls on both sides.
            order = (("app", self.app_server), base)
            for label, server in order if number % 2 == 0 else order[::-1]:
                if reset:
                    reset()
                pool = self.pool(scenario, self.args.pair_seconds)
                result = wrk(server.url, pool, self.settings, self.args.pair_seconds, False)
                self.fixtures.drop_checkout_sessions()
                pair[label] = result["rps"]
            found.append(pair)
        return found

    def profile(self, scenario: Scenario) -> dict[str, Any]:
        """py-spy on the app's workers during an extra, unmeasured wrk run."""
        seconds = max(3, round(self.settings.seconds / 2))
        pool = self.pool(scenario, seconds + 2)
        (self.out / "profile").mkdir(exist_ok=True)
        with ThreadPoolExecutor(1) as background:
            load = background.submit(
                wrk, self.app_server.url, pool, self.settings, seconds + 2, False
            )
            time.sleep(1)
            files = profiling.record(
                self.app_server.workers(), seconds, self.out / "profile" / f"{scenario.name}.txt"
            )
            load.result()
        self.fixtures.drop_checkout_sessions()
        summary = profiling.summarise(files)
        text = profiling.text(summary)
        (self.out / "profile" / f"{scenario.name}-summary.txt").write_text(text)
        self.log(f"{scenario.name}: profile\n{text}")
        return summary

    def raw_checkout(self, script: Path, bare_rps: float) -> dict[str, Any] | None:
        """pgbench on the app's checkout statements, each client through carts of its own:
        enough for RAW_CHECKOUT_RATE transactions a second, or eight times the bare
        baseline's orders/s if more, for the whole pgbench run; deleted after."""
        s = self.settings
        seconds = max(1, round(s.pgbench_warmup_seconds)) + max(1, round(s.pgbench_seconds)) + 1
        rate = max(RAW_CHECKOUT_RATE, 8 * bare_rps)
        per_client = math.ceil(rate * seconds / s.connections) + 1
        made = self.fixtures.raw_checkout_carts(s.connections, per_client)
        try:
            return pgbench(self.dsn, script, s, {"n": 0, "per_client": per_client})
        except RuntimeError as exc:
            # A client past its last cart aborts pgbench: say so, keep the run's other results.
            self.problems.append(f"checkout (pgbench): {str(exc)[-300:]}")
            return None
        finally:
            drop_carts(self.dsn, made)

    def check_lean(self, scenario: Scenario, fixture: dict[str, Any]) -> None:
        """The lean baseline must answer as the app does (bench/lean_check.py); a scenario
        where it does not is not counted."""
        found = lean_check.differences(
            self.app_server.port,
            self.lean_server.port,
            self.fixtures.pools.get(scenario.name, []),
            self.fixtures.cookies,
        )
        fixture["lean_check"] = found
        if found:
            fixture["available"] = False
            self.problems.append(
                f"{scenario.name}: the lean baseline answers otherwise than the app: {found[:2]}"
            )

    def run_scenario(self, scenario: Scenario, fixture: dict[str, Any]) -> dict[str, Any]:
        """App, lean baseline, bare baseline and raw PostgreSQL for one scenario, back to back."""
        reset = None
        if scenario.kind == "cart-add":
            add_tokens = tokens(self.fixtures.cookies, "add")

            def reset() -> None:
                empty_carts(self.dsn, add_tokens)

        self.log(f"{scenario.name}: app")
        app = self.measure(scenario, self.app_server, reset)
        summary = self.profile(scenario) if scenario.name in self.args.profile else None
        lean = bare = None
        if scenario.lean:
            self.log(f"{scenario.name}: lean baseline")
            lean = self.measure(scenario, self.lean_server, reset)
        if not scenario.lean or self.args.replay:
            self.log(f"{scenario.name}: bare baseline")
            bare = self.measure(scenario, self.bare_server, reset)
        pairs = None
        if (lean or bare) and "ratio" in report.TARGETS[scenario.target] and self.args.pairs > 0:
            self.log(f"{scenario.name}: {self.args.pairs} paired rounds")
            pairs = self.paired(scenario, reset)
        raw = None
        if self.settings.pgbench_seconds > 0:
            self.log(f"{scenario.name}: pgbench")
            if reset:
                empty_carts(self.dsn, raw_add_tokens(self.args.add_sessions))
            script = self.out / "pgbench" / f"{scenario.name}.sql"
            if scenario.kind == "checkout":
                raw = self.raw_checkout(script, bare["rps"] if bare else 0.0)
            else:
                raw = pgbench(self.dsn, script, self.settings)
        if scenario.kind == "checkout":
            fixture["pool_size"] = app["sessions"]
        row = report.scenario_row(scenario, fixture, app, bare, raw, lean, pairs)
        if summary:
            row["profile"] = summary
        for label, result in (("app", app), ("lean", lean), ("bare", bare)):
            if result is None:
                continue
            # Past the wrk timeout (10 s) on a million products is a missed target, reported in
            # the table; on the smoke catalog it means something hangs.
            timeouts = result["timeouts"] if self.args.mode == "smoke" else 0
            # Counted runs (cart-add, checkout) answer 201 only: a redirect is an error too.
            redirects = result.get("counted", {}).get("3xx", 0)
            broken = result["non_2xx"] + redirects + result["socket_errors"] + timeouts
            if broken and fixture["available"]:
                self.problems.append(f"{scenario.name} ({label}): {broken} errors or non-2xx")
            if result["once"]["overrun"]:
                self.problems.append(
                    f"{scenario.name} ({label}): {result['once']['overrun']} requests found no"
                    " checkout session left (the pool was too small for the run)"
                )
        if raw and raw["failed"]:
            self.problems.append(f"{scenario.name} (pgbench): {raw['failed']} failed")
        return row

    def run(self) -> dict[str, Any]:
        """The whole run; the servers are stopped whatever happens."""
        started = time.time()
        machine = report.machine(self.dsn, self.gunicorn)
        try:
            self.app_server.start()
            fixtures = self.fixtures.prepare(self.app_server.port, self.args.selected)
            self.bare_server.start()
            lean = [s for s in self.args.selected if s.lean]
            if lean:
                self.lean_server.start()
            for scenario in lean:
                self.log(f"{scenario.name}: checking the lean baseline's answers")
                self.check_lean(scenario, fixtures[scenario.name])
            rows = [self.run_scenario(s, fixtures[s.name]) for s in self.args.selected]
            report.compare_shares(rows)
            memory = self.app_server.memory()
        finally:
            self.app_server.stop()
            self.bare_server.stop()
            self.lean_server.stop()
            # The signed-in sessions' customers (their sign-ins and carts go with them).
            self.fixtures.drop_account_sessions()
        return {
            "mode": self.args.mode,
            "started": started,
            "minutes": (time.time() - started) / 60,
            "machine": machine,
            "settings": {
                **asdict(self.settings),
                "pool": self.args.pool,
                "replay": bool(self.args.replay),
                "pairs": self.args.pairs,
                "pair_seconds": self.args.pair_seconds,
            },
            "products": report.product_count(self.dsn),
            "seed_seconds": self.args.seed_seconds,
            "worker_rss_after_mb": max((rss for rss, _ in memory.values()), default=0) / 1024,
            "worker_hwm_after_mb": max((hwm for _, hwm in memory.values()), default=0) / 1024,
            "scenarios": rows,
            "problems": self.problems,
        }


def main(argv: list[str] | None = None) -> int:
    """Run, write the results, and say whether the harness held up."""
    args = parse_args(argv)
    bench = Bench(args)
    results = bench.run()
    path = report.save(results, args.out, ROOT / "bench" / "results", args.mode == "full")
    table = report.markdown(results)
    print(table)
    if args.report:
        report.prepend(args.report, table)
        bench.log(f"added this run to {args.report}")
    bench.log(f"results: {path}")
    for problem in results["problems"]:
        bench.log(f"PROBLEM: {problem}")
    return 1 if results["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
