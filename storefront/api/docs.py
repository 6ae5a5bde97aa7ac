"""The API's own documentation: the OpenAPI document and an offline Swagger UI."""

from __future__ import annotations

from flask import Response, current_app, jsonify, render_template

from ..security import CSP, DOCS_POLICY
from . import bp
from .openapi import openapi_document

SWAGGER_UI = "vendor/swagger-ui-5.35.0"


@bp.get("/openapi.json")
@bp.get("/openapi.json/")
def openapi_document_view() -> Response:
    """The OpenAPI 3.1 document for every /api endpoint."""
    return jsonify(openapi_document(current_app.config["COUNT_CAP"]))


@bp.get("/docs/", strict_slashes=False)
def swagger_ui() -> tuple[str, dict[str, str]]:
    """Swagger UI, served from our own static files (works offline), under its own policy."""
    return render_template("api/docs.html", swagger=SWAGGER_UI), {CSP: DOCS_POLICY}
