"""Who may call what, and how often: API-key scopes, per-shopper tokens, rate limits.

Three scopes: ``search`` (search, suggest, products, photos), ``events`` (POST /events) and
``admin`` (profiles, recommendations, forgetting shoppers, reloading the index). A key grants its
own scope and those below it (admin > events > search). Scopes in ``public_scopes`` need no key.
A shopper's own profile, recommendations and forgetting also accept a per-shopper token the shop
issues (``X-User-Token``: HMAC-SHA256 of the user id under ``user_token_secret``; see
:func:`user_token` and ``shoprank user-token``).
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import math
import time
from collections import OrderedDict
from typing import Literal

from fastapi import Depends, HTTPException, Request, Security, params
from fastapi.security import APIKeyHeader
from pydantic import SecretStr

from shoprank.config import Settings

log = logging.getLogger(__name__)

Scope = Literal["search", "events", "admin"]
ALL_SCOPES: frozenset[str] = frozenset({"search", "events", "admin"})
_KEY_SCOPES: dict[str, frozenset[str]] = {
    "admin": ALL_SCOPES, "events": frozenset({"search", "events"}), "search": frozenset({"search"})}
# Clients whose rate-limit buckets are remembered at once; the least recently seen are dropped.
MAX_CLIENTS = 100_000
# A voice query counts as one search per this many seconds of audio: transcribing costs about
# a second of a core per second of speech, a text search a few milliseconds.
AUDIO_SECONDS_PER_REQUEST = 1.0
MAX_DEBT_S = 60.0

# One OpenAPI security scheme per scope (all the X-API-Key header), so the spec says which
# key each operation needs and which take none (public scopes).
API_KEYS = {scope: APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name=f"{scope}Key",
                                description=f"a key with the {scope!r} scope")
            for scope in ("search", "events", "admin")}
user_token_header = APIKeyHeader(name="X-User-Token", auto_error=False, scheme_name="userToken",
                                 description="per-shopper token: hex HMAC-SHA256 of the user id")


def _secret(s: SecretStr | None) -> bytes | None:
    return s.get_secret_value().encode() if s is not None and s.get_secret_value() else None


def user_token(secret: str | bytes, user_id: str) -> str:
    """The token that lets one shopper read and delete their own data."""
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, user_id.encode(), hashlib.sha256).hexdigest()


class RateLimiter:
    """Token buckets per (scope, client): ``rate`` requests per second, bursts of two seconds' worth.

    Used from the event loop only (async dependencies), so it needs no lock."""

    def __init__(self, rates: dict[str, float], max_clients: int = MAX_CLIENTS) -> None:
        self.rates = {s: r for s, r in rates.items() if r > 0}
        self.max_clients = max_clients
        self._buckets: OrderedDict[tuple[str, str], tuple[float, float]] = OrderedDict()

    def wait(self, scope: str, client: str, now: float | None = None) -> float:
        """0 if the request may go now (and it is counted), else the seconds until it may."""
        rate = self.rates.get(scope)
        if rate is None:
            return 0.0
        now = time.monotonic() if now is None else now
        tokens = self._take(scope, client, rate, now)
        if tokens >= 1.0:
            tokens -= 1.0
            wait = 0.0
        else:
            wait = (1.0 - tokens) / rate
        self._put(scope, client, tokens, now)
        return wait

    def charge(self, scope: str, client: str, cost: float, now: float | None = None) -> None:
        """Count ``cost`` more requests for work found costly after it was admitted (seconds of
        audio transcribed): the bucket may go into debt, up to ``MAX_DEBT_S`` of its refill."""
        rate = self.rates.get(scope)
        if rate is None or cost <= 0:
            return
        now = time.monotonic() if now is None else now
        self._put(scope, client, max(self._take(scope, client, rate, now) - cost, -MAX_DEBT_S * rate), now)

    def _take(self, scope: str, client: str, rate: float, now: float) -> float:
        burst = 2.0 * rate
        tokens, last = self._buckets.pop((scope, client), (burst, now))
        return min(burst, tokens + (now - last) * rate)

    def _put(self, scope: str, client: str, tokens: float, now: float) -> None:
        self._buckets[(scope, client)] = (tokens, now)
        if len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)


class Access:
    """The keys, public scopes and rate limits of one app, from its settings."""

    def __init__(self, settings: Settings) -> None:
        self.keys: dict[str, bytes] = {name: k for name in _KEY_SCOPES
                                       if (k := _secret(getattr(settings, f"{name}_key"))) is not None}
        # dev with no key set: an open server (start-up says so); otherwise keys are in force.
        self.open = settings.env == "dev" and not self.keys
        self.public = ALL_SCOPES if self.open else frozenset(settings.public_scopes)
        self.token_secret = _secret(settings.user_token_secret) or self.keys.get("admin")
        self.trust_forwarded_for = settings.trust_forwarded_for
        self.forwarded_proxies = settings.forwarded_proxies
        # Unknown keys are counted per address at the search rate: guessing keys costs like searching.
        self.limiter = RateLimiter({"search": settings.rate_search_per_s, "events": settings.rate_events_per_s,
                                    "unknown-key": settings.rate_search_per_s})

    def scopes_of(self, key: str | None) -> frozenset[str] | None:
        """What a request with this key may do; ``None`` for a key that matches none."""
        if key is None:
            return self.public
        given = key.encode()
        for name, secret in self.keys.items():
            if hmac.compare_digest(given, secret):
                return _KEY_SCOPES[name] | self.public
        return None

    def user_token_ok(self, user_id: str, token: str | None) -> bool:
        if token is None or self.token_secret is None:
            return False
        return hmac.compare_digest(token.encode(), user_token(self.token_secret, user_id).encode())

    def client(self, request: Request, key: str | None) -> str:
        """Whom a rate limit counts: the API key when one is sent, else the client's address."""
        if key is not None:
            return "key:" + hashlib.sha256(key.encode()).hexdigest()[:16]
        return "ip:" + self.address(request)

    def address(self, request: Request) -> str:
        """The client's address. Behind ``forwarded_proxies`` trusted proxies, each appends the
        address it saw to X-Forwarded-For: the entry the outermost one appended is the client,
        and entries to its left are whatever the client wrote (a spoofed first entry is ignored)."""
        peer = request.client.host if request.client else "?"
        if not self.trust_forwarded_for:
            return peer
        hops = [h.strip() for v in request.headers.getlist("x-forwarded-for") for h in v.split(",") if h.strip()]
        if not hops:
            return peer
        return hops[-min(self.forwarded_proxies, len(hops))]

    def check(self, request: Request, scope: str, key: str | None) -> None:
        granted = self.scopes_of(key)
        if granted is None:
            self.throttle(request, "unknown-key", None)
            raise HTTPException(401, "unknown API key (X-API-Key)")
        if scope not in granted:
            if key is None:
                raise HTTPException(401, f"this needs an API key with the {scope!r} scope in the X-API-Key header")
            raise HTTPException(403, f"this API key lacks the {scope!r} scope")
        self.throttle(request, scope, key)

    def charge_audio(self, request: Request, seconds: float) -> None:
        """Count a voice query's audio against its client's search rate (one request is counted already)."""
        # The client the search check counted (an empty X-API-Key header is no key there).
        client = (getattr(request.state, "rate_client", None)
                  or self.client(request, request.headers.get("x-api-key") or None))
        self.limiter.charge("search", client, seconds / AUDIO_SECONDS_PER_REQUEST - 1.0)

    def throttle(self, request: Request, scope: str, key: str | None) -> None:
        client = self.client(request, key)
        request.state.rate_client = client
        wait = self.limiter.wait(scope, client)
        if wait > 0:
            raise HTTPException(429, f"rate limit of {self.limiter.rates[scope]:g} {scope} requests/s exceeded "
                                     "for this client",
                                headers={"Retry-After": str(max(1, math.ceil(wait)))})


