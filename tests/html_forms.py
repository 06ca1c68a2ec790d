"""A page's forms, read as a browser reads them to send them."""
from html.parser import HTMLParser
from urllib.parse import urlencode


class Forms(HTMLParser):
    """The forms of a page, and what a browser would send from each: {"id", "action", "method", "fields"}, the fields
    as (name, current value) in order."""

    def __init__(self, html):
        super().__init__()
        self.forms, self._form, self._select, self._textarea = [], None, None, None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self._form = {"id": attrs.get("id"), "action": attrs.get("action") or "",
                          "method": (attrs.get("method") or "get").lower(), "fields": []}
            self.forms.append(self._form)
        elif self._form is None or "name" not in attrs and tag != "option" or "disabled" in attrs:
            return
        elif tag == "input" and attrs.get("type") not in ("submit", "button", "file", "image"):
            if attrs.get("type") not in ("checkbox", "radio") or "checked" in attrs:
                self._field(attrs["name"], attrs.get("value", "on" if attrs.get("type") == "checkbox" else ""))
        elif tag == "select":
            self._select = attrs["name"]
        elif tag == "option" and self._select and "selected" in attrs:
            self._field(self._select, attrs.get("value", ""))
        elif tag == "textarea":
            self._textarea = [attrs["name"], ""]

    def _field(self, name, value):
        self._form["fields"].append((name, value))

    def handle_data(self, data):
        if self._textarea:
            self._textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea:
            self._field(self._textarea[0], self._textarea[1].removeprefix("\n"))
            self._textarea = None


def posted_back(client, page, **changes):
    """Post the admin form of `page` back as a browser would, with `changes` (a list for a multiple choice, False to
    leave a box unticked)."""
    [form] = [form for form in Forms(client.get(page).content.decode()).forms if (form["id"] or "").endswith("_form")]
    fields = [(name, value) for name, value in form["fields"] if name not in changes]
    for name, value in changes.items():
        fields += [(name, item) for item in (value if isinstance(value, list) else [value]) if item is not False]
    return client.post(page, urlencode(fields), content_type="application/x-www-form-urlencoded")
