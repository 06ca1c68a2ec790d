"""Limits that keep a flood of requests from starving everyone else, counted where every worker sees them.

1. Endpoints anyone can call, and that cost work before anyone is known (OAuth registration, tokens
   and authorization, sign-in), are limited per client address: over the rate, a request is
   answered 429 with Retry-After before any database work, OAuth-style JSON on OAuth endpoints.
2. Each of them is also served at most SKILLPORT_THROTTLED_CONCURRENCY requests at a time per
   worker, so that requests from many addresses cannot take the database pool (or every thread)
   from members' pages; the rest wait their turn up to TURN_SECONDS, then get a 503.
3. The REST API's throttles count the same way (api/auth.py).
4. A request that waited SKILLPORT_DB_POOL_TIMEOUT for a database connection in vain is a 503 with
   Retry-After saying the server is busy, not a 500 (timeouts.DatabaseOverload).
5. What any member may ask to do costly work on what they send (the SKILL.md preview; checking and
   sending proposals) is limited per member (`member_limit`): a rate, and one request at a time
   across every worker.
6. Every page a signed-in member asks for counts against SKILLPORT_PAGE_RATE (`over_page_rate`), so
   that one member's script cannot take the workers from everyone: a cold search costs about 14 ms of
   CPU, and the API and /mcp, which serve the same catalogue, are limited per person already.

Counts live in the "throttle" cache (settings.CACHES), shared by every worker process: Redis when
SKILLPORT_REDIS_URL is set, otherwise files in the data directory (`FileCounters`). A per-process
count would let each worker admit the whole rate. Each process reaches it through one instance
(`counters`). The connector counts on its event loop (`acount`), where a blocking call to a Redis that
stopped answering would hold every request the worker serves.
"""
import asyncio
import functools
import logging
import math
import pickle
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from ipaddress import IPv6Address, ip_address, ip_network
from pathlib import Path

import redis
import redis.asyncio
from asgiref.sync import iscoroutinefunction, sync_to_async
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.filebased import FileBasedCache
from django.core.cache.backends.redis import RedisCache
from django.core.files import locks
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.decorators import sync_and_async_middleware
from rest_framework.throttling import SimpleRateThrottle

log = logging.getLogger(__name__)

# How long a request waits for its turn at a busy endpoint before a 503. Waiting holds no thread and
# no connection, only the client's socket; a slow machine serves a few registrations at once in
# seconds each, and they should wait rather than fail.
TURN_SECONDS = 10


