"""The OpenAPI document declares how to authenticate, on exactly the operations that need it."""

from __future__ import annotations

import warnings

from api.main import create_app


def test_authenticated_operations_declare_both_schemes_and_public_ones_none() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PUT and PATCH share one handler: FastAPI warns about the operation ids
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
