"""Marketplaces and what syncing them produces: plugins, skills, files, revisions, sync runs."""
import functools
import itertools

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.functions import RandomUUID
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, models, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce, Left, NullIf
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone

from . import access, addresses, gitrepo
from .crypto import EncryptedTextField
from .verdicts import Verdict

AUDIENCE_HELP = (
    "Who may see this, as GitHub refs: github:@org/team, github:@login or github:<id>. "
    "Empty: every signed-in member."
)


def audience_field():
    return ArrayField(models.CharField(max_length=access.LONGEST), default=list, blank=True, help_text=AUDIENCE_HELP)


class Curation(models.TextChoices):
    # Shown normally. Rows, the API and audit events hold "approved"; the code says SHOWN, as
    # "approved" there means what the approval policy (approval.py) decides.
    SHOWN = "approved", "Approved"
    FEATURED = "featured", "Featured"
    HIDDEN = "hidden", "Hidden"


class Policy(models.TextChoices):
    NONE = "", "No policy"
    REQUIRED = "required", "Required"
    RECOMMENDED = "recommended", "Recommended"
    DISCOURAGED = "discouraged", "Discouraged"
    PROHIBITED = "prohibited", "Prohibited"


class CurationFields(models.Model):
    """What admins decide about a plugin or skill, beside what its repository says."""

    curation = models.CharField(
        max_length=20, choices=Curation.choices, default=Curation.SHOWN,
        help_text="Featured: shown first on the home page. Hidden: invisible on every surface.",
    )
    policy = models.CharField(max_length=20, choices=Policy.choices, blank=True,
                              help_text="The organisation's stance, shown to everyone who can see it.")
    policy_reason = models.TextField(blank=True, help_text="Why; shown to users beside the policy.")
    notes = models.TextField(blank=True, help_text="Internal notes for admins; never shown to users.")

    class Meta:
        abstract = True

    @property
    def featured(self):
        return self.curation == Curation.FEATURED

    @property
    def stance(self):
        """(policy, reason) for users: a skill's own policy, else its plugin's."""
        if self.policy:
            return self.policy, self.policy_reason
        plugin = getattr(self, "plugin", None)
        return (plugin.policy, plugin.policy_reason) if plugin is not None else ("", "")


def _audience_q(who, prefix=""):
    """Q for "no audience set, or the user is in it" on the model at `prefix`."""
    return Q(**{f"{prefix}audience": []}) | Q(**{f"{prefix}audience__overlap": who})


class VisibleQuerySet(models.QuerySet):
    """`visible_to(user)`: the one rule for who sees what, used by web, API and MCP alike.

    Anonymous users see nothing. Superusers see everything live. Everyone else sees what
    every audience on the way down (marketplace, plugin, skill) admits them to, and, for
    skills, what `.skillport/access.json` lets them read.
    """

    # How to reach the marketplace and plugin from this model; None where it is the model itself.
    marketplace_path = "marketplace__"
    plugin_path = "plugin__"

    def visible_to(self, user, *, removed=False):
        """With `removed`, as if the removed were still there: for what an approved commit holds (curated.py)."""
        if user is None or not user.is_authenticated:
            return self.none()
        live = self._live(removed)
        if user.is_superuser:
            return live  # including skills awaiting their first approval, so admins can review them
        who = access.principals(user)
        if not who:
            return self.none()  # not (or no longer) a member: an empty audience does not admit them
        return live._for_member(who)

    def visible_to_audience(self, audience, *, removed=False):
        """What every member of `audience` (refs, as on a publish target; empty: every member) may
        see: a published channel reaches all of them, so a thing is in only if the rule admits each.

        All that is known of a member of a team (or a login) is that they answer to "*" and that
        ref, so those are the principals each group is judged by; a thing named for one person
        only reaches a target whose audience is that person.
        """
        live = self._live(removed)
        for ref in [access.normalise(ref) for ref in audience] or [access.EVERYONE]:
            if ref is None:
                return self.none()  # a ref that names nobody we know: publish nothing rather than guess
            live = live._for_member(sorted({access.EVERYONE, ref}))
        return live

    def _live(self, removed=False):
        """What exists for members at all: enabled, not removed (unless `removed`, then for the model itself), not
        hidden."""
        live = self.filter(**{f"{self.marketplace_path}enabled": True})
        if self.plugin_path is not None:
            live = live.filter(**{f"{self.plugin_path}removed_at": None}).exclude(
                **{f"{self.plugin_path}curation": Curation.HIDDEN}
            )
        if self.model is not Marketplace and not removed:
            live = live.filter(removed_at=None)
        if self.model is Skill:
            live = live.exclude(curation=Curation.HIDDEN)
        return live

    def _for_member(self, who):
        """The part of `self` a member answering to the principals `who` may see."""
        shown = self.filter(released=True) if self.model is Skill else self
        rules = _audience_q(who, self.marketplace_path)
        if self.plugin_path is not None:
            rules &= _audience_q(who, self.plugin_path)
        if self.model is Skill:
            rules &= _audience_q(who) & Q(readers__overlap=who)
        return shown.filter(rules)


