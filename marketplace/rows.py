"""The rows every request or /mcp call starts with, read in SQL written out once.

For these few lookups, compiling the ORM query cost more than running it (bench/README.md measured
it: four times for the token with its client and user, twice for `visible_to`'s filter), and every
page or call makes them: the session, the signed-in user with their GitHub identity, the skill a
page shows with its files, and the access token with what the connector needs. So their SQL is written here once,
with the search's typo corrections (`closest_words`), and the install counts, revisions and scans pages
show (`install_counts`, `listed_revisions`, `content_scans`), whose ORM queries cost more to compile than to run.
Instances are built the way the ORM builds them (each field's database converters, then
`Model.from_db`), so the rest of the code cannot tell the difference; the query-count tests in
test_signin, test_catalogue, test_visibility and test_connector_http hold each to one query.
"""
import functools

from django.contrib.auth import get_user_model
from django.contrib.postgres.search import SearchVectorField
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_application_model

from audit.models import INSTALL_ACTIONS, AuditEvent

from skillport_site.postgresql.base import PLANNED_EACH_TIME

from .crypto import EncryptedTextField
from .models import (
    PLUGIN_CONTENT, Blob, CatalogueVersion, ContentScan, GitHubIdentity, Marketplace, Plugin, SearchWord, Skill,
    SkillFile, SkillRevision, once_per_key, visibility_key,
)


def session(model, session_key):
    """(session_data, expire_date) of the unexpired session `session_key` in `model`'s table, or None."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT session_data, expire_date FROM {_quote(model._meta.db_table)} "
            "WHERE session_key = %s AND expire_date > %s",
            [session_key, timezone.now()],
        )
        return cursor.fetchone()


def user_with_identity(user_id):
    """The user with this id, their GitHub identity (or none) cached on `user.github`; None if there is none."""
    row = _fetch_one(_user_query(), [user_id])
    if row is None:
        return None
    (user, identity), _ = _instances(row, get_user_model(), GitHubIdentity)
    return _with_identity(user, identity)


@functools.cache
def _user_query():
    User = get_user_model()
    return (
        f"SELECT {_columns((User, 'u'), (GitHubIdentity, 'g'))} FROM {_quote(User._meta.db_table)} u "
        f"LEFT JOIN {_quote(GitHubIdentity._meta.db_table)} g ON g.user_id = u.id WHERE u.id = %s"
    )


def token(token_checksum: str):
    """The access token with this checksum, with its client, its user and their GitHub identity,
    and in `token.catalogue_version` the catalogue version; None if there is none."""
    sql, models = _token_query()
    row = _fetch_one(sql, [token_checksum])
    if row is None:
        return None
    (found, application, user, identity), (catalogue_version,) = _instances(row, *models)
    found.application, found.user = application, _with_identity(user, identity)
    found.catalogue_version = catalogue_version or 0
    return found


@functools.cache
def _token_query():
    Token, Application, User = get_access_token_model(), get_application_model(), get_user_model()
    models = [Token, Application, User, GitHubIdentity]
    sql = (
        f"SELECT {_columns(*zip(models, 'taug'))}, ({CatalogueVersion.sql()}) "
        f"FROM {_quote(Token._meta.db_table)} t "
        f"LEFT JOIN {_quote(Application._meta.db_table)} a ON a.id = t.application_id "
        f"JOIN {_quote(User._meta.db_table)} u ON u.id = t.user_id "
        f"LEFT JOIN {_quote(GitHubIdentity._meta.db_table)} g ON g.user_id = u.id "
        "WHERE t.token_checksum = %s"
    )
    return sql, models


# Stand-ins for the looked-up names while the skill query is compiled; they cannot be real slugs.
_PATH_MARKS = ("\x00marketplace", "\x00plugin", "\x00skill")
_compiled_by_path = {}


def visible_skill(user, marketplace: str, plugin: str, skill: str):
    """The skill at `marketplace/plugin/skill`, with its plugin and marketplace, if `user` may see it.

    `visible_to`'s filter is compiled once per visibility key (users with equal keys get the same
    filter: that is what the key promises) and only the three names change from call to call.
    """
    compiled = _path_query(user)
    if compiled is None:
        return None
    sql, params, slots = compiled
    names = (marketplace, plugin, skill)
    row = _fetch_one(sql, [names[slots[i]] if i in slots else param for i, param in enumerate(params)])
    if row is None:
        return None
    (found, found_plugin, found_marketplace), _ = _instances(row, Skill, Plugin, Marketplace)
    found.plugin, found.marketplace, found_plugin.marketplace = found_plugin, found_marketplace, found_marketplace
    return found


def _path_query(user):
    return once_per_key(_compiled_by_path, visibility_key(user), lambda: _compile_path_query(user))


def _compile_path_query(user):
    """(SQL, parameters, {parameter index: which name goes there}), or None for someone who sees nothing."""
    marketplace, plugin, skill = _PATH_MARKS
    visible = Skill.objects.visible_to(user).filter(marketplace__slug=marketplace, plugin__name=plugin, slug=skill)
    try:
        # Unordered: the default ordering would join the marketplace again to sort one row.
        visible_sql, params = visible.values("pk").order_by().query.sql_with_params()
    except EmptyResultSet:
        return None  # `visible_to` admits them to nothing
    slots = {i: _PATH_MARKS.index(param) for i, param in enumerate(params) if param in _PATH_MARKS}
    sql = (
        f"SELECT {_columns((Skill, 's'), (Plugin, 'p'), (Marketplace, 'm'))} "
        f"FROM {_quote(Skill._meta.db_table)} s "
        f"JOIN {_quote(Plugin._meta.db_table)} p ON p.id = s.plugin_id "
        f"JOIN {_quote(Marketplace._meta.db_table)} m ON m.id = s.marketplace_id "
        f"WHERE s.id IN ({visible_sql})"
    )
    return sql, params, slots


def skill_files(skill_id):
    """The skill's files (SkillFile, by path), each with its blob's `blob_size` and `blob_sha256` (None
    without a stored blob): the skill page's file list and its provenance panel (provenance.of) from
    one query, where the ORM's compiling had cost more than running it and a second query read the digests."""
    with connection.cursor() as cursor:
        cursor.execute(_files_query(), [skill_id])
        found = []
        for row in cursor.fetchall():
            (file,), (file.blob_size, file.blob_sha256) = _instances(row, SkillFile)
            found.append(file)
        return found


