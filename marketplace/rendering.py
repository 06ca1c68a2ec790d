"""Skill content as HTML that is safe to put in our pages.

A SKILL.md comes from a repository we do not control. Markdown is rendered as GitHub renders it
(cmark-gfm, raw HTML passed through), then everything goes through nh3 with a short allow-list:
a skill can format its text, never run script, load styles or add event handlers.
"""
import functools
import html
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import cffi
import nh3
import pygments
from cmarkgfm import _cmark
from cmarkgfm.cmark import Options
from pygments.formatters import HtmlFormatter
from pygments.lexers import find_lexer_class_by_name, find_lexer_class_for_filename
from pygments.lexers.special import TextLexer
from pygments.util import ClassNotFound

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl", "dt", "em", "h1", "h2",
    "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "mark", "ol", "p", "pre", "s", "span", "strong", "sub",
    "summary", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"}, "img": {"src", "alt", "title"}, "span": {"class"}, "div": {"class"}, "code": {"class"},
    "pre": {"class"}, "td": {"align"}, "th": {"align"},
}
URL_SCHEMES = {"http", "https", "mailto", "data"}
MAX_HIGHLIGHT_CHARS = 200_000
# Pygments' lexers are regular expressions, and hostile text can make many take time growing with the
# square of its size, some with the cube: a fence of 2,000 tabs marked Easytrieve took 12.6 s, and eight
# times that for each doubling; a file named *.au3 of 8,000 spaces, 9 s. A fence's language and a file's
# name are the author's choice. So highlighting a document (a SKILL.md, a file) stops after this long,
# checked between tokens: the code it was in and any after it are shown plain. A real one takes
# milliseconds.
HIGHLIGHT_SECONDS = 0.5
# The deadline holds only where no single token takes long, so code is highlighted only in these
# languages (each lexer's first alias), whose lexers bench/highlight.py finds to yield tokens a few
# milliseconds apart on such text. Others are shown plain, as a language Pygments does not know always
# was. Left out for that: `ini` (one token of 16,000 ':' took 1.4 s) and the shell and Python
# sessions (`console`, `pycon`), which lex a whole block of commands as one step.
HIGHLIGHTED = frozenset({
    "bash", "batch", "c", "cpp", "csharp", "css", "diff", "docker", "go", "graphql", "html", "java",
    "javascript", "json", "jsx", "kotlin", "lua", "markdown", "php", "powershell", "protobuf", "python",
    "ruby", "rust", "scss", "sql", "swift", "toml", "tsx", "typescript", "xml", "yaml",
})

# Markdown's lexer would highlight each fence in whichever language it names: any lexer Pygments has.
LEXER_OPTIONS = {"markdown": {"handlecodeblocks": False}}
FORMATTER = HtmlFormatter(cssclass="highlight", wrapcode=True)
FENCE_FORMATTER = HtmlFormatter(nowrap=True)  # cmark supplies the <pre><code>
# A fenced block with a language, as cmark-gfm writes it: the language attribute-escaped, the code
# HTML-escaped, so with no '<' in it. Highlighted, it takes the <pre><code class="language-..."> form
# CommonMark uses. (Raw HTML passes through, so the document may hold thousands of such openings with
# no closing: "any characters up to </code></pre>" read on to the end from each, 9.6 s for 272 KB.)
FENCE = re.compile(r'<pre lang="([^"]*)"><code>([^<]*)</code></pre>')
# The sanitiser's time grows with the square of how deeply elements nest (20,000 nested quotes take
# seconds, on every view), so an author could make a page slow for everyone. Real documents nest a
# handful of levels; a deeper one is shown as its source text.
MAX_NESTING = 1000
# A tag, read to the next '>' or '<' (each character is read once: "to the next '>'" read on to the
# end of the document from each of 20,000 '<a ' in raw HTML, 13 s).
TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)[^<>]*?(/?)>")
# How deeply raw HTML nests cannot be counted without reading it as browsers do (a closing tag in a
# comment or a <style> closes nothing; <div/> opens a div): a document could nest far deeper than
# `nesting` counts. So past this many elements, a document is rendered with its raw HTML left out, as
# cmark-gfm's safe mode leaves it out (nesting then is Markdown's own, which `nesting` counts exactly),
# and what the sanitiser may meet is this deep at most (10,000 nested quotes: 0.2 s). That many is
# 10,000 paragraphs, or 190 KB of richly formatted ones: a real SKILL.md is far shorter.
MAX_ELEMENTS = 10_000
ELEMENT = re.compile(r"<[A-Za-z]")
VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


