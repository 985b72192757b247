"""The error half of the OpenAPI schema.

drf-spectacular documents what a view answers when all goes well. The errors
come from layers it does not see (authentication, permissions, throttling, the
idempotency and body-size middlewares, the exception handler), and they are the
same for every operation of a kind, so :func:`document_error_responses` adds
them to each operation by rule, once, instead of each view repeating them:

* every operation: 401, 403, 429, 503, the ``X-Request-ID`` request header and
  response header;
* a path parameter: 404;
* a request body: 400, 413, 415;
* POST and PATCH: the ``Idempotency-Key`` header and its 400, 409 and 422;
* a list with filters: 400;
* a single category, part or order (``VERSIONED_PATHS``): the ``ETag`` response header, and on
  PATCH/PUT the ``If-Match`` request header and its 412 (``maintenance.api.concurrency``).

A view declares only what its own rules add (``404`` for an unknown part named
in a body, ``409`` for a conflict) with :func:`error_response`, naming the typed
error bodies a client can branch on (:class:`InsufficientStockErrorSerializer`, …).

Error bodies are :class:`ErrorSerializer` (``{detail, code, request_id, …}``), one
of its typed extensions, or, for validation errors, a map of field name to messages.

The same postprocessing also keeps the schema truthful for client generators
(:func:`document_error_responses`): documented paths without the trailing slash
(the server takes both), a ``servers`` entry, ``anyOf`` instead of ``oneOf``,
and a nullable object as ``anyOf`` its schema or a typed null.
"""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import get_doc
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer
from rest_framework import serializers

ERROR_REF = {"$ref": "#/components/schemas/Error"}
VALIDATION_ERROR_REF = {"$ref": "#/components/schemas/ValidationError"}

# What a validation error looks like: field name → messages. A list field (an
# order's ``items``) maps each failing element's index to the same shape.
VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "description": (
        "Validation errors: each invalid field (or `non_field_errors`) maps to its messages; "
        "a list field maps the index of each invalid element to that element's errors."
    ),
    "additionalProperties": {
        "anyOf": [
            {"type": "array", "items": {"type": "string"}},
            {"$ref": "#/components/schemas/ValidationError"},
        ]
    },
    "example": {
        "sku": ["Invalid SKU format. Expected format: [CLASS]-[MATERIAL]-[SIZE]-[LENGTH], but got 'x'"],
        "items": {"0": {"quantity": ["Ensure this value is greater than or equal to 1."]}},
    },
}

TOO_LARGE_REF = {"$ref": "#/components/schemas/RequestTooLargeError"}

REQUEST_ID_HEADER = {
    "description": "The server's id of this request, as in its log line, its audit entries and error bodies.",
    "required": True,
    "schema": {"type": "string"},
}
CLIENT_REQUEST_ID_HEADER = {
    "description": "The `X-Request-ID` the client sent, echoed when it was a valid one (kept beside the server's id).",
    "required": False,
    "schema": {"type": "string"},
}
RETRY_AFTER_HEADER = {
    "description": "Seconds to wait before retrying.",
    "required": False,
    "schema": {"type": "integer", "minimum": 0},
}
REPLAYED_HEADER = {
    "description": (
        "`true` when this is the stored answer to an earlier request with the same `Idempotency-Key` "
        "(or, for an order, the same `request_id`): nothing ran again."
    ),
    "required": False,
    "schema": {"type": "string", "enum": ["true"]},
}

IDEMPOTENCY_KEY_PARAMETER = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "description": "Makes a retry safe: the same key with the same body replays the first response.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}
REQUEST_ID_PARAMETER = {
    "in": "header",
    "name": "X-Request-ID",
    "required": False,
    "description": (
        "Your id for this request (1-64 letters, digits, `.`, `_`, `:`, `-`): echoed as `X-Client-Request-ID`, "
        "logged and stored in the audit trail beside the server's own id (`X-Request-ID`), never instead of it."
    ),
    "schema": {"type": "string"},
}

# The single objects whose answers carry a version (maintenance.api.concurrency.VersionedViewMixin).
VERSIONED_PATHS = {"/api/v1/categories/{id}", "/api/v1/items/{sku}", "/api/v1/orders/{id}"}
ETAG_HEADER = {
    "description": "The object's version (its `date_updated`, quoted): send it back as `If-Match`.",
    "schema": {"type": "string"},
}
IF_MATCH_PARAMETER = {
    "in": "header",
    "name": "If-Match",
    "required": False,
    "description": (
        "The `ETag` of the version you read: the change is refused with 412 if the object changed since. "
        "Without it (or with `*`) the change applies whatever the version."
    ),
    "schema": {"type": "string"},
}

# Query parameters that never fail validation: pagination and ordering
# fall back to their defaults. Any other query parameter is a filter, and a
# filter with a bad value is a 400.
LENIENT_QUERY_PARAMETERS = {"limit", "offset", "skip", "ordering"}