class MarketplaceQuerySet(VisibleQuerySet):
    marketplace_path = ""
    plugin_path = None


class PluginQuerySet(VisibleQuerySet):
    plugin_path = ""

    def content_awaiting_approval(self):
        """Plugins whose hooks, commands or servers changed since an admin approved them (plugincontent)."""
        return self.exclude(own_hash=F("approved_own_hash"))


class SkillQuerySet(VisibleQuerySet):
    def handed_out(self):
        """Less what the organisation prohibits (`Skill.stance`: its own policy, else its plugin's): shown, never
        installed, so left out where a listing is what a client installs from."""
        return self.exclude(policy=Policy.PROHIBITED).exclude(policy=Policy.NONE, plugin__policy=Policy.PROHIBITED)

    def apply_access_rules(self, rules):
        """Set each skill's `readers` (the principals who may read it) from a marketplace's access.json;
        rules are keyed by skill name (FORMAT.md §8).

        One UPDATE per named rule plus one for the default, each touching only rows that differ.
        """
        rules = rules or {}
        named = list(rules["skills"]) if isinstance(rules.get("skills"), dict) else []
        default = access.read_principals("", {**rules, "skills": {}})
        self.exclude(name__in=named).exclude(readers=default).update(readers=default)
        for name in named:
            value = access.read_principals(name, rules)
            self.filter(name=name).exclude(readers=value).update(readers=value)


def visibility_key(user) -> str:
    """What `visible_to(user)` depends on, as a string: users with equal keys see exactly the same
    things, so what is built for one (`once_per_key`) serves the others. Change it with the rule."""
    if user is None or not user.is_authenticated:
        return "anonymous"
    if user.is_superuser:
        return "superuser"
    return "principals:" + ",".join(sorted(access.principals(user)))


def shared_visibility_key(user, named: frozenset[str]) -> str:
    """`visibility_key`, less the principals no audience or access rule names (`named`: read with the
    catalogue version, `CatalogueVersion.with_named`). Those admit nobody to anything, so users who differ
    only in them see the same things: every member answers to their own login and id, which few rules
    name, so by `visibility_key` alone no two members of a team would share a cached page.

    Only for what is computed at the version `named` was read at (caching.py). Not for what outlives it,
    such as the statements `once_per_key` compiles with a user's principals in them: once a rule names a
    login, a statement compiled for a teammate with that login in it would show them what it admits."""
    if user is None or not user.is_authenticated or user.is_superuser:
        return visibility_key(user)
    return "principals:" + ",".join(sorted(
        principal for principal in access.principals(user) if principal in named or principal == access.EVERYONE))


# Entries per cache of `once_per_key`: one per set of teams a user can be in, so this only bounds a surprise.
MOST_KEYS = 1000


def once_per_key(cache: dict, key, build):
    """`cache[key]`, from `build()` the first time: what is built once per visibility key (the
    managers' `visible_to`, and the statements rows.py compiles) rather than on every request."""
    if key not in cache:
        if len(cache) >= MOST_KEYS:
            cache.clear()
        cache[key] = build()
    return cache[key]


_visible_rules = {}


class VisibleManager(models.Manager):
    """The manager of the models `visible_to` rules (`Model.objects`).

    `Model.objects.visible_to(user)` builds the rule's filter once per model and visibility key, and
    hands each caller a copy: building it took 0.6 ms, more than the queries it filters take to run
    (issue 21). It may: this manager's queryset is the whole table, always the same, and users with
    equal keys see exactly the same things. A related manager (`plugin.skills`) is of this class too,
    but its queryset is filtered, so it builds the filter afresh, as any filtered queryset does.
    """

    def visible_to(self, user, *, removed=False):
        if self is not self.model._default_manager:
            return self.get_queryset().visible_to(user, removed=removed)
        rule = once_per_key(_visible_rules, (self.model, visibility_key(user), removed),
                            lambda: self.get_queryset().visible_to(user, removed=removed))
        return rule.all()


class CatalogueVersion(models.Model):
    """One row whose number changes with every write to marketplaces, plugins and skills, in the
    writing transaction: database triggers bump it (migration 0007), so bulk updates, `update()`
    and the admin all count without having to remember to. Cached pages are keyed by it."""

    number = models.BigIntegerField(default=0)

    @classmethod
    def sql(cls) -> str:
        """The query for the current number (no row, before the first write, means 0)."""
        return f"SELECT number FROM {cls._meta.db_table} WHERE id = 1"

    @classmethod
    def current(cls) -> int:
        # Read on every cached page: plain SQL costs a third of what compiling the ORM query does.
        with connection.cursor() as cursor:
            cursor.execute(cls.sql())
            row = cursor.fetchone()
        return row[0] if row else 0

    @classmethod
    def with_named(cls) -> tuple[int, frozenset[str]]:
        """The current number and every principal an audience or access rule names at it (in any
        marketplace, plugin or skill, live or not), read in one statement: one snapshot of both."""
        # A skill's two in one pass, each set of them once: the table is read whole (15-20 ms at 10,000 skills,
        # once a version in each process).
        named = (f"SELECT unnest(audience) FROM {Marketplace._meta.db_table} "
                 f"UNION SELECT unnest(audience) FROM {Plugin._meta.db_table} "
                 f"UNION SELECT unnest(a) FROM (SELECT DISTINCT audience || readers AS a FROM {Skill._meta.db_table}) s")
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT ({cls.sql()}), ARRAY({named})")
            number, principals = cursor.fetchone()
        return number or 0, frozenset(principals)