# GitHub's Markdown: its extensions, with raw HTML passed through and a fence's language as an attribute.
GFM_EXTENSIONS = [b"table", b"autolink", b"tagfilter", b"strikethrough", b"tasklist"]
GFM_OPTIONS = Options.CMARK_OPT_UNSAFE | Options.CMARK_OPT_GITHUB_PRE_LANG
SAFE_OPTIONS = Options.CMARK_OPT_GITHUB_PRE_LANG  # raw HTML left out ("<!-- raw HTML omitted -->")
# cmarkgfm's github_flavored_markdown_to_html never frees the document tree it parses nor the HTML it
# renders (some 30 KB a skill: a worker grew by 600 MB syncing 20,000 skills). `_github_markdown` makes
# the same calls and frees both, with the two functions cmark-gfm's library exports for it and
# cmarkgfm's bindings leave out (the library allocates with the C library's malloc).
_FREEING = cffi.FFI()
_FREEING.cdef("void cmark_node_free(void *node); void free(void *ptr);")
_CMARK_LIBRARY = _FREEING.dlopen(_cmark.__file__)
_C_LIBRARY = _FREEING.dlopen(None)


def _github_markdown(text: str, options=GFM_OPTIONS) -> str:
    """cmarkgfm.github_flavored_markdown_to_html(text, options=CMARK_OPT_UNSAFE), without its leaks
    (`options`: SAFE_OPTIONS leaves raw HTML out)."""
    lib, ffi = _cmark.lib, _cmark.ffi
    lib.cmark_gfm_core_extensions_ensure_registered()
    parser = lib.cmark_parser_new(options)
    try:
        for name in GFM_EXTENSIONS:
            lib.cmark_parser_attach_syntax_extension(parser, lib.cmark_find_syntax_extension(name))
        encoded = text.encode("utf-8")
        lib.cmark_parser_feed(parser, encoded, len(encoded))
        root = lib.cmark_parser_finish(parser)
        try:
            if lib.cmark_node_get_type(root) == lib.CMARK_NODE_NONE:
                raise ValueError("Error parsing markdown!")
            rendered = lib.cmark_render_html(root, options, lib.cmark_parser_get_syntax_extensions(parser))
            try:
                return ffi.string(rendered).decode("utf-8")
            finally:
                _C_LIBRARY.free(_pointer(rendered))
        finally:
            _CMARK_LIBRARY.cmark_node_free(_pointer(root))
    finally:
        lib.cmark_parser_free(parser)


def _pointer(cdata):
    """A pointer of cmarkgfm's bindings as one of ours."""
    return _FREEING.cast("void *", int(_cmark.ffi.cast("uintptr_t", cdata)))


def _highlight_fence(match, deadline):
    language, code = match.group(1), match.group(2)
    try:
        lexer = lexer_of(find_lexer_class_by_name(html.unescape(language)))
    except ClassNotFound:
        lexer = None
    highlighted = _highlight(html.unescape(code), lexer, FENCE_FORMATTER, deadline)
    return f'<pre><code class="language-{language}">{highlighted or code}</code></pre>'


def lexer_of(lexer_class):
    """A lexer of `lexer_class` (a Pygments lexer class, or None) if its language is HIGHLIGHTED, else None."""
    alias = lexer_class.aliases[0] if lexer_class is not None and lexer_class.aliases else None
    return lexer_class(**LEXER_OPTIONS.get(alias, {})) if alias in HIGHLIGHTED else None


def _highlight(code: str, lexer, formatter, deadline: float) -> str | None:
    """`code` highlighted by `lexer`, or None: no lexer, code past MAX_HIGHLIGHT_CHARS, or highlighting
    that would end past `deadline` (a time.monotonic())."""
    if lexer is None or len(code) > MAX_HIGHLIGHT_CHARS or time.monotonic() > deadline:
        return None
    tokens = []
    for token in lexer.get_tokens(code):
        if time.monotonic() > deadline:
            return None
        tokens.append(token)
    return pygments.format(tokens, formatter)


def _filter_attribute(tag, attribute, value):
    """Images load only inline (a remote image would tell its owner who reads the skill);
    links never use data: URLs."""
    if tag == "img" and attribute == "src":
        return value if value.startswith("data:image/") else None
    if attribute == "href" and value.strip().lower().startswith("data:"):
        return None
    return value


@dataclass
class Budget:
    """Highlighting time that documents rendered together share (`budget`)."""

    left: float  # seconds
    per_document: float  # seconds more for each document rendered
    plain: int = 0  # documents whose code was left plain because it ran out


_budget: ContextVar[Budget | None] = ContextVar("highlighting budget", default=None)


