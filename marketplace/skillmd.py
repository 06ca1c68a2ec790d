"""Reading SKILL.md as leniently as Claude Code does, reporting every repair it had to make.

1. Decode: strip a BOM, accept UTF-16 with a BOM, fall back to cp1252 for non-UTF-8 text.
2. Normalise CRLF to LF.
3. Split the frontmatter (between `---` lines) from the body.
4. Parse YAML safely, by YAML 1.2's core schema as Claude Code does (CoreLoader); refuse aliases (a "billion laughs" needs them, real frontmatter never does)
   and nesting deeper than MAX_NESTING (building it recurses, and libyaml's C code can crash).
5. If the YAML is broken, mend it as Claude Code does (quote top-level values that hold YAML's syntax or an
   unquoted `: `, make indenting tabs spaces) and try again.
6. If it is still broken, keep the skill with empty metadata, as Claude Code does.
"""
import datetime
import json
import re
from dataclasses import dataclass, field

import yaml

from . import storable

MAX_FRONTMATTER_CHARS = 64 * 1024
# Levels of lists and mappings read from a repository's YAML or JSON; real files use a handful.
MAX_NESTING = 64
# What may run a skill's or a command's inline commands (its `shell`), in any case and spacing.
SHELLS = ("bash", "powershell")


class CoreLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """YAML 1.2's core schema, which Claude Code's parser reads frontmatter by, where PyYAML's resolvers are YAML
    1.1's: `no`, `on` and `1:20` stay text, as do dates and a lone `=` or `<<` (PyYAML cannot build those two at
    all); `0o17` and `1e3` are numbers. Numbers are held as JavaScript holds them (storable.number). libyaml's
    loader (the C base when PyYAML has it) is about 15 times faster than the pure-Python one, and just as safe."""

    yaml_implicit_resolvers = {}
    bool_values = {"true": True, "false": False}

    def __init__(self, stream):
        super().__init__(stream)
        self.passed_over = []  # the tags construct_unknown passed over, as written

    def construct_unknown(self, node):
        """A value of a tag the core schema does not know (`!important`, `!!foo`, `!!binary`), or cannot be
        (`!!int abc`): Claude Code's parser passes over the tag, so a scalar is its text as written (`!x null` is
        "null"), a list or mapping itself."""
        self.passed_over.append(node.tag)
        if isinstance(node, yaml.ScalarNode):
            return self.construct_scalar(node)
        if isinstance(node, yaml.SequenceNode):
            return self.construct_sequence(node, deep=True)
        return self.construct_mapping(node, deep=True)

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep)
        except (ValueError, KeyError, AttributeError, TypeError) as error:
            if isinstance(node, yaml.ScalarNode):  # tagged as what it cannot be (`!!int abc`): the tag is passed over
                self.recursive_objects.pop(node, None)
                return self.construct_unknown(node)
            raise yaml.constructor.ConstructorError(  # a YAML error, not a crash
                None, None, f"cannot read a {node.tag} from {error}", node.start_mark) from error

    def construct_core_int(self, node):
        text = self.construct_scalar(node)
        if not CORE_INT.match(text):  # reached by an explicit !!int tag
            raise ValueError(text[:60])
        sign, digits = (text[0], text[1:]) if text[:1] in "+-" else ("", text)
        base = {"0o": 8, "0x": 16}.get(digits[:2], 10)
        return storable.integer(sign + (digits[2:] if base != 10 else digits), base)

    def construct_core_float(self, node):
        text = self.construct_scalar(node).lower()
        special = {".inf": "inf", "+.inf": "inf", "-.inf": "-inf", ".nan": "nan"}
        return storable.number(float(special.get(text, text)))


