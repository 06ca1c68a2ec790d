"""Reading SKILL.md as leniently as Claude Code does, reporting every repair it had to make.

1. Decode: strip a BOM, accept UTF-16 with a BOM, fall back to cp1252 for non-UTF-8 text.
2. Normalise CRLF to LF.
3. Split the frontmatter (between `---` lines) from the body.
4. Parse YAML safely; refuse aliases (a "billion laughs" needs them, real frontmatter never does)
   and nesting deeper than MAX_NESTING (building it recurses, and libyaml's C code can crash).
5. If the YAML is broken, quote top-level values that hold an unquoted `: ` and try again.
6. If it is still broken, keep the skill with empty metadata, as Claude Code does.
"""
import datetime
import re
from dataclasses import dataclass, field

import yaml

MAX_FRONTMATTER_CHARS = 64 * 1024
# Levels of lists and mappings read from a repository's YAML or JSON; real files use a handful.
MAX_NESTING = 64
# libyaml's loader is about 15 times faster than the pure-Python one, and just as safe.
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# The value, from its first character that is not white space to its last. (Its end found by a lazy
# match instead, each character tried it again against the rest of the line: 64 KB of spaces, 14 s.)
TOP_LEVEL_KEY = re.compile(r"^([A-Za-z0-9_-]+):[ \t]+(\S(?:.*\S)?)\s*$")


@dataclass
class SkillMd:
    frontmatter: dict = field(default_factory=dict)
    frontmatter_raw: str = ""
    body: str = ""
    has_frontmatter: bool = False
    frontmatter_ok: bool = True  # False when the YAML could not be read at all
    repairs: list = field(default_factory=list)  # (code, message) pairs, one per repair


def decode(raw: bytes) -> tuple[str, list]:
    """Text from bytes, with a (code, message) note for each thing that was not plain UTF-8."""
    notes = []
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        notes.append(("text-utf16", "file is UTF-16; read as UTF-16"))
        return raw.decode("utf-16", "replace"), notes
    if raw.startswith(b"\xef\xbb\xbf"):
        notes.append(("text-bom", "file starts with a byte-order mark; it was removed"))
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        notes.append(("text-not-utf8", f"file is not valid UTF-8 (byte {exc.start}); read as cp1252"))
        text = raw.decode("cp1252", "replace")
    return text, notes


def parse(raw: bytes) -> SkillMd:
    text, repairs = decode(raw)
    if "\r" in text:
        repairs.append(("text-crlf", "file uses CRLF line endings; read as LF"))
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    result = SkillMd(repairs=repairs, body=text)
    lines = text.split("\n")
    if not lines or lines[0].rstrip() != "---":
        return result
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].rstrip() in ("---", "..."))
    except StopIteration:
        repairs.append(("frontmatter-unterminated", "frontmatter has no closing '---'; read as body"))
        return result
    result.has_frontmatter = True
    result.frontmatter_raw = "\n".join(lines[1:end])
    result.body = "\n".join(lines[end + 1:]).lstrip("\n")
    result.frontmatter, result.frontmatter_ok = _load_yaml(result.frontmatter_raw, repairs)
    return result


def _load_yaml(source: str, repairs: list) -> tuple[dict, bool]:
    if len(source) > MAX_FRONTMATTER_CHARS:
        repairs.append(("frontmatter-too-large",
                        f"frontmatter is over {MAX_FRONTMATTER_CHARS} characters; metadata ignored"))
        return {}, False
    try:
        data = _safe_load(source)
    except _Refused as refused:
        repairs.append(refused.args)
        return {}, False
    except yaml.YAMLError as exc:
        fixed = _quote_colon_values(source)
        try:
            data = _safe_load(fixed) if fixed != source else None
        except (yaml.YAMLError, _Refused):
            data = None
        if data is None:
            where = getattr(exc, "problem_mark", None)
            at = f" (line {where.line + 2})" if where else ""
            repairs.append(("frontmatter-invalid",
                            f"frontmatter is not valid YAML{at}; metadata ignored, as Claude Code does"))
            return {}, False
        repairs.append(("frontmatter-repaired",
                        "frontmatter had an unquoted ': ' inside a value; it was quoted to read it"))
    if data is None:
        return {}, True
    if not isinstance(data, dict):
        repairs.append(("frontmatter-not-mapping", "frontmatter is not a mapping of keys; metadata ignored"))
        return {}, False
    return _jsonable(data), True


