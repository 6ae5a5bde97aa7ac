"""Schemathesis against our own `/api/openapi.json`, on a live gunicorn over PostgreSQL.

Every documented operation is fuzzed twice, with the admin token and without it, from valid and
from invalid inputs; then a state machine follows the document's links (created product ->
detail -> cart add -> quantity -> delete) with one cookie jar (one cart) per scenario. Every
check schemathesis 4 has runs on every answer: no 5xx; status code, content type, headers and
body as documented; valid requests accepted and invalid ones refused; auth enforced; 405 with
`Allow`; resources found after creation and gone after deletion. A few known exceptions
let answers through, each by a narrow wrapper below (KNOWN_EXCEPTIONS) that names its reason.
Deterministic: a fixed seed, Hypothesis derandomized and without its example database.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from decimal import Decimal, InvalidOperation
from http.cookies import CookieError, SimpleCookie
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis.errors import FlakyStrategyDefinition
from schemathesis.checks import CHECKS as REGISTERED_CHECKS
from schemathesis.checks import CheckFunction, load_all_checks, not_a_server_error
from schemathesis.specs.openapi import checks as openapi_checks

from storefront.api.openapi import openapi_document
from storefront.config import SESSION_COOKIE_NAME

from .conftest import ADMIN_TOKEN

pytestmark = [pytest.mark.live, pytest.mark.fuzz, pytest.mark.timeout(280)]

SEED = int(os.environ.get("FUZZ_SEED") or 20_260_601)
# Fuzzing-phase examples per operation and mode; the coverage phase adds its own boundary cases.
# FUZZ_MAX_EXAMPLES / FUZZ_SCENARIOS dig deeper locally (a different seed: FUZZ_SEED).
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES") or 25)
STATEFUL_SCENARIOS = int(os.environ.get("FUZZ_SCENARIOS") or 150)
STATEFUL_STEPS = 12
# A state machine run that Hypothesis ends early (see test_stateful_links) starts again, at most
# this often, until STATEFUL_SCENARIOS scenarios have run.
STATEFUL_RUNS = 5
MIN_CASES = 1000
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

# Every check of schemathesis 4 (4.32: its registry). test_every_check_runs fails when an
# upgrade brings one this list lacks.
ALL_CHECKS: dict[str, CheckFunction] = {
    "not_a_server_error": not_a_server_error,
    "status_code_conformance": openapi_checks.status_code_conformance,
    "content_type_conformance": openapi_checks.content_type_conformance,
    "response_headers_conformance": openapi_checks.response_headers_conformance,
    "response_schema_conformance": openapi_checks.response_schema_conformance,
    "negative_data_rejection": openapi_checks.negative_data_rejection,
    "positive_data_acceptance": openapi_checks.positive_data_acceptance,
    "missing_required_header": openapi_checks.missing_required_header,
    "unsupported_method": openapi_checks.unsupported_method,
    "allow_header_conformance": openapi_checks.allow_header_conformance,
    "use_after_free": openapi_checks.use_after_free,
    "ensure_resource_availability": openapi_checks.ensure_resource_availability,
    "ignored_auth": openapi_checks.ignored_auth,
    "object_level_authorization": openapi_checks.object_level_authorization,
}
LIST_PRODUCTS = "GET /api/products/"
CART_ADD = "POST /api/cart/"
CART_LINE = {"PUT /api/cart/{item_id}/", "DELETE /api/cart/{item_id}/"}
RESET_CONFIRM = "POST /api/account/password-reset/confirm/"
PASSWORD_CHANGE = "POST /api/account/password/"
DELETE_PRODUCT = "DELETE /api/products/{product_id}/"
# The fuzzed server runs with the default MAX_LINE_QUANTITY.
MAX_LINE_QUANTITY = 99


# How often each known exception let an answer through (printed with the case counts).
LET_THROUGH: Counter[str] = Counter()


def _bound(case: schemathesis.Case, name: str) -> Decimal | None:
    """A price bound of the case's query, read as the API reads it (None: absent or unreadable)."""
    value = (case.query or {}).get(name)
    if not isinstance(value, str) or not value:
        return None
    try:
        return Decimal(value.replace(",", "."))
    except InvalidOperation:
        return None


def max_below_min(response: schemathesis.Response, case: schemathesis.Case) -> bool:
    """`max_price` below `min_price`, each valid alone: a 422 at `max_price` by the contract."""
    if case.operation.label != LIST_PRODUCTS:
        return False
    low, high = _bound(case, "min_price"), _bound(case, "max_price")
    return (
        low is not None
        and high is not None
        and high < low
        and _only_error_at(response, ["query", "max_price"])
    )


