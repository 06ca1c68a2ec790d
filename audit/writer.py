"""The one writer of audit events. Nothing else inserts into the audit table."""
import re
import uuid

from django.core.exceptions import ObjectDoesNotExist

from .models import AuditEvent, Outcome, Surface

# "claude-code/2.1.3", "Claude-User", "python-httpx/0.28": the first product token names the client.
PRODUCT = re.compile(r"^\s*([A-Za-z][\w.\-]{0,99})(?:/([\w.\-+]{1,50}))?(?:[\s(;,]|$)")
# ...except a browser's, which is "Mozilla/5.0" in every browser: its own token comes later, after
# others it names for compatibility (Chrome's says Safari; Edge's says Chrome and Safari). The first
# of these that it holds names it; Safari's version is its "Version/" token.
BROWSERS = (("Edg", "Edge"), ("OPR", "Opera"), ("Firefox", "Firefox"), ("HeadlessChrome", "Headless Chrome"),
            ("Chrome", "Chrome"), ("Version", "Safari"))
TOKEN = re.compile(r"\b([A-Za-z]+)/([\w.]{1,50})")


def record(
    action,
    *,
    request=None,
    actor=None,
    target=None,
    surface=None,
    client=None,
    outcome=Outcome.OK,
    extra=None,
    **snapshot,
) -> AuditEvent:
    """Write one audit event and return it.

    `target` may be a Marketplace, Plugin or Skill (its identifiers are copied); `snapshot`
    may name `marketplace`, `plugin`, `skill`, `version` and `commit` directly. `client` is
    a (name, version) pair, such as an MCP client's info; otherwise the User-Agent names it.
    """
    who = _who(request, actor, surface, client, outcome)
    return AuditEvent.objects.create(**{**_target_fields(target), **snapshot, **who, "action": action,
                                        "extra": extra or {}})


def record_many(events, *, request=None, actor=None, surface=None, client=None, outcome=Outcome.OK) -> None:
    """Write several events of one request at once, each (action, target, extra) and otherwise as `record`
    writes it: an admin's decision on 2,000 skills wrote 2,000 rows one statement each. A target may
    also be a dict of what `record` takes as `snapshot`."""
    who = _who(request, actor, surface, client, outcome)
    # A batch stays far below PostgreSQL's 65,535 parameters a statement (about 20 a row).
    AuditEvent.objects.bulk_create(
        [AuditEvent(**_target_fields(target), **who, action=action, extra=extra or {})
         for action, target, extra in events],
        batch_size=1000,
    )


def _who(request, actor, surface, client, outcome) -> dict:
    """The fields saying who acted, where and how: the same for every event of one request."""
    user = actor if actor is not None else getattr(request, "user", None)
    if user is not None and not user.is_authenticated:
        user = None
    user_agent = request.headers.get("User-Agent", "")[:1000] if request is not None else ""
    client_name, client_version = client or _client_from_user_agent(user_agent)
    return {
        "actor": user,
        "actor_login": _login(user),
        "actor_github_id": _github_id(user),
        "surface": surface or (Surface.WEB if request is not None else Surface.UNKNOWN),
        "client_name": client_name[:100],
        "client_version": client_version[:50],
        "ip": request.META.get("REMOTE_ADDR") or None if request is not None else None,
        "user_agent": user_agent,
        "request_id": _request_id(request),
        "outcome": outcome,
    }


def _target_fields(target) -> dict:
    from marketplace.models import Marketplace, Plugin, Skill

    if isinstance(target, dict):
        return target
    if isinstance(target, Skill):
        plugin = target.plugin
        return {"marketplace": target.marketplace.slug, "plugin": plugin.name, "skill": target.slug,
                "version": plugin.version[:100], "commit": plugin.commit}
    if isinstance(target, Plugin):
        return {"marketplace": target.marketplace.slug, "plugin": target.name, "version": target.version[:100],
                "commit": target.commit}
    if isinstance(target, Marketplace):
        return {"marketplace": target.slug, "commit": target.last_synced_commit}
    return {}


def _identity(user):
    try:
        return user.github if user is not None else None
    except ObjectDoesNotExist:  # a local account, never signed in with GitHub
        return None


def _login(user) -> str:
    identity = _identity(user)
    if identity is not None:
        return identity.login
    return user.get_username() if user is not None else ""


def _github_id(user):
    identity = _identity(user)
    return identity.github_id if identity is not None else None


def _client_from_user_agent(user_agent: str) -> tuple[str, str]:
    match = PRODUCT.match(user_agent)
    if not match:
        return "", ""
    if match.group(1) == "Mozilla":
        tokens = dict(TOKEN.findall(user_agent))
        for token, browser in BROWSERS:
            if token in tokens:
                return browser, tokens[token]
    return match.group(1).strip(), match.group(2) or ""


def _request_id(request) -> str:
    if request is None:
        return ""
    if not hasattr(request, "audit_request_id"):
        supplied = request.headers.get("X-Request-ID", "")
        request.audit_request_id = supplied[:64] if re.fullmatch(r"[\w.\-]{1,64}", supplied) else uuid.uuid4().hex
    return request.audit_request_id