class _Refused(Exception):
    """YAML that is not built at all; its args are the (code, message) repair to report."""


# What YAML needs to be refused: an alias is written with '*', and every list or mapping opens with one
# of these ('[' or '{', a block list's '-', a mapping key's ':' or '?'), so none nests deeper than they occur.
ALIAS, OPENERS = "*", "[{-:?"


def _safe_load(source: str):
    # Parsing into events is iterative and cheaper than building the document, but not free (parsing
    # 2,000 bench SKILL.md files took 119 ms with it, 89 ms without): frontmatter too plain to refuse
    # is not walked.
    if ALIAS in source or sum(map(source.count, OPENERS)) > MAX_NESTING:
        _refuse_aliases_and_depth(source)
    return yaml.load(source, Loader=LOADER)  # noqa: S506 (a safe loader)


TOO_DEEP = ("frontmatter-too-deep",
            f"frontmatter nests lists or mappings more than {MAX_NESTING} levels deep; metadata ignored")
# libyaml's own limit (1,000 levels, in PyYAML's wheels since 6.0.4). Its scanner reads a run of
# '[' or '{' ahead of the parser, so it stops there before the parser hands over the 65th level.
LIBYAML_TOO_DEEP = "exceeded maximum nesting depth"


def _refuse_aliases_and_depth(source: str):
    depth = 0
    try:
        for event in yaml.parse(source, Loader=LOADER):
            if isinstance(event, yaml.AliasEvent):
                raise _Refused("frontmatter-yaml-alias",
                               "frontmatter uses YAML aliases, which are not expanded; metadata ignored")
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_NESTING:
                    raise _Refused(*TOO_DEEP)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.MarkedYAMLError as error:
        if error.problem == LIBYAML_TOO_DEEP:
            raise _Refused(*TOO_DEEP) from error
        raise


def _quote_colon_values(source: str) -> str:
    """Quote top-level scalar values that contain ': ' (the most common frontmatter breakage)."""
    out = []
    for line in source.split("\n"):
        match = TOP_LEVEL_KEY.match(line)
        value = match.group(2) if match else ""
        if match and ": " in value and value[0] not in "'\"[{|>&*!":
            line = f"{match.group(1)}: '{value.replace(chr(39), chr(39) * 2)}'"
        out.append(line)
    return "\n".join(out)


def _jsonable(value):
    """YAML can yield dates and non-string keys; the database stores JSON."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def refused_fields(frontmatter: dict) -> list[tuple[str, str]]:
    """(field, why) for each field of a frontmatter (a SKILL.md's, a command's, an agent's) of a type
    `claude plugin validate` (2.1.332) refuses. Claude Code's loader is lenient (FORMAT.md §4): what it
    refuses still installs, and a description that is a list or an object is dropped."""
    refused = []
    name, description = frontmatter.get("name"), frontmatter.get("description")
    if name is not None and not isinstance(name, str):
        refused.append(("name", f"must be a string, not {kind_of(name)}; claude plugin validate refuses it"))
    if isinstance(description, (list, dict)):  # a number or true is read as text
        refused.append(("description", f"must be a string, not {kind_of(description)}; Claude Code drops it "
                                       "and claude plugin validate refuses it"))
    tools = frontmatter.get("allowed-tools")
    if tools is not None and not isinstance(tools, str) and not (
            isinstance(tools, list) and all(isinstance(tool, str) for tool in tools)):
        what = "a list holding other than strings" if isinstance(tools, list) else kind_of(tools)
        refused.append(("allowed-tools", f"must be a string or a list of strings, not {what}; "
                                         "claude plugin validate refuses it"))
    return refused


def kind_of(value) -> str:
    """A JSON value's type as Claude Code's messages name it: "an object", "a list", "a number"..."""
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def first_paragraph(body: str) -> str:
    """What Claude Code uses as the description when the frontmatter has none."""
    paragraph = []
    for line in body.split("\n"):
        stripped = line.strip()
        if not stripped:
            if paragraph:
                break
            continue
        if stripped.startswith("#") and not paragraph:
            continue  # a heading is a title, not a description
        paragraph.append(stripped)
    return " ".join(paragraph)[:1024]