# The core schema's plain scalars that are not text (YAML 1.2.2, 10.3.2), each with the characters it may start with.
CORE_SCALARS = {
    "bool": (r"true|True|TRUE|false|False|FALSE", "tTfF"),
    "int": (r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+", "-+0123456789"),
    "float": (r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
              "-+.0123456789"),
    "null": (r"~|null|Null|NULL|", ["~", "n", "N", ""]),
}
for tag, (pattern, first) in CORE_SCALARS.items():
    CoreLoader.add_implicit_resolver(f"tag:yaml.org,2002:{tag}", re.compile(rf"^(?:{pattern})$"), list(first))
CORE_INT = re.compile(rf"^(?:{CORE_SCALARS['int'][0]})$")
CoreLoader.add_constructor("tag:yaml.org,2002:int", CoreLoader.construct_core_int)
CoreLoader.add_constructor("tag:yaml.org,2002:float", CoreLoader.construct_core_float)
for tag in (None, *(f"tag:yaml.org,2002:{name}" for name in ("binary", "timestamp", "omap", "pairs", "set"))):
    CoreLoader.add_constructor(tag, CoreLoader.construct_unknown)  # YAML 1.1's types, none of the core schema

# Claude Code's repair of frontmatter that is not valid YAML: the lines it may quote (a key of letters, '_' and '-',
# and a value without CR, U+2028 or U+2029, where JavaScript's `.` stops), and what in a value makes it quote one.
QUOTABLE_LINE = re.compile(r"^([A-Za-z_-]+):\s+(\S[^\r\u2028\u2029]*)$")
YAML_SYNTAX = re.compile(r"[{}\[\]*&#!|>%@`]|: ")


UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
UTF16 = ("file is UTF-16, which Claude Code does not read as text: it finds no frontmatter, so the skill has its "
         "folder's name and no description; save it as UTF-8")


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
    if raw.startswith(UTF16_BOMS):
        notes.append(("text-utf16", UTF16))
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
    result = SkillMd(repairs=repairs, body=_lf(text))
    # Claude Code reads UTF-8 alone, so in UTF-16 it finds no frontmatter; the body is still shown here as written.
    if ("text-utf16", UTF16) in repairs:
        return result
    # Claude Code looks for the frontmatter between lines split at LF, and reads it with their CRs.
    lines = text.split("\n")
    if lines[0].rstrip() != "---":
        return result
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].rstrip() in ("---", "..."))
    except StopIteration:
        repairs.append(("frontmatter-unterminated", "frontmatter has no closing '---'; read as body"))
        return result
    result.has_frontmatter = True
    source = "\n".join(lines[1:end])
    result.frontmatter_raw = _lf(source)
    result.body = _lf("\n".join(lines[end + 1:])).lstrip("\n")
    result.frontmatter, result.frontmatter_ok = _load_yaml(source, repairs)
    return result


def _lf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _load_yaml(source: str, repairs: list) -> tuple[dict, bool]:
    if len(source) > MAX_FRONTMATTER_CHARS:
        repairs.append(("frontmatter-too-large",
                        f"frontmatter is over {MAX_FRONTMATTER_CHARS} characters; metadata ignored"))
        return {}, False
    try:
        data, passed_over = _safe_load(source)
    except _Refused as refused:
        repairs.append(refused.args)
        return {}, False
    except yaml.YAMLError as exc:
        fixed, quoted = _as_claude_code_repairs(source)
        try:
            data, passed_over = _safe_load(fixed) if fixed != source else (None, [])
        except (yaml.YAMLError, _Refused):
            data = None
        if data is None:
            where = getattr(exc, "problem_mark", None)
            at = f" (line {where.line + 2})" if where else ""
            crlf = "\r" in source and _as_claude_code_repairs(_lf(source))[1]
            repairs.append(("frontmatter-invalid", f"frontmatter is not valid YAML{at}; metadata ignored, as Claude "
                            "Code does" + ("; Claude Code quotes a value holding YAML's syntax only on a line that ends "
                                           "in LF alone: quote it, or save the file with LF line endings" if crlf else "")))
            return {}, False
        repairs.append(("frontmatter-repaired", "frontmatter is not valid YAML as written; as Claude Code does, "
                        + _repaired(quoted)))
    if passed_over:
        tags = ", ".join(dict.fromkeys(tag.replace("tag:yaml.org,2002:", "!!", 1)[:60] for tag in passed_over[:20]))
        repairs.append(("frontmatter-tag-ignored", f"frontmatter holds {tags}, read as YAML tags, which Claude Code "
                        "passes over (`description: !Use this` is read as 'this'): quote a value whose '!' is meant"))
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


