"""The fields of a plugin that only Claude Code uses (2.1.332), checked as `claude plugin validate` checks them.

`engines` says which Claude Code versions a plugin needs; an entry's `relevance` says when Claude Code
should suggest the plugin; an entry's `headers` and `headersHelper` are sent when its archive is
downloaded; `experimental` holds components and fields still being tried; `dependencies` and
`optionalDependencies` name the plugins a plugin needs or can use. A catalogue Claude Code refuses must not
sync as valid; beyond that, Skillport reads the dependencies (dependencies.py) and shows the versions of
Claude Code a plugin needs (install.claude_code_needed).
Each check returns what Claude Code refuses, as "field: why" sentences; `ignored` says which fields
Claude Code will pass over for being of the wrong kind altogether, as its validator warns.
"""
import json
import re
import unicodedata

import nodesemver

from . import spoofing
from .skillmd import kind_of

# A plugin named in `dependencies`, as "name" or "name@marketplace" or in an object's name and marketplace.
DEPENDENCY_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]*"
DEPENDENCY = re.compile(rf"{DEPENDENCY_NAME}(@{DEPENDENCY_NAME})?")
# The longest version range judged (characters, once spaces are collapsed): 20,000 `||` alternatives take a second.
MAX_RANGE = 1024
# relevance.signals: each matcher list's most items and longest item, as Claude Code's schema has them.
SIGNALS = {"cli": (10, 64), "hosts": (20, 128), "filesRead": (10, 256), "cwd": (10, 256), "manifestDeps": (10, 256)}
MAX_TOPIC_CHARS = 64
# userConfig: an option's name (it becomes an environment variable), its fields with the types each takes (in
# words), its types, and the longest value `options` may offer.
OPTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
OPTION_FIELDS = {
    "type": ((str,), "a type"), "title": ((str,), "a string, the label Claude Code shows"),
    "description": ((str,), "a string, the help Claude Code shows beneath it"), "required": ((bool,), "true or false"),
    "default": ((str, int, float, bool, list), "a string, a number, true or false, or a list of strings"),
    "multiple": ((bool,), "true or false"), "sensitive": ((bool,), "true or false"), "min": ((int, float), "a number"),
    "max": ((int, float), "a number"), "options": ((list,), "a list of strings"),
}
OPTION_TYPES = ("string", "number", "boolean", "directory", "file")
MAX_CHOICE = 64
# What JavaScript's trim() takes off either end of a string.
JS_WHITESPACE = "\t\n\v\f\r \u00a0\u1680\u2028\u2029\u202f\u205f\u3000\ufeff" + "".join(map(chr, range(0x2000, 0x200B)))
CHANNEL_FIELDS = {"server", "displayName", "userConfig"}


# Fields Claude Code ignores unless they are objects, and where its validator says so.
OBJECTS = {"engines": ("entry", "manifest"), "network": ("entry", "manifest"), "experimental": ("entry", "manifest"),
           "binaries": ("manifest",), "metadata": ("entry",), "relevance": ("entry",)}


# A plugin's languages to highlight (experimental.syntaxHighlighting.hljsLanguages): how many, and each field's
# pattern, longest length and what it must be, in words.
LANGUAGES = 16
LANGUAGE_FIELDS = {
    "id": (r"[a-z][a-z0-9_-]*", 64, "a lower-case name of letters, digits, '_' and '-' (such as \"zig\")"),
    "remote": (r"(npm:[@a-z0-9/._-]+(@[a-z0-9._+-]+)?|github:[\w.-]+/[\w.-]+@[\w./-]+#.+\.js)", 256,
               "npm:<package>[@<version>] or github:<owner>/<repo>@<ref>#<path>.js"),
    "integrity": (r"sha(256|384|512)-[A-Za-z0-9+/=]+", 512, "a digest in SRI form: sha256-, sha384- or sha512-<base64>"),
}


