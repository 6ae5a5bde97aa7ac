"""Small factories that make test data through the real admin API."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.conftest import ADMIN_TOKEN

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def product_data(**fields: Any) -> dict[str, Any]:
    """A valid product body, with `fields` changed."""
    data: dict[str, Any] = {
        "name": "Тестовый товар",
        "description": "Описание",
        "price": 100,
        "category": "Тест",
    }
    data.update(fields)
    return data


def create_product(client: FlaskClient, **fields: Any) -> dict[str, Any]:
    """Create one product through POST /api/products/ and return it."""
    response = client.post("/api/products/", json=product_data(**fields), headers=AUTH)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def create_products(client: FlaskClient, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Create products through the bulk endpoint and return them."""
    response = client.post("/api/products/bulk", json=items, headers=AUTH)
    assert response.status_code == 201, response.get_json()
    return response.get_json()