# Line breaks to YAML 1.1 (libyaml) and characters like any other to YAML 1.2 (Claude Code).
YAML_1_1_BREAKS = "\x85\u2028\u2029"
PRIVATE_USE = (range(0xE000, 0xF900), range(0xF0000, 0xFFFFE), range(0x100000, 0x10FFFE))


def _safe_load(source: str):
    source, stand_ins = _characters_for_breaks(source)
    # Parsing into events is iterative and cheaper than building the document, but not free (parsing
    # 2,000 bench SKILL.md files took 119 ms with it, 89 ms without): frontmatter too plain to refuse
    # is not walked.
    if ALIAS in source or sum(map(source.count, OPENERS)) > MAX_NESTING:
        _refuse_aliases_and_depth(source)
    loader = CoreLoader(source)  # a safe loader
    try:
        data = loader.get_single_data()
    finally:
        loader.dispose()
    if stand_ins:
        data = _restored(data, {ord(stand_in): brk for brk, stand_in in stand_ins.items()})
    return data, loader.passed_over


def _characters_for_breaks(source: str) -> tuple[str, dict]:
    """`source` with each of YAML_1_1_BREAKS it holds replaced by a private-use character it does not hold."""
    breaks = [brk for brk in YAML_1_1_BREAKS if brk in source]
    if not breaks:
        return source, {}
    held = set(source)
    # 137,468 private-use characters (the BMP's and planes 15 and 16): more than frontmatter may hold
    # (MAX_FRONTMATTER_CHARS), so one is always free.
    free = (chr(point) for plane in PRIVATE_USE for point in plane if chr(point) not in held)
    stand_ins = {brk: next(free) for brk in breaks}
    return source.translate({ord(brk): stand_in for brk, stand_in in stand_ins.items()}), stand_ins


def _restored(value, table: dict):
    """`value` read from YAML with the characters `_characters_for_breaks` replaced put back."""
    if isinstance(value, str):
        return value.translate(table)
    if isinstance(value, dict):
        return {_restored(key, table): _restored(item, table) for key, item in value.items()}
    if isinstance(value, list):
        return [_restored(item, table) for item in value]
    return value


TOO_DEEP = ("frontmatter-too-deep",
            f"frontmatter nests lists or mappings more than {MAX_NESTING} levels deep; metadata ignored")
# libyaml's own limit (1,000 levels, in PyYAML's wheels since 6.0.4). Its scanner reads a run of
# '[' or '{' ahead of the parser, so it stops there before the parser hands over the 65th level.
LIBYAML_TOO_DEEP = "exceeded maximum nesting depth"


def _refuse_aliases_and_depth(source: str):
    depth, anchors = 0, set()
    try:
        for event in yaml.parse(source, Loader=CoreLoader):
            if isinstance(event, yaml.AliasEvent) and event.anchor not in anchors:
                # Not YAML (a value such as *.py): Claude Code reads it again quoted, as any other error.
                raise yaml.MarkedYAMLError(problem="found undefined alias", problem_mark=event.start_mark)
            if isinstance(event, yaml.AliasEvent):
                raise _Refused("frontmatter-yaml-alias",
                               "frontmatter uses YAML aliases, which are not expanded; metadata ignored")
            if getattr(event, "anchor", None) is not None:
                anchors.add(event.anchor)
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


def _as_claude_code_repairs(source: str) -> tuple[str, list[str]]:
    """Frontmatter that is not valid YAML, mended as Claude Code (2.1.332) mends it before reading it again, and the
    keys whose values were quoted. Each top-level `key: value` whose value is not quoted already, and is no list
    written in brackets, is quoted where it holds a character YAML reads as syntax or ': ' (a description that
    opens with `@` or a backtick, or says "use: this"); tabs that indent a line become two spaces each."""
    out, quoted = [], []
    for line in source.split("\n"):
        match = QUOTABLE_LINE.match(line)
        value = match.group(2) if match else ""
        if match and not (len(value) > 1 and value[0] == value[-1] and value[0] in "'\"") and not _bracketed_list(
                value) and YAML_SYNTAX.search(value):
            line = f'{match.group(1)}: "{value.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
            quoted.append(match.group(1))
        out.append(re.sub(r"^\t+", lambda tabs: "  " * len(tabs.group()), line))
    return "\n".join(out), quoted


