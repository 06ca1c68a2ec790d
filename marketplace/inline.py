"""Components written inline in a marketplace entry or a plugin.json, as `claude plugin validate` (2.1.332)
checks them: hook matchers, MCP and LSP servers, commands and monitors.

Each check returns why Claude Code refuses the component, in one sentence, or "". Not matched: what each hook
inside a matcher holds (hook types come with releases, as events do: README, "Where Skillport differs"), and
what an MCP server's `oauth` object holds.
"""
import json

from .skillmd import kind_of

# What a monitor may hold (name, command and description it must).
MONITOR_KEYS = {"name", "command", "description", "when"}

# Shapes a value may be checked against, by the words that say it.
SHAPES = {
    "a string": lambda v: isinstance(v, str),
    "a non-empty string": lambda v: isinstance(v, str) and v != "",
    "a list of strings": lambda v: isinstance(v, list) and all(isinstance(item, str) for item in v),
    "a list of non-empty strings": lambda v: isinstance(v, list) and all(isinstance(i, str) and i for i in v),
    "an object": lambda v: isinstance(v, dict),
    "an object of strings": lambda v: isinstance(v, dict) and all(isinstance(item, str) for item in v.values()),
    "true or false": lambda v: isinstance(v, bool),
    '"stdio" or "socket"': lambda v: v in ("stdio", "socket"),
    "a whole number of milliseconds above 0": lambda v: _whole(v) and v > 0,
    "a whole number of milliseconds above 0, at most 2147483647": lambda v: _whole(v) and 0 < v <= 2**31 - 1,
    "a whole number, 0 or more": lambda v: _whole(v) and v >= 0,
    "anything": lambda v: True,
}
_HTTP = {"headers": "an object of strings", "headersHelper": "a string", "oauth": "an object"}
# An MCP server, by its type (none is stdio): the strings it must hold, and the shapes of what it may. Claude
# Code lets other keys through.
MCP_SERVERS = {
    "stdio": (("command",), {"args": "a list of strings", "env": "an object of strings"}),
    "sse": (("url",), _HTTP),
    "http": (("url",), _HTTP),
    "ws": (("url",), _HTTP),
    "sdk": (("name",), {}),
    "claudeai-proxy": (("url", "id"), {}),
}
# An LSP server's fields besides `command` and `extensionToLanguage`; Claude Code refuses any other.
LSP_FIELDS = {
    "args": "a list of non-empty strings", "transport": '"stdio" or "socket"', "env": "an object of strings",
    "initializationOptions": "anything", "settings": "anything", "workspaceFolder": "a string",
    "startupTimeout": "a whole number of milliseconds above 0",
    "shutdownTimeout": "a whole number of milliseconds above 0",
    "requestTimeout": "a whole number of milliseconds above 0, at most 2147483647",
    "restartOnCrash": "true or false", "maxRestarts": "a whole number, 0 or more", "diagnostics": "true or false",
}
# A command's optional fields besides `source` and `content`; Claude Code lets other keys through.
COMMAND_FIELDS = {"description": "a string", "argumentHint": "a string", "model": "a string",
                  "allowedTools": "a list of strings"}


def refusal(key: str, value: dict) -> str:
    """Why Claude Code refuses the components of field `key` written inline as `value`, or "": hooks map each
    event to a list of matchers (the events themselves are Claude Code's to know, and it adds more); servers
    and commands map each name to an object."""
    if key == "hooks" and "hooks" in value:
        return ('hooks: Write the events themselves ("hooks": {"PreToolUse": [...]}); the "hooks" object around '
                "them belongs to a hooks.json file")
    if key == "hooks":
        return next(filter(None, (_matchers(f"hooks.{event}", matchers) for event, matchers in value.items())), "")
    wrong = next((f"{key}.{name}: Expected an object, received {kind_of(config)}"
                  for name, config in value.items() if not isinstance(config, dict)), "")
    check = {"mcpServers": _mcp_server, "lspServers": _lsp_server, "commands": _command}.get(key)
    if wrong or check is None:
        return wrong
    return next(filter(None, (check(f"{key}.{name}", config) for name, config in value.items())), "")