class SearchWord(models.Model):
    """A word of some skill's name, display name or description, lowercased: what the search's typo
    path corrects a misspelt word against (search.py). Database triggers add the words of every
    skill written (migration 0021), in the writing statement, whoever writes it.

    Words are never removed: one whose skills are gone or hidden is never offered, since a
    correction must be held by a skill the searcher may see. So the table says nothing by itself
    about who may see what, and no surface reads it but the search."""

    word = models.TextField(primary_key=True)

    class Meta:
        indexes = [GinIndex(OpClass("word", name="gin_trgm_ops"), name="searchword_word_trgm")]


class Severity(models.TextChoices):
    """A security scanner's severities, mildest first (scanners.SEVERITIES is the same order)."""

    INFO = "info", "Info"
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


class ScanGate(models.TextChoices):
    OFF = "off", "Off: do not scan"
    REPORT = "report", "Report findings only"
    HOLD = "hold", "Hold for an admin at or above the threshold"
    BLOCK = "block", "Block at or above the threshold"


def default_sync_interval():
    return settings.SKILLPORT_SYNC_INTERVAL_MINUTES


class Status(models.TextChoices):
    NEVER = "never", "Never synced"
    RUNNING = "running", "Syncing"
    OK = "ok", "OK"
    PARTIAL = "partial", "OK with errors"
    FAILED = "failed", "Failed"
    UNCHANGED = "unchanged", "Unchanged"


