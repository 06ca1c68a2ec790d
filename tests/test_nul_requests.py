"""A NUL character anywhere a request carries text is a 400 with a message: PostgreSQL refuses NUL
in text, so passing one on to a query was a 500 on pages, the API and the OAuth endpoints."""
import json

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/skills/acme/kit/post%00mortem/", "/skills/?q=post%00mortem",
                                 "/plugins/acme/k%00it/", "/api/v1/skills/acme/kit/post%00mortem/"])
def test_in_the_url(client, people, url):
    client.force_login(people["member"])
    response = client.get(url)
    assert response.status_code == 400 and b"NUL" in response.content
    if url.startswith("/api/"):
        assert "NUL" in response.json()["detail"]


def test_in_a_form_body(client):
    response = client.post("/token", {"grant_type": "authorization_code", "client_id": "a\x00b", "code": "x",
                                      "code_verifier": "v"})
    assert response.status_code == 400 and b"NUL" in response.content


def test_in_a_json_body(client):
    response = client.post("/register", json.dumps({"redirect_uris": ["http://127.0.0.1:3000/cb"],
                                                    "client_name": "x\u0000y"}), content_type="application/json")
    assert response.status_code == 400 and b"NUL" in response.content


def test_a_request_without_one_goes_through(client):
    response = client.post("/register", json.dumps({"redirect_uris": ["http://127.0.0.1:3000/cb"],
                                                    "client_name": "Claude"}), content_type="application/json")
    assert response.status_code == 201


@pytest.mark.parametrize("key", ["abcdefgh\x00ijk", "ABCDEFGHIJKLMNOP", "abcdefgh'; --", "caf\xe9caf\xe9"])
@pytest.mark.parametrize("url", ["/", "/login/", "/skills/", "/api/v1/whoami/", "/authorize"])
def test_a_session_cookie_of_characters_no_key_holds_is_no_session(client, people, key, url):
    """Django makes session keys of lowercase letters and digits; a cookie may hold anything, a NUL too, which
    reached the session query: a 500 on every page."""
    client.cookies["sessionid"] = key
    assert client.get(url).status_code in (200, 302, 401, 403)


def test_a_session_cookie_of_the_right_characters_still_signs_in(client, people):
    client.force_login(people["member"])
    assert client.cookies["sessionid"].value.isalnum()
    assert client.get("/skills/").status_code == 200