@functools.cache
def _files_query():
    return (f"SELECT {_columns((SkillFile, 'f'))}, b.size, b.sha256 FROM {_quote(SkillFile._meta.db_table)} f "
            f"LEFT JOIN {_quote(Blob._meta.db_table)} b ON b.sha = f.blob_id WHERE f.skill_id = %s ORDER BY f.path")


# What the skill page lists of each revision; their files and content stay deferred.
LISTED_REVISION_FIELDS = ("skill", "created_at", "version", "commit", "status")
# Stands in for the skill's id while the revisions' query is compiled; no row has it.
_SKILL_MARK = -(2**62)
_compiled_revisions = {}


def listed_revisions(skill_id: int, user, limit=20) -> list[SkillRevision]:
    """The skill's revisions `user` may read (`RevisionQuerySet.shown_to`), newest first, at most
    `limit`, with LISTED_REVISION_FIELDS: the skill page's history. Compiled once per visibility key,
    as `visible_skill` is; Django's raw() builds the instances from the columns it names."""
    sql, params = once_per_key(_compiled_revisions, (visibility_key(user), limit), lambda: (
        SkillRevision.objects.filter(skill_id=_SKILL_MARK).shown_to(user).order_by("-id")
        .only(*LISTED_REVISION_FIELDS)[:limit]
    ).query.sql_with_params())
    return list(SkillRevision.objects.raw(sql, [skill_id if param == _SKILL_MARK else param for param in params]))


def content_scans(content_hash: str, identities: list[str]) -> list[ContentScan]:
    """The scans of `content_hash` by the scanners named `identities` (scans.report, on every skill page)."""
    with connection.cursor() as cursor:
        cursor.execute(_scans_query(), [content_hash, identities])
        return [_instances(row, ContentScan)[0][0] for row in cursor.fetchall()]


@functools.cache
def _scans_query():
    return (f"SELECT {_columns((ContentScan, 'c'))} FROM {_quote(ContentScan._meta.db_table)} c "
            "WHERE c.content_hash = %s AND c.scanner = ANY(%s)")


def install_counts(targets: list[tuple[str, str, str]]) -> dict[tuple[str, str, str], int]:
    """How many people installed each (marketplace slug, plugin name, skill slug) of `targets`, as the audit
    log records it (`INSTALL_ACTIONS`; each person once, as `filters.PERSON` tells them apart), for those installed
    at least once: the installs on a page's cards and on a skill page, where compiling the ORM's grouped query
    cost more than running it."""
    if not targets:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(_installs_query(), [list(INSTALL_ACTIONS), *(list(column) for column in zip(*targets))])
        return {(marketplace, plugin, skill): n for marketplace, plugin, skill, n in cursor.fetchall()}


@functools.cache
def _installs_query():
    # Exact targets, each found through the (marketplace, plugin, skill) index.
    return ("SELECT e.marketplace, e.plugin, e.skill, count(DISTINCT coalesce(e.actor_github_id::text, e.actor_login)) "
            f"FROM {_quote(AuditEvent._meta.db_table)} e "
            "WHERE e.action = ANY(%s) AND (e.marketplace, e.plugin, e.skill) IN "
            "(SELECT * FROM unnest(%s::text[], %s::text[], %s::text[])) GROUP BY 1, 2, 3")


