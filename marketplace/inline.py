"""Components written inline in a marketplace entry or a plugin.json, as `claude plugin validate` (2.1.332)
checks them: hook matchers, MCP and LSP servers, commands and monitors.

Each check returns why Claude Code refuses the component, in one sentence, or "". Not matched: hook events and
hook types Claude Code 2.1.332 does not know (it adds both from release to release: README, "Where Skillport
differs").
"""
import json
import re
from collections.abc import Iterator

from .skillmd import kind_of

# What a monitor may hold (name, command and description it must).
MONITOR_KEYS = {"name", "command", "description", "when"}
# Hooks that decide what a tool may do. One Claude Code (2.1.332) cannot read it does not leave out, as it does
# others: it applies nothing of the plugin.json or hooks file the hook is in, and does not load the plugin.
GUARDS = ("PreToolUse", "PermissionRequest")

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
    "a whole number above 0": lambda v: _whole(v) and v > 0,
    "an https:// URL": lambda v: isinstance(v, str) and v.startswith("https://") and len(v) <= 4096 and _url(v),
    'an object of "allow", "ask" or "blocked"': lambda v: isinstance(v, dict) and all(
        item in ("allow", "ask", "blocked") for item in v.values()),
    "a list of tools, each a name and its permission_policy": lambda v: isinstance(v, list) and all(
        isinstance(tool, dict) and isinstance(tool.get("name"), str)
        and tool.get("permission_policy", "always_ask") in ("always_allow", "always_ask", "always_deny")
        for tool in v),
    "a number of seconds above 0": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0,
    '"continue" or "block"': lambda v: v in ("continue", "block"),
    '"bash" or "powershell"': lambda v: v in ("bash", "powershell"),
    "a URL": lambda v: isinstance(v, str) and _url(v),
    "anything": lambda v: True,
}
# An MCP server, by its type (none is stdio): the strings it must hold, and the shapes of what it may (as
# `claude plugin validate` 2.1.332 refuses them, tried field by field). Claude Code lets other keys through.
_EVERY_SERVER = {"timeout": "a whole number above 0", "alwaysLoad": "true or false"}
_ELICITS = {"bareElicitationCapability": "true or false"}
_HEADERS = {"headers": "an object of strings", "headersHelper": "a string"}
_TOOLS = {"toolPermissions": 'an object of "allow", "ask" or "blocked"'}
_REMOTE = {**_HEADERS, **_EVERY_SERVER, **_ELICITS, **_TOOLS, "oauth": "an object", "discoveryCache": "true or false",
           "tools": "a list of tools, each a name and its permission_policy"}
MCP_SERVERS = {
    "stdio": (("command",), {"args": "a list of strings", "env": "an object of strings", **_EVERY_SERVER, **_ELICITS}),
    "sse": (("url",), _REMOTE),
    "http": (("url",), _REMOTE),
    "ws": (("url",), {**_HEADERS, **_EVERY_SERVER, **_ELICITS}),
    "sdk": (("name",), _EVERY_SERVER),
    "claudeai-proxy": (("url", "id"), {**_EVERY_SERVER, **_TOOLS, "displayName": "a string"}),
}
# What a remote server's `oauth` may hold; Claude Code lets other keys through.
OAUTH_FIELDS = {"clientId": "a string", "callbackPort": "a whole number above 0",
                "authServerMetadataUrl": "an https:// URL", "scopes": "a non-empty string", "xaa": "true or false"}
# An LSP server's fields besides `command` and `extensionToLanguage`; Claude Code refuses any other.
LSP_FIELDS = {
    "args": "a list of non-empty strings", "transport": '"stdio" or "socket"', "env": "an object of strings",
    "initializationOptions": "anything", "settings": "anything", "workspaceFolder": "a string",
    "startupTimeout": "a whole number of milliseconds above 0",
    "shutdownTimeout": "a whole number of milliseconds above 0",
    "requestTimeout": "a whole number of milliseconds above 0, at most 2147483647",
    "restartOnCrash": "true or false", "maxRestarts": "a whole number, 0 or more", "diagnostics": "true or false",
}
# A hook, by its type: the strings it must hold, and the shapes of what it may. Claude Code lets other keys
# through, and reads an mcp_tool hook's `onFailure` and any hook's `cloud` whatever they hold.
_EVERY_HOOK = {"if": "a string", "timeout": "a number of seconds above 0", "statusMessage": "a string",
               "once": "true or false"}
_ON_FAILURE = {"onFailure": '"continue" or "block"'}
HOOKS = {
    "command": (("command",), {**_EVERY_HOOK, **_ON_FAILURE, "args": "a list of strings",
                               "shell": '"bash" or "powershell"', "async": "true or false",
                               "asyncRewake": "true or false", "holdsTools": "true or false",
                               "rewakeMessage": "a non-empty string", "rewakeSummary": "a non-empty string"}),
    "prompt": (("prompt",), {**_EVERY_HOOK, "model": "a string", "continueOnBlock": "true or false"}),
    "agent": (("prompt",), {**_EVERY_HOOK, "model": "a string"}),
    "http": (("url",), {**_EVERY_HOOK, **_ON_FAILURE, "url": "a URL", "headers": "an object of strings",
                        "allowedEnvVars": "a list of strings"}),
    "mcp_tool": (("server", "tool"), {**_EVERY_HOOK, "input": "an object"}),
}
# A command's optional fields besides `source` and `content`; Claude Code lets other keys through.
COMMAND_FIELDS = {"description": "a string", "argumentHint": "a string", "model": "a string",
                  "allowedTools": "a list of strings"}


