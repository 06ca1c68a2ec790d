"""Skillport's one settings module: everything comes from the environment, with safe defaults.

Every variable read here is documented in `.env.example`. With nothing set, Skillport runs on
an embedded PostgreSQL server and a filesystem Celery broker kept in the data directory.
"""
import json
import os
import secrets
from pathlib import Path

import dj_database_url

from . import embedded

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name, default=""):
    return os.environ.get(name, default)


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be a boolean (true/false), got {value!r}")


def env_int(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None


def env_rate(name, default):
    """A request rate, "N/second", "N/minute", "N/hour" or "N/day", as the REST framework reads them."""
    value = env_str(name) or default
    count, _, period = value.partition("/")
    if not count.isdigit() or not period or period[0] not in "smhd":
        raise ValueError(f"{name} must be a rate such as 60/minute (per second, minute, hour or day), got {value!r}")
    return value


def env_list(name, default):
    value = os.environ.get(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_hosts(name, kinds):
    """Host names and their kinds, "git.example.com=gitlab,code.example.org=gitea", as {host: kind}."""
    hosts = {}
    for item in env_list(name, []):
        host, _, kind = item.partition("=")
        if not host.strip() or kind.strip().lower() not in kinds:
            raise ValueError(f"{name} must list host=kind pairs, kind one of {', '.join(kinds)}; got {item!r}")
        hosts[host.strip().lower()] = kind.strip().lower()
    return hosts


def env_json(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return json.loads(value)
    except ValueError as exc:
        raise ValueError(f"{name} must be JSON: {exc}") from None


SKILLPORT_DATA_DIR = embedded.data_dir()  # $SKILLPORT_DATA_DIR, else .data here
SKILLPORT_DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key():
    """SECRET_KEY, or a random one kept in the data directory so restarts keep sessions."""
    if key := env_str("SECRET_KEY"):
        return key
    path = SKILLPORT_DATA_DIR / "secret_key"
    if not path.exists():
        embedded.write_once(path, secrets.token_urlsafe(50).encode())
    return path.read_text().strip()


SECRET_KEY = _secret_key()
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", [])
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
SKILLPORT_BASE_URL = env_str("SKILLPORT_BASE_URL", "http://localhost:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS = [SKILLPORT_BASE_URL]

INSTALLED_APPS = [
    "skillport_site.apps.SkillportAdminConfig",  # django.contrib.admin, with our site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.postgres",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "django_filters",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.github",
    "oauth2_provider",
    "marketplace",
    "connector",
    "audit",
    "api",
    "publishing",
    "authoring",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "skillport_site.middleware.content_security_policy",
    "skillport_site.throttle.throttle_endpoints",  # first: a refused request costs nothing more
    "skillport_site.middleware.read_uploads",
    "skillport_site.middleware.reject_nul_characters",
    "skillport_site.timeouts.DatabaseOverload",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "connector.authentication.BearerTokenMiddleware",  # request.bearer, for the API and the curated catalogue
    "allauth.account.middleware.AccountMiddleware",
    "skillport_site.middleware.limit_members_pages",  # once the member is known
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "connector.middleware.OAuthRequestLog",
]

ROOT_URLCONF = "skillport_site.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "skillport_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "audit.context_processors.navigation",
                "authoring.context_processors.navigation",
            ],
        },
    },
]

