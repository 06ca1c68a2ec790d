"""A plugin's `types` file: the TypeScript contract other plugins build against, which Claude Code (2.1.332)
refuses unless it holds types alone. At the top level only `export type`, `export interface` and
`declare module 'claude-code' { ... }` blocks; nothing that runs, nothing from outside the file.

Claude Code parses the file as TypeScript. Skillport reads its tokens, which is enough to tell these rules
(comments, strings and template literals are passed over whole), and says the file does not parse where its
brackets, strings or comments do not close. A contract is a few KB; one past MAX_BYTES is not judged, so a
hostile repository's megabytes of "types" cannot spend a sync's time (1 ms for about 1 KB here).
"""
import re
from dataclasses import dataclass

MAX_BYTES = 64 * 1024
# What runs when declared, wherever it is declared.
RUNS = {"function", "const", "let", "var", "class", "enum"}
# What a contract's top level never holds.
NOT_AT_TOP = {"default", "namespace", "module", "abstract", "global", "async"}
# A line ending with one of these goes on, as does a line starting with one of the second (TypeScript's
# automatic semicolons, near enough for type aliases written over several lines).
GOES_ON_AFTER = {"=", "|", "&", "?", ":", ",", "=>", "extends", "keyof", "typeof", "infer", ".", "<", "(", "[", "{",
                 "export", "declare"}
GOES_ON_BEFORE = {"|", "&", "?", ":", ",", "=>", "extends", ".", ")", "]", "}", ">", "=", "[", "(", "+", "-", "*", "/",
                  "%", "<"}
CLOSING = {"(": ")", "[": "]", "{": "}"}

_TOKEN = re.compile(r"""
    (?P<space>[ \t\r]+) | (?P<newline>\n)
  | (?P<reference>///[ \t]*<reference\b[^\n]*) | (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<string>'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")
  | (?P<word>[A-Za-z_$][A-Za-z0-9_$]*) | (?P<number>[0-9][A-Za-z0-9_.]*)
  | (?P<punct>=>|\.\.\.|[{}()\[\];,.<>=|&?:!*+\-/%^~@#])
""", re.VERBOSE | re.DOTALL)


class Unusual(ValueError):
    """A character no contract holds outside its strings and comments."""


@dataclass
class Token:
    kind: str
    text: str
    line: int
    after_newline: bool


def problems(text: str) -> list[str]:
    """Why Claude Code refuses `text` as a plugin's types file, each in a sentence; [] for a contract."""
    try:
        tokens = _tokens(text)
    except Unusual as exc:
        return [str(exc)]
    except ValueError as exc:
        return [f"does not parse as TypeScript: {exc}"]
    found, depth = [], []
    for index, token in enumerate(tokens):
        before = tokens[index - 1] if index else None
        found += _refused(token, before, tokens[index + 1:index + 4], not depth, not depth and _starts_statement(
            token, before))
        if token.text in CLOSING:
            depth.append(CLOSING[token.text])
        elif depth and token.text == depth[-1]:
            depth.pop()
        elif token.text in CLOSING.values():
            return [f"does not parse as TypeScript: an unmatched `{token.text}` on line {token.line}"]
    if depth:
        return [f"does not parse as TypeScript: `{depth[-1]}` is missing at the end"]
    return list(dict.fromkeys(found))


def _refused(token, before, following, top, starts) -> list[str]:
    """What is wrong with one token, between `before` and the tokens `following` it, at the `top` level or not,
    opening a statement there (`starts`) or not."""
    where, after = f"line {token.line}", following[0] if following else None
    outside = "reaches outside the file; the contract must be self-contained (no import, export ... from, require)"
    if token.kind == "reference":
        return [f"{where}: a triple-slash reference {outside}"]
    if token.text == "import" and not _names_a_field(after):
        return [f"{where}: `import` {outside}"]
    if token.text == "require" and after is not None and after.text == "(":
        return [f"{where}: `require` {outside}"]
    if token.text == "from" and after is not None and after.kind == "string":
        return [f"{where}: `from {after.text}` {outside}"]
    if token.text in RUNS and after is not None and (after.kind == "word" or after.text == "{") and (
            before is None or before.text != "."):
        return [f"{where}: `{token.text}` declares something that runs; a contract holds types only"]
    if top and token.text == "export" and (after is None or after.text not in ("type", "interface")):
        return [f"{where}: `export` at the top level is followed by `type` or `interface`: a contract exports "
                "types and nothing else"]
    if top and token.text in NOT_AT_TOP and not (token.text == "module" and before and before.text == "declare"):
        return [f"{where}: `{token.text}` at the top level: a contract holds type exports and "
                "`declare module 'claude-code'` blocks only"]
    if not starts:
        return []
    if token.text == "declare":
        return _declared(following, where)
    if token.text in ("type", "interface"):
        return [f"{where}: a top-level `{token.text}` without `export` would be global in a dependent's program; "
                "export it"]
    if token.text not in ("export", ";") and token.text not in RUNS:
        return [f"{where}: the contract holds code that would run, from `{token.text}`; a contract is types only"]
    return []


