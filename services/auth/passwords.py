"""Password hashing (argon2id) and the password policy.

Hashing runs in a worker thread: argon2 is deliberately slow and memory-hard,
and argon2-cffi releases the GIL while it works, so logins on two cores
proceed in parallel instead of stalling the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from services.auth.reasons import AuthReason
from services.runtime.cpus import usable_cpus
from services.runtime.errors import FieldViolation, InvalidArgument

T = TypeVar("T")


class _HashingPool:
    """The threads argon2 runs in: one per usable CPU by default.

    More would only queue inside argon2 while each holds 19 MiB, and the default
    executor sizes itself for I/O, not for this. An operator running several
    replicas on one host gives each its share (TENANTMESH_AUTH_HASHING_THREADS,
    applied by the auth app at start).
    """

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self._executor: ThreadPoolExecutor | None = None  # made on first use

    def resize(self, threads: int) -> None:
        """Hashes already queued finish on the old threads."""
        if threads < 1:
            raise ValueError("the hashing pool needs at least one thread")
        if threads != self.threads:
            self.threads = threads
            if self._executor is not None:
                self._executor.shutdown(wait=False)
                self._executor = None

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="argon2")
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)


_HASHING = _HashingPool(usable_cpus())


def hashing_threads() -> int:
    return _HASHING.threads


def set_hashing_threads(threads: int) -> None:
    _HASHING.resize(threads)


async def _in_pool(function: Callable[..., T], *args: Any) -> T:
    return await _HASHING.run(function, *args)


# OWASP Password Storage Cheat Sheet, argon2id option 2: 19 MiB, 2 iterations, 1 lane.
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32, salt_len=16)

MIN_LENGTH = 12
# A short deny list of the passwords attackers try first; length rules out most others.
COMMON_PASSWORDS = frozenset(
    {
        "password1234",
        "123456789012",
        "qwertyuiop12",
        "passwordpassword",
        "letmein12345",
        "administrator",
        "changeme1234",
        "welcome12345",
        "iloveyou1234",
        "trustno1trustno1",
        "qwerty123456",
        "abc123abc123",
        "000000000000",
        "111111111111",
        "tenantmesh123",
    }
)


def check_policy(password: str, field: str) -> None:
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"must be at least {MIN_LENGTH} characters")
    if password.lower() in COMMON_PASSWORDS or len(set(password)) < 4:
        problems.append("is too common")
    if problems:
        raise InvalidArgument(
            "the password does not meet the policy",
            reason=AuthReason.PASSWORD_TOO_WEAK,
            violations=[FieldViolation(field, "; ".join(problems), reason=AuthReason.PASSWORD_TOO_WEAK)],
        )


async def hash_password(password: str) -> str:
    return await _in_pool(HASHER.hash, password)


@dataclass(frozen=True)
class Verification:
    ok: bool
    # A new hash when the stored one used older parameters (rehash on login).
    upgraded_hash: str | None = None


def _verify(stored_hash: str, password: str) -> Verification:
    try:
        HASHER.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return Verification(ok=False)
    if HASHER.check_needs_rehash(stored_hash):
        return Verification(ok=True, upgraded_hash=HASHER.hash(password))
    return Verification(ok=True)


async def verify_password(stored_hash: str, password: str) -> Verification:
    return await _in_pool(_verify, stored_hash, password)


# Verified against when the user does not exist, so an unknown email costs the
# same time as a wrong password and response times do not reveal accounts.
_DUMMY_HASH = HASHER.hash("tenantmesh-timing-equaliser")


async def burn_verification(password: str) -> None:
    await _in_pool(_verify, _DUMMY_HASH, password)