class Marketplace(models.Model):
    slug = models.SlugField(unique=True, help_text="Stable identifier used in URLs and APIs.")
    name = models.CharField(max_length=200, blank=True, help_text="Display name, from the catalogue.")
    # Claude Code keeps one marketplace per name: the curated catalogue's name, in its JSON, the
    # settings snippet and every install command, must be unique here where `name` need not be.
    catalogue_name = models.CharField(
        max_length=220, unique=True, editable=False,
        help_text="The name Claude Code knows its curated catalogue by: the catalogue's name, or the slug "
                  "where another marketplace here has that name.")
    description = models.TextField(blank=True)
    git_url = models.CharField(
        "Git URL", max_length=1000,
        help_text="HTTPS or SSH URL of the repository, or a local path. Never include a token here.",
    )
    ref = models.CharField(max_length=255, blank=True, help_text="Branch or tag; empty for the default branch.")
    catalog_path = models.CharField(max_length=500, default=".claude-plugin/marketplace.json")
    access_token = EncryptedTextField(
        blank=True, help_text="For private repositories. Stored encrypted; never shown again.",
    )
    # A catalogue's author names its sources: the token the admin gave for this repository must not fetch, and so
    # show members, whatever else it may read on the server unless the admin says it may (addresses.within_reach).
    token_reach = models.CharField(
        "Token reaches", max_length=20, default=addresses.OWNER,
        choices=[(addresses.REPOSITORY, "This repository alone"),
                 (addresses.OWNER, "Repositories beside it on its server (the same owner, group or project)"),
                 (addresses.SERVER, "Every repository on its server")],
        help_text="Where the access token goes when plugin sources on the repository's server are fetched. Never "
                  "to another server, nor over another scheme or port.",
    )
    webhook_secret = EncryptedTextField(
        blank=True, help_text="The secret of the GitHub webhook (push events) that triggers syncs.",
    )
    sync_interval = models.PositiveIntegerField(
        "Sync interval (minutes)", default=default_sync_interval, help_text="0 turns scheduled syncs off.",
    )
    enabled = models.BooleanField(default=True)
    audience = audience_field()
    contributors = ArrayField(
        models.CharField(max_length=access.LONGEST), default=list, blank=True,
        help_text="Who may propose new skills and changes (as pull requests), as GitHub refs: github:@org/team, "
                  "github:@login, github:<id>, or * for every member. Empty: nobody (editors in "
                  ".skillport/access.json still may).",
    )
    requires_approval = models.BooleanField(
        "New skills need approval", default=False,
        help_text="New and changed skills wait for an admin's approval; until then members see nothing new, "
                  "or the last approved revision of a changed skill. Turning it off publishes what waits.",
    )

    scan_gate = models.CharField(
        "Security scan", max_length=10, choices=ScanGate.choices, default=ScanGate.REPORT,
        help_text="Hold or block: a new or changed skill is served only once its scan found nothing at or above "
                  "the threshold (or an admin overrode the findings with a reason); until then members keep the last "
                  "revision that passed.",
    )
    scan_threshold = models.CharField(
        "Scan threshold", max_length=10, choices=Severity.choices, default=Severity.HIGH,
        help_text="The mildest severity a finding must have to hold or block a revision.",
    )

    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEVER)
    last_synced_commit = models.CharField(max_length=40, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    last_sync_fingerprint = models.CharField(max_length=64, blank=True, editable=False)
    reader_version = models.PositiveSmallIntegerField(
        default=0, editable=False,
        help_text="The reader (reader.READER_VERSION) that last read and judged the skills: a sync by a newer one "
                  "reads and judges each again.",
    )
    last_error = models.TextField(blank=True)

    owner = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    renames = models.JSONField(default=dict, blank=True)
    cross_marketplace = models.JSONField(
        default=list, blank=True, editable=False,
        help_text="allowCrossMarketplaceDependenciesOn: the marketplaces whose plugins Claude Code installs with "
                  "this one's that depend on them. Its curated catalogue says the same.",
    )
    access_rules = models.JSONField(
        default=dict, blank=True, help_text="The repository's .skillport/access.json, as last synced.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = VisibleManager.from_queryset(MarketplaceQuerySet)()

    class Meta:
        ordering = ["slug"]

    def __str__(self):
        return self.name or self.slug

    def get_absolute_url(self):
        return reverse("marketplace:marketplace", args=[self.slug])

    def save(self, *args, **kwargs):
        fields = kwargs.get("update_fields")
        if fields is not None and not {"name", "slug"} & set(fields):
            return super().save(*args, **kwargs)  # a save of other fields keeps its catalogue name
        if fields is not None:
            kwargs["update_fields"] = {*fields, "catalogue_name"}
        for attempt in range(1, 4):
            self.catalogue_name = self._free_catalogue_name()
            try:
                # In a savepoint: two marketplaces of one name synced at once both find it free, and the
                # second to write waits for the first, then fails on the unique name; it looks again.
                with transaction.atomic():
                    return super().save(*args, **kwargs)
            except IntegrityError:
                taken = Marketplace.objects.exclude(pk=self.pk).filter(catalogue_name=self.catalogue_name)
                if attempt == 3 or not taken.exists():
                    raise

    @property
    def renamed(self) -> bool:
        """Is its curated catalogue served under another name than the one its marketplace.json gives it?"""
        return bool(self.name) and self.catalogue_name != self.name

    def _free_catalogue_name(self) -> str:
        """Its name, unless another marketplace here goes by it already (a fork with the same
        marketplace.json name): then its slug, numbered if that too is taken."""
        others = Marketplace.objects.exclude(pk=self.pk)
        candidates = itertools.chain((self.name or self.slug, self.slug), (f"{self.slug}-{n}" for n in itertools.count(2)))
        return next(name for name in candidates if not others.filter(catalogue_name=name).exists())

    def clean(self):
        # Every way in (the admin's form, add_marketplace) checks the URL, not only the next sync.
        try:
            gitrepo.check_marketplace_url(self.git_url)
        except ValueError as exc:
            raise ValidationError({"git_url": str(exc)}) from None


class SyncRun(models.Model):
    class Trigger(models.TextChoices):
        SCHEDULE = "schedule"
        WEBHOOK = "webhook"
        MANUAL = "manual"
        CLI = "cli"

    marketplace = models.ForeignKey(Marketplace, on_delete=models.CASCADE, related_name="sync_runs")
    # The API names runs by this, never by their row id.
    uid = models.UUIDField(db_default=RandomUUID(), unique=True, editable=False)
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    commit = models.CharField(max_length=40, blank=True)
    plugins = models.PositiveIntegerField(default=0)
    skills = models.PositiveIntegerField(default=0)
    files = models.PositiveIntegerField(default=0)
    added = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    removed = models.PositiveIntegerField(default=0)
    unreachable_skill_files = models.PositiveIntegerField(default=0)
    problems = models.JSONField(default=list, blank=True)
    progress = models.JSONField(default=dict, blank=True, help_text="Phase, done and total while running.")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["marketplace", "-started_at"])]

    def __str__(self):
        return f"{self.marketplace.slug} {self.started_at:%Y-%m-%d %H:%M} {self.status}"

    @property
    def counts(self):
        return {
            key: getattr(self, key)
            for key in ("plugins", "skills", "files", "added", "updated", "removed", "unreachable_skill_files")
        }

    def as_json(self):
        """The shape `sync_marketplace --json` prints; scripts rely on these keys."""
        return {
            "marketplace": self.marketplace.slug,
            "status": self.status,
            "commit": self.commit,
            "trigger": self.trigger,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "counts": self.counts,
            "problems": self.problems,
            "error": self.error,
        }