def email_stricter_than_its_format(
    response: schemathesis.Response, case: schemathesis.Case
) -> bool:
    """An `email` that JSON Schema's `format: email` allows and email-validator refuses (a
    special-use domain such as `.test`, a quoted local part, an IP address for a domain), as
    the field's description says: a 422 at `email` and nowhere else."""
    if not _only_error_at(response, ["body", "email"]):
        return False
    (error,) = json.loads(response.content)["errors"]
    return error["msg"].startswith("must be a valid email address")


def secret_only_the_server_knows(response: schemathesis.Response, case: schemathesis.Case) -> bool:
    """A well-formed reset token that was never mailed (422 `invalid_token`), or a current
    password that is not the customer's (422 at `current_password`), as the contract says:
    which token or password is right is a secret no document can state."""
    if response.status_code != 422:
        return False
    body = json.loads(response.content)
    if case.operation.label == RESET_CONFIRM:
        return body.get("code") == "invalid_token"
    return case.operation.label == PASSWORD_CHANGE and _only_error_at(
        response, ["body", "current_password"]
    )


def line_over_its_limit(response: schemathesis.Response, case: schemathesis.Case) -> bool:
    """Adding to a line of the cart past 99 (MAX_LINE_QUANTITY) or past the product's tracked
    stock: a 422 at `quantity`.

    Checked against the server: the cart of the session that sent the request already holds
    so many of the product, or the product has so few in stock, that the quantity asked for
    would take its line past the limit.
    """
    body = case.body if isinstance(case.body, dict) else {}
    if case.operation.label != CART_ADD or not _only_error_at(response, ["body", "quantity"]):
        return False
    # Only whole numbers (65 or 65.0: JSON Schema's integers) can be a product and a quantity
    # that go past a line's limit; anything else is a schema violation, not this rule.
    product_id, quantity = _whole(body.get("product_id")), _whole(body.get("quantity", 1))
    if product_id is None or quantity is None:
        return False
    base = (response.request.url or "").split("/api/")[0]
    product = requests.get(f"{base}/api/products/{product_id}/", timeout=10)
    if product.status_code != 200:
        return False  # deleted meanwhile: a 404 is not this rule
    cart = requests.get(
        f"{base}/api/cart/",
        headers={"Cookie": response.request.headers.get("Cookie", "")},
        timeout=10,
    ).json()
    held = sum(line["quantity"] for line in cart["items"] if line["product"]["id"] == product_id)
    stock = product.json()["stock"]
    wanted = held + quantity
    return wanted > MAX_LINE_QUANTITY or (stock is not None and wanted > stock)


