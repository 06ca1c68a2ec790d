"""Registration bodies Python's JSON reader cannot take are a 400 with a message, never a 500."""
import pytest

pytestmark = pytest.mark.django_db

DEEP = 5000


@pytest.mark.parametrize("body", ["[" * DEEP + "]" * DEEP, '{"a": ' * DEEP + "1" + "}" * DEEP,
                                  '{"redirect_uris": ' + "[" * DEEP + "]" * DEEP + "}"],
                         ids=["array", "object", "inside-metadata"])
@pytest.mark.parametrize("method, path", [("post", "/register"), ("post", "/oauth/register/"),
                                          ("put", "/oauth/register/some-client/")])
def test_a_deeply_nested_body_is_a_400(client, body, method, path):
    response = getattr(client, method)(path, body, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_client_metadata",
                               "error_description": "The request body is nested too deeply to be client metadata."}
