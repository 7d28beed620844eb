"""The OpenAPI document declares how to authenticate, on exactly the operations that need it."""

from __future__ import annotations

import warnings
from typing import Any

from api.main import create_app


def test_authenticated_operations_declare_both_schemes_and_public_ones_none() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # FastAPI warns of a duplicated operation id: generated clients would clash
        schema = create_app().openapi()
    assert set(schema["components"]["securitySchemes"]) == {"bearer", "apiKey"}
    both: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}]
    paths = schema["paths"]
    assert paths["/axon/accounts/{account_id}"]["get"]["security"] == both
    assert paths["/axon/posts"]["post"]["security"] == both
    assert paths["/auth/me"]["get"]["security"] == both
    assert "security" not in paths["/auth/login"]["post"]
    assert "security" not in paths["/health/live"]["get"]
    secured = sum(1 for ops in paths.values() for op in ops.values() if "security" in op)
    assert secured > 40, secured
    ids = [op["operationId"] for ops in paths.values() for op in ops.values()]
    assert len(ids) == len(set(ids))


def _document() -> dict[str, Any]:
    return create_app().openapi()


def test_operations_declare_the_problems_they_can_answer() -> None:
    paths = _document()["paths"]
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    patch = paths["/axon/accounts/{account_id}"]["patch"]["responses"]
    assert set(patch) == {"200", "400", "401", "403", "404", "409", "410", "422", "503"}
    assert all(patch[status]["content"] == problem for status in patch if status != "200")
    # A read with no ids, no body and no parameters cannot be missing, conflicting or invalid.
    assert set(paths["/auth/me"]["get"]["responses"]) == {"200", "401", "403", "410", "503"}
    assert set(paths["/health/live"]["get"]["responses"]) == {"200"}
    # Public operations declare what they alone answer; a route's own declaration gets the problem body too.
    assert set(paths["/auth/login"]["post"]["responses"]) == {"200", "400", "401", "422", "429", "503"}
    assert paths["/axon/souls/{soul_id}"]["delete"]["responses"]["409"]["content"] == problem


def test_fastapi_validation_shapes_are_replaced_by_the_problem_schema() -> None:
    schemas = _document()["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert "ValidationError" not in schemas
    assert {"type", "title", "status", "detail", "code"} <= set(schemas["Problem"]["required"])
    assert schemas["Problem"]["properties"]["errors"]["items"] == {"$ref": "#/components/schemas/FieldProblem"}


def test_fields_that_cannot_be_cleared_are_not_nullable_in_the_document() -> None:
    schemas = _document()["components"]["schemas"]
    patch = schemas["AccountPatch"]["properties"]
    assert patch["status"] == {"$ref": "#/components/schemas/AccountStatus"}  # may be left out, never null
    assert {"type": "null"} in patch["displayName"]["anyOf"]  # null clears it
    assert {"type": "null"} in patch["proxyId"]["anyOf"]
    assert "anyOf" not in schemas["PersonaPatch"]["properties"]["timezone"]
    assert "anyOf" not in schemas["MappingPatch"]["properties"]["isPrimary"]