class WebhookDelivery(models.Model):
    """One request to /webhooks/github/<marketplace>, whatever became of it."""

    class Result(models.TextChoices):
        QUEUED = "queued", "Sync queued"
        FOLLOWED = "followed", "Pull request followed"
        IGNORED = "ignored", "Ignored"
        PONG = "pong", "Ping answered"
        BAD_SIGNATURE = "bad_signature", "Bad signature"
        BAD_REQUEST = "bad_request", "Bad request"

    marketplace = models.ForeignKey(Marketplace, on_delete=models.CASCADE, related_name="webhook_deliveries")
    delivery_id = models.CharField(max_length=100, blank=True, help_text="X-GitHub-Delivery")
    event = models.CharField(max_length=50, blank=True, help_text="X-GitHub-Event")
    ref = models.CharField(max_length=255, blank=True)
    commit = models.CharField(max_length=40, blank=True)
    result = models.CharField(max_length=20, choices=Result.choices)
    detail = models.CharField(max_length=500, blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-received_at"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self):
        return f"{self.event or '?'} {self.delivery_id} {self.result}"


class Plugin(CurationFields):
    marketplace = models.ForeignKey(Marketplace, on_delete=models.CASCADE, related_name="plugins")
    name = models.CharField(max_length=200, help_text="Immutable key within the marketplace.")
    display_name = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    version = models.CharField(max_length=100, blank=True, help_text="plugin.json, else the entry, else the commit.")
    commit = models.CharField(max_length=40, blank=True, help_text="Commit of the source it was read from.")
    source_kind = models.CharField(max_length=20)
    source = models.JSONField(default=dict, blank=True)
    category = models.CharField(max_length=100, blank=True)
    tags = models.JSONField(default=list, blank=True)
    keywords = models.JSONField(default=list, blank=True)
    surfaces = models.JSONField(default=list, blank=True)
    author = models.JSONField(default=dict, blank=True)
    license = models.CharField(max_length=200, blank=True)
    homepage = models.CharField(max_length=1000, blank=True)
    repository = models.CharField(max_length=1000, blank=True)
    entry = models.JSONField(default=dict, help_text="The raw marketplace.json entry.")
    manifest = models.JSONField(null=True, blank=True, help_text="plugin.json, when present and readable.")
    readme = models.TextField(blank=True, help_text="The plugin folder's README.md (Markdown), shown on its page.")
    readme_html = models.TextField(blank=True, editable=False,
                                   help_text="The README rendered by the sync, sanitised when shown (rendering.shown).")
    loads = models.BooleanField(default=True, help_text="Would Claude Code load this plugin?")
    refusal = models.TextField(blank=True, editable=False,
                               help_text="Why Claude Code would not load it, in words; empty when it loads.")
    audience = audience_field()
    problems = models.JSONField(default=list, blank=True)
    fingerprint = models.CharField(max_length=64, blank=True, editable=False)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now, help_text="When a sync last changed what it read.")
    removed_at = models.DateTimeField(null=True, blank=True)
    # Its folder in its source repository ("" at the top), as last read; None until a sync has read it.
    root = models.TextField(null=True, blank=True, editable=False)
    # The other plugins of the marketplace whose folder, or a skill of which, lies in that folder of the same
    # repository (plugins at its top, `"./"`, hold each other): Claude Code installs the folder whole, their files
    # included (curated._listed).
    holds = ArrayField(models.CharField(max_length=200), default=list, blank=True, editable=False)
    approved_commit = models.CharField(
        max_length=40, blank=True,
        help_text="The latest commit at which every skill of the plugin, and the rest of it, was approved; the "
                  "curated catalogue and publish targets pin it.",
    )
    # Its marketplace.json entry as it was then, which those catalogues give beside that commit: the entry
    # declares servers, hooks and the source's folder, and lives in the marketplace's repository, which moves
    # on (a plugin of another repository keeps its commit while its entry changes).
    approved_entry = models.JSONField(default=dict, blank=True, editable=False)
    # And its plugin.json then, which Claude Code reads from that commit: what the catalogues say of it (its
    # dependencies, whether it installs turned off, the Claude Code it needs) is read from this one.
    approved_manifest = models.JSONField(null=True, blank=True, editable=False)
    # And its folder then (`root` as that sync read it): the entry's source may name it through the catalogue's
    # `metadata.pluginRoot`, which a push may point elsewhere, at files nobody approved, while the entry stays as it was.
    approved_root = models.TextField(null=True, blank=True, editable=False)
    # Whether Claude Code loads it as approved, and why not: `loads` and `refusal` as the sync judged them when that
    # commit last moved. The catalogues list a plugin by what members install, not by a push that waits.
    approved_loads = models.BooleanField(default=True, editable=False)
    approved_refusal = models.TextField(blank=True, editable=False)
    # What the plugin installs besides its skills (hooks, commands, agents, servers), as synced and as
    # approved, each as its digest and as the content itself, which shows admins what changed
    # (marketplace/plugincontent.py); "" and {} for a plugin of skills alone.
    own_hash = models.CharField(max_length=64, blank=True, editable=False)
    approved_own_hash = models.CharField(max_length=64, blank=True, editable=False)
    own_content = models.JSONField(default=dict, blank=True, editable=False)
    approved_own_content = models.JSONField(default=dict, blank=True, editable=False)
    # And as the approved commit holds it, what members get: an admin may approve the content while a skill still
    # waits, and the commit, which moves only once nothing does, still holds the content approved before.
    served_own_hash = models.CharField(max_length=64, blank=True, editable=False)
    served_own_content = models.JSONField(default=dict, blank=True, editable=False)
    # The digest of that content as synced when the security scan held it (or, under the block gate,
    # blocked it), so that its audit event is recorded once (scans.apply_gate).
    scan_held_hash = models.CharField(max_length=64, blank=True, editable=False)
    # An admin's overrides, which syncs never touch; the `shown_*` columns are what every surface uses.
    display_name_override = models.CharField("display name", max_length=200, blank=True,
                                             help_text="Shown instead of the repository's display name.")
    category_override = models.CharField("category", max_length=100, blank=True,
                                         help_text="Used instead of the repository's category.")
    tags_override = models.JSONField(
        "tags", null=True, blank=True,
        help_text='Used instead of the repository\'s tags: a JSON list such as ["finance", "reporting"]; '
                  "empty for the repository's own.",
    )
    shown_display_name = models.GeneratedField(
        expression=Coalesce(NullIf("display_name_override", Value("")), "display_name"),
        output_field=models.CharField(max_length=200), db_persist=True,
    )
    shown_category = models.GeneratedField(
        expression=Coalesce(NullIf("category_override", Value("")), "category"),
        output_field=models.CharField(max_length=100), db_persist=True,
    )
    shown_tags = models.GeneratedField(
        expression=Coalesce("tags_override", "tags"), output_field=models.JSONField(), db_persist=True,
    )

    objects = VisibleManager.from_queryset(PluginQuerySet)()

    class Meta:
        ordering = ["marketplace", "name"]
        constraints = [models.UniqueConstraint(fields=["marketplace", "name"], name="plugin_unique_name")]

    def __str__(self):
        return f"{self.name}@{self.marketplace.slug}"

    @property
    def served_manifest(self) -> dict:
        """The plugin.json members get: the approved commit's, or before there is one, the repository's."""
        return self.approved_manifest if self.approved_commit else self.manifest

    @property
    def served_refusal(self) -> str | None:
        """Why Claude Code does not load what members get (the commit approved, or before there is one, the
        repository's), "" for no reason kept; None when it loads."""
        if self.approved_commit:
            return None if self.approved_loads else self.approved_refusal
        return None if self.loads else self.refusal

    def get_absolute_url(self):
        return reverse("marketplace:plugin", args=[self.marketplace.slug, self.name])


