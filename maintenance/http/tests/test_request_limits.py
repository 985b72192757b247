"""Bodies a WSGI app cannot read are refused, not taken as empty (through gunicorn, as clients send them)."""

import pytest
import requests

from conftest import make_user, token_for
from inventory.models import Category

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_a_chunked_write_is_411_and_changes_nothing(live_server_url):
    headers = {
        "Authorization": f"Token {token_for(make_user(is_superuser=True, is_staff=True))}",
        "Content-Type": "application/json",
    }
    url = f"{live_server_url}/api/v1/categories/"
    body = b'{"name": "Chunky"}'

    # A generator body: requests sends it with Transfer-Encoding: chunked and no Content-Length.
    chunked = requests.post(url, data=iter([body]), headers=headers, timeout=20)
    assert chunked.request.headers.get("Transfer-Encoding") == "chunked"
    assert chunked.status_code == 411, chunked.text
    answer = chunked.json()
    assert answer["code"] == "length_required" and "Content-Length" in answer["detail"]
    assert answer["request_id"] == chunked.headers["X-Request-ID"]
    assert not Category.objects.filter(name="Chunky").exists()

    # The same body with its length is created.
    with_length = requests.post(url, data=body, headers=headers, timeout=20)
    assert with_length.status_code == 201, with_length.text
    assert Category.objects.filter(name="Chunky").exists()