def client_address(request) -> str:
    """Who is asking: REMOTE_ADDR, never X-Forwarded-For, which any client can write.

    Behind a reverse proxy, the server (gunicorn's or uvicorn's FORWARDED_ALLOW_IPS, loopback by
    default) puts the proxy's word in REMOTE_ADDR only when the proxy is one it trusts. An IPv6
    client is counted by its /64 network: one host is given all of it.
    """
    address = request.META.get("REMOTE_ADDR") or "-"
    try:
        parsed = ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, IPv6Address):
        if parsed.ipv4_mapped:
            return str(parsed.ipv4_mapped)
        return str(ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


@functools.cache
def counters():
    """The counters' cache, one instance for the process. `caches["throttle"]` makes one for each request
    under ASGI (it is kept per context), and a Redis one opens a connection of its own: a count took
    0.7 ms that way, 0.14 on a kept connection. Both backends are safe to share between threads."""
    return caches.create_connection("throttle")


@receiver(setting_changed)
def _caches_changed(setting, **kwargs):
    if setting == "CACHES":  # tests that count in another store
        counters.cache_clear()


_COUNT_ERRORS = (ValueError, OSError, redis.RedisError)


class _Window:
    """The window of `seconds` a count made now falls in, and what its count means."""

    def __init__(self, key, seconds):
        self.key, self.seconds, self.now = key, seconds, time.time()
        self.number = int(self.now // seconds)
        self.counter = f"{key}:{self.number}"  # outlives its window, which ends sooner

    def failed(self, error) -> int | None:
        """The count to go on with when counting raised `error`."""
        if isinstance(error, ValueError):  # culled as it was made (file counters): count it as the first
            return 1
        log.warning("Request counters are unavailable, so %s is not limited: %s", self.key, error)
        return None

    def retry_after(self, hits, limit) -> int | None:
        if hits is None or hits <= limit:
            return None
        return max(1, math.ceil((self.number + 1) * self.seconds - self.now))


def count(key: str, limit: int, seconds: int) -> int | None:
    """Count a request against `key`'s current window of `seconds`; None while within `limit`, else
    the seconds until the window ends. Fails open: an unreachable cache must not take sign-in down
    with it (the per-worker concurrency limit still holds)."""
    window = _Window(key, seconds)
    try:
        hits = counters().count(window.counter, seconds)
    except _COUNT_ERRORS as error:
        hits = window.failed(error)
    return window.retry_after(hits, limit)


async def acount(key: str, limit: int, seconds: int) -> int | None:
    """`count`, for code on the event loop (the connector's): a Redis that stops answering then holds
    this request alone for its timeout, not every request the worker is serving."""
    window = _Window(key, seconds)
    try:
        hits = await counters().acount(window.counter, seconds)
    except _COUNT_ERRORS as error:
        hits = window.failed(error)
    return window.retry_after(hits, limit)


class SharedThrottle(SimpleRateThrottle):
    """The REST framework's rate throttle, counted with `count` (atomic, shared by every worker)
    instead of a history list read and written back per request, and keyed by `client_address`
    (the framework's own trusts X-Forwarded-For, so a made-up header was a fresh allowance)."""

    def allow_request(self, request, view):
        if self.rate is None or (key := self.get_cache_key(request, view)) is None:
            return True
        self.retry_after = count(key, self.num_requests, self.duration)
        return self.retry_after is None

    async def aallow_request(self, request, view):
        """`allow_request`, counted with `acount`."""
        if self.rate is None or (key := self.get_cache_key(request, view)) is None:
            return True
        self.retry_after = await acount(key, self.num_requests, self.duration)
        return self.retry_after is None

    def wait(self):
        return self.retry_after

    def get_ident(self, request):
        return client_address(request)


class MemberThrottle(SharedThrottle):
    """A rate per signed-in member for one kind of request: people behind one address (an office) share nothing."""

    def __init__(self, scope, rate, member):
        self.scope, self.rate, self.member = scope, rate, member
        super().__init__()

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.member}


@dataclass(frozen=True)
class Wait:
    """Why a member's request may not go on now, and when it may."""

    seconds: int
    busy: bool  # their last request is still being answered (else they are over the rate)


@contextmanager
def member_limit(scope: str, rate_setting: str, member, turn_seconds=TURN_SECONDS) -> Iterator[Wait | None]:
    """Count a request of `member` (a user's pk) at `scope` against the rate in `rate_setting`, and take
    their one turn at it, however many workers there are: yields None while they may go on (the turn
    is theirs until the block ends), else a Wait.

    One at a time because a rate alone lets a member send all of it at once, each request holding a
    worker's thread. The turn is kept in the counters' cache for at most `turn_seconds` (longer than
    such a request takes), so a worker that dies holding one shuts nobody out for long.
    """
    throttle = MemberThrottle(scope, getattr(settings, rate_setting), member)
    if not throttle.allow_request(None, None):
        yield Wait(throttle.wait(), busy=False)
        return
    with member_turn(scope, member, turn_seconds) as taken:
        yield None if taken else Wait(1, busy=True)


def per_member(scope: str, rate_setting: str, refusal):
    """Decorator for a view only signed-in members reach, limited by `member_limit`. A request that may not
    go on is answered `refusal(retry_after)`, made a 429 with Retry-After here (`too_many`)."""
    def decorator(view):
        @functools.wraps(view)
        def limited(request, *args, **kwargs):
            with member_limit(scope, rate_setting, request.user.pk) as wait:
                return view(request, *args, **kwargs) if wait is None else too_many(refusal(wait.seconds), wait.seconds)
        return limited
    return decorator


@contextmanager
def member_turn(scope: str, member, seconds=TURN_SECONDS) -> Iterator[bool]:
    """Take `member`'s one turn at `scope` for at most `seconds`, yielding whether it was free. Fails
    open, as `count` does."""
    key, mine = f"turn:{scope}:{member}", uuid.uuid4().hex
    try:
        taken = counters().add(key, mine, timeout=seconds)
    except (OSError, redis.RedisError) as error:
        log.warning("Request counters are unavailable, so %s is not limited: %s", key, error)
        taken = None
    try:
        yield taken is not False
    finally:
        try:
            # Only while it is still this request's: one that outlived `seconds` must not end a later one's.
            if taken and counters().get(key) == mine:
                counters().delete(key)
        except (OSError, redis.RedisError):
            pass  # it ends with its timeout


def too_many(response, retry_after: int):
    """`response` as a refusal for asking too often: 429, and when to ask again."""
    response.status_code = 429
    response["Retry-After"] = str(retry_after)
    return response


@dataclass(frozen=True)
class Endpoint:
    """A group of paths limited together, with the setting that holds their rate per address."""

    name: str
    paths: tuple[str, ...]  # exact paths, or prefixes when they end in "/"
    rate_setting: str
    oauth: bool  # answers with OAuth's JSON errors

    def serves(self, path: str) -> bool:
        return any(path == prefix or (prefix.endswith("/") and path.startswith(prefix)) for prefix in self.paths)


ENDPOINTS = (
    # Registration hashes a new client's secret: about half a second of CPU per request.
    Endpoint("registration", ("/register", "/oauth/register/"), "SKILLPORT_REGISTER_RATE", oauth=True),
    Endpoint("token", ("/token", "/oauth/token/", "/oauth/revoke/"), "SKILLPORT_TOKEN_RATE", oauth=True),
    Endpoint("authorization", ("/authorize", "/oauth/authorize/"), "SKILLPORT_AUTHORIZE_RATE", oauth=True),
    # Password checks, and GitHub's callback, which calls GitHub while the request waits.
    Endpoint("sign-in", ("/login/", "/admin/login/", "/accounts/"), "SKILLPORT_SIGNIN_RATE", oauth=False),
    # Each delivery, signed or not, is written down (and a forged one audited, which is append-only).
    Endpoint("webhook", ("/webhooks/",), "SKILLPORT_WEBHOOK_RATE", oauth=False),
)


class EndpointThrottle(SharedThrottle):
    def __init__(self, endpoint):
        self.scope = endpoint.name
        self.rate = getattr(settings, endpoint.rate_setting)  # read per request: operators and tests change it
        super().__init__()

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def _refusal(endpoint, status, message, retry_after):
    if endpoint.oauth:
        # RFC 6749's code for an overloaded server; the description is for people reading logs.
        response = JsonResponse({"error": "temporarily_unavailable", "error_description": message}, status=status)
    else:
        response = HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(retry_after)
    return response


def _over_rate(endpoint, request):
    throttle = EndpointThrottle(endpoint)
    if throttle.allow_request(request, None):
        return None
    return _refusal(endpoint, 429, f"Too many {endpoint.name} requests from your address. "
                                   f"Try again in {throttle.wait()} seconds.", throttle.wait())


def _busy(endpoint):
    return _refusal(endpoint, 503, f"Skillport is busy with other {endpoint.name} requests. "
                                   f"Try again in a few seconds.", TURN_SECONDS)


@sync_and_async_middleware
def throttle_endpoints(get_response):
    """Middleware: per-address rates, then a turn among at most SKILLPORT_THROTTLED_CONCURRENCY
    requests per endpoint in this worker, for the paths in ENDPOINTS; nothing for any other path."""
    concurrency = settings.SKILLPORT_THROTTLED_CONCURRENCY

    def endpoint_for(request):
        return next((endpoint for endpoint in ENDPOINTS if endpoint.serves(request.path)), None)

    if iscoroutinefunction(get_response):
        turns = {endpoint.name: asyncio.Semaphore(concurrency) for endpoint in ENDPOINTS}

        async def middleware(request):
            endpoint = endpoint_for(request)
            if endpoint is None:
                return await get_response(request)
            if refusal := _over_rate(endpoint, request):
                return refusal
            try:
                await asyncio.wait_for(turns[endpoint.name].acquire(), TURN_SECONDS)
            except TimeoutError:
                return _busy(endpoint)
            try:
                return await get_response(request)
            finally:
                turns[endpoint.name].release()
    else:
        turns = {endpoint.name: threading.BoundedSemaphore(concurrency) for endpoint in ENDPOINTS}

        def middleware(request):
            endpoint = endpoint_for(request)
            if endpoint is None:
                return get_response(request)
            if refusal := _over_rate(endpoint, request):
                return refusal
            if not turns[endpoint.name].acquire(timeout=TURN_SECONDS):
                return _busy(endpoint)
            try:
                return get_response(request)
            finally:
                turns[endpoint.name].release()
    return middleware


PERIODS = {1: "a second", 60: "a minute", 3600: "an hour", 86400: "a day"}  # a rate's period, by its seconds


def over_page_rate(request, member):
    """A 429 page when `member` (a user's pk) has asked for more than SKILLPORT_PAGE_RATE pages, counting this
    one; else None. The rate is far above what anyone reading pages asks for. A page's own scripts (the skill
    editor's preview) put what they are answered in the page: to them, the sentence alone."""
    throttle = MemberThrottle("pages", settings.SKILLPORT_PAGE_RATE, member)
    if throttle.allow_request(request, None):
        return None
    allowed = f"{throttle.num_requests} pages {PERIODS[throttle.duration]}"
    context = {"allowed": allowed, "seconds": throttle.wait()}
    if request.headers.get("Sec-Fetch-Dest", "document") == "document":
        return too_many(render(request, "too_many.html", context), throttle.wait())
    sentence = render_to_string("_too_many.html", context, request).strip()
    return too_many(HttpResponse(sentence, content_type="text/html; charset=utf-8"), throttle.wait())


class RedisCounters(RedisCache):
    """Django's Redis cache, counting in one round trip (`count`) where its add and incr take three: every
    request to /mcp and the API is counted, and a search the cache answers costs little more than that."""

    def count(self, key, seconds):
        """One more in `key`, which is made to last `seconds` when missing: the count so far."""
        key = self.make_and_validate_key(key)
        with self._cache.get_client(key, write=True).pipeline(transaction=False) as pipe:
            pipe.set(key, 0, ex=seconds, nx=True)  # stored as Django's incr stores a number, bare
            pipe.incr(key)
            return pipe.execute()[1]

    async def acount(self, key, seconds):
        """`count`, with redis-py's asyncio client: the event loop serves other requests while Redis answers."""
        key = self.make_and_validate_key(key)
        async with self._async_client().pipeline(transaction=False) as pipe:
            pipe.set(key, 0, ex=seconds, nx=True)
            pipe.incr(key)
            return (await pipe.execute())[1]

    def _async_client(self):
        """The asyncio client for the running event loop, to the server writes go to, with the same timeouts.
        An asyncio connection serves the loop it was made on: a uvicorn worker runs one loop for its life,
        tests one per session, so the client is made again only when the loop is another."""
        loop = asyncio.get_running_loop()
        if getattr(self, "_async", (None, None))[0] is not loop:
            options = {name: value for name, value in self._options.items() if name.startswith("socket_")}
            self._async = (loop, redis.asyncio.Redis.from_url(self._servers[0], **options))
        return self._async[1]


class FileCounters(FileBasedCache):
    """Django's file cache, made safe for counting from several processes: the counters' cache when no
    Redis is configured. Every process on the machine shares the files, with no server to run (the
    database's cache table would cost each throttled request a pooled connection, the very thing a
    flood must not take). Django's add and incr read a file, then write it, so two workers counting
    at once would each lose the other's request: here counting and adding hold a lock, and a count
    keeps the counter's expiry where Django's incr resets it to the default timeout."""

    def count(self, key, seconds):
        """One more in `key`, which is made to last `seconds` when missing: the count so far."""
        with self._locked():
            super().add(key, 0, seconds)
            try:
                with open(self._key_to_file(key), "r+b") as file:
                    if self._is_expired(file):
                        raise FileNotFoundError
                    file.seek(0)
                    expiry = pickle.load(file)  # the file's layout, as FileBasedCache writes it
                    value = pickle.loads(zlib.decompress(file.read())) + 1
                    written = file.tell()
                    file.seek(0)
                    file.write(pickle.dumps(expiry, self.pickle_protocol))
                    file.write(zlib.compress(pickle.dumps(value, self.pickle_protocol)))
                    # Written over in place, cut only if shorter: truncating first cost a page up to a
                    # millisecond waiting on the file system's journal, with the lock held.
                    if file.tell() < written:
                        file.truncate()
                    return value
            except FileNotFoundError:
                raise ValueError(f"Key {key!r} not found.") from None

    async def acount(self, key, seconds):
        """`count` in a worker thread: another process may hold the lock."""
        return await sync_to_async(self.count, thread_sensitive=False)(key, seconds)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        with self._locked():
            return super().add(key, value, timeout, version)

    @contextmanager
    def _locked(self):
        self._createdir()
        with open(Path(self._dir) / "lock", "ab") as lock:  # not a *.djcache file: clear() leaves it
            locks.lock(lock, locks.LOCK_EX)
            try:
                yield
            finally:
                locks.unlock(lock)