def refusal(key: str, value: dict) -> str:
    """Why Claude Code refuses the components of field `key` written inline as `value`, or "": hooks map each
    event to a list of matchers (the events themselves are Claude Code's to know, and it adds more); servers
    and commands map each name to an object."""
    if key == "hooks":
        return next((why for _event, why in hook_failures(value)), "")
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


def ignore_hooks(events: dict, location: str, problems, in_file=False) -> str:
    """Warn of each event, matcher and hook of a plugin.json or hooks file (`in_file`) that Claude Code leaves
    out as it loads the plugin; but one of the GUARDS it will not leave out: why it refuses the plugin for it, or ""
    (each such hook an error)."""
    refusal = ""
    for event, why in hook_failures(events, in_file):
        if event in GUARDS:
            problems.error("hook-guard-unreadable", f"{why}. A {event} hook may be what guards the permissions given "
                           "beside it, so Claude Code applies none of this file until it is fixed or removed", location)
            refusal = refusal or f"a {event} hook it cannot read ({why})"
        else:
            problems.warning("hook-ignored", f"{why}. Claude Code leaves it out and loads the plugin without it",
                             location)
    return refusal


def hook_failures(events: dict, in_file=False) -> Iterator[tuple[str, str]]:
    """(event, why) for each event, matcher and hook written inline in `events` (a hooks file's `hooks`: `in_file`)
    that Claude Code cannot read. A marketplace entry's first refuses its plugin; elsewhere each is left out, but
    for the GUARDS."""
    if "hooks" in events and in_file:
        yield "hooks", ('hooks.hooks: Write the events themselves in "hooks" ({"hooks": {"PreToolUse": [...]}}), not '
                        'in a second "hooks" object')
    elif "hooks" in events:
        yield "hooks", ('hooks: Write the events themselves ("hooks": {"PreToolUse": [...]}); the "hooks" object '
                        "around them belongs to a hooks.json file")
    for event, matchers in events.items():
        if event != "hooks":
            yield from ((event, why) for why in _matchers(f"hooks.{event}", matchers))


def _matchers(where: str, matchers) -> Iterator[str]:
    if not isinstance(matchers, list):
        yield f"{where}: Expected a list of matchers, received {kind_of(matchers)}"
        return
    for index, matcher in enumerate(matchers):
        if not isinstance(matcher, dict):
            yield (f'{where}[{index}]: Expected a matcher ({{"matcher": ..., "hooks": [...]}}), '
                   f"received {kind_of(matcher)}")
        elif not isinstance(matcher.get("hooks"), list):
            yield f"{where}[{index}].hooks: Required, a list of hooks"
        elif "matcher" in matcher and not isinstance(matcher["matcher"], str):
            yield f"{where}[{index}].matcher: Expected a string, received {kind_of(matcher['matcher'])}"
        else:
            yield from filter(None, (_hook(f"{where}[{index}].hooks[{number}]", hook)
                                     for number, hook in enumerate(matcher["hooks"])))


def _hook(where: str, hook) -> str:
    if not isinstance(hook, dict):
        return f"{where}: Expected a hook, an object with its type"
    if not isinstance(hook.get("type"), str) or not hook["type"]:
        return f"{where}.type: Required, a string ({', '.join(HOOKS)})"
    if hook["type"] not in HOOKS:
        return ""  # a type of a later release, maybe: Claude Code's to know (not an empty one)
    required, optional = HOOKS[hook["type"]]
    for field in required:
        if not isinstance(hook.get(field), str):
            return f"{where}.{field}: Required for a {hook['type']} hook, a string"
    return _shapes(where, hook, optional)


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
    if why := _shapes(where, config, optional):
        return why
    return _shapes(f"{where}.oauth", config["oauth"], OAUTH_FIELDS) if "oauth" in optional and "oauth" in config else ""


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
    return next((f"{where}.{field}: Expected {shape}, received {received(config[field])}"
                 for field, shape in fields.items() if field in config and not SHAPES[shape](config[field])), "")


def received(value) -> str:
    """What a field holds, in words: a string by its text (where its form was wrong), else by its kind."""
    return json.dumps(value)[:60] if isinstance(value, str) else kind_of(value)


def _url(text: str) -> bool:
    """Whether a browser's URL parser (Claude Code's check) takes `text`, near enough: a scheme, then something,
    and for the web's schemes a host."""
    if re.match(r"^(?:https?|wss?|ftp):", text, re.IGNORECASE):
        return re.match(r"^[a-z]+:[/\\]*[^/\\\s?#]", text, re.IGNORECASE) is not None
    return re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:\S", text) is not None


def _whole(value) -> bool:
    """A whole number as JSON gives it (5 or 5.0), not a boolean."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer()
