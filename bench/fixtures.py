"""A run's fixtures: cookie sessions, request pools, the app's SQL for them, and what is
derived from that SQL (the bare baseline's plan, pgbench scripts, EXPLAIN ANALYZE output)."""

from __future__ import annotations

import json
import secrets
import sys
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from random import Random
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import psycopg
from flask import Flask

from bench import plan
from bench.capture import Statement, literal_sql, url_shape, url_symbols
from bench.sessions import (
    CHECKOUT_PATH,
    AccountSession,
    CheckoutSessions,
    cart_token,
    checkout_products,
    drop_customers,
    make_account_sessions,
    make_sessions,
    once_line,
    raw_carts,
)
from bench.workload import (
    Request,
    Scenario,
    account_get_pool,
    cart_add_pool,
    cart_get_pool,
    read_pool,
    sample_catalog,
)
from storefront.accounts import digest, hasher
from storefront.session_cart import pricing

ADD_PRODUCTS = 20
CART_GET_LINES = 5
# Products the checkout carts hold (one each, at random): enough that two checkouts in flight
# seldom wait for each other's product lock; the first half has tracked stock.
CHECKOUT_PRODUCTS = 1000
# pgbench: captured requests per read script (each is prepared once per connection, so more
# means a longer ramp); the cart scripts use carts of their own, with these token ranges.
READ_VARIANTS = 32
RAW_ADD_BASE = 800_000_000_000_000_000
RAW_GET_BASE = 810_000_000_000_000_000
RAW_CHECKOUT_BASE = 820_000_000_000_000_000
# pgbench's checkout: the pgbench variable each parameter of the app's statements becomes
# (`l_…` the cart line read back with \gset, `c_id` the cart, `o_id` the order, `u` a random
# number for the unique order number and Message-ID); the other parameters stay as captured.
RAW_CHECKOUT_VARIABLES = {
    "UPDATE carts": {"token": "token"},
    "SELECT": {"cart_id": "c_id"},
    "UPDATE products": {"pid": "l_product_id", "quantity": "l_quantity"},
    "INSERT INTO orders": {
        "number": "u",
        "session_token": "token",
        "subtotal": "l_price",
        "total": "l_price",
    },
    "INSERT INTO order_lines": {
        "order_id": "o_id",
        "product_id": "l_product_id",
        "name": "l_name",
        "unit_price": "l_price",
        "quantity": "l_quantity",
        "line_total": "l_price",
    },
    "DELETE FROM cart_items": {"cart_id_1": "c_id"},
    "NOTIFY outbox": {},
    "INSERT INTO outbox": {"message_id": "u", "order_id": "o_id"},
}
# What a statement's returned row becomes (\gset with this prefix).
RAW_CHECKOUT_GSET = {"UPDATE carts": "c_", "SELECT": "l_", "INSERT INTO orders": "o_"}


@dataclass
class Sizes:
    """How many sessions and distinct requests a run draws."""

    add_sessions: int
    get_sessions: int
    pool: int  # distinct requests per replayed scenario (each one is captured)
    templated_pool: int  # random requests per templated scenario (a few are captured)
    account_sessions: int = 1000  # signed-in sessions of the account scenario