@contextmanager
def budget(seconds: float, per_document: float) -> Iterator[Budget]:
    """Within this, every document `render`s highlights its code in the time the returned Budget has
    left (and never more than HIGHLIGHT_SECONDS): `seconds` to begin with, and `per_document` more for
    each. Past it, code is shown plain. For whoever renders many documents at once: the sync."""
    shared = Budget(seconds, per_document)
    token = _budget.set(shared)
    try:
        yield shared
    finally:
        _budget.reset(token)


def render(text: str) -> str:
    """HTML for a Markdown document, raw HTML passed through (left out past MAX_ELEMENTS elements) and
    code highlighted: not safe to show until `clean` has been through it. Syncs store a skill's
    (`Skill.body_html`); a change to how it renders needs stored bodies rendered again (as migrations
    0012 and 0033 did)."""
    document = _github_markdown(text)
    if len(ELEMENT.findall(document)) > MAX_ELEMENTS:
        document = _github_markdown(text, SAFE_OPTIONS)
    if depth := _too_deep(document):
        return (f"<p><em>This document nests {depth} levels deep, more than the {MAX_NESTING} shown "
                f"formatted; here is its text.</em></p><pre>{html.escape(text)}</pre>")
    shared = _budget.get()
    seconds = HIGHLIGHT_SECONDS
    if shared is not None:
        shared.left += shared.per_document
        seconds = min(seconds, shared.left)
        if seconds <= 0 and FENCE.search(document):
            shared.plain += 1
    start = time.monotonic()
    rendered = FENCE.sub(lambda fence: _highlight_fence(fence, start + seconds), document)
    if shared is not None:
        shared.left -= time.monotonic() - start
    return rendered


def nesting(document: str) -> int:
    """How deeply the document's elements nest, counting an element left open as open (an
    overestimate for sloppy raw HTML, which only matters past MAX_NESTING)."""
    depth = deepest = 0
    for closing, name, self_closing in TAG.findall(document):
        if self_closing or name.lower() in VOID_TAGS:
            continue
        depth = max(depth - 1, 0) if closing else depth + 1
        deepest = max(deepest, depth)
    return deepest


def _too_deep(document: str) -> int:
    """The document's depth when it nests deeper than MAX_NESTING, else 0. Every element opens with a
    '<', so a document with no more of them is not walked: rendering 2,000 bench bodies took 151 ms
    walking each, 75 ms counting."""
    if document.count("<") <= MAX_NESTING:
        return 0
    depth = nesting(document)
    return depth if depth > MAX_NESTING else 0


def shown(rendered: str, markdown: str) -> str:
    """Markdown a sync rendered and stored (a skill's SKILL.md body, a plugin's README) as safe HTML.
    Sanitising happens on every view, so a stricter allow-list applies at once to what is stored; a
    row without stored HTML is rendered now."""
    html = rendered or (render(markdown) if markdown else "")
    return _clean_kept(html) if len(html) <= MAX_KEPT_CHARS else clean(html)


# A document this long at most is kept cleaned (below); a longer one is cleaned on each view. A
# SKILL.md may be 5 MB (SKILLPORT_MAX_FILE_BYTES), and 1,024 of those kept, with their HTML as keys,
# were 10 GB a worker; now at most 128 MB.
MAX_KEPT_CHARS = 64 * 1024


@functools.lru_cache(maxsize=1024)
def _clean_kept(html: str) -> str:
    # The same stored HTML always cleans the same way, and popular skills are viewed over and over:
    # each worker keeps the last 1,024 documents (a few MB), keyed by the HTML itself, so a changed
    # one or allow-list (a new release, new processes) can never be served from here.
    return clean(html)


def clean(html: str) -> str:
    if _too_deep(html):  # stored before render() refused such depth, or not from render()
        return f"<p><em>This document nests more than {MAX_NESTING} levels deep and cannot be shown.</em></p>"
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        attribute_filter=_filter_attribute,
        link_rel="noopener noreferrer nofollow",
    )


def source(path: str, text: str) -> str:
    """A text file highlighted by its name; very large files stay plain (and fast)."""
    # By the name alone: weighing candidates by their text runs each one's own expressions on it.
    lexer = lexer_of(find_lexer_class_for_filename(path))
    highlighted = _highlight(text, lexer, FORMATTER, time.monotonic() + HIGHLIGHT_SECONDS)
    return clean(highlighted or pygments.highlight(text, TextLexer(), FORMATTER))


def stylesheet(style: str = "default") -> str:
    """The CSS of static/pygments.css, and of static/pygments-dark.css with "github-dark"."""
    return HtmlFormatter(cssclass="highlight", style=style).get_style_defs(".highlight")
