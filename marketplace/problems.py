"""Problems found while reading a marketplace: a severity, a stable code, a message, a location.

Codes are a public contract (the JSON of `sync_marketplace --json` and `validate_marketplace`),
so they never change once published; messages follow `claude plugin validate` where it has one.
"""
from dataclasses import asdict, dataclass

ERROR = "error"
WARNING = "warning"
INFO = "info"


@dataclass(frozen=True)
class Problem:
    severity: str
    code: str
    message: str
    location: str = ""

    def as_dict(self):
        return asdict(self)


def describe(problem: dict) -> str:
    """One line for terminals: severity, code, message and, when known, where."""
    where = f" [{problem['location']}]" if problem.get("location") else ""
    return f"{problem['severity']:7} {problem['code']}: {problem['message']}{where}"


class Problems(list):
    """A list of Problem with shorthands; `fatal` marks a catalogue that cannot be read at all."""

    def error(self, code, message, location=""):
        self.append(Problem(ERROR, code, message, location))

    def warning(self, code, message, location=""):
        self.append(Problem(WARNING, code, message, location))

    def info(self, code, message, location=""):
        self.append(Problem(INFO, code, message, location))

    @property
    def has_errors(self):
        return any(p.severity == ERROR for p in self)


class CatalogError(Exception):
    """The catalogue cannot be read at all: nothing is loaded and the last good one is kept."""

    def __init__(self, code, message, location=""):
        super().__init__(message)
        self.problem = Problem(ERROR, code, message, location)