def get_access(request: Request) -> Access:
    return request.app.state.access


def require(scope: Scope) -> params.Depends:
    """A route (or router) dependency: the request's key must grant ``scope``; counts its rate."""

    async def check(request: Request, key: str | None = Security(API_KEYS[scope])) -> None:
        get_access(request).check(request, scope, key)

    dep: params.Depends = Depends(check)
    return dep


async def require_user_or_admin(request: Request, user_id: str, key: str | None = Security(API_KEYS["admin"]),
                                token: str | None = Security(user_token_header)) -> None:
    """A shopper's own data: the admin scope, or that shopper's token."""
    access = get_access(request)
    if access.user_token_ok(user_id, token):
        return
    if token is not None and key is None:
        raise HTTPException(403, "the X-User-Token does not belong to this user")
    access.check(request, "admin", key)


def startup_warning(access: Access) -> str | None:
    if access.open:
        return ("no API key is set (SHOPRANK_ADMIN_KEY): every endpoint, including profiles and "
                "deleting shoppers, is open to anyone who can reach this port; fine for a demo on "
                "localhost, not for the internet (SHOPRANK_ENV=prod refuses to start like this)")
    return None


def check_production(settings: Settings) -> None:
    """prod refuses to start without an admin key."""
    if settings.env == "prod" and _secret(settings.admin_key) is None:
        raise RuntimeError("SHOPRANK_ENV=prod needs SHOPRANK_ADMIN_KEY (and, for shop back-ends that send "
                           "events, SHOPRANK_EVENTS_KEY); refusing to start an open server")