# What a plugin keeps that only its own page and the admin's read: pages and calls that list plugins or skills
# leave it deferred. Its content alone, kept three times over (synced, approved, served), may be 1,000 files each.
PLUGIN_CONTENT = ("readme", "readme_html", "own_content", "approved_own_content", "served_own_content")
# And what lists that never ask what installing it brings leave too: its entry, plugin.json and problems.
PLUGIN_DETAIL = (*PLUGIN_CONTENT, "entry", "manifest", "approved_entry", "approved_manifest", "problems")
# What a skill keeps that only its page reads (its SKILL.md, rendered, judged and searched), not a list of skills.
SKILL_TEXT = ("frontmatter", "frontmatter_raw", "body", "body_html", "verdict_reasons", "problems", "search_vector")


class Skill(CurationFields):
    marketplace = models.ForeignKey(Marketplace, on_delete=models.CASCADE, related_name="skills")
    plugin = models.ForeignKey(Plugin, on_delete=models.CASCADE, related_name="skills")
    name = models.CharField(max_length=200, help_text="Its frontmatter's name, or its folder's.")
    command = models.TextField(  # as long as the plugin.json's name, which nothing here bounds
        blank=True,
        help_text="What Claude Code calls it, <plugin>:<skill>: the plugin as its plugin.json names it, the skill by its "
                  "folder, or for a skill a skills path points at directly, by its name; characters but letters, "
                  "digits, _ and - made -.",
    )
    slug = models.SlugField(max_length=200)
    path = models.CharField(max_length=1000, help_text="Folder inside the source repository.")
    description = models.TextField(blank=True)
    frontmatter = models.JSONField(default=dict, blank=True)
    frontmatter_raw = models.TextField(blank=True)
    body = models.TextField(blank=True)
    body_html = models.TextField(blank=True, editable=False,
                                 help_text="The body rendered by the sync, sanitised when shown (rendering.shown).")
    content_hash = models.CharField(max_length=64)
    loads_in_claude_code = models.BooleanField(default=True)
    spec_valid = models.BooleanField(default=False)
    claude_ai_uploadable = models.BooleanField(default=False)
    verdict_reasons = models.JSONField(
        default=dict, blank=True, help_text="Reasons per verdict: claude_code, agent_skills_spec, claude_ai.",
    )
    problems = models.JSONField(default=list, blank=True)
    readers = ArrayField(
        models.CharField(max_length=access.LONGEST), default=list, blank=True,
        help_text="Who may read it under the repository's .skillport/access.json (set by sync).",
    )
    # Weighted name (and the name admins show instead) > description > body; the body is capped
    # because a tsvector is limited to 1 MB.
    search_vector = models.GeneratedField(
        expression=(
            SearchVector("name", "display_name_override", weight="A", config="english")
            + SearchVector("description", weight="B", config="english")
            + SearchVector(Left("body", 100_000), weight="C", config="english")
        ),
        output_field=SearchVectorField(),
        db_persist=True,
    )
    audience = audience_field()
    # No last_seen_at, unlike Plugin: a live skill was seen by its marketplace's last sync, and stamping
    # every row on each sync rewrote them all (and their search vectors) when one skill changed.
    first_seen_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now, help_text="When its content last changed.")
    removed_at = models.DateTimeField(null=True, blank=True)
    # Under a marketplace's approval policy the row holds the approved content, which every surface
    # serves; what a sync read since waits in `pending_revision` until an admin approves it. Released:
    # the served revision is released to members (False for a new skill nobody approved yet).
    released = models.BooleanField(default=True, help_text="False until an admin approves a new skill.")
    # Does its plugin's approved commit (what the curated catalogue pins) hold it? Set when that commit moves
    # (approval.settle), so a skill removed since is still held, and a new one waiting is not.
    in_approved_commit = models.BooleanField(default=False, editable=False)
    display_name_override = models.CharField("display name", max_length=200, blank=True,
                                             help_text="Shown instead of the skill's name; Claude still invokes it by name.")
    pending_revision = models.ForeignKey(
        "SkillRevision", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        help_text="Content read by a sync and awaiting approval.",
    )
    # The security scan of the served content (scans.py): the highest severity found, "none" when
    # nothing was, "" while not scanned; passed means nothing at or above the marketplace's threshold.
    scan_passed = models.BooleanField(default=False)
    scan_severity = models.CharField(max_length=10, blank=True)

    objects = VisibleManager.from_queryset(SkillQuerySet)()

    class Meta:
        ordering = ["plugin", "name"]
        constraints = [models.UniqueConstraint(fields=["plugin", "slug"], name="skill_unique_slug")]
        indexes = [
            GinIndex(fields=["readers"], name="skill_readers"),
            GinIndex(fields=["search_vector"], name="skill_search"),
            models.Index(fields=["marketplace", "removed_at"]),
            models.Index(fields=["-updated_at"]),
            models.Index(fields=["content_hash"]),
            # Lists in name order (the API's, the connector's) stop after a page instead of sorting every skill
            # the reader may see: 44 ms at 10,000 skills, 0.4 with it.
            models.Index(fields=["name"], name="skill_name"),
        ]

    def __str__(self):
        return self.identifier

    def get_absolute_url(self):
        where = (self.marketplace.slug, self.plugin.name, self.slug)
        return _skill_url(get_script_prefix(), get_urlconf(settings.ROOT_URLCONF), *where)

    def verdicts(self) -> list[tuple[str, bool, list]]:
        """(label, passed, reasons) per verdict."""
        reasons = self.verdict_reasons or {}
        return [(verdict.label, getattr(self, verdict.value), reasons.get(verdict.reasons_key, []))
                for verdict in Verdict]

    @property
    def title(self):
        """What people read as its name; the name itself stays what Claude Code shows."""
        return self.display_name_override or self.name

    @property
    def invocation(self) -> str:
        """What a person types in Claude Code (after /) and Claude is offered (a row no sync has read since the
        command was kept: its plugin's name and its own)."""
        return self.command or f"{self.plugin.name}:{self.name}"

    @property
    def identifier(self):
        return identifier(self.marketplace.slug, self.plugin.name, self.slug)


