"""The published OpenAPI schema is valid, lint-clean, and says what the API really does.

Client generators take the schema at its word: a body advertised as a form, an id
typed as a string or a nullable object without a type produce clients that cannot
call the API (issue #20). These tests hold the schema to the rules a generator needs.
"""

from __future__ import annotations

import json
import subprocess

import pytest
from openapi_spec_validator import validate

from tests.clients import npm

pytestmark = pytest.mark.django_db

JSON_ONLY = ["application/json"]


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    from rest_framework.test import APIClient

    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/?format=json")
    assert response.status_code == 200
    return json.loads(response.content)


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                yield path, method, operation


def parameter(operation, name):
    return next(p for p in operation.get("parameters", []) if p["name"] == name)


def component(schema, name):
    return schema["components"]["schemas"][name]


def test_the_schema_is_valid_openapi(schema):
    validate(schema)  # raises on any violation of the OpenAPI 3.0 specification


def test_redocly_recommended_rules_find_no_error(schema, npm_bin, tmp_path):
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(schema))
    result = subprocess.run(
        [str(npm_bin / "redocly"), "lint", str(path), "--extends=recommended", "--format=json"],
        capture_output=True,
        text=True,
        env=npm.tool_env(),
        timeout=120,
    )
    report = json.loads(result.stdout)
    errors = [(p["ruleId"], p["message"], p["location"][0]["pointer"]) for p in report["problems"]]
    errors = [e for e, p in zip(errors, report["problems"], strict=True) if p["severity"] == "error"]
    assert errors == []
    assert result.returncode == 0, result.stderr


def test_bodies_are_json_except_the_image_upload(schema):
    media_types = {
        (method, path): sorted(operation["requestBody"]["content"])
        for path, method, operation in operations(schema)
        if "requestBody" in operation
    }
    uploads = {key for key in media_types if key[1].endswith(("/image", "/images"))}
    assert [media_types[key] for key in sorted(uploads)] == [["multipart/form-data"]] * 2
    assert {key: types for key, types in media_types.items() if key not in uploads and types != JSON_ONLY} == {}


def test_every_path_id_is_an_integer_and_paths_have_no_trailing_slash(schema):
    ids = {}
    for path, method, operation in operations(schema):
        assert not path.endswith("/"), path
        for p in operation.get("parameters", []):
            if p["in"] == "path" and (p["name"] == "id" or p["name"].endswith("_id")):
                ids[(method, path, p["name"])] = p["schema"]["type"]
    assert set(ids.values()) == {"integer"}, ids
    assert ("get", "/api/v1/orders/{order_id}/images/{image_id}", "image_id") in ids


def test_query_ids_are_integers_and_prices_decimal_strings(schema):
    parts = schema["paths"]["/api/v1/items"]["get"]
    assert parameter(parts, "category")["schema"]["type"] == "integer"
    for name in ("min_price", "max_price"):
        assert parameter(parts, name)["schema"] | {"pattern": "…"} == {
            "type": "string",
            "format": "decimal",
            "pattern": "…",
        }
    assert parameter(schema["paths"]["/api/v1/audit"]["get"], "actor")["schema"]["type"] == "integer"


def test_ordering_lists_its_keys(schema):
    orders = parameter(schema["paths"]["/api/v1/orders"]["get"], "ordering")
    assert {"total", "-total", "-date_created", "id"} <= set(orders["schema"]["enum"])
    parts = parameter(schema["paths"]["/api/v1/items"]["get"], "ordering")
    assert "-stock" in parts["schema"]["enum"]


def test_nullable_schemas_have_a_type_and_no_one_of_remains(schema):
    text = json.dumps(schema)
    assert '"oneOf"' not in text

    def walk(node, where):
        if isinstance(node, dict):
            if node.get("nullable"):
                assert "type" in node, where
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{where}/{index}")

    walk(schema, "#")
    category = component(schema, "SparePart")["properties"]["category"]
    assert category["anyOf"] == [
        {"$ref": "#/components/schemas/CategorySummary"},
        {"type": "object", "nullable": True, "enum": [None], "description": "null"},
    ]


def test_request_id_is_a_string_or_an_integer(schema):
    request_id = component(schema, "OrderCreateRequest")["properties"]["request_id"]
    assert sorted(alternative["type"] for alternative in request_id["anyOf"]) == ["integer", "string"]


def test_business_errors_have_typed_bodies(schema):
    def required(name):
        return set(component(schema, name)["required"])

    assert {"available", "requested", "sku"} <= required("InsufficientStockError")
    assert {"missing_ids"} <= required("PartsNotFoundError")
    assert {"allowed"} <= required("InvalidTransitionError")
    assert {"limit_bytes"} <= required("RequestTooLargeError")
    place = schema["paths"]["/api/v1/orders"]["post"]["responses"]

    def refs(response):
        body = response["content"]["application/json"]["schema"]
        if "$ref" in body:
            body = component(schema, body["$ref"].rsplit("/", 1)[1])
        return [alternative["$ref"].rsplit("/", 1)[1] for alternative in body.get("anyOf", [body])]

    assert refs(place["409"]) == ["InsufficientStockError", "Error"]
    assert refs(place["404"]) == ["PartsNotFoundError", "Error"]
    update = schema["paths"]["/api/v1/orders/{id}"]["patch"]["responses"]
    assert refs(update["409"])[0] == "InvalidTransitionError"


def test_response_headers_are_declared(schema):
    place = schema["paths"]["/api/v1/orders"]["post"]["responses"]
    assert {"X-Request-ID", "Idempotent-Replayed"} <= set(place["201"]["headers"])
    assert "Retry-After" in place["409"]["headers"]
    assert "Retry-After" in schema["paths"]["/api/v1/items"]["get"]["responses"]["429"]["headers"]


def test_audit_changes_are_a_typed_map(schema):
    changes = component(schema, "Auditor")["properties"]["changes"]
    assert changes["type"] == "object"
    assert changes["additionalProperties"]["type"] == "array"


def test_servers_and_descriptions_speak_to_integrators(schema):
    assert schema["servers"][0]["url"] == "http://testserver"
    descriptions = []

    def walk(node):
        if isinstance(node, dict):
            descriptions.extend(v for k, v in node.items() if k == "description" and isinstance(v, str))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    internal = ("to_representation", "selectors", "database holds", "``", ":meth:", "viewset")
    assert [d for d in descriptions if any(word in d for word in internal)] == []
