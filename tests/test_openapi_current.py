"""The checked-in OpenAPI schema (source of the console's generated TS client) matches the app."""

from pathlib import Path

from watchkeeper.api.openapi import render_openapi

REPO = Path(__file__).resolve().parents[1]


def test_openapi_json_is_current() -> None:
    checked_in = (REPO / "openapi.json").read_text()
    assert checked_in == render_openapi(), (
        "openapi.json is stale: run `.venv/bin/python -m watchkeeper.api.openapi > openapi.json` "
        "and `cd web && npm run gen:api`, then commit both"
    )


def test_every_operation_documents_its_typed_errors() -> None:
    import json

    schema = json.loads(render_openapi())
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if path == "/api/health":
                continue
            responses = operation["responses"]
            assert "422" in responses or "404" in responses, f"{method.upper()} {path} documents no errors"
