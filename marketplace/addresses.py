"""Where git may connect: remote URLs are parsed strictly, their hosts resolved, internal addresses refused.

Marketplace catalogues come from repositories we do not control, and a `url` or `git-subdir`
source makes this server connect wherever it says. Without these checks a catalogue could have
Skillport probe its own network (loopback, private ranges, the cloud metadata service at
169.254.169.254) and read back the answers. Internal git servers are real, so an operator lists
their hosts in SKILLPORT_FETCH_ALLOWED_HOSTS.
"""
import ipaddress
import re
import socket
from dataclasses import dataclass

from django.conf import settings

DEFAULT_PORTS = {"https": 443, "http": 80, "ssh": 22, "git": 9418}
# NAT64's well-known prefix: the last 32 bits are an IPv4 address the gateway connects to.
NAT64 = ipaddress.ip_network("64:ff9b::/96")

# Anything a URL parser could read two ways is refused rather than interpreted: git (curl, ssh)
# must connect to exactly the host checked here. Hosts are plain names or IP literals.
_HOST = r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?)"
_USER = r"(?P<user>[A-Za-z0-9_][A-Za-z0-9_.~%!$&'()*+,;=-]*)"
_AUTHORITY = re.compile(rf"(?:{_USER}(?P<password>:[^@]*)?@)?{_HOST}(?::(?P<port>[0-9]{{1,5}}))?")
_SCHEME_URL = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<authority>[^/?#]*)(?P<path>.*)", re.S)
_SCP_LIKE = re.compile(rf"(?:{_USER}@)?{_HOST}:(?P<path>.*)", re.S)
_TRANSPORT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*::")


class InvalidURL(ValueError):
    """Not a git URL Skillport fetches; the message says why, and holds nothing secret."""


class Refused(ValueError):
    """The host is internal (or cannot be resolved) and not allowed; for admins' eyes only."""


@dataclass(frozen=True)
class Remote:
    scheme: str  # https, http, ssh or git (an scp-like `user@host:path` is ssh)
    host: str  # lower-case, IPv6 without brackets
    port: int
    path: str
    prefix: str  # the URL up to its path, exactly as written: what git's url.<x>.insteadOf matches
    has_password: bool


def parse(url: str) -> Remote:
    """The remote a network git URL names; InvalidURL for anything else (local paths included)."""
    if any(ch.isspace() or ord(ch) < 32 or ch == "\\" for ch in url):
        raise InvalidURL("a git URL cannot contain spaces, control characters or backslashes")
    if match := _SCHEME_URL.fullmatch(url):
        scheme = match["scheme"].lower()
        if scheme not in DEFAULT_PORTS:
            raise InvalidURL(f"'{scheme}://' URLs are not fetched; use https, http, ssh or git")
        authority = _AUTHORITY.fullmatch(match["authority"])
        path, prefix = match["path"], url[: len(url) - len(match["path"])]
    elif _TRANSPORT.match(url):
        # git reads `transport::address` as "run git-remote-<transport>": ext:: runs commands.
        raise InvalidURL("git's 'transport::address' form is not allowed")
    elif authority := _SCP_LIKE.fullmatch(url):
        scheme, path, prefix = "ssh", authority["path"], url[: len(url) - len(authority["path"])]
    else:
        raise InvalidURL("not a git URL: use https://host/owner/repo.git, ssh://host/path or git@host:path")
    if authority is None:
        raise InvalidURL("the URL's host is not a plain host name or IP address")
    parts = authority.groupdict()  # an scp-like URL has neither port nor password
    host = parts["host"].strip("[]").lower()
    port = int(parts.get("port") or DEFAULT_PORTS[scheme])
    if not 0 < port < 65536:
        raise InvalidURL(f"port {port} is out of range")
    if host.startswith("-"):
        raise InvalidURL("a host name cannot start with '-'")  # ssh would read it as an option
    if not path.strip("/"):
        raise InvalidURL("the URL names a host but no repository")
    return Remote(scheme, host, port, path, prefix, parts.get("password") is not None)


def resolve(remote: Remote) -> str:
    """The address git must connect to: every address the host has must be public, or the host allowed.

    All of them are checked because git (curl, ssh) may try any; the first is the one git is then
    pinned to (see gitrepo._remote_env), so a second lookup cannot answer differently.
    """
    try:
        addresses = [ipaddress.ip_address(remote.host)]
    except ValueError:
        try:
            found = socket.getaddrinfo(remote.host, remote.port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            if exc.errno == socket.EAI_AGAIN:  # the resolver could not answer now: worth another try
                raise ConnectionError(f"cannot resolve {remote.host} now: {exc.strerror}") from None
            raise Refused(f"cannot resolve {remote.host}: {exc.strerror}") from None
        except UnicodeError:
            raise Refused(f"cannot resolve {remote.host}: not a valid host name") from None
        # Keep the resolver's order (it prefers what can be reached), without duplicates.
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in found))
    if not _allowed_host(remote.host):
        for address in addresses:
            reason = _internal(address)
            if reason and not _allowed_address(address):
                what = remote.host if remote.host == str(address) else f"{remote.host} resolves to {address}, which"
                raise Refused(f"{what} is {reason}; list the host in SKILLPORT_FETCH_ALLOWED_HOSTS to fetch from it")
    return str(addresses[0])