BODY_METHODS = {"post", "put", "patch"}
IDEMPOTENT_METHODS = {"post", "patch"}  # those maintenance.idempotency handles

DESCRIPTIONS = {
    400: "Invalid input: a field map of messages (validation), or `{detail, code}`.",
    401: "Missing or invalid credentials.",
    403: "Authenticated, but not allowed to do this.",
    404: "Not found.",
    409: "Conflict with the current state; `code` says which.",
    412: "The object changed since the version named in `If-Match` (`stale_version`); nothing was written.",
    413: "The request body is larger than the limit (`limit_bytes`).",
    415: "Unsupported `Content-Type` for the request body.",
    422: "This `Idempotency-Key` was already used with a different request body.",
    429: "Too many requests; see `Retry-After`.",
    503: "The database or the object store is unavailable or timed out; retry (see `Retry-After`).",
}


class ErrorSerializer(serializers.Serializer):
    """The body of every error that is not a field map: `{detail, code, request_id}` and the rule's extras."""

    detail = serializers.CharField(help_text="What went wrong, for people.")
    code = serializers.CharField(required=False, help_text="What went wrong, for programs (e.g. `insufficient_stock`).")
    request_id = serializers.CharField(required=False, help_text="The request's id, as in `X-Request-ID`.")
    field = serializers.CharField(required=False, help_text="The input field at fault, when there is one.")


# Typed error bodies: the business errors whose extra fields a client reads
# (maintenance.api.errors raised with ``extra=``). Each is an Error with its fields required.


class InsufficientStockErrorSerializer(ErrorSerializer):
    """`code` is `insufficient_stock`: a line (or a stock take) asks for more than is on hand; nothing was written."""

    sku = serializers.CharField(help_text="The part that is short.")
    available = serializers.IntegerField(help_text="Units on hand.")
    requested = serializers.IntegerField(help_text="Units asked for.")


class StockAboveMaximumErrorSerializer(ErrorSerializer):
    """`code` is `stock_above_maximum`: the stock would pass its maximum; nothing was written."""

    sku = serializers.CharField(help_text="The part whose stock would pass the maximum.")
    available = serializers.IntegerField(help_text="Units on hand.")
    added = serializers.IntegerField(help_text="Units that would be added.")
    max_stock = serializers.IntegerField(help_text="The maximum stock of any part.")


class PartsNotFoundErrorSerializer(ErrorSerializer):
    """`code` is `not_found`: spare parts named in the body do not exist; nothing was written."""

    missing_ids = serializers.ListField(
        child=serializers.IntegerField(), help_text="The `spare_part_id`s that do not exist, ascending."
    )


class InvalidTransitionErrorSerializer(ErrorSerializer):
    """`code` is `invalid_transition`: the order's status cannot move to the one asked for."""

    allowed = serializers.ListField(
        child=serializers.CharField(), help_text="The statuses the order can move to now (empty when final)."
    )


class RequestTooLargeErrorSerializer(ErrorSerializer):
    """`code` is `request_too_large`, or `image_too_large` for an image above its own limit."""

    limit_bytes = serializers.IntegerField(help_text="The limit, in bytes.")


def error_response(status_code: int, description: str | None = None, *typed_errors) -> OpenApiResponse:
    """A view's own error answer, for ``extend_schema(responses={...})``.

    ``typed_errors`` are the typed bodies (serializer classes above) this answer can
    have besides the plain Error; a client tries them first (`anyOf`, most specific first).
    """
    response = ErrorSerializer
    if typed_errors:
        names = [error.__name__.removesuffix("Serializer") for error in typed_errors]
        response = PolymorphicProxySerializer(
            component_name="Or".join(names) + "OrError",
            serializers=[*typed_errors, ErrorSerializer],
            resource_type_field_name=None,
        )
    return OpenApiResponse(response=response, description=description or DESCRIPTIONS[status_code])


def _json(schema: dict) -> dict:
    return {"application/json": {"schema": schema}}


def _error(status_code: int) -> dict:
    schema = ERROR_REF
    if status_code == 400:
        schema = {"anyOf": [ERROR_REF, VALIDATION_ERROR_REF]}
    elif status_code == 413:
        schema = TOO_LARGE_REF
    return {"description": DESCRIPTIONS[status_code], "content": _json(schema)}


def _error_statuses(method: str, operation: dict) -> set[int]:
    parameters = operation.get("parameters", [])
    statuses = {401, 403, 429, 503}
    if any(p["in"] == "path" for p in parameters):
        statuses.add(404)
    if "requestBody" in operation:
        statuses |= {400, 413, 415}
    if method in IDEMPOTENT_METHODS:
        statuses |= {400, 409, 422}
    if any(p["in"] == "query" and p["name"] not in LENIENT_QUERY_PARAMETERS for p in parameters):
        statuses.add(400)
    return statuses


