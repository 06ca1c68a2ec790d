"""Catalogue search: PostgreSQL full-text search with trigram typo tolerance and safe highlights.

1. The query is read with web-search syntax ("quoted phrases", -exclusions, or).
2. Skills match on their weighted tsvector (name > description > body), ranked by ts_rank.
3. Only when nothing matches the words as written, each word no skill holds is corrected to the
   closest word (two neighbouring letters swapped, else trigram similarity) of the catalogue's
   names and descriptions (SearchWord) that a skill the searcher may see holds, and the full-text
   search runs again with the corrections
   (`respelt`, which pages show as "showing results for"). Comparing the words with a table of
   thousands costs a few milliseconds, where comparing them with every candidate skill's name and
   description cost ~150 ms. A word only skills hidden from the searcher hold is never offered.
4. ts_headline says which words of a description matched (between sentinel characters); pages
   mark those words in the description itself (`snippet`), each piece of text escaped before a
   <mark> goes around it, so a skill's description can never inject markup.

Every surface refuses a query past the limits first (validate_query): PostgreSQL's work grows
with each word and character, and a 9,000-word query once ran for 87 seconds.
"""
import re

from django.conf import settings
from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank
from django.core.exceptions import ValidationError
from django.db.models import CharField, Count, F, FloatField, Value, Window
from django.utils.html import escape
from django.utils.safestring import mark_safe

from . import rows

CONFIG = "english"
SNIPPET_CHARS = 220
WORD = re.compile(r"\w+")
# Control characters no description shows; one holding them can at worst have a wrong word marked.
START, STOP = "\x02", "\x03"
# What ts_headline marked: the text between a START and the STOP after it, with neither inside. (The
# text itself may hold either: "any characters up to STOP" read on to the end from each of thousands
# of START in a description, 1.1 s for 16,000, on every search that showed its card.)
MARKED = re.compile(f"{START}([^{START}{STOP}]*){STOP}")
# No catalogue comes near this many skills. An offset past PostgreSQL's bigint would fail in the
# query ("bigint out of range") rather than find nothing: a page number in a URL can be anything.
MAX_OFFSET = 2**31
SORTS = {
    "relevance": ["-score", "name"],
    "name": ["name", "plugin__name"],
    "updated": ["-updated_at", "name"],
}


def validate_query(text: str) -> None:
    """Refuse a search longer than SKILLPORT_SEARCH_MAX_CHARS or with more words than
    SKILLPORT_SEARCH_MAX_TERMS: a validator for every filter that takes a search (the connector calls it too)."""
    most_chars, most_terms = settings.SKILLPORT_SEARCH_MAX_CHARS, settings.SKILLPORT_SEARCH_MAX_TERMS
    if len(text) > most_chars:
        raise ValidationError(f"A search may be {most_chars} characters long at most; this one has {len(text)}. "
                              "Use fewer, more telling words.", code="max_length")
    if (terms := len(text.split())) > most_terms:
        raise ValidationError(f"A search may have {most_terms} words at most; this one has {terms}. "
                              "Use fewer, more telling words.", code="max_terms")


def search(queryset, text: str, headlines=True, matched=None):
    """Skills of `queryset` matching `text`, annotated with `score` and (unless told not to) `headline`;
    when only the typo path found them, with `respelt` too: the search it ran instead.

    `text` has passed validate_query: the filters and the connector check it where it comes in.

    ts_headline is costly, and PostgreSQL may compute it for every match before the LIMIT, so
    callers that show no highlights (the connector) leave it out.

    `matched` is what the caller knows already of whether any skill matches the words as written:
    None asks PostgreSQL first (a query of its own); True searches them without asking, for callers
    that would rather run their page and see it empty (most searches match); False goes straight to
    the typo path.
    """
    text = text.strip()
    if not text:
        return queryset.annotate(score=Value(0.0, output_field=FloatField()))
    matches, extra = _matching(queryset, text, headlines)
    if matched or (matched is None and matches.exists()):
        return matches.annotate(**extra)
    respelt = _respelt(queryset, text)
    if respelt == text:
        return matches.annotate(**extra)  # nothing to correct: nothing matches
    matches, extra = _matching(queryset, respelt, headlines)
    return matches.annotate(**extra, respelt=Value(respelt, output_field=CharField()))