def identifier(marketplace: str, plugin: str, skill: str) -> str:
    """A skill's stable public name, from its marketplace's slug, its plugin's name and its slug."""
    return f"{marketplace}/{plugin}/{skill}"


@functools.lru_cache(maxsize=20_000)
def _skill_url(_prefix, _urlconf, marketplace, plugin, skill) -> str:
    """A skill page's path. reverse() takes 20 µs, and a search page has a card for each of 24
    skills, an API page 50: keyed, besides its arguments, by the script prefix and URLconf that
    reverse() reads."""
    return reverse("marketplace:skill", args=[marketplace, plugin, skill])


class Blob(models.Model):
    """File content, stored once per git blob id (a content hash) however many skills share it."""

    sha = models.CharField(max_length=40, primary_key=True)
    size = models.PositiveBigIntegerField()
    is_binary = models.BooleanField(default=False)
    is_lfs_pointer = models.BooleanField(default=False)
    content = models.BinaryField()
    # The content's SHA-256 (hex), which provenance manifests list: stored by the sync as it stores
    # the content, so a manifest never reads file content. Empty only for rows written before it was.
    sha256 = models.CharField(max_length=64, blank=True, default="")

    def __str__(self):
        return self.sha


class SkillFile(models.Model):
    skill = models.ForeignKey(Skill, on_delete=models.CASCADE, related_name="files")
    path = models.CharField(max_length=1000, help_text="Relative to the skill folder.")
    size = models.PositiveBigIntegerField()
    mode = models.CharField(max_length=6)
    is_binary = models.BooleanField(default=False)
    blob = models.ForeignKey(Blob, on_delete=models.PROTECT, null=True, blank=True)
    omitted = models.CharField(max_length=30, blank=True, help_text="Why the content was not stored.")

    class Meta:
        ordering = ["skill", "path"]
        constraints = [models.UniqueConstraint(fields=["skill", "path"], name="skillfile_unique_path")]

    def __str__(self):
        return self.path