def _whole(value: object) -> int | None:
    """`value` as an int when it is a JSON whole number (`5` or `5.0`), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        return None
    return int(value)


def _only_error_at(response: schemathesis.Response, loc: list[str]) -> bool:
    """Whether `response` is a 422 with exactly one error, at `loc`."""
    if response.status_code != 422:
        return False
    return [error["loc"] for error in json.loads(response.content)["errors"]] == [loc]


def positive_data_acceptance(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """Schemathesis' check of the same name, except for exception (a).

    (a) A valid request may break a rule between values that JSON Schema cannot state; the
    operation's or field's description states it instead. Exactly four such rules: `max_price`
    below `min_price`; a cart line past 99 units or its stock (its quantity so far plus the one
    asked for); an email that `format: email` allows and email-validator refuses; a reset token
    or current password that is not the right one.
    """
    rules = (
        max_below_min,
        line_over_its_limit,
        email_stricter_than_its_format,
        secret_only_the_server_knows,
    )
    for rule in rules:
        if rule(response, case):
            LET_THROUGH[rule.__name__] += 1
            return None
    return openapi_checks.positive_data_acceptance(ctx, response, case)


def _session(value: str | None) -> str | None:
    """The session cookie in a `Cookie` or `Set-Cookie` header value."""
    cookies: SimpleCookie = SimpleCookie()
    try:
        cookies.load(value or "")
    except CookieError:
        return None
    morsel = cookies.get(SESSION_COOKIE_NAME)
    return morsel.value if morsel is not None else None


def _product_deleted(ctx: schemathesis.CheckContext, product_id: object) -> bool:
    """Whether this scenario deleted product `product_id` (its lines then leave every cart)."""
    for prior in ctx.internals.find_all_cases():
        answer = ctx.internals.find_response(case_id=prior.id)
        if (
            prior.operation.label == DELETE_PRODUCT
            and (prior.path_parameters or {}).get("product_id") == product_id
            and answer is not None
            and answer.status_code == 204
        ):
            return True
    return False


def cart_line_not_in_this_session(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool:
    """A line made by `POST /api/cart/` is rightly 404 in another session.

    Schemathesis drops the cookies a response sets (and fills the optional `storefront_session`
    cookie with values of its own), so the request that follows the link from the created line
    may come from another session, whose cart does not hold it: the contract's 404. Let through
    only when that request did not carry the session cookie the POST's answer set (or, in the
    same session, when the scenario deleted the line's product, which removes it from carts).
    """
    if case.operation.label not in CART_LINE or response.status_code != 404:
        return False
    parent = ctx.internals.find_parent(case_id=case.id)
    created = ctx.internals.find_response(case_id=parent.id) if parent is not None else None
    if parent is None or parent.operation.label != CART_ADD or created is None:
        return False
    cart_cookie = _session(", ".join(created.headers.get("set-cookie", [])))
    sent_cookie = _session(response.request.headers.get("Cookie"))
    if cart_cookie is not None and sent_cookie != cart_cookie:
        return True
    item_id = (case.path_parameters or {}).get("item_id")
    lines = json.loads(created.content)["items"]
    product_ids = [line["product"]["id"] for line in lines if line["id"] == item_id]
    return bool(product_ids) and _product_deleted(ctx, product_ids[0])


def ensure_resource_availability(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """Schemathesis' check of the same name, except for exception (b).

    (b) In the stateful phase, "created resource not found" after `POST /api/cart/` ->
    `PUT|DELETE /api/cart/{item_id}/` when the second request belongs to another session.
    """
    if cart_line_not_in_this_session(ctx, response, case):
        LET_THROUGH["cart_line_not_in_this_session"] += 1
        return None
    return openapi_checks.ensure_resource_availability(ctx, response, case)


# The two known exceptions, each with its reason in its docstring.
KNOWN_EXCEPTIONS = {
    "positive_data_acceptance": positive_data_acceptance,
    "ensure_resource_availability": ensure_resource_availability,
}
CHECKS: list[CheckFunction] = [
    KNOWN_EXCEPTIONS.get(name, check) for name, check in ALL_CHECKS.items()
]

# (mode, "METHOD /path") -> requests sent; (mode, "METHOD /path", status) -> answers.
SENT: Counter[tuple[str, str]] = Counter()
ANSWERS: Counter[tuple[str, str, int]] = Counter()
# Proof that the links lead somewhere: what the state machine must have done successfully.
STATEFUL_MUST_REACH = {
    ("POST /api/products/", 201),
    ("GET /api/products/{product_id}/", 200),
    ("PATCH /api/products/{product_id}/", 200),
    ("DELETE /api/products/{product_id}/", 204),
    ("POST /api/cart/", 201),
    ("PUT /api/cart/{item_id}/", 200),
    ("DELETE /api/cart/{item_id}/", 200),
}


def fuzz_config() -> schemathesis.Config:
    """Schemathesis settings: fixed seed, valid and invalid data, no example database."""
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {
                "mode": "all",
                "deterministic": True,
                "database": "none",
                "max-examples": MAX_EXAMPLES,
            },
            # Along links, valid data only (invalid data just ends the walk; the stateless tests
            # send it), and only the document's own links (schemathesis' inferred ones pair
            # unrelated responses and bodies).
            "phases": {
                "stateful": {
                    "max-steps": STATEFUL_STEPS,
                    "generation": {"mode": "positive"},
                    "inference": {"algorithms": []},
                }
            },
        }
    )


# The document is built in-process, so that pytest can collect one test per operation before
# the server runs (schemathesis' fixture-based loader breaks on pytest >= 9.2, which dropped
# `Node._nodeid`); `test_served_document_is_the_fuzzed_one` proves the live server serves it.
DOCUMENT = openapi_document()
schema = schemathesis.openapi.from_dict(DOCUMENT, config=fuzz_config())


def test_served_document_is_the_fuzzed_one(live_server: str) -> None:
    """The live server's /api/openapi.json is exactly the document the fuzzing runs on."""
    response = requests.get(f"{live_server}/api/openapi.json", timeout=10)
    assert response.status_code == 200
    assert response.json() == json.loads(json.dumps(DOCUMENT))