def _repaired(quoted: list[str]) -> str:
    """What `_as_claude_code_repairs` did, and what the author should do instead."""
    if not quoted:
        return "the tabs that indent it were read as two spaces each: indent with spaces"
    if len(quoted) == 1:
        return f"the value of {quoted[0]} was quoted to read it: quote it yourself"
    keys = ", ".join(quoted[:5]) + (f" and {len(quoted) - 5} more" if len(quoted) > 5 else "")
    return f"the values of {keys} were quoted to read them: quote them yourself"


def _bracketed_list(value: str) -> bool:
    if not (value.startswith("[") and value.endswith("]")):
        return False
    try:
        return isinstance(_safe_load(value)[0], list)
    except (yaml.YAMLError, _Refused):
        return False


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


def refused_fields(frontmatter: dict, agent=False) -> list[tuple[str, str]]:
    """(field, why) for each field of a frontmatter (a SKILL.md's, a command's, an `agent`'s) of a type
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
    shell = frontmatter.get("shell")  # what runs a skill's or command's inline commands; an agent has none
    if shell is not None and not agent and not (isinstance(shell, str) and shell.strip().lower() in SHELLS):
        refused.append(("shell", f"must be {' or '.join(SHELLS)}, not "
                                 f"{json.dumps(shell)[:60] if isinstance(shell, str) else kind_of(shell)}; "
                                 "claude plugin validate refuses it"))
    return refused


def kind_of(value) -> str:
    """A JSON value's type as Claude Code's messages name it: "an object", "a list", "a number"..."""
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


NO_DESCRIPTION = "its frontmatter has no description"


def not_offered(frontmatter: dict) -> str:
    """Why Claude Code (2.1.332) does not offer a plugin's skill to Claude, which then runs only when someone types
    its command, or "": without a description (text that is not blank, a number or a boolean) or a `when_to_use`,
    or when `disable-model-invocation` says so (as Claude Code reads a yes: true, 1, "yes" or "on")."""
    if _yes(frontmatter.get("disable-model-invocation")):
        return "its disable-model-invocation says so"
    description, when = frontmatter.get("description"), frontmatter.get("when_to_use")
    if isinstance(description, str) and description.strip() or isinstance(description, (int, float)):
        return ""  # bool is an int
    if when is not None and when != "" and when != []:  # JavaScript's String() of it is not empty
        return ""
    return NO_DESCRIPTION


# What Claude Code (2.1.332) offers Claude of each skill, at most (`skillListingMaxDescChars`, 1,536 unless a user's
# settings raise it): its description, and " - " and its when_to_use where it has one, cut to one character
# less and "…".
LISTING_CHARS = 1536
# Line breaks and other control characters: Claude Code writes each run of them as one space.
_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def listing_length(description: str, frontmatter: dict) -> int:
    """How long Claude Code counts what it offers Claude of an offered skill (`description` as Skillport shows it):
    in JavaScript's characters (UTF-16 code units), `<` and `>` escaped as `&lt;` and `&gt;`."""
    when = javascript_text(frontmatter.get("when_to_use"))
    text = f"{description} - {when}" if when else description
    text = _BREAKS.sub(" ", text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2 + 3 * (text.count("<") + text.count(">"))


def typed_by_people(frontmatter: dict) -> bool:
    """Whether a person may run the skill by typing its command: unless its `user-invocable` is there and does not
    read as yes (null and "maybe" do not, as Claude Code reads them)."""
    return "user-invocable" not in frontmatter or _yes(frontmatter["user-invocable"])


def _yes(value) -> bool:
    if isinstance(value, bool):
        return value
    return isinstance(value, (str, int, float)) and javascript_text(value).strip().lower() in ("1", "true", "yes", "on")


def javascript_text(value) -> str:
    """`String(value)` in JavaScript, for what YAML gives: `1e3` is 1000 there, not 1000.0, and a list its items'
    text joined by commas (a null item as nothing)."""
    if value is None:
        return ""
    if isinstance(value, list):
        return ",".join(javascript_text(item) for item in value)
    if isinstance(value, dict):
        return "[object Object]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return str(value)


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