def monitors(label: str, items: list) -> str:
    """Why Claude Code refuses monitors written inline (`label`, a list), or "": each an object with a non-empty
    name (unique in the plugin), command and description, and `when` to arm it. A list of paths is refused: a
    path names one file of monitors."""
    for index, monitor in enumerate(items):
        where = f"{label}[{index}]"
        if not isinstance(monitor, dict):
            return (f"{where}: Expected a monitor written inline (an object with name, command and description), "
                    f'received {kind_of(monitor)}. A file of monitors is one path: "{label}": '
                    '"./monitors/monitors.json"')
        if unknown := sorted(monitor.keys() - MONITOR_KEYS):
            return f"{where}: Unrecognized key '{unknown[0]}' (a monitor holds name, command, description and when)"
        if missing := [key for key in ("name", "command", "description") if not SHAPES["a non-empty string"](
                monitor.get(key))]:
            return f"{where}.{missing[0]}: Required, a non-empty string"
        if "when" in monitor and not _arms(monitor["when"]):
            return f'{where}.when: Expected "always" or "on-skill-invoke:<skill name>"'
    names = [monitor["name"] for monitor in items]  # each a string, now that all are valid
    return f"{label}: Monitor names must be unique within a plugin" if len(set(names)) < len(names) else ""


def _arms(when) -> bool:
    """Whether `when` says when to arm a monitor: always, or the first time a skill is invoked."""
    return isinstance(when, str) and (when == "always" or (
        when.startswith("on-skill-invoke:") and len(when) > len("on-skill-invoke:")))


def _matchers(where: str, matchers) -> str:
    if not isinstance(matchers, list):
        return f"{where}: Expected a list of matchers, received {kind_of(matchers)}"
    for index, matcher in enumerate(matchers):
        if not isinstance(matcher, dict):
            return (f'{where}[{index}]: Expected a matcher ({{"matcher": ..., "hooks": [...]}}), '
                    f"received {kind_of(matcher)}")
        if not isinstance(matcher.get("hooks"), list):
            return f"{where}[{index}].hooks: Required, a list of hooks"
        if "matcher" in matcher and not isinstance(matcher["matcher"], str):
            return f"{where}[{index}].matcher: Expected a string, received {kind_of(matcher['matcher'])}"
        bad = next((i for i, hook in enumerate(matcher["hooks"]) if not isinstance(hook, dict)), None)
        if bad is not None:
            return f"{where}[{index}].hooks[{bad}]: Expected a hook, an object with its type"
    return ""


def _mcp_server(where: str, config: dict) -> str:
    kind = config.get("type", "stdio")
    if not isinstance(kind, str) or kind not in MCP_SERVERS:
        return f"{where}.type: Expected one of {', '.join(MCP_SERVERS)}, received {json.dumps(kind)[:60]}"
    required, optional = MCP_SERVERS[kind]
    if kind == "stdio" and config.get("command") == "":
        return f"{where}.command: Command cannot be empty"
    for field in required:
        if not isinstance(config.get(field), str):
            return f"{where}.{field}: Required for type {kind}, a string"
    return _shapes(where, config, optional)


def _lsp_server(where: str, config: dict) -> str:
    if unknown := sorted(config.keys() - LSP_FIELDS.keys() - {"command", "extensionToLanguage"}):
        return f"{where}: Unrecognized key '{unknown[0]}'"
    command, mapping = config.get("command"), config.get("extensionToLanguage")
    if not SHAPES["a non-empty string"](command):
        return f"{where}.command: Required, a non-empty string"
    if " " in command and not command.startswith("/"):
        return f"{where}.command: Command should not contain spaces. Use args array for arguments."
    if not (isinstance(mapping, dict) and mapping):
        return f'{where}.extensionToLanguage: Required, mapping at least one file extension (".py") to a language'
    bad = next((extension for extension, language in mapping.items() if not (
        len(extension) > 1 and extension.startswith(".") and SHAPES["a non-empty string"](language))), None)
    if bad is not None:
        return (f'{where}.extensionToLanguage: Expected file extensions (".py") mapped to languages, '
                f"found {json.dumps(bad)[:60]}")
    return _shapes(where, config, LSP_FIELDS)


def _command(where: str, config: dict) -> str:
    # Either one, as Claude Code reads them: an empty content is none.
    if bool(config.get("source")) == bool(config.get("content")):
        return f'{where}: Command must have either "source" (file path) or "content" (inline markdown), but not both'
    if "source" in config and not (isinstance(config["source"], str) and config["source"].startswith("./")):
        return f"{where}.source: Expected a path starting with './' (relative to the plugin root)"
    if "content" in config and not isinstance(config["content"], str):
        return f"{where}.content: Expected Markdown, a string"
    return _shapes(where, config, COMMAND_FIELDS)


def _shapes(where: str, config: dict, fields: dict) -> str:
    return next((f"{where}.{field}: Expected {shape}, received {kind_of(config[field])}"
                 for field, shape in fields.items() if field in config and not SHAPES[shape](config[field])), "")


def _whole(value) -> bool:
    """A whole number as JSON gives it (5 or 5.0), not a boolean."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer()