def connect(remote: Remote, address: str, timeout: float):
    """Connect to `address` within `timeout` seconds, or OSError; git has no such timeout of its own.

    A git daemon must also begin to answer in that time: git itself would wait for it as long as
    the whole fetch may take, so a port that accepts and stays silent would hold a sync for minutes.
    """
    with socket.create_connection((address, remote.port), timeout=timeout) as sock:
        if remote.scheme == "git":
            request = f"git-upload-pack {remote.path}\0host={remote.host}\0".encode()
            sock.sendall(b"%04x" % (len(request) + 4) + request)  # a pkt-line, as git sends it
            if not sock.recv(4):
                raise ConnectionError("the git daemon closed the connection without answering")


def _internal(address) -> str:
    """Why an address is not on the public internet, or "" when it is."""
    for embedded in embedded_ipv4(address):
        if reason := _internal(embedded):
            return reason
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address (such as a cloud metadata service)"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified:
        return "an unspecified address"
    if not address.is_global:
        return "a private or reserved address"
    return ""


def embedded_ipv4(address):
    """IPv4 addresses an IPv6 one leads to: IPv4-mapped, 6to4 and NAT64."""
    if address.version != 6:
        return []
    found = [address.ipv4_mapped, address.sixtofour]
    if address in NAT64:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return [a for a in found if a is not None]


def _allowed_host(host: str) -> bool:
    if host in {h.lower() for h in settings.SKILLPORT_FETCH_ALLOWED_HOSTS}:
        return True
    # The operator's own GitHub (Enterprise, often internal) is where `github` sources go.
    github = parse_or_none(settings.SKILLPORT_GITHUB_URL + "/x")
    return github is not None and github.host == host


def _allowed_address(address) -> bool:
    """An allow-list entry may also be an address or network, e.g. 10.20.0.0/16."""
    for entry in settings.SKILLPORT_FETCH_ALLOWED_HOSTS:
        try:
            if address in ipaddress.ip_network(entry.strip("[]"), strict=False):
                return True
        except ValueError:
            continue  # a host name, matched by _allowed_host
    return False


def same_origin(a: str, b: str) -> bool:
    """Do the git URLs `a` and `b` name one server reached one way (scheme, host and port)? Only then does a
    credential for one go to the other: the same host's other port is another service, and its http is in clear."""
    first, second = parse_or_none(a), parse_or_none(b)
    return (first is not None and second is not None
            and (first.scheme, first.host, first.port) == (second.scheme, second.host, second.port))


# How far a marketplace's token goes on its own server (Marketplace.token_reach): the repository alone, the
# repositories beside it (its path's folders: an owner, a group, a project), or every repository there.
REPOSITORY, OWNER, SERVER = "repository", "owner", "server"


def within_reach(url: str, home: str, reach: str) -> bool:
    """Does the credential for the repository at `home` go to `url` under `reach`? Never off its server (same_origin):
    a catalogue's author names the sources, and whatever the token reads there they could have synced and shown.
    Paths compare as written, less a trailing `.git`; one with dot segments, escapes, a query or empty names,
    which git (curl) could take for another path, reaches nothing the server's alone would not."""
    if not same_origin(url, home):
        return False
    if reach == SERVER:
        return True
    theirs, ours = _repository_path(url), _repository_path(home)
    if theirs is None or ours is None:
        return False
    return theirs[:-1] == ours[:-1] if reach == OWNER else theirs == ours  # anything else: the repository alone


def _repository_path(url: str) -> tuple[str, ...] | None:
    path = parse(url).path.strip("/").removesuffix(".git")
    parts = tuple(path.split("/"))
    if any(name in ("", ".", "..") for name in parts) or set("%?#") & set(path):
        return None
    return parts


def parse_or_none(url: str) -> Remote | None:
    try:
        return parse(url)
    except InvalidURL:
        return None