@dataclass
class Fixtures:
    """Makes (and keeps) what the measured runs need; see `prepare`."""

    app: Flask
    dsn: str
    out: Path
    sizes: Sizes
    rng: Random
    cookies: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    checkout: CheckoutSessions | None = None
    accounts: list[AccountSession] = field(default_factory=list)
    # Each scenario's pool (as written to out/pools/), for the lean baseline's check.
    pools: dict[str, list[Request]] = field(default_factory=dict)

    def log(self, message: str) -> None:
        print(f"bench: {message}", file=sys.stderr, flush=True)

    def token_of(self, cookie: str) -> str:
        """The cart token inside the app's signed session cookie."""
        serializer = self.app.session_interface.get_signing_serializer(self.app)
        return serializer.loads(cookie)["cart"]

    def sign(self, token: str) -> str:
        """The app's session cookie for a guest whose cart is `token` (as POST /api/cart/ sets)."""
        serializer = self.app.session_interface.get_signing_serializer(self.app)
        return serializer.dumps({"cart": token, "_permanent": True})

    def sign_in(self, user_id: str) -> str:
        """The app's session cookie of a signed-in customer: what `session_account.sign_in`
        leaves in a fresh session (Flask-Login's `login_user`, then `session.permanent`)."""
        serializer = self.app.session_interface.get_signing_serializer(self.app)
        # Flask-Login's session identifier (a hash of the client's address and User-Agent; wrk
        # sends none). The app turns Flask-Login's session protection off: it is never checked.
        with self.app.test_request_context(environ_base={"REMOTE_ADDR": "127.0.0.1"}):
            identifier = self.app.login_manager._session_identifier_generator()
        return serializer.dumps(
            {"_user_id": user_id, "_fresh": True, "_id": identifier, "_permanent": True}
        )

    def drop_account_sessions(self) -> None:
        """Delete the customers the account sessions made (their sign-ins and carts with them)."""
        drop_customers(self.dsn, [session.customer_id for session in self.accounts])
        self.accounts = []

    def checkout_pool(self, count: int) -> Path:
        """`count` fresh checkout sessions as the checkout pool file (each sent once)."""
        assert self.checkout is not None
        lines = [once_line(cookie, body) for cookie, body in self.checkout.make(count)]
        path = self.out / "pools" / "checkout.txt"
        path.write_text("\n".join(lines) + "\n")
        return path

    def drop_checkout_sessions(self) -> None:
        """Delete the carts of the checkout sessions made so far (used or not)."""
        if self.checkout is not None:
            self.checkout.drop()

    def prepare(self, port: int, scenarios: list[Scenario]) -> dict[str, dict[str, Any]]:
        """Sessions (through the app on `port`), request pools, the app's SQL for them, the
        bare baseline's plan, pgbench scripts and EXPLAIN output, under `out`."""
        for sub in ("pools", "pgbench", "explain"):
            (self.out / sub).mkdir(parents=True, exist_ok=True)
        catalog = sample_catalog(self.dsn, self.rng)
        add_products = self.rng.sample(catalog.cart_ids, ADD_PRODUCTS)
        self.log(f"prelude: {self.sizes.add_sessions} cart sessions, {self.sizes.get_sessions} x 5")
        self.cookies = {
            **make_sessions(
                port, "add", self.sizes.add_sessions, add_products, 1, self.token_of, self.rng
            ),
            **make_sessions(
                port,
                "get",
                self.sizes.get_sessions,
                catalog.cart_ids,
                CART_GET_LINES,
                self.token_of,
                self.rng,
            ),
        }
        if any(scenario.kind == "checkout" for scenario in scenarios):
            picked = self.rng.sample(catalog.ids, min(CHECKOUT_PRODUCTS, len(catalog.ids)))
            products = checkout_products(self.dsn, picked, tracked=len(picked) // 2)
            with self.app.app_context():
                fee = pricing().fee
            self.checkout = CheckoutSessions(self.dsn, self.sign, products, fee, self.rng)
        if any(scenario.kind == "account-get" for scenario in scenarios):
            count = self.sizes.account_sessions
            self.log(f"prelude: {count} signed-in sessions")
            # One argon2 hash for every customer: made once, it costs what a sign-in costs.
            password_hash = hasher().hash(secrets.token_urlsafe(16))
            self.accounts = make_account_sessions(self.dsn, self.sign_in, count, password_hash)
            for number, session in enumerate(self.accounts):
                self.cookies[f"account:{number}"] = session.cookie
        fixtures, replay, templates = {}, {}, {}
        for scenario in scenarios:
            self.log(f"capturing the app's SQL: {scenario.name}")
            if scenario.kind == "checkout":
                fixtures[scenario.name] = self._capture_checkout(scenario)
                continue
            if scenario.kind == "account-get":
                pool = account_get_pool(len(self.accounts))
                fixtures[scenario.name] = self._capture_account(scenario, pool, templates)
                self._write_pool(scenario, pool)
                continue
            if scenario.kind == "cart-add":
                pool = cart_add_pool(self.sizes.add_sessions, add_products, self.rng, 5000)
            elif scenario.kind == "cart-get":
                pool = cart_get_pool(self.sizes.get_sessions)
            elif scenario.templated:
                pool = read_pool(scenario, catalog, self.rng, self.sizes.templated_pool)
            else:
                size = self.sizes.pool * scenario.pool_factor
                pool = read_pool(scenario, catalog, self.rng, size)
            fixture = self._capture(scenario, pool, replay, templates, catalog, add_products)
            pool = fixture.pop("pool", pool)
            self._write_pool(scenario, pool)
            fixtures[scenario.name] = fixture
        bare_plan = {"replay": replay, "templates": templates}
        (self.out / "bare-plan.json").write_text(json.dumps(bare_plan, ensure_ascii=False))
        return fixtures

    def _capture(
        self, scenario: Scenario, pool: list[Request], replay, templates, catalog, add_products
    ) -> dict:
        fixture: dict[str, Any] = {"scenario": scenario, "pool_size": len(set(pool))}
        if scenario.kind == "read":
            distinct = list(dict.fromkeys(pool))
            sample = distinct[:READ_VARIANTS] if scenario.templated else distinct
            captured = plan.capture(self.app, sample, self.cookies)
            fixture["bare"] = "replay"
            if scenario.templated:
                try:
                    shape, steps = read_template(captured, category_ids(self.dsn))
                    templates[scenario.name] = {
                        "shape": shape,
                        "status": 200,
                        "transaction": False,
                        "statements": steps,
                    }
                    fixture["bare"] = "template"
                except ValueError as exc:
                    # The bare baseline can only serve what was captured: shrink the pool.
                    self.log(f"{scenario.name}: no template ({exc}); replaying {len(sample)} URLs")
                    fixture["pool"] = sample
                    fixture["pool_size"] = len(sample)
            if fixture["bare"] == "replay":
                replay.update(plan.replay_entries(captured))
            script = plan.read_script(captured, READ_VARIANTS)
            examples = [[s.literal() for s in ss] for ss in list(captured.statements.values())[:3]]
            write = False
        else:
            write = scenario.kind == "cart-add"
            first, second = _two_sessions(pool)
            captured = plan.capture(self.app, [first, second], self.cookies)
            (a, b) = captured.statements.values()
            steps = plan.request_template(
                a, self._cart_symbols(first), b, self._cart_symbols(second)
            )
            fixture["bare"] = "template"
            templates[scenario.name] = {
                "shape": url_shape(first.method, first.path, {}),
                "status": 201 if write else 200,
                "transaction": write,
                "statements": steps,
            }
            script, examples = self._cart_script(scenario, steps, write, catalog, add_products)
        fixture["capture_statuses"] = captured.statuses
        fixture["statements_per_request"] = max(map(len, captured.statements.values()))
        available = any(200 <= status < 300 for status in captured.statuses)
        fixture["available"] = available
        if not available:
            self.problems.append(f"{scenario.name}: the app answered {captured.statuses}")
        (self.out / "pgbench" / f"{scenario.name}.sql").write_text(script)
        plans, times = [], []
        for statements in examples:
            text, ms = plan.explain(self.dsn, statements, write=write)
            plans.append(text)
            times.append(ms)
        (self.out / "explain" / f"{scenario.name}.txt").write_text("\n\n".join(plans))
        fixture["explain"] = {"execution_ms": times, "first_plan": plans[0] if plans else ""}
        return fixture

    def _capture_account(
        self, scenario: Scenario, pool: list[Request], templates: dict[str, Any]
    ) -> dict[str, Any]:
        """READ_VARIANTS signed-in requests through the app in-process: each must answer 200
        with its own customer. The bare baseline's template is made from two of them (the
        sign-in token's SHA-256 and the customer id are its symbols; the bare app hashes the
        token of its plain cookie), pgbench runs all of them as literal branches."""
        sample = pool[:READ_VARIANTS]
        captured = plan.capture(self.app, sample, self.cookies)
        fixture: dict[str, Any] = {"scenario": scenario, "pool_size": len(pool)}
        fixture["capture_statuses"] = captured.statuses
        statements = list(captured.statements.values())
        fixture["statements_per_request"] = max(map(len, statements))
        wrong = self._wrong_customers(sample)
        fixture["available"] = available = set(captured.statuses) == {200} and not wrong
        if not available:
            self.problems.append(
                f"{scenario.name}: the app answered {captured.statuses}"
                + (f"; not the session's customer: {wrong[:3]}" if wrong else "")
            )
        first, second = sample[0], sample[1]
        steps = plan.request_template(
            captured.statements[first],
            self._account_symbols(first),
            captured.statements[second],
            self._account_symbols(second),
        )
        templates[scenario.name] = {
            "shape": url_shape(first.method, first.path, {}),
            "status": 200,
            "transaction": False,
            # No row: the sign-in is not live; the app answers 401, so does the baseline.
            "empty_status": 401,
            "statements": steps,
        }
        fixture["bare"] = "template"
        script = plan.read_script(captured, READ_VARIANTS)
        (self.out / "pgbench" / f"{scenario.name}.sql").write_text(script)
        plans, times = [], []
        for example in statements[:3]:
            text, ms = plan.explain(self.dsn, [s.literal() for s in example], write=False)
            plans.append(text)
            times.append(ms)
        (self.out / "explain" / f"{scenario.name}.txt").write_text("\n\n".join(plans))
        fixture["explain"] = {"execution_ms": times, "first_plan": plans[0] if plans else ""}
        return fixture

    def _account_of(self, request: Request) -> AccountSession:
        return self.accounts[int(request.session.partition(":")[2])]

    def _account_symbols(self, request: Request) -> dict[str, Any]:
        session = self._account_of(request)
        return {"customer_id": session.customer_id, "token_hash": digest(session.token)}

    def _wrong_customers(self, requests: list[Request]) -> list[str]:
        """Which of these signed-in requests did not answer 200 with the session's customer."""
        client = self.app.test_client(use_cookies=False)
        wrong = []
        for request in requests:
            response = client.get(request.path, headers={"Cookie": self.cookies[request.session]})
            expected = self._account_of(request).email
            body = response.get_json(silent=True) or {}
            if response.status_code != 200 or body.get("email") != expected:
                wrong.append(f"{request.session}: {response.status_code} {body.get('email')}")
        return wrong

    def _capture_checkout(self, scenario: Scenario) -> dict[str, Any]:
        """Two checkouts through the app in-process (a tracked and an untracked product): that
        sessions made in the database check out, the SQL they sent, and its EXPLAIN ANALYZE.

        The bare baseline's checkout is written by hand (bench/bare_app.py); the log shows the
        app's statements so that the two can be compared.
        """
        assert self.checkout is not None
        products = self.checkout.products
        tracked = next(p for p in products if p.tracked)
        untracked = next((p for p in products if not p.tracked), tracked)
        requests = []
        for number, product in enumerate((tracked, untracked)):
            ((cookie, body),) = self.checkout.make(1, [product])
            self.cookies[f"checkout:{number}"] = cookie
            requests.append(Request("POST", CHECKOUT_PATH, f"checkout:{number}", body))
        captured = plan.capture(self.app, requests, self.cookies)
        fixture: dict[str, Any] = {"scenario": scenario, "bare": "by hand", "pool_size": 0}
        fixture["capture_statuses"] = captured.statuses
        statements = list(captured.statements.values())
        fixture["statements_per_request"] = max(map(len, statements))
        fixture["available"] = available = set(captured.statuses) == {201}
        if not available:
            self.problems.append(f"{scenario.name}: the app answered {captured.statuses}")
        self.log(
            f"{scenario.name}: the app's statements for a tracked product: "
            + " · ".join(_first_words(s.sql) for s in statements[0])
        )
        # EXPLAIN ANALYZE replays the tracked checkout in a transaction rolled back: its cart
        # line put back first, its order number and Message-ID made new (they are unique).
        cart_id = statements[0][0].first_row[0] if statements[0][0].first_row else 0
        setup = [
            "INSERT INTO cart_items (cart_id, product_id, quantity) "
            f"VALUES ({int(cart_id)}, {tracked.id}, 1)"
        ]
        replay = [_fresh(s).literal() for s in statements[0] if not s.sql.startswith("NOTIFY")]
        text, ms = plan.explain(self.dsn, replay, write=True, setup=setup)
        (self.out / "explain" / f"{scenario.name}.txt").write_text(text)
        fixture["explain"] = {"execution_ms": [ms], "first_plan": text}
        (self.out / "pgbench" / f"{scenario.name}.sql").write_text(checkout_script(statements[0]))
        self.checkout.drop()
        return fixture

    def raw_checkout_carts(self, clients: int, per_client: int) -> list[str]:
        """pgbench's checkout carts: client c walks tokens RAW_CHECKOUT_BASE + c * per_client
        + 0, 1, …; even ones hold a tracked product, odd ones an untracked one."""
        assert self.checkout is not None
        tracked = [p.id for p in self.checkout.products if p.tracked]
        untracked = [p.id for p in self.checkout.products if not p.tracked] or tracked
        count = clients * per_client
        lines = [[self.rng.choice(untracked if n % 2 else tracked)] for n in range(count)]
        raw_carts(self.dsn, RAW_CHECKOUT_BASE, count, lines)
        return [str(RAW_CHECKOUT_BASE + n) for n in range(count)]

    def _cart_symbols(self, request: Request) -> dict[str, Any]:
        symbols: dict[str, Any] = {"token": cart_token(self.cookies[request.session])}
        if request.body:
            symbols["product_id"] = json.loads(request.body)["product_id"]
        return symbols

    def _cart_script(self, scenario: Scenario, steps, write: bool, catalog, add_products):
        """pgbench script of a cart template over carts of its own (numeric tokens)."""
        if write:
            count, base = self.sizes.add_sessions, RAW_ADD_BASE
            raw_carts(self.dsn, base, count)
            cases = " ".join(f"WHEN :k = {n} THEN {p}" for n, p in enumerate(add_products, 1))
            setup = [
                f"\\set k random(1, {len(add_products)})",
                f"\\set product_id CASE {cases} ELSE 0 END",
            ]
        else:
            count, base = self.sizes.get_sessions, RAW_GET_BASE
            lines = [self.rng.sample(catalog.cart_ids, CART_GET_LINES) for _ in range(count)]
            raw_carts(self.dsn, base, count, lines)
            setup = []
        setup = [f"\\set cart random(0, {count - 1})", f"\\set token {base} + :cart", *setup]
        token = str(base)
        cart_id = plan.cart_ids(self.dsn, [token])[token]
        values = {"token": token, "product_id": add_products[0]}
        values.update({step["binds"]: cart_id for step in steps if step["binds"]})
        example = plan.instantiate(steps, values)
        return plan.template_script(steps, setup, transaction=write), [example]

    def _write_pool(self, scenario: Scenario, pool: list[Request]) -> None:
        self.pools[scenario.name] = pool
        lines = [
            "\t".join(
                (r.method, r.path, self.cookies[r.session] if r.session else "", r.body or "")
            )
            for r in pool
        ]
        (self.out / "pools" / f"{scenario.name}.txt").write_text("\n".join(lines) + "\n")


def _first_words(sql: str) -> str:
    """`INSERT INTO orders`, `SELECT … FROM cart_items`: what a statement is, in brief."""
    words = sql.split()
    if words[0] == "SELECT":
        return "SELECT … FROM " + words[words.index("FROM") + 1]
    return " ".join(words[:3] if words[0] in {"INSERT", "DELETE"} else words[:2])


def _fresh(statement: Statement) -> Statement:
    """`statement` with new values for the unique order number and Message-ID."""
    params = dict(statement.params)
    if "number" in params:
        params["number"] = "X" + secrets.token_hex(8).upper()
    if "message_id" in params:
        params["message_id"] = f"<{secrets.token_hex(16)}@explain.bench>"
    return Statement(statement.sql, params)


def checkout_script(statements: list[Statement]) -> str:
    """pgbench's checkout: the app's statements for a tracked product's order, each client
    ordering the carts of its own range in turn (`n` counts its transactions: `-D n=0`, and
    `-D per_client=N` carts each); the stock is taken for even carts only (tracked)."""
    lines = [
        "-- Generated by bench/harness.py from the SQL the app sent for a checkout.",
        "\\set n :n + 1",
        "\\set cart :client_id * :per_client + :n - 1",
        f"\\set token {RAW_CHECKOUT_BASE} + :cart",
        "\\set u random(1, 9000000000000000000)",
        "BEGIN;",
    ]
    for statement in statements:
        kind = _first_words(statement.sql).split(" … ")[0]
        variables = RAW_CHECKOUT_VARIABLES[kind]
        params = {k: v for k, v in statement.params.items() if k not in variables}
        sql = literal_sql(statement.sql, params, variables).strip().rstrip(";")
        gset = RAW_CHECKOUT_GSET.get(kind)
        sql += f" \\gset {gset}" if gset else ";"
        if kind == "UPDATE products":
            lines += ["\\if :cart % 2 = 0", sql, "\\endif"]
        else:
            lines.append(sql)
    lines.append("COMMIT;")
    return "\n".join(lines) + "\n"


def _two_sessions(pool: list[Request]) -> tuple[Request, Request]:
    """Two requests of different sessions (and different products, for adds)."""
    first = pool[0]
    second = next(
        r for r in pool if r.session != first.session and (r.body != first.body or not r.body)
    )
    return first, second


def _symbols(request: Request, category_ids: dict[str, int]) -> dict[str, Any]:
    parts = urlsplit(request.path)
    return url_symbols(parts.path, dict(parse_qsl(parts.query)), category_ids)


def category_ids(dsn: str) -> dict[str, int]:
    """Category slug -> id, as the bare baseline loads it at start."""
    with psycopg.connect(dsn) as conn:
        return dict(conn.execute("SELECT slug, id FROM categories").fetchall())


def read_template(
    captured: plan.Captured, categories: dict[str, int]
) -> tuple[str, list[dict[str, Any]]]:
    """A read scenario's template from two of its captured requests (see `plan.read_template`).

    The two must have sent the same statements (a full page and its count preferred) and
    should differ in every value their URLs carry, so no constant is mistaken for one of them.
    """
    shapes: dict[tuple[str, ...], list[tuple[Request, list]]] = {}
    for request, statements in captured.statements.items():
        shapes.setdefault(tuple(s.sql for s in statements), []).append((request, statements))
    ranked = sorted(
        shapes.items(),
        key=lambda item: (any(sql.startswith("SELECT count(") for sql in item[0]), len(item[1])),
        reverse=True,
    )
    for _, group in ranked:
        pairs = [
            (first, a, second, b, _symbols(first, categories), _symbols(second, categories))
            for (first, a), (second, b) in combinations(group, 2)
        ]
        pairs = [pair for pair in pairs if pair[4].keys() == pair[5].keys()]
        # Best: URLs that differ in every value; a value both share (deep-page's offset) is
        # taken as the URL's wherever it appears.
        pairs.sort(key=lambda pair: sum(pair[4][k] == pair[5][k] for k in pair[4]))
        for first, a, _second, b, one, two in pairs[:1]:
            parts = urlsplit(first.path)
            shape = url_shape(first.method, parts.path, dict(parse_qsl(parts.query)))
            return shape, plan.request_template(a, one, b, two)
    raise ValueError("no two captured requests sent the same statements")


def raw_add_tokens(count: int) -> list[str]:
    """The tokens of pgbench's own cart-add carts."""
    return [str(RAW_ADD_BASE + number) for number in range(count)]