def _add_parameter(operation: dict, parameter: dict) -> None:
    parameters = operation.setdefault("parameters", [])
    for index, existing in enumerate(parameters):
        if existing["in"] == parameter["in"] and existing["name"].lower() == parameter["name"].lower():
            parameters[index] = parameter
            return
    parameters.append(parameter)


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's, describing an operation by its own words only.

    drf-spectacular falls back to the view class's docstring, which is written for
    the people maintaining it (and inherited from mixins such as
    ``maintenance.api.concurrency.VersionedViewMixin``): every operation of a view
    carried it. An operation is described by ``extend_schema(description=...)`` or
    its method's docstring, else only by its summary.
    """

    def get_description(self) -> str:
        action = getattr(self.view, getattr(self.view, "action", self.method.lower()), None)
        return get_doc(action)


NOT_REPLAYED = {"401", "403", "413", "429"}  # answers maintenance.idempotency never stores


def _headers(method: str, status_code: str) -> dict:
    headers = {"X-Request-ID": REQUEST_ID_HEADER, "X-Client-Request-ID": CLIENT_REQUEST_ID_HEADER}
    if status_code in ("409", "429", "503"):
        headers["Retry-After"] = RETRY_AFTER_HEADER
    if method in IDEMPOTENT_METHODS and status_code not in NOT_REPLAYED:
        # A stored answer (2xx or 4xx) replayed by maintenance.idempotency.
        headers["Idempotent-Replayed"] = REPLAYED_HEADER
    return headers


NULL_OBJECT = {"type": "object", "nullable": True, "enum": [None], "description": "null"}


def _typed_nullables(node) -> None:
    """Give every ``nullable`` a ``type`` beside it, and turn every ``oneOf`` into ``anyOf``.

    OpenAPI 3.0 ignores ``nullable`` on a schema without ``type``, and drf-spectacular
    writes a nullable nested object as ``{allOf: [$ref], nullable: true}``: strict
    validators then refuse `null`. It becomes ``{anyOf: [$ref, <null>]}``, where the
    null alternative is a typed schema (generators read it as "or None"/"| null").
    ``oneOf`` fails a value that matches two of its alternatives (to a validator that
    does not check `format`, an empty string is both "an email" and "empty", and the
    plain Error matches every typed error).
    """
    if isinstance(node, dict):
        if "oneOf" in node:
            node["anyOf"] = node.pop("oneOf")
        if node.get("nullable") and "type" not in node and "allOf" in node:
            # OpenAPI 3.0's way of saying "this object, or null": the null alternative has a type.
            node["anyOf"] = [*node.pop("allOf"), NULL_OBJECT]
            del node["nullable"]
        for value in node.values():
            _typed_nullables(value)
    elif isinstance(node, list):
        for value in node:
            _typed_nullables(value)


def _server_url(request) -> str:
    if request is None:  # manage.py spectacular: the address of `make run`
        return "http://127.0.0.1:8000"
    return request.build_absolute_uri("/").rstrip("/")


def document_paths_without_trailing_slash(endpoints):
    """drf-spectacular preprocessing hook: document ``/api/v1/items``, not ``/api/v1/items/``.

    Every API route answers with and without the trailing slash
    (``maintenance.api.routers``); the schema names the form without, which is how
    OpenAPI tools (and Redocly's ``no-path-trailing-slash``) expect paths.
    """
    return [(path.rstrip("/") or "/", regex, method, callback) for path, regex, method, callback in endpoints]


def document_error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook: the errors every operation can answer, by rule."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    if "Error" not in schemas or "RequestTooLargeError" not in schemas:
        raise RuntimeError("No view uses maintenance.api.schema's ErrorSerializer and RequestTooLargeErrorSerializer.")
    schemas["ValidationError"] = VALIDATION_ERROR_SCHEMA
    result["servers"] = [{"url": _server_url(request), "description": "The server this schema was read from."}]
    for path, path_item in result.get("paths", {}).items():
        for method, operation in path_item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            _add_parameter(operation, REQUEST_ID_PARAMETER)
            if method in IDEMPOTENT_METHODS:
                _add_parameter(operation, IDEMPOTENCY_KEY_PARAMETER)
            responses = operation["responses"]
            versioned = path in VERSIONED_PATHS
            if versioned and method in ("patch", "put"):
                _add_parameter(operation, IF_MATCH_PARAMETER)
                responses.setdefault("412", _error(412))
            if versioned and "200" in responses:
                responses["200"].setdefault("headers", {})["ETag"] = ETAG_HEADER
            for status_code in sorted(_error_statuses(method, operation)):
                responses.setdefault(str(status_code), _error(status_code))
            for status_code, response in responses.items():
                response.setdefault("headers", {}).update(_headers(method, status_code))
    _typed_nullables(result)
    return result
