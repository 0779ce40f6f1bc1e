"""Local verification of access tokens against the auth service's public keys.

No call to the auth service per request: keys are fetched once and cached,
refetched only when a token names a key the cache does not know (key
rotation) and at most once per ``min_refresh_seconds``, so a flood of tokens
with made-up key ids cannot turn into a flood of fetches. Verified tokens are
cached until they expire, so a token used repeatedly is checked once.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from services.runtime.auth.claims import ALGORITHM, AUDIENCE, REQUIRED_CLAIMS, AccessClaims
from services.runtime.cache import CacheStats
from services.runtime.clock import epoch
from services.runtime.errors import CommonReason, Reason, Unauthenticated

PublicKeys = Mapping[str, ec.EllipticCurvePublicKey]
KeySource = Callable[[], Awaitable[PublicKeys]]

LEEWAY_SECONDS = 10
# A token's issue time (iat, nbf) may lie this far in this process's future: the issuing
# process's clock may run ahead of this one's (the fault suite skews one by 2 minutes).
ISSUED_AHEAD_LEEWAY_SECONDS = 150
# Time for what the issuer does after a token's last moment (a revocation's event, a retired key's
# JWKS) to reach every process.
SPREAD_SECONDS = 60


def outlived_after_seconds(token_ttl_seconds: float) -> float:
    """How long after an event (a revocation, a key's retirement) the tokens signed before it may
    still be accepted somewhere, plus the time for news of it to spread: a token's lifetime, on
    the clock of an issuer running ahead by as much as verifiers allow, and the expiry leeway."""
    return token_ttl_seconds + ISSUED_AHEAD_LEEWAY_SECONDS + LEEWAY_SECONDS + SPREAD_SECONDS


def public_key_from_jwk(x: str, y: str) -> ec.EllipticCurvePublicKey:
    def integer(value: str) -> int:
        return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")

    return ec.EllipticCurvePublicNumbers(integer(x), integer(y), ec.SECP256R1()).public_key()


def jwk_coordinates(key: ec.EllipticCurvePublicKey) -> tuple[str, str]:
    numbers = key.public_numbers()

    def encode(value: int) -> str:
        return base64.urlsafe_b64encode(value.to_bytes(32, "big")).decode().rstrip("=")

    return encode(numbers.x), encode(numbers.y)


class JwksCache:
    def __init__(self, source: KeySource, min_refresh_seconds: float = 5.0) -> None:
        self._source = source
        self._min_refresh = min_refresh_seconds
        self._keys: PublicKeys = {}
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()
        # Look-ups answered from memory, and those that had to ask the source (metrics).
        self.hits = 0
        self.misses = 0

    @property
    def stats(self) -> CacheStats:
        return CacheStats("jwks", len(self._keys), self.hits, self.misses, 0)

    async def key_for(self, kid: str) -> ec.EllipticCurvePublicKey | None:
        key = self._keys.get(kid)
        if key is not None:
            self.hits += 1
            return key
        self.misses += 1
        async with self._lock:
            key = self._keys.get(kid)
            if key is None and time.monotonic() - self._fetched_at >= self._min_refresh:
                self._fetched_at = time.monotonic()
                self._keys = dict(await self._source())
                key = self._keys.get(kid)
        return key

    def forget(self) -> None:
        """Drops the cached keys (used after a local rotation)."""
        self._keys = {}
        self._fetched_at = float("-inf")


def _invalid(detail: str, reason: Reason = CommonReason.TOKEN_INVALID) -> Unauthenticated:
    return Unauthenticated(f"the access token is not valid: {detail}", reason=reason)


class TokenVerifier:
    def __init__(self, keys: JwksCache, *, issuer: str, cache_size: int = 10_000) -> None:
        """``issuer``: the platform's (its public URL); tokens naming another are refused."""
        self._keys = keys
        self._issuer = issuer
        self._cache_size = cache_size
        self._verified: OrderedDict[str, AccessClaims] = OrderedDict()

    async def verify(self, token: str) -> AccessClaims:
        cached = self._verified.get(token)
        if cached is not None:
            if cached.expires_at + LEEWAY_SECONDS > epoch():
                self._verified.move_to_end(token)
                return cached
            del self._verified[token]
            raise _invalid("expired", CommonReason.TOKEN_EXPIRED)
        claims = await self._verify_signature_and_claims(token)
        self._verified[token] = claims
        if len(self._verified) > self._cache_size:
            self._verified.popitem(last=False)
        return claims

    async def _verify_signature_and_claims(self, token: str) -> AccessClaims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _invalid("malformed") from None
        # Pinned algorithm: "none", HS256 signed with the public key and every
        # other algorithm are refused before any key is looked at.
        if header.get("alg") != ALGORITHM:
            raise _invalid("algorithm not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise _invalid("no key id")
        key = await self._keys.key_for(kid)
        if key is None:
            raise _invalid("unknown signing key")
        try:
            payload: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=self._issuer,
                # Times are checked below, on this process's clock (services.runtime.clock).
                options={
                    "require": list(REQUIRED_CLAIMS),
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
            claims = AccessClaims.from_payload(payload)
            not_before = int(payload["nbf"])
        except (jwt.PyJWTError, ValueError, KeyError, TypeError):
            raise _invalid("signature or claims rejected") from None
        now = epoch()
        if claims.expires_at + LEEWAY_SECONDS <= now:
            raise _invalid("expired", CommonReason.TOKEN_EXPIRED)
        if max(claims.issued_at, not_before) - ISSUED_AHEAD_LEEWAY_SECONDS > now:
            raise _invalid("signature or claims rejected")
        return claims
