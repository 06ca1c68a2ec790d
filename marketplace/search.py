"""Catalogue search: PostgreSQL full-text search with trigram typo tolerance and safe highlights.

1. The query is read with web-search syntax ("quoted phrases", -exclusions, or).
2. Skills match on their weighted tsvector (name > description > body), ranked by ts_rank.
3. Only when nothing matches the words as written, names and descriptions are compared by
   trigram word similarity instead, which forgives typos. (Planning and running the trigram
   conditions costs several times the full-text search, so they are not run on every query.)
4. Highlights come from ts_headline with sentinel characters, which are swapped for <mark>
   only after the text is escaped: a skill's description can never inject markup.

Every surface refuses a query past the limits first (validate_query): PostgreSQL's work grows
with each word and character, and a 9,000-word query once ran for 87 seconds.
"""
from django.conf import settings
from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank, TrigramWordSimilarity
from django.core.exceptions import ValidationError
from django.db.models import F, FloatField, Q, Value
from django.db.models.functions import Greatest
from django.utils.html import escape
from django.utils.safestring import mark_safe

CONFIG = "english"
# Control characters escape() leaves alone; a description holding one can at worst add a stray <mark>.
START, STOP = "\x02", "\x03"
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


def search(queryset, text: str, headlines=True):
    """Skills of `queryset` matching `text`, annotated with `score` and (unless told not to) `headline`.

    `text` has passed validate_query: the filters and the connector check it where it comes in.

    ts_headline is costly, and PostgreSQL may compute it for every match before the LIMIT, so
    callers that show no highlights (the connector) leave it out.
    """
    text = text.strip()
    if not text:
        return queryset.annotate(score=Value(0.0, output_field=FloatField()))
    query = SearchQuery(text, search_type="websearch", config=CONFIG)
    headline = SearchHeadline(
        "description", query, config=CONFIG, start_sel=START, stop_sel=STOP, max_words=40, min_words=15
    )
    extra = {"headline": headline} if headlines else {}
    matches = queryset.filter(search_vector=query)
    if matches.exists():
        return matches.annotate(score=SearchRank(F("search_vector"), query), **extra)
    # `%>` uses the trigram indexes, with the threshold set for our connections (settings.py).
    similar = Q(name__trigram_word_similar=text) | Q(description__trigram_word_similar=text)
    similarity = Greatest(TrigramWordSimilarity(text, "name"), TrigramWordSimilarity(text, "description"))
    return queryset.filter(similar).annotate(score=similarity, **extra)


def highlight(headline: str) -> str:
    """Escaped text with matches wrapped in <mark>."""
    return mark_safe(escape(headline).replace(START, "<mark>").replace(STOP, "</mark>"))