def ignored(data: dict, entry: bool) -> list[str]:
    """The fields of `data` (an entry, or else a plugin.json) that Claude Code ignores for not being objects."""
    fields = [key for key, where in OBJECTS.items() if key in data and ("entry" if entry else "manifest") in where]
    wrong = [key for key in fields if not isinstance(data[key], dict)]
    network = data.get("network")
    if isinstance(network, dict) and not isinstance(network.get("hosts"), list) and "network" not in wrong:
        wrong.append("network")
    example = {"network": ' such as {"hosts": ["api.example.com"]}', "engines": ' such as {"claude-code": ">=2.1.0"}'}
    said = [f"{key}: Expected an object{example.get(key, '')}; Claude Code ignores it as it is" for key in wrong]
    optional = data.get("optionalDependencies")
    if "optionalDependencies" in data and not isinstance(optional, list):
        said.append("optionalDependencies: Expected a list of plugin names; Claude Code ignores it as it is")
    elif "optionalDependencies" in data:
        required = set(dependency_names(data.get("dependencies")))
        said += [f'optionalDependencies[{index}]: Expected "name", "name@marketplace" or an object with a name; '
                 "Claude Code ignores it" if not _names_a_plugin(item) else
                 f"optionalDependencies[{index}]: {_named(item)!r} is also in 'dependencies', so it is required; "
                 "list it once" for index, item in enumerate(optional)
                 if not _names_a_plugin(item) or _named(item) in required]
    return said


def user_config(value, label="userConfig", named=True) -> list[str]:
    """What Claude Code refuses in the options a plugin asks its user for (`userConfig`, an object: manifest checks
    that), or a channel asks for (`named` False: a channel's options may be named anything)."""
    if not isinstance(value, dict):
        return []
    refused = []
    for key, option in value.items():
        if named and not OPTION_NAME.fullmatch(key):
            refused.append(f"{label}.{key[:60]}: An option's name must be letters, digits and '_', not starting with a "
                           "digit: Claude Code passes it to hooks as an environment variable")
        elif why := _option(option):
            refused.append(f"{label}.{key[:60]}{why}")
    return refused


def _option(option) -> str:
    """Why Claude Code refuses one option of a userConfig, or "": its own fields alone, each of its type, then
    what `options` (the values a string may take) asks of the rest."""
    if not isinstance(option, dict):
        return f": Expected an object with a type, title and description, received {kind_of(option)}"
    if unknown := sorted(option.keys() - OPTION_FIELDS.keys()):
        return f": Unrecognized key {json.dumps(unknown[0][:60])} (an option holds {', '.join(OPTION_FIELDS)})"
    if option.get("type") not in OPTION_TYPES:
        return f".type: Required, one of {', '.join(OPTION_TYPES)}"
    for field, (kinds, said) in OPTION_FIELDS.items():
        if (field in option or field in ("title", "description")) and not _of_kinds(option.get(field), kinds):
            return f".{field}: Expected {said}"
    return _choices(option) if "options" in option else ""


def _of_kinds(value, kinds: tuple) -> bool:
    """isinstance, where true and false are no numbers (as in JSON) and a list is one of strings."""
    if isinstance(value, bool) and bool not in kinds:
        return False
    if isinstance(value, list):
        return list in kinds and all(isinstance(item, str) for item in value)
    return isinstance(value, kinds)


def _choices(option) -> str:
    """Why Claude Code refuses an option's `options`, or "": at least one, each short, visible and unpadded, no
    two alike but for case; only for a single string shown in the clear, whose default is one of them."""
    choices = option["options"]
    if not choices:
        return ".options: needs at least one value"
    for index, choice in enumerate(choices):
        if not 1 <= len(choice.encode("utf-16-le")) // 2 <= MAX_CHOICE:  # JavaScript's length, in UTF-16 units
            return f".options[{index}]: An option is 1 to {MAX_CHOICE} characters"
        if any(_hidden(c) for c in choice):
            return (f".options[{index}]: An option cannot contain control, invisible or bidirectional-formatting "
                    "characters")
        if choice.strip(JS_WHITESPACE) != choice:
            return f".options[{index}]: An option cannot start or end with a space"
    if len({choice.lower() for choice in choices}) < len(choices):
        return ".options: options cannot repeat a value (in any letter case)"
    if option["type"] != "string" or option.get("multiple") is True or option.get("sensitive") is True:
        return '.options: options is only for a field of type "string" that is neither multiple nor sensitive'
    if "default" not in option:
        return "" if option.get("required") is True else (
            ".default: a field with options needs a default among them, or required: true")
    if option["default"] not in choices:
        return f".default: must be one of the options: {', '.join(choices)[:120]}"
    return ""


