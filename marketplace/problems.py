"""Problems found while reading a marketplace: a severity, a stable code, a message, a location.

Codes are a public contract (the JSON of `sync_marketplace --json` and `validate_marketplace`),
so they never change once published; messages follow `claude plugin validate` where it has one.
"""
from dataclasses import dataclass

ERROR = "error"
WARNING = "warning"
INFO = "info"
TRUNCATED = "problems-truncated"


@dataclass(frozen=True)
class Problem:
    severity: str
    code: str
    message: str
    location: str = ""
    # For admins only: what members must not read, such as git's account of a network failure,
    # which tells what listens at an address. Only admin pages, the admins' API and commands show it.
    detail: str = ""

    def as_dict(self):
        found = {"severity": self.severity, "code": self.code, "message": self.message, "location": self.location}
        return {**found, "detail": self.detail} if self.detail else found


def describe(problem: dict) -> str:
    """One line for terminals (admins): severity, code, message, the detail and, when known, where.

    Messages quote repository text, so control characters are shown escaped: an escape sequence in
    a plugin name must not rewrite the admin's terminal (or hide the line it is on)."""
    where = f" [{problem['location']}]" if problem.get("location") else ""
    detail = f" ({problem['detail']})" if problem.get("detail") else ""
    return printable(f"{problem['severity']:7} {problem['code']}: {problem['message']}{detail}{where}")


def printable(text: str) -> str:
    """`text` with each character that is not printable (line breaks, escape sequences) written as its escape."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


class Problems(list):
    """A list of Problem with shorthands, holding at most MOST_OF_A_CODE of each code.

    A repository decides how many problems it makes: one entry of 100,000 made-up keys made as many
    warnings, all held in the worker's memory before a page could list 200 of them. Past the
    limit a code's problems are only counted, in one `problems-truncated` note that keeps its place.
    Each code's first problems stay, so whether a code (or an error) was found is never lost.
    """

    MOST_OF_A_CODE = 100  # half of what a plugin or skill stores (sync.MAX_ROW_PROBLEMS): room for other codes

    def __init__(self, *args):
        super().__init__(*args)
        self._seen = {}  # code -> how many were found
        self._notes = {}  # code -> index of its `problems-truncated` note

    def append(self, problem: Problem):
        seen = self._seen[problem.code] = self._seen.get(problem.code, 0) + 1
        if seen <= self.MOST_OF_A_CODE:
            return super().append(problem)
        # The note names where the first problem left out was, so two plugins' notes stay two.
        at = self._notes.setdefault(problem.code, len(self))
        where = self[at].location if at < len(self) else problem.location
        note = Problem(INFO, TRUNCATED, f"{seen - self.MOST_OF_A_CODE} more '{problem.code}' problems not listed", where)
        if at < len(self):
            self[at] = note
        else:
            super().append(note)

    def error(self, code, message, location="", detail=""):
        self.append(Problem(ERROR, code, message, location, detail))

    def warning(self, code, message, location=""):
        self.append(Problem(WARNING, code, message, location))

    def info(self, code, message, location=""):
        self.append(Problem(INFO, code, message, location))

    @property
    def has_errors(self):
        return any(p.severity == ERROR for p in self)


class CatalogError(Exception):
    """The catalogue cannot be read at all: nothing is loaded and the last good one is kept."""

    def __init__(self, code, message, location="", detail=""):
        super().__init__(message)
        self.problem = Problem(ERROR, code, message, location, detail)


SEVERITY_ORDER = {ERROR: 0, WARNING: 1, INFO: 2}


def in_order(problems: list[dict]) -> list[dict]:
    """Problems as commands print them: most severe first, each failure once (a plugin listed by
    two entries, or a file reached by two paths, must not be reported twice)."""
    unique = {(p["severity"], p["code"], p["message"], p.get("location", "")): p for p in problems}
    return sorted(unique.values(), key=lambda p: SEVERITY_ORDER.get(p["severity"], len(SEVERITY_ORDER)))