# With no DATABASE_URL, start the embedded server: the quick start needs no PostgreSQL install.
DATABASE_URL = env_str("DATABASE_URL") or embedded.database_url(SKILLPORT_DATA_DIR)
# A connection pool, not persistent connections: under ASGI each request runs on a new thread,
# and a connection kept per thread would exhaust PostgreSQL's max_connections within seconds.
DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
# Django's backend, with a pool that replaces dropped connections before a request uses one
# (skillport_site/postgresql/base.py).
DATABASES["default"]["ENGINE"] = "skillport_site.postgresql"
DATABASES["default"]["OPTIONS"] = {
    **DATABASES["default"].get("OPTIONS", {}),
    # Parameters are sent apart from the SQL, so queries a connection repeats become prepared
    # statements that PostgreSQL plans once, not on every request: planning had been most of the
    # database's time on a skill page (2.5 ms of CPU, now 0.7). psycopg's threshold, which Django
    # turns off for poolers; PgBouncer supports prepared statements from 1.21
    # (max_prepared_statements). Full-text searches never are (skillport_site/postgresql/base.py).
    "server_side_binding": True,
    "prepare_threshold": 5,
    # A request waits this many seconds for a free connection, then answers 503 (busy). Not less:
    # on a saturated machine bench/load.py's members took up to 8 s, and 5 s failed some of them.
    "pool": {"min_size": 1, "max_size": env_int("SKILLPORT_DB_POOL_SIZE", 8),
             "timeout": env_int("SKILLPORT_DB_POOL_TIMEOUT", 10)},
    # No JIT compiling: it pays only for long analytic queries. Ours take milliseconds, and one whose
    # cost estimate crossed the JIT threshold (the typo path's, when its rows were misestimated)
    # spent 40 ms compiling to save none. asgi.py adds the web's statement timeout to these options.
    "options": f"{DATABASES['default'].get('OPTIONS', {}).get('options', '')} -c jit=off".strip(),
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The catalogue's caches (marketplace/caching.py) stay in each process's memory, the fastest there
# is; their keys carry the catalogue version, so no process serves a stale entry. The throttles'
# request counters (skillport_site/throttle.py) must be shared by every worker: in Redis when
# SKILLPORT_REDIS_URL is set (a database of its own: the tests clear it), otherwise in files in the
# data directory, which every process on this machine shares with no server to run.
SKILLPORT_REDIS_URL = env_str("SKILLPORT_REDIS_URL")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "throttle": {
        "BACKEND": "skillport_site.throttle.RedisCounters", "LOCATION": SKILLPORT_REDIS_URL,
        # A Redis that stops answering costs a request a second, not a hung worker.
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    } if SKILLPORT_REDIS_URL else {
        "BACKEND": "skillport_site.throttle.FileCounters", "LOCATION": SKILLPORT_DATA_DIR / "throttle",
        # One file per address and window; past this many, a third are removed at random.
        "OPTIONS": {"MAX_ENTRIES": 1000},
    },
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = LOGOUT_REDIRECT_URL = "marketplace:home"
# Django's and allauth's backends, loading each request's user with their GitHub identity.
AUTHENTICATION_BACKENDS = [
    "marketplace.signin.ModelBackend",
    "marketplace.signin.AccountBackend",
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
# Skillport speaks English and installs no translations. Django's translation machinery, on, cost
# every reverse() (each {% url %}, each link) 9 of its 21 µs reading the active language from a
# context-local; dates and numbers keep their English formats either way (bench/README.md).
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = SKILLPORT_DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns on every start until collectstatic has run
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_ENGINE = "skillport_site.sessions"  # database sessions, read with less overhead
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SKILLPORT_BASE_URL.startswith("https://")
X_FRAME_OPTIONS = "DENY"

# Celery. With no broker configured, a filesystem broker in the data directory needs no server.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
CELERY_BROKER_TRANSPORT_OPTIONS = {}
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL, CELERY_BROKER_TRANSPORT_OPTIONS = embedded.broker_url(SKILLPORT_DATA_DIR)
    CELERY_BROKER_TRANSPORT = embedded.BROKER_TRANSPORT
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "Purge audit events past retention": {"task": "audit.tasks.purge_audit_events", "schedule": 24 * 60 * 60},
    "Refresh GitHub organisation and team memberships": {
        "task": "marketplace.tasks.refresh_github_teams", "schedule": 60 * 60,
    },
    "Prune OAuth clients that never obtained a token, and expired tokens": {
        "task": "connector.tasks.prune_oauth", "schedule": 60 * 60,
    },
}
CELERY_TIMEZONE = TIME_ZONE

# The sync engine. Limits are per marketplace sync; hitting one is a problem on the run, not a crash.
SKILLPORT_GIT_TIMEOUT = env_int("SKILLPORT_GIT_TIMEOUT", 300)  # seconds; a fetch, retries included
SKILLPORT_SYNC_TIME_LIMIT = env_int("SKILLPORT_SYNC_TIME_LIMIT", 900)
SKILLPORT_SYNC_INTERVAL_MINUTES = env_int("SKILLPORT_SYNC_INTERVAL_MINUTES", 60)
SKILLPORT_MAX_FILE_BYTES = env_int("SKILLPORT_MAX_FILE_BYTES", 5 * 1024 * 1024)
SKILLPORT_MAX_SKILL_BYTES = env_int("SKILLPORT_MAX_SKILL_BYTES", 20 * 1024 * 1024)
SKILLPORT_MAX_SKILL_FILES = env_int("SKILLPORT_MAX_SKILL_FILES", 500)
# Paths in a repository's tree (the marketplace's, a plugin source's): each is held while the tree is read,
# and a tree of a few kilobytes can name millions (a folder nested in itself). Past it, nothing is read.
SKILLPORT_MAX_TREE_ENTRIES = env_int("SKILLPORT_MAX_TREE_ENTRIES", 200_000)
# A skill uploaded in the browser (authoring/uploads.py), as a package or a folder of files: the
# largest request body with files, a skill at its largest with room for the ZIP's or form's headers,
# and one form file for each file a skill may have.
SKILLPORT_MAX_UPLOAD_BYTES = env_int("SKILLPORT_MAX_UPLOAD_BYTES", SKILLPORT_MAX_SKILL_BYTES + 4 * 1024 * 1024)
DATA_UPLOAD_MAX_NUMBER_FILES = SKILLPORT_MAX_SKILL_FILES
# Security scanning (marketplace/scanners.py): commands run on a folder of skill folders ("{dir}")
# that print cisco-ai-skill-scanner's JSON or SARIF. By default the cisco-ai-skill-scanner `make`
# pins in .data/tools/scanner, static analyzers only: its LLM, meta, behavioral, VirusTotal, AI
# Defense and OSV analyzers run only when a flag asks, and the balanced policy (its default, named
# so that a new default cannot change what runs) picks the static ones. Not --recursive: each skill
# is a folder of {dir}, and a SKILL.md deeper in one is scanned as its file, not again as a skill.
# Not installed: no scanner, and scanning is reported unavailable.
_SKILL_SCANNER = BASE_DIR / ".data/tools/scanner/bin/skill-scanner"
SKILLPORT_SCANNERS = env_json("SKILLPORT_SCANNERS", [{
    "name": "cisco-ai-skill-scanner",
    "command": [str(_SKILL_SCANNER), "scan-all", "{dir}", "--format", "json", "--policy", "balanced"],
    "format": "cisco-json",
    "version_command": [str(_SKILL_SCANNER), "--version"],
}] if _SKILL_SCANNER.exists() else [])
if not isinstance(SKILLPORT_SCANNERS, list):
    raise ValueError("SKILLPORT_SCANNERS must be a JSON list of scanners")
SKILLPORT_SCAN_TIMEOUT = env_int("SKILLPORT_SCAN_TIMEOUT", 600)  # seconds for one run of a scanner
SKILLPORT_SCAN_BATCH = env_int("SKILLPORT_SCAN_BATCH", 200)  # skills per run (it starts in ~10 s)
if SKILLPORT_SCAN_BATCH < 1:
    raise ValueError("SKILLPORT_SCAN_BATCH must be at least 1")
# GitHub: sign-in (the only way in once an OAuth app is configured; without one, `make run`
# creates a local demo account), the organisation gate, and where `github` sources come from.
SKILLPORT_GITHUB_URL = env_str("SKILLPORT_GITHUB_URL", "https://github.com").rstrip("/")
SKILLPORT_GITHUB_CLIENT_ID = env_str("SKILLPORT_GITHUB_CLIENT_ID")
SKILLPORT_GITHUB_CLIENT_SECRET = env_str("SKILLPORT_GITHUB_CLIENT_SECRET")
SKILLPORT_GITHUB_ORGS = env_list("SKILLPORT_GITHUB_ORGS", [])
SKILLPORT_GITHUB_ORG_TOKEN = env_str("SKILLPORT_GITHUB_ORG_TOKEN")
SOCIALACCOUNT_ADAPTER = "marketplace.signin.SocialAccountAdapter"
SOCIALACCOUNT_PROVIDERS = {"github": {"SCOPE": ["read:user", "user:email", "read:org"]}}
if SKILLPORT_GITHUB_CLIENT_ID:
    SOCIALACCOUNT_PROVIDERS["github"]["APP"] = {
        "client_id": SKILLPORT_GITHUB_CLIENT_ID, "secret": SKILLPORT_GITHUB_CLIENT_SECRET,
    }
if SKILLPORT_GITHUB_URL != "https://github.com":
    # allauth reads this when its GitHub views are imported (GitHub Enterprise, or a fake in tests).
    SOCIALACCOUNT_PROVIDERS["github"]["GITHUB_URL"] = SKILLPORT_GITHUB_URL
SOCIALACCOUNT_ONLY = True  # no local sign-up or password flows through allauth
SOCIALACCOUNT_STORE_TOKENS = False  # the user's GitHub token is used once, at sign-in
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_VERIFICATION = ACCOUNT_EMAIL_VERIFICATION = "none"
SOCIALACCOUNT_REQUESTS_TIMEOUT = 10
# Plugin sources come from repositories we do not control; a `url` source naming a local path
# would let any marketplace read other repositories on this server, so it is off by default.
SKILLPORT_ALLOW_LOCAL_SOURCES = env_bool("SKILLPORT_ALLOW_LOCAL_SOURCES", False)

# Fetching over the network (marketplace/addresses.py). A remote whose host resolves to an internal
# address (loopback, private, link-local such as cloud metadata, reserved) is refused, so that a
# catalogue cannot make Skillport probe its own network. Internal git servers go here, as host names
# or addresses and networks (git.internal.example.com, 10.20.0.0/16); SKILLPORT_GITHUB_URL's host is
# always allowed.
SKILLPORT_FETCH_ALLOWED_HOSTS = env_list("SKILLPORT_FETCH_ALLOWED_HOSTS", [])
# Self-hosted git servers, so that a proposal pushed there links the page that opens its merge request
# (marketplace/weblinks.py; gitlab.com, bitbucket.org and codeberg.org are known): host=kind pairs.
GIT_HOST_KINDS = ("github", "gitlab", "bitbucket", "gitea")  # Forgejo's pages are Gitea's
SKILLPORT_GIT_HOSTS = env_hosts("SKILLPORT_GIT_HOSTS", GIT_HOST_KINDS)
# Seconds a remote may take to accept a connection, or stay silent mid-transfer, before a fetch
# fails; SKILLPORT_GIT_TIMEOUT bounds a whole fetch, retries included.
SKILLPORT_GIT_CONNECT_TIMEOUT = env_int("SKILLPORT_GIT_CONNECT_TIMEOUT", 10)
# A fetch that fails on a transient network error is tried again this many times, after 2, 4... s.
SKILLPORT_GIT_RETRIES = env_int("SKILLPORT_GIT_RETRIES", 2)
# Lost workers (marketplace/liveness.py). Celery kills a sync this long after it started, a grace
# after its soft limit to record the failure.
SKILLPORT_SYNC_HARD_TIME_LIMIT = SKILLPORT_SYNC_TIME_LIMIT + min(60, SKILLPORT_SYNC_TIME_LIMIT)
# A task whose worker died before acknowledging it is delivered again after this many seconds
# (Redis's visibility_timeout; Celery's default is an hour). A task still running then would be
# delivered twice, so it must exceed the sync's hard time limit.
SKILLPORT_TASK_REDELIVERY_SECONDS = env_int("SKILLPORT_TASK_REDELIVERY_SECONDS", 1200)
if SKILLPORT_TASK_REDELIVERY_SECONDS <= SKILLPORT_SYNC_HARD_TIME_LIMIT:
    raise ValueError(
        f"SKILLPORT_TASK_REDELIVERY_SECONDS must exceed the sync's hard time limit, "
        f"{SKILLPORT_SYNC_HARD_TIME_LIMIT}s (SKILLPORT_SYNC_TIME_LIMIT plus up to a minute)"
    )
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # Kombu looks for such tasks every 100 s by default; a tenth of the timeout keeps the promise.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        **CELERY_BROKER_TRANSPORT_OPTIONS, "visibility_timeout": SKILLPORT_TASK_REDELIVERY_SECONDS,
        "unacked_restore_interval": max(1, SKILLPORT_TASK_REDELIVERY_SECONDS // 10), "unacked_restore_throttle": 1,
    }
# Each minute; runs whose worker was lost are also reaped whenever a sync starts or ends.
CELERY_BEAT_SCHEDULE["Mark syncs whose worker was lost as failed"] = {
    "task": "marketplace.tasks.reap_lost_syncs", "schedule": 60,
}
# Publish targets whose catalogue changed (or whose schedule is due): changes are debounced to this period.
SKILLPORT_PUBLISH_CHECK_SECONDS = env_int("SKILLPORT_PUBLISH_CHECK_SECONDS", 60)
# Scans are queued after each sync; this catches what a lost message or a sync beside a release left.
CELERY_BEAT_SCHEDULE["Scan what is not scanned yet"] = {"task": "marketplace.tasks.scan_due", "schedule": 300}
CELERY_BEAT_SCHEDULE["Publish what changed"] = {
    "task": "publishing.tasks.publish_due", "schedule": SKILLPORT_PUBLISH_CHECK_SECONDS,
}
# Open proposals' pull requests are asked about this often, for marketplaces without a webhook (and
# deliveries lost): one GitHub API call per open proposal.
SKILLPORT_PROPOSAL_CHECK_SECONDS = env_int("SKILLPORT_PROPOSAL_CHECK_SECONDS", 600)
CELERY_BEAT_SCHEDULE["Follow open proposals"] = {
    "task": "authoring.tasks.follow_open_proposals", "schedule": SKILLPORT_PROPOSAL_CHECK_SECONDS,
}

# The audit log keeps events this many days; a daily beat task purges older ones.
SKILLPORT_AUDIT_RETENTION_DAYS = env_int("SKILLPORT_AUDIT_RETENTION_DAYS", 400)

# The connector: /mcp, and the OAuth 2.1 authorization server Claude's connectors sign in with.
SKILLPORT_MCP_URL = f"{SKILLPORT_BASE_URL}/mcp"  # the one resource every token is bound to
# Host headers /mcp answers (anything else gets 421, against DNS rebinding); "name:*" allows any port.
SKILLPORT_MCP_ALLOWED_HOSTS = env_list(
    "SKILLPORT_MCP_ALLOWED_HOSTS",
    [pattern for host in ALLOWED_HOSTS if host != "*" for pattern in (host, f"{host}:*")],
)
# Browser origins allowed to call /mcp; requests without an Origin (Claude's servers) always pass.
SKILLPORT_MCP_ALLOWED_ORIGINS = env_list("SKILLPORT_MCP_ALLOWED_ORIGINS", [SKILLPORT_BASE_URL])
# Hosts trusted beyond Claude's own for redirect URIs and client metadata documents; admins can
# add more in the admin ("Trusted client hosts").
SKILLPORT_OAUTH_TRUSTED_HOSTS = env_list("SKILLPORT_OAUTH_TRUSTED_HOSTS", [])
SKILLPORT_ACCESS_TOKEN_SECONDS = env_int("SKILLPORT_ACCESS_TOKEN_SECONDS", 4 * 3600)
SKILLPORT_REFRESH_TOKEN_DAYS = env_int("SKILLPORT_REFRESH_TOKEN_DAYS", 30)
# Lifetime of the one-time package links install_skill hands out.
SKILLPORT_INSTALL_LINK_SECONDS = env_int("SKILLPORT_INSTALL_LINK_SECONDS", 600)
# Lifetime of the personal catalogue tokens members create for Claude Code (/connect/tokens/).
SKILLPORT_CATALOGUE_TOKEN_DAYS = env_int("SKILLPORT_CATALOGUE_TOKEN_DAYS", 90)
# Registered clients that never obtained a token are removed after this many hours.
SKILLPORT_UNUSED_CLIENT_HOURS = env_int("SKILLPORT_UNUSED_CLIENT_HOURS", 24)
# Loopback http redirects are deliberate (see COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME below).
SILENCED_SYSTEM_CHECKS = ["oauth2_provider.W008"]
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"  # named, so our consents can refer to it
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oauth2_provider.AccessToken"  # and our catalogue tokens to theirs
OAUTH2_PROVIDER = {
    "SCOPES": {"skills:read": "Browse and install the skills you may see", "skills:write": "Reserved"},
    "DEFAULT_SCOPES": ["skills:read"],
    "READ_SCOPE": "skills:read",
    "WRITE_SCOPE": "skills:write",
    "ACCESS_TOKEN_EXPIRE_SECONDS": SKILLPORT_ACCESS_TOKEN_SECONDS,
    "REFRESH_TOKEN_EXPIRE_SECONDS": SKILLPORT_REFRESH_TOKEN_DAYS * 86400,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "PKCE_REQUIRED": True,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https", "http"],  # http only for loopback: see connector.clients
    "ALLOW_LOCALHOST_LOOPBACK": True,
    "REQUEST_APPROVAL_PROMPT": "force",  # remembered consent is ours: connector.consent
    "OIDC_ISS_ENDPOINT": SKILLPORT_BASE_URL,  # the issuer, exactly, everywhere
    "OAUTH2_PROTECTED_RESOURCE_IDENTIFIER": SKILLPORT_MCP_URL,
    "OAUTH2_PROTECTED_RESOURCE_NAME": "Skillport",
    "OAUTH2_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OAUTH2_GRANT_TYPES_SUPPORTED": ["authorization_code", "refresh_token"],
    "OAUTH2_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": ["none", "client_secret_post", "client_secret_basic"],
    "DCR_ENABLED": True,
    # Anyone may register, but only redirect URIs on the allow-list: connector.views.Register.
    "DCR_REGISTRATION_PERMISSION_CLASSES": ("oauth2_provider.dcr.AllowAllDCRPermission",),
    "CIMD_ENABLED": True,
    "CIMD_REGISTRATION_PERMISSION_CLASSES": ("connector.clients.TrustedCIMDHost",),
    "CIMD_METADATA_FETCHER": "connector.clients.AllowListedMetadataFetcher",  # the same redirect allow-list
    # Registered clients: allow-listed redirects and skills:read only; a replayed code revokes its tokens.
    "OAUTH2_VALIDATOR_CLASS": "connector.validator.Validator",
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,  # tokens are kept hashed
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    # Claude Code and the MCP Inspector receive codes on http://127.0.0.1 (RFC 8252 loopback);
    # connector.clients allows plain http for loopback only.
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": False,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
}

# Search and request limits, so no request can make PostgreSQL work for minutes: a longer search is
# refused with a 400 (a tool error in the connector), and a statement of a web, API or /mcp request
# that runs longer is cancelled with a 503 (0: no limit). Only the web server applies the timeout
# (asgi.py): syncs, migrations and commands legitimately run longer statements.
SKILLPORT_SEARCH_MAX_CHARS = env_int("SKILLPORT_SEARCH_MAX_CHARS", 500)
SKILLPORT_SEARCH_MAX_TERMS = env_int("SKILLPORT_SEARCH_MAX_TERMS", 32)
SKILLPORT_REQUEST_STATEMENT_TIMEOUT_MS = env_int("SKILLPORT_REQUEST_STATEMENT_TIMEOUT_MS", 15_000)

# Endpoints anyone can call that cost work before anyone is known (skillport_site/throttle.py):
# requests per client address, over which they get a 429 with Retry-After. Behind a reverse proxy
# the address is the proxy's, unless the server trusts it (FORWARDED_ALLOW_IPS; loopback by default).
SKILLPORT_REGISTER_RATE = env_rate("SKILLPORT_REGISTER_RATE", "20/minute")  # OAuth client registration
# Tokens and revocation: Claude.ai's servers exchange every user's codes from few addresses.
SKILLPORT_TOKEN_RATE = env_rate("SKILLPORT_TOKEN_RATE", "120/minute")
SKILLPORT_AUTHORIZE_RATE = env_rate("SKILLPORT_AUTHORIZE_RATE", "60/minute")  # consent pages
SKILLPORT_SIGNIN_RATE = env_rate("SKILLPORT_SIGNIN_RATE", "60/minute")  # sign-in pages and GitHub's callback
# Webhook deliveries: GitHub sends every repository's from few addresses.
SKILLPORT_WEBHOOK_RATE = env_rate("SKILLPORT_WEBHOOK_RATE", "300/minute")
# Requests to each of those endpoints one web worker serves at once, so that a flood from many
# addresses cannot take every database connection; the others wait up to 10 s, then get a 503.
SKILLPORT_THROTTLED_CONCURRENCY = env_int("SKILLPORT_THROTTLED_CONCURRENCY", 2)
if SKILLPORT_THROTTLED_CONCURRENCY < 1:
    raise ValueError("SKILLPORT_THROTTLED_CONCURRENCY must be at least 1")

# The SKILL.md preview of the skill editor, per member: the editor asks at most once a second as
# they type. A member may also have one preview made at a time (skillport_site/throttle.py).
SKILLPORT_PREVIEW_RATE = env_rate("SKILLPORT_PREVIEW_RATE", "60/minute")
# Checks and proposals of skill changes, per person on every surface (one at a time, too): each may run
# the security scan and reach the git host (authoring/proposals.py).
SKILLPORT_PROPOSAL_RATE = env_rate("SKILLPORT_PROPOSAL_RATE", "60/hour")

# The REST API (api/).
SKILLPORT_API_RATE = env_rate("SKILLPORT_API_RATE", "600/minute")  # per signed-in user or token holder
SKILLPORT_API_ANON_RATE = env_rate("SKILLPORT_API_ANON_RATE", "60/minute")  # per address, before sign-in
# The connector (/mcp): tool calls and reads per signed-in user, as the REST API's (connector/server.py).
SKILLPORT_MCP_RATE = env_rate("SKILLPORT_MCP_RATE", "600/minute")
# Pages per signed-in member in the browser (skillport_site/throttle.py).
SKILLPORT_PAGE_RATE = env_rate("SKILLPORT_PAGE_RATE", "600/minute")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.auth.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["api.auth.UserThrottle", "api.auth.AnonThrottle"],
    "DEFAULT_PAGINATION_CLASS": "api.pages.Pages",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.JSONBodyParser"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Skillport API",
    "DESCRIPTION": (
        "The skill catalogue, update checks and package links, sync runs (admins) and the audit log "
        "(auditors). Authenticate with your browser session, or send `Authorization: Bearer <token>` with "
        "a token from Skillport's authorization server (scope `skills:read`; `skills:write` to sync)."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",  # served from our static files: no CDN
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVERS": [{"url": SKILLPORT_BASE_URL}],
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "api.errors.document_errors"],
    "ENUM_NAME_OVERRIDES": {"SyncStatusEnum": "marketplace.models.Status",
                            "UpdateStatusEnum": "marketplace.updates.STATUSES"},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # The embedded server logs every process's start and exit; only its problems matter.
    "loggers": {"pgserver": {"level": "WARNING"}},
}