def _matching(queryset, text, headlines):
    """The skills of `queryset` matching `text`, and the annotations that score and mark them."""
    query = SearchQuery(text, search_type="websearch", config=CONFIG)
    extra = {"score": SearchRank(F("search_vector"), query)}
    if headlines:  # every match marked: `snippet` picks the passage to show
        extra["headline"] = SearchHeadline("description", query, config=CONFIG, start_sel=START, stop_sel=STOP,
                                           highlight_all=True)
    return queryset.filter(search_vector=query), extra


def _respelt(queryset, text: str) -> str:
    """`text` with each word the skills of `queryset` do not hold replaced by the most similar word
    that one of them holds in its name, display name or description (rows.closest_words).

    Candidates come from the catalogue's words (SearchWord), and each must be held by a skill of
    `queryset`, whose visibility rules therefore decide what may be offered: a word only skills
    hidden from the searcher hold never is. A word held as written (in a body, say) is kept, and so
    is a stop word, which the search ignores anyway.
    """
    corrections = rows.closest_words(queryset, list(dict.fromkeys(terms(text))), CONFIG)
    return WORD.sub(lambda found: corrections.get(found.group().lower(), found.group()), text)


def page_and_total(queryset, offset: int, limit: int) -> tuple[list, int | None]:
    """The rows `offset` to `offset + limit` of `queryset` and how many it holds in all, in one query
    (COUNT(*) OVER ()): a count of its own would run the whole search again, and a cold typo search
    computes trigram similarities for every candidate. The total is None when the page is past the
    end (no row to read it from), as is any past MAX_OFFSET; callers that need it then count."""
    if offset > MAX_OFFSET:
        return [], None
    rows = list(queryset.annotate(matched=Window(Count("*")))[offset:offset + limit])
    return rows, rows[0].matched if rows else (0 if offset == 0 else None)


def snippet(text: str, headline: str = "", words=()) -> str:
    """What a card shows of `text`, as safe HTML: about SNIPPET_CHARS of it, cut on a word with an
    ellipsis wherever `text` goes on, starting near the first match when that lies further on.

    The words marked are those ts_headline marked in `headline` (PostgreSQL knows which forms of a
    word the query matched), else those matching `words`. The passage is always `text` itself:
    ts_headline's own drops what looks like markup, and would put ellipses where nothing is missing.
    """
    text = text.strip()
    exact = {word.lower() for word in MARKED.findall(headline)}
    found = (lambda word: word.lower() in exact) if headline else (lambda word: _matches(word.lower(), words))
    first = next((match.start() for match in WORD.finditer(text) if found(match.group())), 0)
    begin = 0
    if first > SNIPPET_CHARS * 2 // 3:  # show the match with some words before it
        begin = text.find(" ", first - SNIPPET_CHARS // 3) + 1
    end = len(text)
    if end - begin > SNIPPET_CHARS:
        end = text.rfind(" ", begin, begin + SNIPPET_CHARS + 1)
        end = end if end > begin else begin + SNIPPET_CHARS  # one long word is cut where it must
    shown = text[begin:end].rstrip(" ,;:.-") if end < len(text) else text[begin:end]
    # A no-break space keeps each ellipsis with its word.
    return mark_safe(("…\u00a0" if begin else "") + mark(shown, found) + ("\u00a0…" if end < len(text) else ""))


def terms(text: str) -> list[str]:
    """The words of a search that count as found, lowercased: not those it excludes (-word), nor its "or"."""
    return [word.lower() for sign, word in re.findall(r"(-?)(\w+)", text) if not sign and word.lower() != "or"]


def mark(text: str, words) -> str:
    """`text` escaped, with each word that matches one of `words` (see `_matches`) wrapped in <mark>;
    `words` may instead be a function that says whether a word is one."""
    matches = words if callable(words) else (lambda word: _matches(word.lower(), words))
    pieces, done = [], 0
    for found in WORD.finditer(text):
        if matches(found.group()):
            pieces += [escape(text[done:found.start()]), "<mark>", escape(found.group()), "</mark>"]
            done = found.end()
    pieces.append(escape(text[done:]))
    return mark_safe("".join(pieces))


def _matches(word: str, words) -> bool:
    """The same word, or one of its forms that differ by an ending: "review" for "reviews", and back."""
    return any(
        word == term
        or (len(term) >= 3 and word.startswith(term) and len(word) - len(term) <= 3)
        or (len(word) >= 3 and term.startswith(word) and len(term) - len(word) <= 3)
        for term in words
    )