def _hidden(char: str) -> bool:
    """A character Claude Code takes out of an option's value before it compares it: controls, formats, line and
    paragraph separators, spaces other than " ", characters that render as nothing, lone surrogates."""
    category = unicodedata.category(char)
    return (category in ("Cc", "Cf", "Zl", "Zp", "Cs") or (category == "Zs" and char != " ") or char == "\u2800"
            or char in spoofing.IGNORABLE_NOT_FORMAT or 0x2065 == ord(char) or 0xFFF0 <= ord(char) <= 0xFFF8
            or 0xE0000 <= ord(char) <= 0xE0FFF)


def channels(value) -> list[str]:
    """What Claude Code refuses in `channels` (a list: manifest checks that): each an object naming the MCP server
    it binds to, with at most a name to show and options to ask for."""
    if not isinstance(value, list):
        return []
    refused = []
    for index, channel in enumerate(value):
        where = f"channels[{index}]"
        if not isinstance(channel, dict):
            refused.append(f"{where}: Expected an object naming its MCP server, such as {{\"server\": \"chat\"}}, "
                           f"received {kind_of(channel)}")
        elif unknown := sorted(channel.keys() - CHANNEL_FIELDS):
            refused.append(f"{where}: Unrecognized key {json.dumps(unknown[0][:60])} (a channel holds "
                           f"{', '.join(sorted(CHANNEL_FIELDS))})")
        elif not (isinstance(channel.get("server"), str) and channel["server"]):
            refused.append(f"{where}.server: Required, the name of one of the plugin's MCP servers")
        elif "displayName" in channel and not isinstance(channel["displayName"], str):
            refused.append(f"{where}.displayName: Expected a string")
        elif "userConfig" in channel and not isinstance(channel["userConfig"], dict):
            refused.append(f"{where}.userConfig: Expected an object of options")
        else:
            refused += user_config(channel.get("userConfig"), f"{where}.userConfig", named=False)
    return refused


def dependencies(value) -> list[str]:
    """What Claude Code refuses in `dependencies` (a list: manifest checks that)."""
    return [f'dependencies[{index}]: Expected "name", "name@marketplace" or an object with a name (letters, digits, '
            f"'.', '_' and '-', starting with a letter or digit)" for index, item in enumerate(value)
            if not _names_a_plugin(item)] if isinstance(value, list) else []


def dependency_names(value) -> list[str]:
    """The plugins `value` (a `dependencies` field) names, each as "name" or "name@marketplace"."""
    return [_named(item) for item in value if _names_a_plugin(item)] if isinstance(value, list) else []


def _named(item) -> str:
    """The plugin a dependency names (`_names_a_plugin`), as "name" or "name@marketplace"."""
    if isinstance(item, str):
        return item
    return f"{item['name']}@{item['marketplace']}" if "marketplace" in item else item["name"]


def _names_a_plugin(item) -> bool:
    if isinstance(item, str):
        return DEPENDENCY.fullmatch(item) is not None
    return isinstance(item, dict) and isinstance(item.get("name"), str) and re.fullmatch(
        DEPENDENCY_NAME, item["name"]) is not None and (
        "marketplace" not in item or (isinstance(item["marketplace"], str)
                                      and re.fullmatch(DEPENDENCY_NAME, item["marketplace"]) is not None))


def engines(value) -> list[str]:
    """What Claude Code refuses in `engines`: its own key alone (it ignores the versions of other hosts)."""
    if not isinstance(value, dict) or "claude-code" not in value:
        return []  # ignored at load time
    wanted = value["claude-code"]
    if not isinstance(wanted, str):
        return ['engines.claude-code: Must be a version range such as ">=2.1.0"']
    if version_range(wanted) is None:
        return ['engines.claude-code: Must be a version range such as ">=2.1.0", received '
                f"{json.dumps(wanted)[:60]}; Claude Code ignores it as it is"]
    return []