def _starts_statement(token, before) -> bool:
    """Whether a top-level token opens a statement: the first, one after `;`, or one on a new line where
    neither it nor the line before says the statement goes on (a template literal goes on, as in JavaScript)."""
    return before is None or before.text == ";" or (
        token.after_newline and before.text not in GOES_ON_AFTER and token.text not in GOES_ON_BEFORE
        and not token.text.startswith("`"))


def _declared(words, where) -> list[str]:
    """What is wrong with a top-level `declare` followed by `words`: nothing for `declare module 'claude-code' {`,
    its three words on one line."""
    if len(words) == 3 and words[0].text == "module" and words[1].kind == "string" and words[2].text == "{":
        if words[1].text[1:-1] != "claude-code":
            return [f"{where}: augments module {words[1].text}; the contract may only augment 'claude-code'"]
        if any(word.after_newline for word in words):
            return ["does not parse as TypeScript: `declare module 'claude-code' {` is one line"]
        return []
    return [f"{where}: `declare` at the top level opens only `declare module 'claude-code' {{ ... }}`, its three "
            "words on one line"]


def _names_a_field(after) -> bool:
    """Whether a word is a field's name (`{ import: string }`), not the keyword."""
    return after is not None and after.text in (":", "?", ",", ";", ")")


def _tokens(text: str) -> list[Token]:
    """The tokens of `text`, comments and spaces left out; ValueError where a string, comment or template
    literal does not close, or a character belongs to no token."""
    tokens, line, newline, at = [], 1, False, 1 if text.startswith("\ufeff") else 0  # a byte order mark
    while at < len(text):
        if text[at] == "`":
            end = _template_end(text, at)
            tokens.append(Token("string", text[at:end], line, newline))
            line, newline, at = line + text.count("\n", at, end), False, end
            continue
        match = _TOKEN.match(text, at)
        if match is None and not (text[at].isascii() and text[at].isprintable()):
            # As Claude Code: a contract never holds one outside a string or comment, so none is read past.
            raise Unusual(f"line {line}: a character outside plain ASCII (or a control character) in code")
        if match is None or (match.lastgroup == "punct" and text.startswith("/*", at)):
            what = "a comment" if text.startswith("/*", at) else "a string" if text[at] in "'\"" else repr(text[at])
            raise ValueError(f"{what} on line {line} does not close" if text[at] in "'\"/" else
                             f"unexpected {what} on line {line}")
        kind, piece = match.lastgroup, match.group()
        if kind == "newline":
            newline = True
        elif kind not in ("space", "comment"):
            tokens.append(Token(kind, piece, line, newline))
            newline = False
        if kind == "comment" and "\n" in piece:
            newline = True
        line += piece.count("\n")
        at = match.end()
    return tokens


def _template_end(text: str, start: int) -> int:
    """Where the template literal opening at `start` ends, its `${...}` placeholders (and templates in them)
    included. A stack, not recursion: a hostile file nests thousands of them."""
    stack, at = [0], start + 1  # per open template, the brace depth of its current placeholder (0: in its text)
    while at < len(text):
        ch = text[at]
        if ch == "\\":
            at += 2
            continue
        if stack[-1] == 0 and ch == "`":
            stack.pop()
            if not stack:
                return at + 1
        elif stack[-1] == 0 and text.startswith("${", at):
            stack[-1], at = 1, at + 2
            continue
        elif stack[-1] and ch == "`":
            stack.append(0)
        elif stack[-1] and ch in "{}":
            stack[-1] += 1 if ch == "{" else -1
        at += 1
    raise ValueError(f"a template literal on line {text.count(chr(10), 0, start) + 1} does not close")
