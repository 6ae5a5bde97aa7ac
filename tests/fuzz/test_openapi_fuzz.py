"""Schemathesis against our own `/api/openapi.json`, on a live gunicorn over PostgreSQL.

Every documented operation is fuzzed twice, with the admin token and without it, from valid and
from invalid inputs; then a state machine follows the document's links (created product →
detail → cart add → quantity → delete) with one cookie per scenario. A pass means: no 5xx, every
response matches its documented schema, status code and content type, and admin operations
refuse requests without a valid token. Deterministic: a fixed seed, Hypothesis derandomized and
without its example database.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.specs.openapi import checks as openapi_checks

from storefront.api.openapi import openapi_document

from .conftest import ADMIN_TOKEN

pytestmark = [pytest.mark.live, pytest.mark.fuzz, pytest.mark.timeout(240)]

SEED = int(os.environ.get("FUZZ_SEED") or 20_260_601)
# Fuzzing-phase examples per operation and mode; the coverage phase adds its own boundary cases.
# FUZZ_MAX_EXAMPLES / FUZZ_SCENARIOS dig deeper locally (a different seed: FUZZ_SEED).
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES") or 25)
STATEFUL_SCENARIOS = int(os.environ.get("FUZZ_SCENARIOS") or 150)
STATEFUL_STEPS = 12
MIN_CASES = 1000
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def created_resource_available(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """Schemathesis' `ensure_resource_availability`, except after a product was deleted.

    A line created by `POST /api/cart/` is a resource of its own to schemathesis, but the contract
    removes it from every cart when its product is deleted (a different path), so a 404 for that
    line afterwards is right. Every other "created, then not found" still fails.
    """
    recorder = ctx.internals.recorder
    if recorder is not None and any(
        prior.operation.label == "DELETE /api/products/{product_id}/"
        and (answer := recorder.find_response(case_id=prior.id)) is not None
        and answer.status_code == 204
        for prior in recorder.find_all_cases()
    ):
        return None
    return openapi_checks.ensure_resource_availability(ctx, response, case)


# The brief's checks, plus the contract's 405 with `Allow` for methods an operation lacks.
CHECKS: list[CheckFunction] = [
    not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.ignored_auth,
    openapi_checks.unsupported_method,
    openapi_checks.allow_header_conformance,
]
# Along links: a deleted product is gone for good, a created one can be found.
STATEFUL_CHECKS: list[CheckFunction] = [
    *CHECKS,
    openapi_checks.use_after_free,
    created_resource_available,
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


def test_stateful_links(live_server: str, seeded: list[int]) -> None:
    """Follow the document's links with one cookie (one cart) per scenario, as the admin."""
    base = schema.as_state_machine()

    class Shop(base):  # type: ignore[misc, valid-type]
        def setup(self) -> None:
            self.session = requests.Session()

        def teardown(self) -> None:
            self.session.close()

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            SENT["stateful", case.operation.label] += 1
            return {"session": self.session, "headers": dict(ADMIN), "base_url": live_server}

        def validate_response(self, response: Any, case: schemathesis.Case, **kwargs: Any) -> None:
            kwargs.pop("additional_checks", None)
            ANSWERS["stateful", case.operation.label, response.status_code] += 1
            case.validate_response(
                response,
                checks=STATEFUL_CHECKS,
                headers=kwargs.get("headers"),
                transport_kwargs=kwargs,
                recorder=self.recorder,
            )

    Shop.run(
        settings=hypothesis.settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=STATEFUL_STEPS,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
    )


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
    print(f"\nfuzz cases: {total} {dict(by_mode)}")
    assert total >= MIN_CASES, SENT
    reached = {(label, status) for (mode, label, status) in ANSWERS if mode == "stateful"}
    assert not STATEFUL_MUST_REACH - reached, sorted(reached)
    assert ("admin", "POST /api/products/", 201) in ANSWERS