@schema.parametrize()
def test_as_admin(case: schemathesis.Case, live_server: str, seeded: list[int]) -> None:
    """Every operation with the admin token: admin writes go through to their validation."""
    SENT["admin", case.operation.label] += 1
    response = case.call_and_validate(base_url=live_server, headers=ADMIN, checks=CHECKS)
    ANSWERS["admin", case.operation.label, response.status_code] += 1


@schema.parametrize()
def test_anonymous(case: schemathesis.Case, live_server: str, seeded: list[int]) -> None:
    """Every operation without the admin token (or with a generated, wrong one)."""
    SENT["anonymous", case.operation.label] += 1
    response = case.call_and_validate(base_url=live_server, checks=CHECKS)
    ANSWERS["anonymous", case.operation.label, response.status_code] += 1


def test_every_check_runs() -> None:
    """CHECKS holds every check schemathesis has, two of them behind their known exceptions."""
    load_all_checks()
    assert set(ALL_CHECKS) == set(REGISTERED_CHECKS.get_all_names())
    assert len(CHECKS) == len(ALL_CHECKS)
    replaced = {check.__name__ for check in CHECKS if check.__module__ == __name__}
    assert replaced == set(KNOWN_EXCEPTIONS)


def test_stateful_links(live_server: str, seeded: list[int]) -> None:
    """Follow the document's links with one cookie jar (one cart) per scenario, as the admin.

    What a step generates depends on the server's earlier answers (a link to the first product
    of a list that is now empty draws a product id instead), so Hypothesis, replaying a prefix
    it has seen, may find it drew differently and stop with FlakyStrategyDefinition: nothing
    failed, its walk just ended. Schemathesis' own runner starts again then; so does this test,
    until STATEFUL_SCENARIOS scenarios have run. Any failed check still fails the test.
    """
    base = schema.as_state_machine()
    scenarios = Counter[str]()
    # Failed checks, kept here too: Hypothesis may lose one when its replay turns out flaky.
    failures: list[BaseException] = []

    class Shop(base):  # type: ignore[misc, valid-type]
        def setup(self) -> None:
            scenarios["started"] += 1
            self.session = requests.Session()

        def teardown(self) -> None:
            self.session.close()

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            SENT["stateful", case.operation.label] += 1
            return {"session": self.session, "headers": dict(ADMIN), "base_url": live_server}

        def validate_response(self, response: Any, case: schemathesis.Case, **kwargs: Any) -> None:
            kwargs.pop("additional_checks", None)
            ANSWERS["stateful", case.operation.label, response.status_code] += 1
            try:
                case.validate_response(
                    response,
                    checks=CHECKS,
                    headers=kwargs.get("headers"),
                    transport_kwargs=kwargs,
                    recorder=self.recorder,
                )
            except Exception as failure:
                failures.append(failure)
                raise

    for _ in range(STATEFUL_RUNS):
        left = STATEFUL_SCENARIOS - scenarios["started"]
        if left <= 0:
            break
        try:
            Shop.run(
                settings=hypothesis.settings(
                    max_examples=left,
                    stateful_step_count=STATEFUL_STEPS,
                    derandomize=True,
                    database=None,
                    deadline=None,
                    suppress_health_check=list(hypothesis.HealthCheck),
                )
            )
        except FlakyStrategyDefinition:
            if failures:
                raise failures[0] from None
            continue
        break
    print(f"\nstateful scenarios: {scenarios['started']}")
    assert not failures, failures[0]


def test_enough_cases() -> None:
    """At least MIN_CASES requests in all, every operation in both modes, links followed."""
    modes = {mode for (mode, _) in SENT}
    if modes != {"admin", "anonymous", "stateful"}:
        pytest.skip(f"counts only a run of the whole file (ran: {sorted(modes)})")
    operations = {op.ok().label for op in schema.get_all_operations()}
    for mode in ("admin", "anonymous"):
        missing = operations - {label for (m, label) in SENT if m == mode}
        assert not missing, f"{mode}: never sent {sorted(missing)}"
    total = sum(SENT.values())
    by_mode = Counter(mode for (mode, _) in SENT.elements())
    print(f"\nfuzz cases: {total} {dict(by_mode)}; let through: {dict(LET_THROUGH)}")
    assert total >= MIN_CASES, SENT
    reached = {(label, status) for (mode, label, status) in ANSWERS if mode == "stateful"}
    assert not STATEFUL_MUST_REACH - reached, sorted(reached)
    assert ("admin", "POST /api/products/", 201) in ANSWERS