def closest_words(queryset, words: list[str], config: str) -> dict[str, str]:
    """For each of `words` (lowercased) that no skill of `queryset` holds, the most similar word of
    the catalogue's names and descriptions (SearchWord) that a skill of `queryset` holds in its
    name, display name or description: search's typo path. The word with two neighbouring letters
    swapped comes first (`_swapped`); else the most similar as pg_trgm's `%` and `similarity` say, at
    its default threshold of 0.3 (a word of about ten letters with one dropped or two swapped scores
    0.35-0.6).

    Written out because compiling the ORM's version (a union with two EXISTS per word) cost ~8 ms
    of Python a typo search, six times running it. Visibility is still `queryset`'s: its own SQL,
    compiled by the ORM (`visible_to`'s filter in every use), is what the candidates must be in.
    A stop word (no lexeme in the search's text search configuration `config`) is left alone: the
    search ignores it.
    """
    try:
        skills, params = queryset.values("pk").order_by().query.sql_with_params()
    except EmptyResultSet:
        return {}  # `queryset` holds nothing (`visible_to` admits them to nothing): nothing to offer
    if not words:
        return {}
    table, searched = _quote(Skill._meta.db_table), "plainto_tsquery(%s::regconfig, {})"  # `config`
    sql = (
        "SELECT t.typed, ("
        f"  SELECT w.word FROM {_quote(SearchWord._meta.db_table)} w"
        "   WHERE (w.word %% t.typed OR w.word = ANY(string_to_array(t.swapped, ' '))) AND EXISTS ("
        f"    SELECT FROM {table} s WHERE s.id IN ({skills}) AND s.search_vector @@ {searched.format('w.word')}"
        "     AND to_tsvector('simple', concat_ws(' ', s.name, s.display_name_override, s.description))"
        "         @@ plainto_tsquery('simple', w.word))"
        "  ORDER BY w.word = ANY(string_to_array(t.swapped, ' ')) DESC, similarity(w.word, t.typed) DESC, w.word"
        "  LIMIT 1) "
        "FROM unnest(%s::text[], %s::text[]) AS t(typed, swapped) "
        f"WHERE numnode({searched.format('t.typed')}) > 0 AND NOT EXISTS ("
        f"  SELECT FROM {table} s WHERE s.id IN ({skills}) AND s.search_vector @@ {searched.format('t.typed')})"
    )
    # Each word's swaps travel beside it as one string, so both go through unnest, whose row estimate
    # (10) keeps the statement under PostgreSQL's JIT threshold: read from a JSON document (estimated
    # at 100 rows), it was compiled for 40 ms.
    swapped = [" ".join(_swapped(word)) for word in words]
    with connection.cursor() as cursor:
        # A search (`@@`): never prepared (skillport_site/postgresql/base.py), as PostgreSQL's
        # generic plan for it took 100 ms where each run's own plan takes 1-4 ms.
        cursor.execute(sql, [*params, config, words, swapped, config, *params, config])
        return {typed: word for typed, word in cursor.fetchall() if word}


def _swapped(word: str) -> list[str]:
    """`word` with two neighbouring letters swapped, each way there is ("reveiw": "erveiw", ..., "review"):
    the commonest typo. Trigram similarity ranks it low in a short word (0.27 for "reveiw" and
    "review", under pg_trgm's 0.3), so these are candidates of their own, and the first choice."""
    return list(dict.fromkeys(word[:i] + word[i + 1] + word[i] + word[i + 2:]
                              for i in range(len(word) - 1) if word[i] != word[i + 1]))


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def planning_each_time():
    """A context in which every statement the ORM runs is planned for its parameters each time, never a prepared
    statement: for a query whose generic plan reads from the start what its parameters would skip."""
    def execute(run, sql, params, many, context):
        return run(PLANNED_EACH_TIME + sql, params, many, context)
    return connection.execute_wrapper(execute)


def _fetch_one(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


# A plugin's README and content besides its skills (models.PLUGIN_CONTENT): read by the admin and the plugin page,
# never by the pages and calls these rows serve.
_UNREAD = {("marketplace", "plugin", field) for field in PLUGIN_CONTENT}


@functools.cache
def _fields(model) -> list:
    """What these rows read of a model: every concrete field in `_meta` order, except secrets
    (decrypted only by the code that uses them), search vectors and `_UNREAD`. Those are left
    deferred: reading one makes a query, as with `QuerySet.defer`."""
    return [field for field in model._meta.concrete_fields
            if not isinstance(field, EncryptedTextField)
            and not isinstance(getattr(field, "output_field", None), SearchVectorField)
            and (model._meta.app_label, model._meta.model_name, field.name) not in _UNREAD]


def _columns(*aliased) -> str:
    """The select list for (model, table alias) pairs."""
    return ", ".join(f"{alias}.{_quote(field.column)}" for model, alias in aliased for field in _fields(model))


def _instances(row, *models):
    """One instance per model from `row`, read in `_columns` order; None for a left join that found
    nothing. Returns the instances and whatever columns follow them."""
    found, start = [], 0
    for model in models:
        read = _fields(model)
        values = row[start:start + len(read)]
        start += len(read)
        if values[0] is None:
            found.append(None)
            continue
        values = [_converted(field, value) for field, value in zip(read, values)]
        found.append(model.from_db(connection.alias, [field.attname for field in read], values))
    return found, row[start:]


def _converted(field, value):
    for converter in field.get_db_converters(connection):
        value = converter(value, None, connection)
    return value


def _with_identity(user, identity):
    """Cache `user.github` (the identity, or none), so reading it makes no query."""
    GitHubIdentity.user.field.remote_field.set_cached_value(user, identity)
    return user