def version_range(text: str) -> str | None:
    """`text` with its runs of spaces made one, where it is an npm range as Claude Code reads one (">= 2.1"), else
    None ("latest"). Runs of spaces mean what one does, and node-semver's expressions take time in the square of
    a run's length (a range of 20,000 spaces took seven seconds). One past MAX_RANGE is not judged: given back."""
    collapsed = " ".join(text.split())
    if len(collapsed) > MAX_RANGE or nodesemver.valid_range(collapsed, False) is not None:
        return collapsed
    return None


def relevance(value) -> list[str]:
    if not isinstance(value, dict):
        return []  # ignored at load time
    refused = []
    if "topic" in value and not (isinstance(value["topic"], str) and len(value["topic"]) <= MAX_TOPIC_CHARS):
        refused.append(f"relevance.topic: Expected a string of at most {MAX_TOPIC_CHARS} characters")
    signals = value.get("signals")
    if not isinstance(signals, dict):
        return [*refused, "relevance.signals: Required, an object of matchers (cli, hosts, filesRead, manifestDeps "
                          "or cwd)"]
    if not SIGNALS.keys() & signals.keys():
        refused.append("relevance.signals: must declare at least one signal (cli, hosts, filesRead, manifestDeps, "
                       "or cwd)")
    for name, (most, longest) in SIGNALS.items():
        if name in signals:
            refused += _matchers(f"relevance.signals.{name}", signals[name], most, longest, name == "manifestDeps")
    return refused


def _matchers(where, items, most, longest, pairs) -> list[str]:
    if not isinstance(items, list):
        return [f"{where}: Expected a list"]
    if len(items) > most:
        return [f"{where}: At most {most} items"]
    shape = "an object with file and pattern" if pairs else "a string"
    for index, item in enumerate(items):
        texts = [item.get("file"), item.get("pattern")] if pairs and isinstance(item, dict) else [item]
        if (pairs and not isinstance(item, dict)) or not all(isinstance(t, str) and len(t) <= longest for t in texts):
            return [f"{where}[{index}]: Expected {shape} of at most {longest} characters"]
    return []


def headers(entry: dict) -> list[str]:
    refused = []
    sent = entry.get("headers")
    if "headers" in entry and not (isinstance(sent, dict) and all(isinstance(v, str) for v in sent.values())):
        refused.append("headers: Expected an object of header names and string values")
    if "headersHelper" in entry and not isinstance(entry["headersHelper"], str):
        refused.append("headersHelper: Expected a command, as a string")
    return refused


def experimental(value: dict) -> list[str]:
    """What Claude Code refuses of the fields of its own under `experimental` (its components are manifest's to
    check)."""
    refused = []
    evals = value.get("evals")
    if "evals" in value and not (isinstance(evals, str) or (
            isinstance(evals, list) and all(isinstance(path, str) for path in evals))):
        refused.append("experimental.evals: Expected a path or a list of paths")
    highlighting = value.get("syntaxHighlighting")
    if "syntaxHighlighting" in value and not (
            isinstance(highlighting, dict) and set(highlighting) == {"hljsLanguages"}
            and isinstance(highlighting["hljsLanguages"], list) and len(highlighting["hljsLanguages"]) <= LANGUAGES):
        refused.append('experimental.syntaxHighlighting: Expected {"hljsLanguages": [...]}, a list of at most '
                       f"{LANGUAGES} languages, and nothing else")
    elif "syntaxHighlighting" in value:
        refused += [f"experimental.syntaxHighlighting.hljsLanguages[{index}]: {why}"
                    for index, language in enumerate(highlighting["hljsLanguages"]) if (why := _language(language))]
    return refused


def _language(language) -> str:
    """Why Claude Code refuses a language to highlight, or "": an `id`, and where to load it from (`remote`) with
    its digest (`integrity`), each of its form, and nothing else."""
    if not isinstance(language, dict):
        return "Expected a language, an object with its id"
    if unknown := sorted(language.keys() - LANGUAGE_FIELDS.keys()):
        return f"Unrecognized key '{unknown[0]}' (a language holds {', '.join(LANGUAGE_FIELDS)})"
    if "id" not in language:
        return "id: Required"
    return next((f"{field}: Expected {form}" for field, (pattern, most, form) in LANGUAGE_FIELDS.items()
                 if field in language and not (isinstance(language[field], str) and len(language[field]) <= most
                                               and re.fullmatch(pattern, language[field], re.ASCII))), "")
