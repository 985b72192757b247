import pytest
from axes.models import AccessAttempt

from conftest import make_user

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"


def test_repeated_failed_admin_logins_lock_the_account_from_that_address(client, settings):
    make_user("staffer", is_staff=True, is_superuser=True)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post(LOGIN, {"username": "staffer", "password": "wrong"})
        assert response.status_code == 200  # the form again, with its error
    locked = client.post(LOGIN, {"username": "staffer", "password": "wrong"})
    assert locked.status_code == 429
    # Even the right password is refused while locked...
    assert client.post(LOGIN, {"username": "staffer", "password": "pw-123456!"}).status_code == 429
    assert AccessAttempt.objects.get(username="staffer").failures_since_start >= settings.AXES_FAILURE_LIMIT
    # ...and a spoofed X-Forwarded-For does not get around it.
    spoofed = client.post(LOGIN, {"username": "staffer", "password": "pw-123456!"}, HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert spoofed.status_code == 429


def test_a_successful_login_resets_the_count(client, settings):
    make_user("tech", is_staff=True)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        client.post(LOGIN, {"username": "tech", "password": "wrong"})
    assert client.post(LOGIN, {"username": "tech", "password": "pw-123456!"}).status_code == 302
    client.logout()
    assert client.post(LOGIN, {"username": "tech", "password": "wrong"}).status_code == 200


def test_api_tokens_are_not_affected(api):
    assert api.get("/api/v1/items/").status_code == 200