class RevisionQuerySet(models.QuerySet):
    def with_skill(self):
        """Each with its skill, plugin and marketplace, less the plugin's kept content, which no decision reads."""
        return self.select_related("skill__plugin", "skill__marketplace").defer(
            *(f"skill__plugin__{field}" for field in PLUGIN_DETAIL))

    def approved(self):
        """Approved revisions, newest first: the first is the content members are served."""
        return self.filter(status=SkillRevision.Status.APPROVED).order_by("-id")

    def shown_to(self, user):
        """Revisions whose content `user` may read: admins review pending ones, members see approved history."""
        return self if user.is_superuser else self.approved()


class SkillRevision(models.Model):
    """One row each time a sync reads new content for a skill; diffs and approvals read these."""

    class Status(models.TextChoices):
        APPROVED = "approved", "Approved"
        PENDING = "pending", "Awaiting approval"
        REJECTED = "rejected", "Rejected"
        SUPERSEDED = "superseded", "Superseded"
        BLOCKED = "blocked", "Blocked by the security scan"

    skill = models.ForeignKey(Skill, on_delete=models.CASCADE, related_name="revisions")
    version = models.CharField(max_length=100, blank=True)
    commit = models.CharField(max_length=40, blank=True)
    content_hash = models.CharField(max_length=64)
    files = models.JSONField(default=list, help_text="[{path, sha, size, mode, is_binary, omitted}] at this revision.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.APPROVED)
    # The skill's fields at this revision, kept only while the row still holds older approved content.
    content = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Where the security scan gate left it (scans.py): "", "held", "blocked" or "passed"; events are
    # recorded as it moves, once each. An admin's override of the findings: {by, reason, at}.
    scan_state = models.CharField(max_length=10, blank=True)
    scan_override = models.JSONField(default=dict, blank=True)

    objects = RevisionQuerySet.as_manager()

    class Meta:
        ordering = ["skill", "-created_at"]
        indexes = [
            models.Index(fields=["skill", "-created_at"]),
            models.Index(fields=["skill"], condition=Q(status="pending"), name="revision_pending"),
            # A skill's newest revision (approval.settle, withdraw): without it PostgreSQL walks the whole
            # table backwards by id for each skill, which grew with every marketplace in the catalogue.
            models.Index(fields=["skill", "id"], name="revision_skill_newest"),
        ]

    def __str__(self):
        return f"{self.skill_id}@{self.content_hash[:12]}"


class ContentScan(models.Model):
    """One scanner's verdict on one skill content (by content hash): identical content, wherever it
    appears, is scanned once per scanner version; a new version or rule set scans it again."""

    content_hash = models.CharField(max_length=64)
    scanner = models.CharField(max_length=200, help_text="Scanner and version, as it names itself.")
    max_severity = models.CharField(max_length=10, blank=True, help_text="Highest severity found; empty for none.")
    findings = models.JSONField(default=list, blank=True, help_text="[{rule, severity, file, line, message}]")
    scanned_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["content_hash", "scanner"], name="scan_unique_content")]

    def __str__(self):
        return f"{self.content_hash[:12]} by {self.scanner}: {self.max_severity or 'no findings'}"


class GitHubIdentity(models.Model):
    """Who a user is on GitHub, and their organisations and teams as of the last refresh."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="github")
    github_id = models.BigIntegerField(unique=True)
    login = models.CharField(max_length=100)
    orgs = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    teams = ArrayField(models.CharField(max_length=200), default=list, blank=True, help_text='"org/team" slugs.')
    refreshed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "GitHub identity"
        verbose_name_plural = "GitHub identities"

    def __str__(self):
        return f"{self.login} ({self.github_id})"
