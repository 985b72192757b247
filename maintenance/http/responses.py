"""JSON error answers given outside DRF's views (middleware, Django's error handlers).

They carry the request's id, as the API's own errors do (``maintenance.api.exceptions``).
"""

from django.http import JsonResponse

from maintenance.http.timing import current_request_id


def with_request_id(data: dict) -> dict:
    request_id = current_request_id.get()
    if request_id and isinstance(data, dict) and "detail" in data:
        data = {**data, "request_id": request_id}
    return data


def json_error(status_code: int, detail: str, code: str, **extra) -> JsonResponse:
    return JsonResponse(with_request_id({"detail": detail, "code": code, **extra}), status=status_code)
