"""Token signing keys: stored encrypted, rotated, published as a JWKS.

A rotated-in key is published at once but signs only after an activation
delay, so every verifier — Envoy caches the JWKS and does not refetch on an
unknown key id — knows it before the first token it signed arrives. Older keys
stay published until the last access token they could have signed has
expired, so rotation never invalidates a live token. A key's ``create_time``
is the moment it starts signing; ``retire_time`` the moment it stops.
Private parts are sealed (services.runtime.sealing: AES-256-GCM under the platform's
key-encryption key); the database alone is not enough to forge tokens.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select, update

from services.auth import audit
from services.auth.models import SigningKeyRow
from services.auth.reasons import AuthReason
from services.runtime.auth.claims import ALGORITHM
from services.runtime.auth.verifier import jwk_coordinates, outlived_after_seconds
from services.runtime.clock import utcnow
from services.runtime.db import DatabaseRouter, named_lock
from services.runtime.errors import ResourceExhausted
from services.runtime.ids import uuid7
from services.runtime.sealing import Sealer

# How long a signing key is trusted in memory before re-reading which key is
# newest (another replica may have rotated).
_ACTIVE_KEY_REFRESH_SECONDS = 30.0
# Replicas starting together on an empty database make the first key under this
# lock: two first keys would leave verifiers that fetched the JWKS in between
# (Envoy does not refetch on an unknown key id) refusing the second one's tokens.
_FIRST_KEY_LOCK = "tenantmesh_auth_first_signing_key"
_FIRST_KEY_LOCK_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: ec.EllipticCurvePrivateKey


# Signing keys are sealed with the key id as context: a sealed key cannot be swapped to another row.
KeyEncryption = Sealer


class SigningKeyStore:
    def __init__(
        self,
        db: DatabaseRouter,
        encryption: KeyEncryption,
        access_token_ttl_seconds: float,
        activation_delay_seconds: float = 0.0,
        *,
        min_rotation_seconds: float = 0.0,
    ) -> None:
        self._db = db
        self._encryption = encryption
        self._activation_delay = timedelta(seconds=activation_delay_seconds)
        self._min_rotation = timedelta(seconds=min_rotation_seconds)
        # A retired key stays published while a token it signed may be accepted: the longest
        # token lifetime, on an issuer's clock running ahead as far as verifiers allow.
        self._publish_after_retire = timedelta(seconds=outlived_after_seconds(access_token_ttl_seconds))
        self._active: SigningKey | None = None
        self._reload_at = 0.0
        self._lock = asyncio.Lock()

    async def active(self) -> SigningKey:
        if self._active is not None and time.monotonic() < self._reload_at:
            return self._active
        async with self._lock:
            if self._active is None or time.monotonic() >= self._reload_at:
                loaded = await self._load_active()
                self._active = loaded if loaded is not None else await self._create_first()
            return self._active

    async def rotate(self) -> str:
        """Adds a key that signs after the activation delay; returns its kid.

        Refused (RESOURCE_EXHAUSTED, SIGNING_KEY_ROTATION_TOO_SOON, with RetryInfo) within
        the minimum interval after the last rotation: every key stays published for a token
        lifetime after it retires, so the JWKS stays bounded by that lifetime / the interval."""
        async with self._lock:
            await self._check_rotation_interval()
            created = await self._create(activate_at=utcnow() + self._activation_delay)
            self._reload_at = 0.0  # pick it up at its activation time, or now
            return created.kid

    async def _check_rotation_interval(self) -> None:
        async with self._db.core_session() as session:
            newest = (await session.execute(select(func.max(SigningKeyRow.create_time)))).scalar_one_or_none()
        if newest is None:
            return
        # The newest key's create_time is when it starts signing: its rotation was the
        # activation delay before that.
        wait = (newest - self._activation_delay + self._min_rotation - utcnow()).total_seconds()
        if wait > 0:
            raise ResourceExhausted(
                "the signing key was rotated moments ago; try again later",
                reason=AuthReason.SIGNING_KEY_ROTATION_TOO_SOON,
                retry_after=wait,
            )

    async def published_keys(self) -> dict[str, ec.EllipticCurvePublicKey]:
        oldest_retire = utcnow() - self._publish_after_retire
        async with self._db.core_session() as session:
            rows = await session.execute(
                select(SigningKeyRow).where(
                    SigningKeyRow.retire_time.is_(None) | (SigningKeyRow.retire_time > oldest_retire)
                )
            )
            keys = {}
            for row in rows.scalars():
                public = serialization.load_pem_public_key(row.public_pem.encode())
                if isinstance(public, ec.EllipticCurvePublicKey):
                    keys[row.kid] = public
            return keys

    async def jwks(self) -> list[dict[str, str]]:
        entries = []
        for kid, key in sorted((await self.published_keys()).items()):
            x, y = jwk_coordinates(key)
            entries.append({"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": kid, "alg": ALGORITHM, "use": "sig"})
        return entries

    async def _load_active(self) -> SigningKey | None:
        """The newest key that has started signing; schedules the next reload."""
        now = utcnow()
        async with self._db.core_session() as session:
            row = (
                await session.execute(
                    select(SigningKeyRow)
                    .where(SigningKeyRow.create_time <= now)
                    .where(SigningKeyRow.retire_time.is_(None) | (SigningKeyRow.retire_time > now))
                    .order_by(SigningKeyRow.create_time.desc(), SigningKeyRow.kid.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
            pending = (
                await session.execute(
                    select(SigningKeyRow.create_time)
                    .where(SigningKeyRow.create_time > now)
                    .order_by(SigningKeyRow.create_time)
                    .limit(1)
                )
            ).scalar_one_or_none()
        # Re-read periodically (another replica may rotate) and exactly when a pending key starts.
        wait = _ACTIVE_KEY_REFRESH_SECONDS
        if pending is not None:
            wait = min(wait, max(0.0, (pending - now).total_seconds()))
        self._reload_at = time.monotonic() + wait
        if row is None:
            return None
        pem = self._encryption.open(row.private_encrypted, row.kid)
        private = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(private, ec.EllipticCurvePrivateKey):
            raise TypeError(f"signing key {row.kid} is not an EC key")
        return SigningKey(row.kid, private)

    async def _create_first(self) -> SigningKey:
        """The platform's first key, made once even when several replicas start at the same time."""
        async with (
            self._db.core_connection() as conn,
            named_lock(conn, _FIRST_KEY_LOCK, _FIRST_KEY_LOCK_TIMEOUT_SECONDS),
        ):
            made_meanwhile = await self._load_active()
            return made_meanwhile if made_meanwhile is not None else await self._create(activate_at=utcnow())

    async def _create(self, *, activate_at: datetime) -> SigningKey:
        private = ec.generate_private_key(ec.SECP256R1())
        kid = uuid7()
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        public_pem = private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        async with self._db.core_session() as session:
            # Keys signing now stop when the new one starts.
            await session.execute(
                update(SigningKeyRow).where(SigningKeyRow.retire_time.is_(None)).values(retire_time=activate_at)
            )
            session.add(
                SigningKeyRow(
                    kid=kid,
                    algorithm=ALGORITHM,
                    public_pem=public_pem.decode(),
                    private_encrypted=self._encryption.seal(pem, kid),
                    create_time=activate_at,
                    retire_time=None,
                )
            )
            audit.record(
                session, "auth.signing_key.created", target=f"signing-key:{kid}", actor=audit.actor_of_call_or("system")
            )
            await session.commit()
        return SigningKey(kid, private)
