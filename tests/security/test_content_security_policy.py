"""Issue 22: no page had a Content-Security-Policy. Every answer carries one that allows scripts from
this server only; the pages need no inline script (the browser tests prove they work under it)."""

import re

import pytest

POLICY_PAGES = ["/admin/login/", "/docs", "/redoc", "/api/v1/", "/api-auth/login/", "/health/live/"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", POLICY_PAGES)
def test_every_page_carries_a_policy_with_scripts_from_this_server_only(client, path):
    response = client.get(path)
    policy = dict(
        directive.strip().split(" ", 1) for directive in response["Content-Security-Policy"].split(";") if directive
    )
    assert policy["script-src"] == "'self'"
    assert policy["default-src"] == "'self'" and policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'" and policy["base-uri"] == "'self'"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/admin/login/", "/docs", "/redoc"])
def test_the_pages_have_no_inline_script(client, path):
    html = client.get(path).content.decode()
    inline = [
        tag
        for tag in re.findall(r"<script\b[^>]*>", html)
        if "src=" not in tag and 'type="application/json"' not in tag
    ]
    assert inline == []


@pytest.mark.django_db
def test_swagger_uis_start_up_script_is_a_file_of_this_server(client):
    page = client.get("/docs").content.decode()
    (script,) = re.findall(r'<script src="(/docs\?[^"]*script[^"]*)"', page)
    answer = client.get(script.replace("&amp;", "&"))
    assert answer.status_code == 200 and answer["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in answer.content.decode()
