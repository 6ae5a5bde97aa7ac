"""The OpenAPI 3.1 document, assembled from the same pydantic schemas that validate requests."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic.json_schema import models_json_schema

from ... import account_schemas, checkout_schemas, filters, schemas
from .account import account_paths
from .builders import REF, SECURITY_SCHEMES, session_security
from .catalog import catalog_paths
from .orders import order_paths

__all__ = ["openapi_document", "session_security"]


@cache
def openapi_document(count_cap: int = filters.DEFAULT_COUNT_CAP) -> dict[str, Any]:
    """The whole document for a server with this COUNT_CAP (built once per process)."""
    _, defs = models_json_schema(
        [
            (schemas.ProductIn, "validation"),
            (schemas.ProductPatch, "validation"),
            (schemas.CartAdd, "validation"),
            (schemas.CartUpdate, "validation"),
            (schemas.ProductPage, "serialization"),
            (schemas.Category, "serialization"),
            (schemas.Cart, "serialization"),
            (schemas.Problem, "serialization"),
            (checkout_schemas.CheckoutIn, "validation"),
            (checkout_schemas.StatusIn, "validation"),
            (checkout_schemas.CheckoutOut, "serialization"),
            (checkout_schemas.Order, "serialization"),
            (checkout_schemas.OrderPage, "serialization"),
            (checkout_schemas.CodedProblem, "serialization"),
            (checkout_schemas.CheckoutConflict, "serialization"),
            (account_schemas.RegisterIn, "validation"),
            (account_schemas.LoginIn, "validation"),
            (account_schemas.ProfilePatch, "validation"),
            (account_schemas.PasswordChangeIn, "validation"),
            (account_schemas.ResetRequestIn, "validation"),
            (account_schemas.ResetConfirmIn, "validation"),
            (account_schemas.CustomerOut, "serialization"),
        ],
        ref_template=REF,
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Storefront API",
            "version": "1.0.0",
            "description": "Catalog, session cart, checkout, orders and customer accounts. "
            "Prices are exact decimals written as JSON numbers. "
            "Errors are application/problem+json (RFC 9457).",
        },
        "paths": {**catalog_paths(count_cap), **order_paths(count_cap), **account_paths()},
        "components": {
            "schemas": defs["$defs"],
            "securitySchemes": SECURITY_SCHEMES,
        },
    }
