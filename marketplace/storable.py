"""What PostgreSQL can store of what a repository holds: text without NUL or lone surrogates,
numbers JSON can write, and values no longer than their columns. The sync passes every row it builds through here."""
import math
import re

# PostgreSQL text and JSON hold no NUL, and UTF-8 has no lone surrogates, which JSON's "\ud800"
# escapes produce. Values nest at most MAX_NESTING deep (skillmd.py), so `clean` may recurse.
UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def clean(value):
    """(value with each unstorable character replaced by U+FFFD, whether there was one), through
    the keys and values of dicts and the items of lists."""
    if isinstance(value, str):
        if value.isascii() and "\x00" not in value:
            # ASCII holds no surrogates, and CPython knows a string is ASCII without reading it: searching
            # the values of 2,000 skills (their bodies, twice) took 117 ms, this 22 ms.
            return value, False
        cleaned, count = UNSTORABLE.subn(REPLACEMENT, value)
        return cleaned, count > 0
    if isinstance(value, dict):
        pairs = [(clean(key), clean(item)) for key, item in value.items()]
        return {key: item for (key, _), (item, _) in pairs}, any(a or b for (_, a), (_, b) in pairs)
    if isinstance(value, list):
        items = [clean(item) for item in value]
        return [item for item, _ in items], any(changed for _, changed in items)
    return value, False


def number(value: int | float) -> int | float | str:
    """A number read from a repository's JSON or YAML, as Claude Code (JavaScript) holds it and JSON can store it:
    past the largest double JavaScript reads Infinity, and JSON has no word for that or for NaN, so each is kept as
    the text JavaScript writes it as ("Infinity", "-Infinity", "NaN")."""
    try:
        as_double = float(value)
    except OverflowError:  # an int past the largest double
        as_double = math.inf if value > 0 else -math.inf
    if math.isnan(as_double):
        return "NaN"
    if math.isinf(as_double):
        return "Infinity" if as_double > 0 else "-Infinity"
    return value


def integer(text: str, base: int = 10) -> int | float | str:
    """`number` of an integer written in `text`. Python refuses to read decimal text past 4,300 digits (the time
    it takes grows with the square of the length); no double holds more than 309 of them."""
    if base == 10 and len(text.lstrip("+-")) > 330:
        return number(float(text))
    return number(int(text, base))


def too_long(model, what: str, **values) -> str:
    """Why the first of `values` (field name=value) is longer than its column, or ""."""
    for name, value in values.items():
        limit = model._meta.get_field(name).max_length
        if len(value) > limit:
            return f"{what} {name} is {len(value)} characters long, over the {limit} Skillport stores"
    return ""
