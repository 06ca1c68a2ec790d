"""The plugin sources Skillport lists for Claude Code but never fetches or runs: npm, archive, command.

Claude Code (2.1.332) checks each one's fields against its schema: `claude plugin validate` calls a
catalogue holding a broken one invalid, and `claude plugin install` refuses that plugin. `problem`
says what Claude Code would refuse, in its own words where it has them, so a sync agrees.
"""
import ipaddress
import re
import socket
from urllib.parse import urlsplit

from . import addresses

KINDS = {"npm", "archive", "command"}

# A package that is not a URL or a git or file reference may not hold "..", as Claude Code reads it.
NPM_REFERENCE = re.compile(r"^(?:file|https?|git(?:\+https?|\+ssh)?|ssh|github|gitlab|bitbucket):", re.I)
HTTP_URL = re.compile(r"^https?://[^/\\]", re.I)
SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
# What the install consent shows: printable ASCII, no run of four spaces, at most 500 characters.
COMMAND_UNSHOWABLE = re.compile(r"[^\x20-\x7e]| {4,}")
MAX_COMMAND_CHARS, MAX_COMMAND_SECONDS = 500, 600
COMMAND_MODES = {"copy", "link"}
# Hosts an archive may not be fetched from: loopback, link-local and the clouds' metadata services.
LOCAL_NAMES = {
    "localhost", "metadata.google.internal", "metadata.goog", "metadata", "instance-data",
    "instance-data.ec2.internal", "ip6-localhost", "ip6-loopback", "localhost.localdomain", "localhost4",
    "localhost4.localdomain4", "localhost6", "localhost6.localdomain6",
}
METADATA_ADDRESSES = {ipaddress.ip_address(a) for a in ("100.100.100.200", "168.63.129.16", "192.0.0.192",
                                                         "fd00:ec2::254")}
IPV4_PART = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$")
ARCHIVE_URL = "url: Archive URLs must use https:// and must not point at a loopback, link-local, or cloud-metadata host"


def problem(raw: dict) -> str:
    """Why Claude Code refuses this npm, archive or command source's fields; "" if it takes them."""
    kind = raw["source"]
    if kind == "npm":
        return _npm(raw)
    if kind == "archive":
        return _archive(raw)
    return _command(raw)


def _npm(raw) -> str:
    package = raw.get("package")
    if not isinstance(package, str):
        return "package: Required, a package name (or name@version) or a link to a tarball"
    if ".." in package and not NPM_REFERENCE.match(package):
        return 'package: Package reference cannot contain ".." path segments'
    if "version" in raw and not isinstance(raw["version"], str):
        return "version: Expected a string (a version or range, such as ^1.0.0)"
    if "registry" in raw and not (isinstance(raw["registry"], str) and HTTP_URL.match(raw["registry"])):
        return "registry: Registry must be an http(s) URL"
    return ""


def _archive(raw) -> str:
    url = raw.get("url")
    if not isinstance(url, str):
        return "url: Required, the https:// address of a zip archive"
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return ARCHIVE_URL
    if parts.scheme.lower() != "https" or _refused_host(host):
        return ARCHIVE_URL
    if "sha256" in raw and not (isinstance(raw["sha256"], str) and SHA256.match(raw["sha256"])):
        return "sha256: Must be a 64-character hex SHA-256 digest"
    return ""


def _refused_host(host: str) -> bool:
    """A loopback, link-local or metadata host, or one a URL parser refuses outright."""
    host = host.lower().removesuffix(".")
    if host == "" or host in LOCAL_NAMES or host.endswith(".localhost"):
        return True
    if host.startswith("instance-data.") and host.endswith(".compute.internal"):
        return True
    try:
        address = _address(host)
    except ValueError:
        return True
    if address is None:
        return False
    return any(a.is_loopback or a.is_link_local or a.is_unspecified or a in METADATA_ADDRESSES
               or (a.version == 4 and a.packed[0] == 0) for a in [address, *addresses.embedded_ipv4(address)])


def _address(host: str):
    """The IP address `host` is, read as a URL's host is (WHATWG): a host ending in a number is IPv4,
    which may be written as one number or fewer parts, in decimal, hex or octal (2130706433, 127.1 and
    0x7f.1 are 127.0.0.1), and ValueError when it is not one. None for a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if not IPV4_PART.match(host.rsplit(".", 1)[-1]):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))  # the same shorthand, as the C library reads it
    except OSError:
        raise ValueError(f"{host!r} ends in a number but is no IPv4 address") from None


def _command(raw) -> str:
    command = raw.get("command")
    if not isinstance(command, str) or not command:
        return "command: Required, the shell command that prints the plugin's folder"
    if len(command) > MAX_COMMAND_CHARS:
        return "command: command must not be longer than the install consent UI can display"
    if COMMAND_UNSHOWABLE.search(command):
        return ("command: command must be printable ASCII (letters, digits, punctuation, single spaces) with no "
                "runs of 4 or more spaces")
    timeout = raw.get("timeout")
    whole = isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and float(timeout).is_integer()
    if "timeout" in raw and not (whole and 0 < timeout <= MAX_COMMAND_SECONDS):
        return f"timeout: Expected a whole number of seconds from 1 to {MAX_COMMAND_SECONDS}"
    if "mode" in raw and raw["mode"] not in COMMAND_MODES:
        return "mode: Expected 'copy' or 'link'"
    return ""
