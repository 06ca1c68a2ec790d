"""A person at a browser, for OAuth tests: follows redirects, signs in through the fake GitHub, answers consent.

It keeps cookies like a browser and stops at the client's loopback redirect URI, returning the
authorization response there instead of requesting it (nothing listens on that port).
"""
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx2 as httpx


class _Forms(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({"id": attrs.get("id"), "action": attrs.get("action") or "", "fields": {},
                               "buttons": {}})
        elif self.forms and tag == "input" and attrs.get("name"):
            self.forms[-1]["fields"][attrs["name"]] = attrs.get("value") or ""
        elif self.forms and tag == "button" and attrs.get("name"):
            self.forms[-1]["buttons"][attrs["name"]] = attrs.get("value") or ""


def forms(html: str) -> list[dict]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


class Browser:
    def __init__(self, callback_prefix: str):
        self.http = httpx.Client(timeout=10)
        self.callback_prefix = callback_prefix
        self.consent_pages = []  # every consent page shown, as (response, form)

    def _follow(self, response):
        while response.is_redirect:
            location = urljoin(str(response.url), response.headers["location"])
            if location.startswith(self.callback_prefix):
                return location
            response = self.http.get(location)
        return response

    def authorize(self, url: str, *, allow=True) -> dict:
        """Open an authorization URL and go through sign-in and consent; the query the client gets back."""
        result = self._follow(self.http.get(url))
        while not isinstance(result, str):
            page = forms(result.text)
            consent = next((form for form in page if form["id"] == "authorizationForm"), None)
            if consent is not None:
                self.consent_pages.append((result, consent))
                data = {**consent["fields"], **(consent["buttons"] if allow else {})}
            elif result.url.path == "/login/" and page:
                consent, data = page[-1], page[-1]["fields"]  # "Sign in with GitHub"
            else:
                raise AssertionError(f"stuck at {result.url} ({result.status_code}): {result.text[:300]}")
            action = urljoin(str(result.url), consent["action"] or str(result.url))
            result = self._follow(self.http.post(action, data=data, headers={"referer": str(result.url)}))
        return {key: values[0] for key, values in parse_qs(urlsplit(result).query).items()}
